//! Methods: the receiver is not part of the key unless `key` uses it, and
//! methods get method companions.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cachetool::cached;

support::modes::for_each_mode! {
    static GET_RUNS: AtomicUsize = AtomicUsize::new(0);
    static TENANT_RUNS: AtomicUsize = AtomicUsize::new(0);

    struct Repo {
        tenant: String,
    }

    impl Repo {
        #[cached(cache = cache("methods"), tags = ["repo"])]
        fn get(&self, id: u64) -> String {
            GET_RUNS.fetch_add(1, SeqCst);
            format!("row {id} read by {}", self.tenant)
        }

        #[cached(cache = cache("methods"), key = format!("{}/{id}", self.tenant))]
        fn scoped(&self, id: u64) -> String {
            TENANT_RUNS.fetch_add(1, SeqCst);
            format!("{}:{id}", self.tenant)
        }
    }

    #[test]
    fn the_receiver_is_not_part_of_the_key() {
        let (a, b) = (Repo { tenant: "a".into() }, Repo { tenant: "b".into() });
        assert_eq!(call!(a.get(1)), "row 1 read by a");
        assert_eq!(call!(b.get(1)), "row 1 read by a", "same arguments, same entry");
        assert_eq!(GET_RUNS.load(SeqCst), 1);

        call!(b.get_invalidate(1)).expect("invalidate");
        assert_eq!(call!(b.get(1)), "row 1 read by b");
        assert_eq!(GET_RUNS.load(SeqCst), 2);

        clean!(cache("methods"), &["repo"]).expect("clean");
        assert_eq!(call!(a.get(1)), "row 1 read by a");
        assert_eq!(call!(a.get_refresh(1)), "row 1 read by a");
        assert_eq!(GET_RUNS.load(SeqCst), 4);
    }

    #[test]
    fn a_key_may_use_the_receiver() {
        let (a, b) = (Repo { tenant: "a".into() }, Repo { tenant: "b".into() });
        assert_eq!((call!(a.scoped(1)), call!(b.scoped(1)), call!(a.scoped(1))), ("a:1".into(), "b:1".into(), "a:1".into()));
        assert_eq!(TENANT_RUNS.load(SeqCst), 2);
        call!(a.scoped_invalidate(1)).expect("invalidate");
        assert_eq!((call!(a.scoped(1)), call!(b.scoped(1))), ("a:1".into(), "b:1".into()));
        assert_eq!(TENANT_RUNS.load(SeqCst), 3);
    }

    struct Wrapper<T>(std::marker::PhantomData<T>);

    impl<T: 'static> Wrapper<T> {
        #[cached(cache = cache("methods"))]
        fn size(&self, n: u64) -> u64 {
            n * std::mem::size_of::<T>() as u64
        }
    }

    trait Named {
        #[cached(cache = cache("methods"))]
        fn label(&self, n: u64) -> String {
            LABEL_RUNS.fetch_add(1, SeqCst);
            format!("{}#{n}", std::any::type_name::<Self>())
        }
    }

    struct First;
    struct Second;

    impl Named for First {}
    impl Named for Second {}

    // Regression: these once shared one key path, so Wrapper<u16> read Wrapper<u8>'s entry.
    #[test]
    fn methods_of_a_generic_impl_are_keyed_per_self_type() {
        assert_eq!(call!(Wrapper::<u8>(Default::default()).size(10)), 10);
        assert_eq!(call!(Wrapper::<u16>(Default::default()).size(10)), 20);
        assert_eq!(call!(Wrapper::<u64>(Default::default()).size(10)), 80);
        assert_eq!(call!(Wrapper::<u8>(Default::default()).size(10)), 10);
    }

    static LABEL_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[test]
    fn a_trait_default_method_is_keyed_per_implementor() {
        assert!(call!(First.label(1)).ends_with("First#1"), "{}", call!(First.label(1)));
        assert!(call!(Second.label(1)).ends_with("Second#1"), "{}", call!(Second.label(1)));
        let runs = LABEL_RUNS.load(SeqCst);
        assert!(call!(First.label(1)).ends_with("First#1"));
        assert!(call!(Second.label(1)).ends_with("Second#1"));
        assert_eq!(LABEL_RUNS.load(SeqCst), runs, "both are hits");
        // Invalidating First's entry leaves Second's.
        call!(First.label_invalidate(1)).unwrap();
        assert!(call!(Second.label(1)).ends_with("Second#1"));
        assert_eq!(LABEL_RUNS.load(SeqCst), runs, "Second's entry is still there");
        assert!(call!(First.label(1)).ends_with("First#1"));
        assert_eq!(LABEL_RUNS.load(SeqCst), runs + 1, "First's was dropped");
        assert!(call!(Second.label_refresh(1)).ends_with("Second#1"));
        assert_eq!(LABEL_RUNS.load(SeqCst), runs + 2);
    }
}
