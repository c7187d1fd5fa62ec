//! Which server holds a key: rendezvous (highest random weight) hashing.
//!
//! Each server scores a key with xxh3-64 seeded by the hash of its `host:port`;
//! the highest score wins. The choice depends on the set of servers, not on
//! their order in the URL, and removing a server moves only the keys it held
//! (adding one moves only the keys it now wins), as a consistent-hash ring does.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

pub(super) struct Ring {
    seeds: Box<[u64]>,
}

impl Ring {
    pub(super) fn new<S: AsRef<str>>(servers: &[S]) -> Ring {
        Ring {
            seeds: servers
                .iter()
                .map(|server| xxh3_64(server.as_ref().as_bytes()))
                .collect(),
        }
    }

    /// The index of the server of `key`.
    pub(super) fn server_of(&self, key: &str) -> usize {
        if self.seeds.len() == 1 {
            return 0;
        }
        let mut best = (0, 0);
        for (index, &seed) in self.seeds.iter().enumerate() {
            let score = xxh3_64_with_seed(key.as_bytes(), seed);
            if index == 0 || score > best.1 {
                best = (index, score);
            }
        }
        best.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_keys_and_moves_only_the_removed_servers_keys() {
        let three = Ring::new(&["a:1", "b:1", "c:1"]);
        let two = Ring::new(&["a:1", "c:1"]);
        let reordered = Ring::new(&["c:1", "b:1", "a:1"]);
        let mut counts = [0; 3];
        for n in 0..3000 {
            let key = format!("app:entry:f:{n}");
            let server = three.server_of(&key);
            counts[server] += 1;
            let name = ["a", "b", "c"][server];
            assert_eq!(["c", "b", "a"][reordered.server_of(&key)], name);
            if name != "b" {
                assert_eq!(["a", "c"][two.server_of(&key)], name);
            }
        }
        assert!(counts.iter().all(|&count| count > 800), "{counts:?}");
    }
}
