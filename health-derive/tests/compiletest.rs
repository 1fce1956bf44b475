//! The compile-time errors of `#[derive(HealthCheck)]`, one mistake per `tests/ui/*.rs`.
//!
//! The `.stderr` files are rustc 1.95's output, generated with
//! `TRYBUILD=overwrite cargo test -p health-derive --test compiletest` and reviewed.

#[rustversion::attr(not(stable(1.95)), ignore = "stderr snapshots are from rustc 1.95")]
#[cfg_attr(miri, ignore = "incompatible with miri")]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
