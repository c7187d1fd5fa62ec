//! Compile-pass and compile-fail cases of `#[cached]`.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p cachetool-ui-tests`
//! on the toolchain pinned in `rust-toolchain.toml`, then read every one.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("pass/*.rs");
    cases.compile_fail("fail/*.rs");
}
