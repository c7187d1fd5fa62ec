//! The command line, as clap parses it.

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  cachetool --url redis://127.0.0.1/ --prefix app stats
  cachetool --url redis://127.0.0.1/ keys --function app::load_user --limit 100
  cachetool --url redis://127.0.0.1/ get 'app:entry:app.load_user:1f2e...'
  cachetool --url memcache://10.0.0.1:11211,10.0.0.2:11211 invalidate app::load_user --args '[7]'
  cachetool --url redis://127.0.0.1/ clean user:7 users
  CACHETOOL_URL=redis+cluster://10.0.0.1:7000 cachetool --json clean-all

Exit status: 0 on success, 1 when the operation failed (server down, bad URL,
a key without an entry), 2 on a usage error.";

/// Look at and act on a cachetool cache in Redis or Memcached: what it holds,
/// per function; what is under a key; invalidate one entry or clean tags.
#[derive(Debug, Parser)]
#[command(name = "cachetool", version, after_help = EXAMPLES)]
pub(crate) struct Cli {
    /// The backend's URL, as the library takes it: redis://, rediss://,
    /// redis+unix://, redis+cluster://, memcache://host:port[,host:port...].
    #[arg(long, env = "CACHETOOL_URL", global = true)]
    pub(crate) url: Option<String>,

    /// The cache's prefix (`CacheBuilder::prefix`).
    #[arg(
        long,
        env = "CACHETOOL_PREFIX",
        default_value = "cachetool",
        global = true
    )]
    pub(crate) prefix: String,

    /// Write JSON for scripts instead of tables (no progress is shown).
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// Seconds to wait for a connection, and for each answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, global = true)]
    pub(crate) timeout: f64,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// The servers' own stats, the entries of each function, the tags.
    Stats,
    /// Drop every entry tagged with any of TAGS, in every function (as
    /// `cache.clean(&[..])` does).
    Clean {
        /// The tags, such as `user:7`.
        #[arg(required = true)]
        tags: Vec<String>,
    },
    /// Drop every entry of the prefix, by giving it a new epoch (as
    /// `cache.clean_all()` does; the server is not flushed).
    CleanAll,
    /// List the keys of the prefix: SCAN on Redis (every primary of a
    /// cluster), `lru_crawler metadump` on Memcached; never KEYS.
    Keys {
        /// Only this function's entries (its path, `::` or `.`, or its `name`).
        #[arg(long)]
        function: Option<String>,
        /// Stop after this many keys.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// What is under a key: the entry's function, tags and whether each
    /// version is current, expiry, size and value as JSON.
    Get {
        /// The key, as `keys` lists it (or `key` prints it).
        key: String,
    },
    /// Drop the entry of these arguments, as the generated
    /// `foo_invalidate(args)` does.
    Invalidate(EntryArgs),
    /// Print the key of the entry of these arguments (no server needed).
    Key(EntryArgs),
}

/// Which entry: a function and its key arguments.
#[derive(Debug, Args)]
pub(crate) struct EntryArgs {
    /// The function's identity in keys: its path (`app::load_user` or
    /// `app.load_user`) or its `name`, with `@v2` for `version = 2` and
    /// `<type names>` for a generic function, as `keys` shows it.
    pub(crate) function: String,
    /// The key arguments as a JSON array, in order (`skip`ped ones left
    /// out): '[7, "en", {"page": 2}]'. See the README for what JSON can't express.
    #[arg(long, conflicts_with = "key", required_unless_present = "key")]
    pub(crate) args: Option<String>,
    /// For a function with `key = ...`: the text that expression gives.
    #[arg(long)]
    pub(crate) key: Option<String>,
}
