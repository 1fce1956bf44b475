//! Probe reads allocate nothing: plain, timed (heartbeat, `max_age`) and with `now`
//! passed in, for 8 and for 1,024 checks, passing and failing. Its own test binary,
//! because `allocation-counter` installs the global allocator of the binary using it.

#![cfg(not(loom))]

use std::time::Duration;

use health_core::{CheckSpec, Heartbeat, Probe, Registry, StartupGate};

fn reads_allocate_nothing(checks: usize) {
    let worker = Heartbeat::new();
    let gate = StartupGate::new();
    let mut builder = Registry::builder();
    let handles: Vec<_> = (0..checks)
        .map(|i| {
            let spec = CheckSpec::new(format!("check-{i}"))
                .liveness()
                .readiness()
                .max_age(Duration::from_mins(1));
            builder.push(spec).unwrap()
        })
        .collect();
    builder
        .heartbeat(
            CheckSpec::new("worker")
                .liveness()
                .max_age(Duration::from_mins(1)),
            &worker,
        )
        .unwrap();
    builder
        .gate(CheckSpec::new("warmup").startup(), &gate)
        .unwrap();
    let registry = builder.build();
    gate.done();
    for handle in &handles {
        handle.healthy();
    }
    let _ = registry.aggregate(); // latch start-up outside the measurement

    for failing in [false, true] {
        if failing {
            handles[checks / 2].unhealthy("down");
        }
        let now = registry.now();
        let info = allocation_counter::measure(|| {
            for _ in 0..1_000 {
                for probe in Probe::ALL {
                    std::hint::black_box(registry.probe(probe));
                    std::hint::black_box(registry.probe_at(probe, now));
                }
                std::hint::black_box(registry.aggregate());
            }
        });
        assert_eq!(
            info.count_total, 0,
            "{checks} checks, failing: {failing}: probe reads allocated {info:?}"
        );
    }
}

#[test]
fn probe_reads_never_allocate() {
    reads_allocate_nothing(8);
    reads_allocate_nothing(1_024);
}

/// A waker of a task that needs no waking.
struct Idle;

impl std::task::Wake for Idle {
    fn wake(self: std::sync::Arc<Self>) {}
}

#[test]
fn waiting_again_with_the_same_waker_allocates_nothing() {
    let mut builder = Registry::builder();
    builder.push(CheckSpec::new("db").readiness()).unwrap();
    let registry = builder.build();
    let mut subscription = registry.subscribe();
    let waker = std::task::Waker::from(std::sync::Arc::new(Idle));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut poll = || {
        let changed = std::pin::pin!(subscription.changed());
        assert!(changed.poll(&mut cx).is_pending(), "nothing changed");
    };
    poll(); // registers the waker
    let info = allocation_counter::measure(|| {
        for _ in 0..100 {
            poll();
        }
    });
    assert_eq!(
        info.count_total, 0,
        "a poll with the waker already registered copies nothing: {info:?}"
    );
}

/// With metrics recorded (the default, asked for explicitly here), a probe read is the
/// same atomic loads, and so is a passing publish that records a transition.
#[test]
fn metrics_add_no_allocation_to_reads_or_passing_publishes() {
    use health_core::Status;

    let mut builder = Registry::builder();
    builder.record_metrics(true);
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let spec = CheckSpec::new(format!("check-{i}")).readiness();
            builder.push(spec).unwrap()
        })
        .collect();
    let registry = builder.build();
    for handle in &handles {
        handle.unhealthy("down");
    }
    let publishes = allocation_counter::measure(|| {
        for handle in &handles {
            handle.healthy();
        }
    });
    assert_eq!(
        publishes.count_total, 0,
        "a passing publish with its transition counted allocated {publishes:?}"
    );
    let reads = allocation_counter::measure(|| {
        for _ in 0..1_000 {
            for probe in Probe::ALL {
                std::hint::black_box(registry.probe(probe));
            }
            std::hint::black_box(registry.aggregate());
        }
    });
    assert_eq!(
        reads.count_total, 0,
        "probe reads with metrics on allocated {reads:?}"
    );
    let metrics = registry.check("check-0").unwrap().metrics().unwrap();
    assert_eq!(
        metrics.transitions(Status::Unhealthy, Status::Healthy),
        Some(1),
        "the measured publish was counted"
    );
}
