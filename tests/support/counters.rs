//! Counters on a test server, read and bumped with the server's own commands
//! (Redis `INCR`, memcached `incr`): what the processes of a cross-process
//! test count in one place; and what such a test's child process sets up.

use std::sync::OnceLock;

use cachetool::Cache;
use cachetool_test_harness::Client;

/// The counters of one test, under `{prefix}-{name}` keys.
#[derive(Clone)]
pub(crate) struct Counters {
    pub(crate) client: Client,
    pub(crate) prefix: String,
}

#[allow(dead_code)]
impl Counters {
    fn key(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// Sets `name` to 0 (memcached's `incr` needs the key to exist).
    pub(crate) fn create(&self, name: &str) {
        self.client.set(&self.key(name), b"0");
    }

    pub(crate) fn bump(&self, name: &str) {
        self.client.incr(&self.key(name));
    }

    pub(crate) fn get(&self, name: &str) -> u64 {
        let raw = self
            .client
            .get(&self.key(name))
            .expect("the counter exists");
        String::from_utf8(raw).unwrap().trim().parse().unwrap()
    }

    /// The raw value of one of the cache's keys.
    pub(crate) fn raw(&self, key: &str) -> Option<Vec<u8>> {
        self.client.get(key)
    }
}

/// What a child process of a cross-process test sets up once ([`set_up`])
/// and its cached functions read ([`setup`]): its cache and the counters.
#[allow(dead_code)]
pub(crate) struct Setup {
    pub(crate) cache: Cache,
    pub(crate) counters: Counters,
}

static SETUP: OnceLock<Setup> = OnceLock::new();

/// Sets up this child process.
#[allow(dead_code)]
pub(crate) fn set_up(cache: Cache, counters: Counters) {
    assert!(SETUP.set(Setup { cache, counters }).is_ok(), "set up once");
}

/// This child process's setup.
#[allow(dead_code)]
pub(crate) fn setup() -> &'static Setup {
    SETUP.get().expect("child mode")
}
