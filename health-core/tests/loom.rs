//! Loom models of the registry's publish/read protocol, through the public API only.
//!
//! Run with
//! `RUSTFLAGS="--cfg loom -C debug_assertions" LOOM_MAX_PREEMPTIONS=2 cargo test -p health-core --release --test loom`
//! in its own `CARGO_TARGET_DIR`.

#![cfg(loom)]

use health_core::{
    CheckHandle, CheckSpec, ManualClock, Outcome, Probe, Registry, RegistryBuilder, Status,
};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;

fn builder() -> RegistryBuilder {
    RegistryBuilder::with_clock(ManualClock::new().clock())
}

/// The fold of the checks' applied statuses: what the counters must equal at quiescence.
fn fold(registry: &Registry, probe: Probe) -> Outcome {
    registry.probe_excluding(probe, registry.now(), |_| false)
}

fn push(builder: &mut RegistryBuilder, spec: CheckSpec) -> CheckHandle {
    builder.push(spec).expect("valid spec")
}

/// Model 1: A writer flips a check while a reader aggregates: the reader sees the old or the
/// new outcome, nothing else, and the end state is the new one.
#[test]
fn flip_while_reading() {
    loom::model(|| {
        let mut b = builder();
        let db = push(&mut b, CheckSpec::new("db").readiness().liveness());
        let registry = b.build();
        db.healthy();

        let writer = thread::spawn(move || db.unhealthy("down"));
        let seen = registry.probe(Probe::Readiness);
        assert!(
            matches!(seen, Outcome::Pass | Outcome::Fail),
            "a reader saw {seen:?}, which neither Healthy nor Unhealthy produces"
        );
        writer.join().unwrap();
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
        assert_eq!(
            registry.probe(Probe::Readiness),
            fold(&registry, Probe::Readiness)
        );
    });
}

/// Model 2: Two writers race on the same check with opposite statuses while a reader
/// aggregates. Another check is Unhealthy throughout, so every linearization fails
/// readiness: a reader that ever sees Pass saw counts no sequence of writes produces
/// (the naive "swap the status, then add the delta" design shows exactly that when the
/// two deltas land out of order). At quiescence the counters equal the fold of the
/// slots, and the last report wins.
#[test]
fn opposite_writers_on_one_check() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(2);
    model.check(|| {
        let mut b = builder();
        let stuck = push(&mut b, CheckSpec::new("stuck").readiness());
        let flappy = push(&mut b, CheckSpec::new("flappy").readiness());
        let registry = b.build();
        stuck.unhealthy("always");
        flappy.healthy();

        let up = flappy.clone();
        let down = flappy.clone();
        let a = thread::spawn(move || down.unhealthy("down"));
        let b = thread::spawn(move || up.healthy());
        assert_eq!(
            registry.probe(Probe::Readiness),
            Outcome::Fail,
            "no linearization passes readiness while `stuck` is Unhealthy"
        );
        a.join().unwrap();
        b.join().unwrap();

        // Quiescent: the applied status is the newest report's, and the counters agree.
        let snapshot = registry
            .check("flappy")
            .unwrap()
            .snapshot_at(registry.now());
        assert_eq!(
            flappy.status(),
            snapshot.report().status(),
            "last report wins"
        );
        stuck.healthy();
        let expected = Outcome::of(flappy.status(), true, Probe::Readiness);
        assert_eq!(registry.probe(Probe::Readiness), expected);
        assert_eq!(fold(&registry, Probe::Readiness), expected);
    });
}

/// Model 3: Writers on two different checks and a reader: no torn aggregate. `a` goes
/// Unhealthy → Degraded and `b` Unhealthy → Healthy; no state has both Healthy, so Pass
/// would be a torn read.
#[test]
fn two_checks_no_torn_aggregate() {
    loom::model(|| {
        let mut b = builder();
        let a = push(&mut b, CheckSpec::new("a").readiness());
        let c = push(&mut b, CheckSpec::new("b").readiness());
        let registry = b.build();
        a.unhealthy("init");
        c.unhealthy("init");

        let t1 = thread::spawn(move || a.degraded("slow"));
        let t2 = thread::spawn(move || c.healthy());
        let seen = registry.probe(Probe::Readiness);
        assert_ne!(seen, Outcome::Pass, "`a` is never Healthy: Pass is torn");
        t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Warn);
        assert_eq!(fold(&registry, Probe::Readiness), Outcome::Warn);
    });
}

