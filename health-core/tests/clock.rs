//! The system clock under several paused tokio runtimes. One test per file on purpose:
//! it must make the process's first clock read.

#![cfg(all(feature = "runtime", not(loom)))]

use std::time::Duration;

use health_core::Clock;

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

#[test]
fn a_runtime_far_ahead_does_not_freeze_the_others() {
    let clock = Clock::system();
    // The process's first read happens an hour ahead of real time.
    paused_runtime().block_on(async {
        tokio::time::advance(Duration::from_hours(1)).await;
        let _ = clock.now();
    });
    // A fresh runtime, at real time, must still see its own time move.
    paused_runtime().block_on(async {
        let before = clock.now();
        tokio::time::advance(Duration::from_secs(1)).await;
        let after = clock.now();
        assert_eq!(
            after.saturating_duration_since(before),
            Duration::from_secs(1),
            "the clock saturated at its epoch instead of following this runtime's time"
        );
    });
}
