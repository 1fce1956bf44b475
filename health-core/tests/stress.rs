//! Multi-thread torture of the publish/read protocol. The heavy case is `#[ignore]`d;
//! run it with `cargo test -p health-core --release --test stress -- --ignored`.

// Built without loom: these use std threads, proptest and real time.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use health_core::{CheckSpec, Outcome, Probe, Registry};

const CHECKS: usize = 4;
const WRITERS: usize = 3;
const READERS: usize = 2;

fn torture(rounds: usize) {
    let mut builder = Registry::builder();
    let stuck = builder.push(CheckSpec::new("stuck").readiness()).unwrap();
    let handles: Vec<_> = (0..CHECKS)
        .map(|i| {
            builder
                .push(
                    CheckSpec::new(format!("c{i}"))
                        .readiness()
                        .liveness()
                        .critical(i % 2 == 0),
                )
                .unwrap()
        })
        .collect();
    let registry = builder.build();
    stuck.unhealthy("held down for the whole run");
    let done = AtomicBool::new(false);

    thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let handles = &handles;
                scope.spawn(move || {
                    // A cheap deterministic sequence per writer; every writer hits every check.
                    let mut x = 0x9e37_79b9_u32.wrapping_mul(u32::try_from(writer).unwrap() + 1);
                    for _ in 0..rounds {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        let check = &handles[x as usize % CHECKS];
                        match x % 3 {
                            0 => check.healthy(),
                            1 => check.degraded("slow"),
                            _ => check.unhealthy("down"),
                        }
                    }
                })
            })
            .collect();
        for _ in 0..READERS {
            let (registry, done) = (&registry, &done);
            scope.spawn(move || {
                while !done.load(Ordering::Acquire) {
                    assert_eq!(
                        registry.probe(Probe::Readiness),
                        Outcome::Fail,
                        "readiness passed while `stuck` was Unhealthy: a torn count"
                    );
                    let _ = registry.probe(Probe::Liveness);
                }
            });
        }
        for writer in writers {
            writer.join().unwrap();
        }
        done.store(true, Ordering::Release);
    });

    // Quiescent: the O(1) counters must equal the fold of the slots.
    stuck.healthy();
    let now = registry.now();
    for probe in [Probe::Liveness, Probe::Readiness] {
        let expected = registry
            .members(probe)
            .map(|check| check.outcome_at(probe, now))
            .fold(Outcome::Pass, Outcome::max);
        assert_eq!(
            registry.probe(probe),
            expected,
            "counters drifted from the slots on {probe}"
        );
    }
    for (handle, check) in handles.iter().zip(registry.checks().skip(1)) {
        assert_eq!(
            handle.status(),
            check.snapshot_at(now).report().status(),
            "the applied status is the newest report's"
        );
    }
}

#[test]
fn writers_and_readers_agree() {
    torture(20_000);
}

#[test]
#[ignore = "heavy: run in release with --ignored"]
fn writers_and_readers_agree_heavy() {
    torture(2_000_000);
}
