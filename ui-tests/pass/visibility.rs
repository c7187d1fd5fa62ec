// The companions have the function's visibility: here `pub(crate)` and `pub`,
// called from outside their module.
mod users {
    use cachetool::cached;

    #[cached]
    pub(crate) fn load(id: u64) -> String {
        format!("user {id}")
    }

    pub mod deep {
        #[cachetool::cached(tags = ["deep"])]
        pub fn load(id: u64) -> String {
            format!("deep {id}")
        }
    }
}

fn main() {
    assert_eq!(users::load(1), "user 1");
    users::load_invalidate(1).unwrap();
    assert_eq!(users::load_refresh(1), "user 1");
    assert_eq!(users::deep::load(1), "deep 1");
    users::deep::load_invalidate(1).unwrap();
    assert_eq!(users::deep::load_refresh(1), "deep 1");
}
