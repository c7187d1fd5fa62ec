//! The house stays in order.
//! - ARCHITECTURE.md stays true: every file and folder it names exists, and
//!   every function it names (`Type::function`, `file.rs::function`,
//!   `__private::function`, or a bare `snake_case_name`) is defined in the
//!   sources. A change that moves or renames one fails here until the map
//!   follows.
//! - No file of the runtime grows past 400 lines.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Where the map's names live: the crates' sources, tests, benches, examples.
const SOURCE_ROOTS: [&str; 8] = [
    "src",
    "cachetool-runtime/src",
    "cachetool-macros/src",
    "cachetool-cli/src",
    "cachetool-test-harness/src",
    "tests",
    "benches",
    "examples",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file below `dir`.
fn files_below(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_below(&path, found);
        } else {
            found.push(path);
        }
    }
}

struct Sources {
    /// Paths relative to the root, with `/` separators.
    paths: Vec<String>,
    /// Each Rust file's text, by its relative path.
    texts: Vec<(String, String)>,
}

impl Sources {
    fn read() -> Sources {
        let mut files = Vec::new();
        for source_root in SOURCE_ROOTS {
            files_below(&root().join(source_root), &mut files);
        }
        let relative = |path: &Path| {
            let path = path.strip_prefix(root()).unwrap();
            path.to_string_lossy().replace('\\', "/")
        };
        let texts = files
            .iter()
            .filter(|path| path.extension().is_some_and(|extension| extension == "rs"))
            .map(|path| (relative(path), fs::read_to_string(path).unwrap()))
            .collect();
        Sources {
            paths: files.iter().map(|path| relative(path)).collect(),
            texts,
        }
    }

    /// Whether a file or folder ends with `name` (`call/lead.rs`, `local/`,
    /// `cachetool-cli/`), relative to the root or to any folder.
    fn has_path(&self, name: &str) -> bool {
        let name = name.trim_end_matches('/');
        root().join(name).exists()
            || self.paths.iter().any(|path| {
                path.ends_with(&format!("/{name}"))
                    || path.contains(&format!("/{name}/"))
                    || path.starts_with(&format!("{name}/"))
            })
    }

    /// Whether `fn name` is defined, in a file whose path ends with `file`
    /// when one is given.
    fn defines_fn(&self, file: Option<&str>, name: &str) -> bool {
        let definition = format!("fn {name}");
        self.texts.iter().any(|(path, text)| {
            file.is_none_or(|file| path.ends_with(file))
                && text.match_indices(&definition).any(|(at, _)| {
                    let after = text[at + definition.len()..].chars().next();
                    matches!(after, Some('(' | '<'))
                })
        })
    }

    /// Whether the word `name` appears in a file ending with `file`.
    fn mentions(&self, file: Option<&str>, name: &str) -> bool {
        self.texts.iter().any(|(path, text)| {
            file.is_none_or(|file| path.ends_with(file))
                && text
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .any(|word| word == name)
        })
    }

    /// Whether a type `name` is defined (struct, enum, trait or alias).
    fn defines_type(&self, name: &str) -> bool {
        ["struct", "enum", "trait", "type"].iter().any(|keyword| {
            let definition = format!("{keyword} {name}");
            self.texts.iter().any(|(_, text)| {
                text.match_indices(&definition).any(|(at, _)| {
                    let after = text[at + definition.len()..].chars().next();
                    matches!(after, Some(' ' | '<' | '(' | ';' | '{'))
                })
            })
        })
    }
}

