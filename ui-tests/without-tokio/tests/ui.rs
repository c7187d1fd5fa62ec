//! `#[cached]` with cachetool's default features, which leave out tokio: a
//! sync function compiles; an `async fn` is one error naming the feature.
//!
//! This is a crate of its own because trybuild builds each crate's cases
//! against that crate's dev-dependencies: `ui-tests/` has cachetool with
//! `tokio`, this one without. Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p cachetool-ui-tests-without-tokio` on the
//! toolchain pinned in `rust-toolchain.toml`, then read every one.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("pass/*.rs");
    cases.compile_fail("fail/*.rs");
}
