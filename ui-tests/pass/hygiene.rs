// User arguments and items with the names the expansion could clash with.
#![allow(dead_code, non_camel_case_types)]

use ::cachetool::cached;

mod __private {
    pub fn key_hash() {}
    pub struct Site;
    pub struct Request;
}
mod core {}
mod std {}
mod cachetool {}

struct Site;
struct Request;
struct Cache;
struct Duration;
struct KeyPart;
enum Option<T> {
    Nothing(T),
}
type Result<T> = ::std::result::Result<T, Cache>;
fn global() {}
fn key_arg() {}
fn tag() {}
// The expansion's own items, shadowed inside the generated functions.
static __CACHETOOL_SITE: u8 = 0;
fn __cachetool_site() {}

#[cached(tags = [format!("{key}:{cache}")], key = format!("{key}{cache}{request}{body}{site}{tags}{ttl}{generics}"))]
fn clash(
    key: u32,
    cache: u32,
    request: u32,
    body: u32,
    site: u32,
    tags: u32,
    ttl: u32,
    generics: u32,
) -> u32 {
    key + cache + request + body + site + tags + ttl + generics
}

#[cached(ttl = 5)]
fn clash_hashed(
    key: &str,
    cache: &str,
    request: &str,
    body: &str,
    __private: &str,
    tag: &str,
) -> String {
    [key, cache, request, body, __private, tag].concat()
}

fn main() {
    assert_eq!(clash(1, 2, 3, 4, 5, 6, 7, 8), 36);
    assert_eq!(clash(1, 2, 3, 4, 5, 6, 7, 8), 36);
    clash_invalidate(1, 2, 3, 4, 5, 6, 7, 8).unwrap();
    assert_eq!(clash_refresh(1, 2, 3, 4, 5, 6, 7, 8), 36);
    assert_eq!(clash_hashed("a", "b", "c", "d", "e", "f"), "abcdef");
    clash_hashed_invalidate("a", "b", "c", "d", "e", "f").unwrap();
    assert_eq!(clash_hashed_refresh("a", "b", "c", "d", "e", "f"), "abcdef");
    let _ = (
        Site,
        Request,
        Duration,
        KeyPart,
        Option::Nothing(0),
        global(),
        key_arg(),
        tag(),
    );
    let _: Result<()> = Ok(());
    let _ = (__CACHETOOL_SITE, __cachetool_site());
}
