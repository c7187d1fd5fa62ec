//! `Backend::replace_if_many` (and `AsyncBackend::replace_if_many` where a
//! backend has a native async client), on every backend: each write is a
//! `replace_if` of its own (stored only over what it saw, its lock released
//! with it, stored or not), with its own result, in order.

mod support;

support::for_each_backend! {
    use std::sync::Arc;
    use std::time::Duration;

    use cachetool::{Backend, ErrorKind, HeldLock, LockRequest, ReplaceIf, Value};

    fn bytes(text: &str) -> Value {
        Value::from(text.as_bytes().to_vec())
    }

    /// The keys of one scenario, under a prefix of its own.
    struct Scenario {
        backend: Arc<dyn Backend>,
        prefix: String,
    }

    impl Scenario {
        fn new(name: &str) -> Scenario {
            Scenario {
                backend: support::backend(KIND),
                prefix: support::unique_prefix(name),
            }
        }

        fn entry(&self, name: &str) -> String {
            format!("{}:entry:{name}", self.prefix)
        }

        fn lock(&self, name: &str) -> String {
            format!("{}:lock:{name}", self.prefix)
        }

        fn read(&self, name: &str) -> Option<Vec<u8>> {
            let value = self.backend.get_many(&[&self.entry(name)]).unwrap().remove(0);
            value.map(|value| value.as_bytes().expect("bytes").to_vec())
        }

        fn take_lock(&self, name: &str, token: u64) -> bool {
            let lock = self.lock(name);
            let request = LockRequest::new(&lock, token, Duration::from_secs(60));
            let start = self.backend.begin_load(Some(request), &[], &[], "unused").unwrap();
            start.locked
        }

        /// Four writes, each with a lock: over nothing, over a value that
        /// changed since it was seen, over a value unchanged, and an object
        /// (which only an in-process backend keeps). Gives the writes' owned
        /// parts: the seen values.
        fn prepare(&self) -> (Value, Value) {
            let backend = &self.backend;
            backend.set(&self.entry("changed"), bytes("first"), None).unwrap();
            let changed = backend.get_many(&[&self.entry("changed")]).unwrap().remove(0);
            backend.set(&self.entry("changed"), bytes("second"), None).unwrap();
            backend.set(&self.entry("same"), bytes("old"), None).unwrap();
            let same = backend.get_many(&[&self.entry("same")]).unwrap().remove(0);
            for (token, name) in (1..).zip(["new", "changed", "same", "object"]) {
                assert!(self.take_lock(name, token), "{name}");
            }
            (changed.unwrap(), same.unwrap())
        }

        fn writes<'a>(&'a self, keys: &'a [String; 8], seen: &'a (Value, Value)) -> Vec<ReplaceIf<'a>> {
            let object = Value::Object(Arc::new(7u32));
            let held = |at: usize, token| Some(HeldLock::new(&keys[at], token));
            let ttl = Some(Duration::from_secs(60));
            vec![
                ReplaceIf::new(&keys[0], None, bytes("a"), None, held(4, 1)),
                ReplaceIf::new(&keys[1], Some(&seen.0), bytes("b"), None, held(5, 2)),
                ReplaceIf::new(&keys[2], Some(&seen.1), bytes("c"), ttl, held(6, 3)),
                ReplaceIf::new(&keys[3], None, object, None, held(7, 4)),
            ]
        }

        /// The entries "new", "changed", "same" and "object", then their locks.
        fn keys(&self) -> [String; 8] {
            let names = ["new", "changed", "same", "object"];
            std::array::from_fn(|at| match at {
                0..4 => self.entry(names[at]),
                _ => self.lock(names[at - 4]),
            })
        }

        fn check(&self, results: Vec<cachetool::Result<bool>>) {
            assert_eq!(results.len(), 4);
            let mut results = results.into_iter();
            let mut next = || results.next().unwrap();
            assert!(next().unwrap(), "stored over nothing");
            assert!(!next().unwrap(), "not stored over a value that changed");
            assert!(next().unwrap(), "stored over the value seen");
            match next() {
                Ok(stored) => assert!(stored && self.backend.stores_objects()),
                Err(error) => {
                    assert!(!self.backend.stores_objects());
                    assert_eq!(error.kind(), ErrorKind::Codec, "{error}");
                }
            }
            assert_eq!(self.read("new").as_deref(), Some(&b"a"[..]));
            assert_eq!(self.read("changed").as_deref(), Some(&b"second"[..]));
            assert_eq!(self.read("same").as_deref(), Some(&b"c"[..]));
            // Each lock went with its write, whatever became of it, except the
            // object's (an error: its caller unlocks, as after `replace_if`).
            for (token, name) in (10..).zip(["new", "changed", "same"]) {
                assert!(self.take_lock(name, token), "the lock of {name} is free");
            }
        }
    }

    #[test]
    fn each_write_is_a_replace_if_of_its_own() {
        let scenario = Scenario::new("replace-if-many");
        let seen = scenario.prepare();
        let keys = scenario.keys();
        let results = scenario.backend.replace_if_many(scenario.writes(&keys, &seen));
        scenario.check(results);
    }

    /// The way an async caller reaches the backend: awaited where it has a
    /// native async client, on tokio's blocking pool where it has none.
    #[cfg(feature = "tokio")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_write_is_a_replace_if_of_its_own_awaited() {
        let scenario = Arc::new(Scenario::new("replace-if-many-async"));
        let prepared = Arc::clone(&scenario);
        let seen = tokio::task::spawn_blocking(move || prepared.prepare()).await.unwrap();
        let keys = scenario.keys();
        let results = match scenario.backend.as_async() {
            Some(backend) => backend.replace_if_many(scenario.writes(&keys, &seen)).await,
            None => {
                let blocking = Arc::clone(&scenario);
                tokio::task::spawn_blocking(move || {
                    blocking.backend.replace_if_many(blocking.writes(&keys, &seen))
                })
                .await
                .unwrap()
            }
        };
        tokio::task::spawn_blocking(move || scenario.check(results)).await.unwrap();
    }
}