/// The text between backticks, each once.
fn quoted_names(map: &str) -> BTreeSet<&str> {
    map.split('`').skip(1).step_by(2).collect()
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What a name in the map says exists, if it says anything checkable.
fn problem(sources: &Sources, name: &str) -> Option<String> {
    // Generated names (`foo_invalidate`), placeholders (`backend/<name>/`)
    // and commands (`cachetool stats`) name nothing in the sources.
    if name.starts_with("foo_") || name.contains('<') || name.contains(' ') {
        return None;
    }
    if let Some((file, function)) = name.split_once(".rs::") {
        let file = format!("{file}.rs");
        return (!sources.defines_fn(Some(&file), function))
            .then(|| format!("`{name}`: no `fn {function}` in a file ending with {file}"));
    }
    if name.ends_with(".rs") || name.ends_with('/') {
        return (!sources.has_path(name)).then(|| format!("`{name}`: no such file or folder"));
    }
    if let Some(function) = name.strip_prefix("__private::") {
        // Defined there, or re-exported from where it is defined.
        let exported = sources.defines_fn(Some("__private.rs"), function)
            || sources.mentions(Some("__private.rs"), function)
                && sources.defines_fn(None, function);
        return (!exported).then(|| format!("`{name}`: not in __private.rs"));
    }
    if let Some((owner, function)) = name.split_once("::") {
        let function = function.split('(').next().unwrap();
        if !is_identifier(owner) || !is_identifier(function) {
            return None;
        }
        if owner.starts_with(char::is_uppercase) && !sources.defines_type(owner) {
            return Some(format!("`{name}`: no type {owner}"));
        }
        // A type in a module (`rt::Pause`).
        if function.starts_with(char::is_uppercase) {
            return (!sources.defines_type(function))
                .then(|| format!("`{name}`: no type {function}"));
        }
        return (!sources.defines_fn(None, function))
            .then(|| format!("`{name}`: no `fn {function}`"));
    }
    // A bare function name: snake case with at least one underscore.
    let bare_function = is_identifier(name)
        && name.contains('_')
        && name.chars().all(|c| !c.is_ascii_uppercase())
        && !name.starts_with('_');
    (bare_function && !sources.defines_fn(None, name)).then(|| format!("`{name}`: no `fn {name}`"))
}

#[test]
fn every_file_and_function_the_map_names_exists() {
    let map = fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let sources = Sources::read();
    let names = quoted_names(&map);
    assert!(
        names.len() > 50,
        "the map names only {} things",
        names.len()
    );
    let problems: Vec<String> = names
        .iter()
        .filter_map(|name| problem(&sources, name))
        .collect();
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md names what is not there:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_catches_a_wrong_name() {
    let sources = Sources::read();
    assert!(problem(&sources, "call/first_look.rs").is_none());
    assert!(problem(&sources, "call/last_look.rs").is_some());
    assert!(problem(&sources, "Request::new").is_none());
    assert!(problem(&sources, "Request::renamed_away").is_some());
    assert!(problem(&sources, "NoSuchType::new").is_some());
    assert!(problem(&sources, "expand.rs::first_look").is_none());
    assert!(problem(&sources, "expand.rs::second_look").is_some());
    assert!(problem(&sources, "__private::look_locally").is_none());
    assert!(problem(&sources, "__private::no_such_function").is_some());
    assert!(problem(&sources, "rt::Pause").is_none());
    assert!(problem(&sources, "rt::NoPause").is_some());
    assert!(problem(&sources, "next_step").is_none());
    assert!(problem(&sources, "no_such_step").is_some());
}

/// Small files with one job: a runtime file that grows past this is split
/// (as `backend/memcached/` and `key/cbor/tests/` were).
const MOST_LINES: usize = 400;

#[test]
fn no_runtime_file_is_over_400_lines() {
    let sources = Sources::read();
    let long: Vec<String> = sources
        .texts
        .iter()
        .filter(|(path, _)| path.starts_with("cachetool-runtime/src/"))
        .map(|(path, text)| (path, text.lines().count()))
        .filter(|&(_, lines)| lines > MOST_LINES)
        .map(|(path, lines)| format!("{path}: {lines} lines"))
        .collect();
    assert!(long.is_empty(), "split these files:\n{}", long.join("\n"));
}