/// Model 4: `begin_shutdown` racing a healthy publish: readiness never passes once
/// `begin_shutdown` has returned, and liveness is unaffected.
#[test]
fn shutdown_beats_healthy_publish() {
    loom::model(|| {
        let mut b = builder();
        let db = push(&mut b, CheckSpec::new("db").readiness());
        let registry = b.build();
        let returned = Arc::new(AtomicBool::new(false));

        let shutdown = {
            let registry = registry.clone();
            let returned = Arc::clone(&returned);
            thread::spawn(move || {
                registry.begin_shutdown();
                returned.store(true, Ordering::Release);
            })
        };
        let publish = thread::spawn(move || db.healthy());
        if returned.load(Ordering::Acquire) {
            assert_eq!(
                registry.probe(Probe::Readiness),
                Outcome::Fail,
                "readiness passed after begin_shutdown returned"
            );
        }
        shutdown.join().unwrap();
        publish.join().unwrap();
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
        assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
    });
}

/// Model 5: A report published with its status: a reader that sees the new status (through
/// the aggregate or the check) sees a report at least as new.
#[test]
fn status_and_report_travel_together() {
    loom::model(|| {
        let mut b = builder();
        let db = push(&mut b, CheckSpec::new("db").readiness());
        let registry = b.build();
        db.healthy();

        let reader_handle = db.clone();
        let writer = thread::spawn(move || db.unhealthy("connection refused"));
        let via_probe = registry.probe(Probe::Readiness) == Outcome::Fail;
        let via_check = reader_handle.status() == Status::Unhealthy;
        let snapshot = registry.check("db").unwrap().snapshot_at(registry.now());
        if via_probe || via_check {
            assert_eq!(
                snapshot.reason(),
                Some("connection refused"),
                "saw the new status with an older report"
            );
        }
        writer.join().unwrap();
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
    });
}

/// Model 6: Startup latch racing shutdown and a reader: once latched it stays latched, and the
/// reader never sees readiness pass before the gate opened.
#[test]
fn startup_latch_is_monotonic() {
    loom::model(|| {
        let gate = health_core::StartupGate::new();
        let mut b = builder();
        b.gate(CheckSpec::new("warmup").startup(), &gate).unwrap();
        let registry = b.build();

        let opener = {
            let gate = gate.clone();
            thread::spawn(move || gate.done())
        };
        let reader = {
            let registry = registry.clone();
            thread::spawn(move || {
                let first = registry.probe(Probe::Startup);
                let second = registry.probe(Probe::Startup);
                assert!(
                    !(first == Outcome::Pass && second == Outcome::Fail),
                    "the startup latch opened and closed again"
                );
            })
        };
        let ready = registry.probe(Probe::Readiness);
        if ready == Outcome::Pass {
            assert!(gate.is_done(), "readiness passed before start-up finished");
        }
        opener.join().unwrap();
        reader.join().unwrap();
        assert_eq!(registry.probe(Probe::Startup), Outcome::Pass);
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
    });
}

/// Model 7: a subscriber parks while a writer changes an outcome: either its poll sees
/// the change, or the writer wakes it. A lost wake-up would leave it asleep forever.
///
/// The loom `ArcSwap` stand-in is a lock, which orders the waker list on its own; the
/// `SeqCst` fences in the protocol are for the real arc-swap, whose loads are not locks.
/// This model therefore passes without the fences too: it checks the version/waker
/// hand-off, not the fences.
#[test]
fn subscriber_never_misses_a_change() {
    use std::task::{Context, Wake, Waker};

    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.store(true, Ordering::Release);
        }
    }

    loom::model(|| {
        let mut b = builder();
        let db = push(&mut b, CheckSpec::new("db").readiness());
        let registry = b.build();
        let mut subscription = registry.subscribe();

        let writer = thread::spawn(move || db.healthy());
        let woken = std::sync::Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(std::sync::Arc::clone(&woken));
        let mut cx = Context::from_waker(&waker);
        let ready = {
            let mut changed = Box::pin(subscription.changed());
            changed.as_mut().poll(&mut cx).is_ready()
        };
        writer.join().unwrap();
        assert!(
            ready || woken.0.load(Ordering::Acquire),
            "the change was neither seen by the poll nor announced to the waker"
        );
    });
}

/// The canary: a deliberately racy read-modify-write. Loom must find the lost update, or
/// the harness is broken and every model above proves nothing.
#[test]
#[should_panic(expected = "lost update")]
fn canary_racy_increment_is_caught() {
    loom::model(|| {
        let counter = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let counter = Arc::clone(&counter);
                thread::spawn(move || {
                    let seen = counter.load(Ordering::Acquire);
                    counter.store(seen + 1, Ordering::Release);
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(counter.load(Ordering::Acquire), 2, "lost update");
    });
}
