//! Loom models of the registry's protocols, through the public API only.
//!
//! Run with
//! `RUSTFLAGS="--cfg loom -C debug_assertions" LOOM_MAX_PREEMPTIONS=2 cargo test -p health-core --release --test loom`
//! in its own `CARGO_TARGET_DIR`.
//!
//! Loom sees every atomic of the crate, and its model of `ArcSwap` (in `src/sync.rs`)
//! publishes values through a loom atomic with arc-swap's orderings, so a model fails when
//! one of our orderings is too weak: `scripts/ordering-mutations.sh` weakens each one in
//! turn and shows which model catches it.

#![cfg(loom)]

use std::time::Duration;

use health_core::{
    CheckHandle, CheckSpec, ManualClock, Outcome, Probe, Registry, RegistryBuilder, StartupGate,
    Status,
};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;

fn builder(time: &ManualClock) -> RegistryBuilder {
    RegistryBuilder::with_clock(time.clock())
}

/// The fold of the checks' statuses: what the words must agree with at quiescence.
fn fold(registry: &Registry, probe: Probe) -> Outcome {
    registry.probe_excluding(probe, registry.now(), |_| false)
}

fn push(builder: &mut RegistryBuilder, spec: CheckSpec) -> CheckHandle {
    builder.push(spec).expect("valid spec")
}

/// A registry with one readiness check `db` (`max_age` 10 s) that was Healthy and is now
/// stale: it fails readiness before any write.
fn stale_readiness_check() -> (Registry, CheckHandle) {
    let time = ManualClock::new();
    let mut b = builder(&time);
    let spec = CheckSpec::new("db")
        .readiness()
        .max_age(Duration::from_secs(10));
    let db = push(&mut b, spec);
    let registry = b.build();
    db.healthy();
    time.advance(Duration::from_secs(11));
    (registry, db)
}

/// The status of the newest report published to `name`: what the check must apply once
/// every write has returned.
fn last_report(registry: &Registry, name: &str) -> Status {
    registry
        .check(name)
        .unwrap()
        .snapshot_at(registry.now())
        .report()
        .status()
}

/// Runs `model` with at most `bound` preemptions, for the heavier models.
fn bounded(bound: usize, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(bound);
    builder.check(model);
}

/// Model 1: A writer flips a check while a reader aggregates: the reader sees the old or the
/// new outcome, nothing else, and the end state is the new one.
#[test]
fn flip_while_reading() {
    loom::model(|| {
        let time = ManualClock::new();
        let mut b = builder(&time);
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
/// two deltas land out of order). At quiescence the words equal the fold of the slots,
/// and the last report wins.
#[test]
fn opposite_writers_on_one_check() {
    bounded(2, || {
        let time = ManualClock::new();
        let mut b = builder(&time);
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

        // Quiescent: the applied status is the newest report's, and the words agree.
        assert_eq!(
            flappy.status(),
            last_report(&registry, "flappy"),
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
        let time = ManualClock::new();
        let mut b = builder(&time);
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
        let time = ManualClock::new();
        let mut b = builder(&time);
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

/// How model 5 reaches the word.
#[derive(Clone, Copy)]
enum Path {
    /// No timed member: one load of the word.
    Plain,
    /// A fresh timed member: the deadline, then the word.
    Timed,
    /// A stale non-critical member: every read scans (the cold path) and loads the word
    /// twice, before and after the stamps.
    Cold,
}

/// Model 5: A report published with its status: a reader that sees the new status (through
/// the probe, by each `Path`, or through the check) sees a report at least as new, and
/// one that sees it through the check sees the probe count it.
fn status_and_report_travel_together(path: Path) {
    loom::model(move || {
        let time = ManualClock::new();
        let mut b = builder(&time);
        let db = push(&mut b, CheckSpec::new("db").liveness());
        match path {
            Path::Plain => {}
            Path::Timed => {
                push(
                    &mut b,
                    CheckSpec::new("fresh")
                        .liveness()
                        .max_age(Duration::from_mins(1)),
                )
                .healthy();
            }
            Path::Cold => {
                let spec = CheckSpec::new("old")
                    .liveness()
                    .critical(false)
                    .max_age(Duration::from_secs(1));
                push(&mut b, spec).healthy();
            }
        }
        let registry = b.build();
        db.healthy();
        time.advance(Duration::from_secs(2)); // `old` is stale from now on

        let reader_handle = db.clone();
        let writer = thread::spawn(move || db.unhealthy("connection refused"));
        let via_probe = registry.probe(Probe::Liveness) == Outcome::Fail;
        let via_check = reader_handle.status() == Status::Unhealthy;
        if via_check {
            assert_eq!(
                registry.probe(Probe::Liveness),
                Outcome::Fail,
                "`status()` is the status applied to the probes, yet the probe missed it"
            );
        }
        let snapshot = registry.check("db").unwrap().snapshot_at(registry.now());
        if via_probe || via_check {
            assert_eq!(
                snapshot.reason(),
                Some("connection refused"),
                "saw the new status with an older report"
            );
        }
        writer.join().unwrap();
        assert_eq!(registry.probe(Probe::Liveness), Outcome::Fail);
    });
}

#[test]
fn status_and_report_travel_together_plain() {
    status_and_report_travel_together(Path::Plain);
}

#[test]
fn status_and_report_travel_together_timed() {
    status_and_report_travel_together(Path::Timed);
}

#[test]
fn status_and_report_travel_together_cold() {
    status_and_report_travel_together(Path::Cold);
}

/// Model 6: A gate opening races two readers: once latched the startup probe stays
/// latched, readiness never passes before the gate opened, and start-up work done before
/// `done()` is visible to whoever sees the gate open.
#[test]
fn startup_latch_is_monotonic() {
    loom::model(|| {
        let time = ManualClock::new();
        let gate = StartupGate::new();
        let mut b = builder(&time);
        b.gate(CheckSpec::new("warmup").startup(), &gate).unwrap();
        let registry = b.build();
        let work = Arc::new(AtomicUsize::new(0));

        let opener = {
            let (gate, work) = (gate.clone(), Arc::clone(&work));
            thread::spawn(move || {
                work.store(1, Ordering::Relaxed);
                gate.done();
            })
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
        if gate.is_done() {
            assert_eq!(
                work.load(Ordering::Relaxed),
                1,
                "the gate is open but the work before it is not visible"
            );
        }
        let ready = registry.probe(Probe::Readiness);
        if ready == Outcome::Pass {
            assert!(gate.is_done(), "readiness passed before start-up finished");
        }
        let scanned = registry.probe_excluding(Probe::Readiness, registry.now(), |_| false);
        if scanned == Outcome::Pass {
            assert!(
                gate.is_done(),
                "a scan passed readiness before start-up finished"
            );
        }
        opener.join().unwrap();
        reader.join().unwrap();
        assert_eq!(registry.probe(Probe::Startup), Outcome::Pass);
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
    });
}

/// A waker that raises a flag.
struct Flag(AtomicBool);

impl std::task::Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

/// Model 7: a subscriber parks while a writer changes a status: either its poll sees
/// the change, or the writer wakes it. A lost wake-up would leave it asleep forever.
///
/// The waker reaches the writer through the model `ArcSwap`, whose loads are not locks:
/// without the `SeqCst` fences in `notify` and `poll_changed` both sides can miss each
/// other here (the store-buffering pattern), and the model fails.
#[test]
fn subscriber_never_misses_a_change() {
    use std::task::{Context, Waker};

    loom::model(|| {
        let time = ManualClock::new();
        let mut b = builder(&time);
        let db = push(&mut b, CheckSpec::new("db").readiness());
        let registry = b.build();
        let mut subscription = registry.subscribe();

        let writer = thread::spawn(move || db.unhealthy("down"));
        let woken = std::sync::Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(std::sync::Arc::clone(&woken));
        let mut cx = Context::from_waker(&waker);
        let ready = {
            let changed = std::pin::pin!(subscription.changed());
            changed.poll(&mut cx).is_ready()
        };
        writer.join().unwrap();
        assert!(
            ready || woken.0.load(Ordering::Acquire),
            "the change was neither seen by the poll nor announced to the waker"
        );
    });
}

/// Model 7b: subscribers that do not poll (so run no fence of their own): one told of a
/// change by `has_changed` sees it when it reads; one whose `mark_seen` returned the old
/// state hears of the change again, so a change is never lost between the two.
#[test]
fn subscribers_see_what_they_are_told_of() {
    loom::model(|| {
        let time = ManualClock::new();
        let mut b = builder(&time);
        let db = push(&mut b, CheckSpec::new("db").readiness());
        let registry = b.build();
        db.healthy();
        let (asking, mut marking) = (registry.subscribe(), registry.subscribe());

        let asker = {
            let registry = registry.clone();
            thread::spawn(move || {
                if asking.has_changed() {
                    assert_eq!(
                        registry.probe(Probe::Readiness),
                        Outcome::Fail,
                        "told of a change it cannot see"
                    );
                }
            })
        };
        let marker = thread::spawn(move || {
            let seen = marking.mark_seen();
            (seen.readiness, marking)
        });
        db.unhealthy("down");
        asker.join().unwrap();
        let (seen, marking) = marker.join().unwrap();
        if seen == Outcome::Pass {
            assert!(
                marking.has_changed(),
                "marked the change seen without seeing it"
            );
        }
    });
}

/// Model 8: a critical check races between Degraded and Unhealthy: a member moves between
/// the warning and the failing count. A reader sees Warn or Fail, never Pass, and the end
/// state is the last report's.
#[test]
fn degraded_and_unhealthy_race() {
    bounded(2, || {
        let time = ManualClock::new();
        let mut b = builder(&time);
        let db = push(&mut b, CheckSpec::new("db").readiness());
        let registry = b.build();
        db.unhealthy("down");

        let (slow, down) = (db.clone(), db.clone());
        let a = thread::spawn(move || slow.degraded("slow"));
        let c = thread::spawn(move || down.unhealthy("down again"));
        let seen = registry.probe(Probe::Readiness);
        assert_ne!(seen, Outcome::Pass, "db is never Healthy");
        a.join().unwrap();
        c.join().unwrap();
        let last = last_report(&registry, "db");
        assert_eq!(db.status(), last, "last report wins");
        let expected = Outcome::of(last, true, Probe::Readiness);
        assert_eq!(registry.probe(Probe::Readiness), expected);
        assert_eq!(fold(&registry, Probe::Readiness), expected);
    });
}

/// Model 9: a check in several probes, with two writers turning it Unhealthy: a reader of
/// the aggregate who sees it failing liveness sees it failing readiness too (readiness is
/// read after liveness and the owner applies liveness last). At quiescence every probe
/// agrees with the fold.
#[test]
fn check_in_several_probes_under_racing_writers() {
    bounded(2, || {
        let time = ManualClock::new();
        let mut b = builder(&time);
        let core = push(&mut b, CheckSpec::new("core").liveness().readiness());
        let registry = b.build();
        core.healthy();

        let (first, second) = (core.clone(), core.clone());
        let a = thread::spawn(move || first.unhealthy("wedged"));
        let c = thread::spawn(move || second.unhealthy("still wedged"));
        let seen = registry.aggregate();
        assert!(
            !(seen.liveness == Outcome::Fail && seen.readiness == Outcome::Pass),
            "saw the new status in liveness and the old one in readiness, read after: {seen:?}"
        );
        a.join().unwrap();
        c.join().unwrap();
        for probe in [Probe::Liveness, Probe::Readiness] {
            assert_eq!(registry.probe(probe), Outcome::Fail);
            assert_eq!(fold(&registry, probe), Outcome::Fail);
        }
    });
}

/// Model 10: `touch` (the runner vouching for the applied result) races a publish on a
/// stale check. Both refresh the stamp; at quiescence the check is fresh and Unhealthy,
/// the words agree with the fold, and the subscriber heard of it.
#[test]
fn touch_racing_publish() {
    bounded(2, || {
        let (registry, db) = stale_readiness_check();
        let subscription = registry.subscribe();

        let runner = db.clone();
        let a = thread::spawn(move || db.unhealthy("down"));
        let c = thread::spawn(move || runner.loom_touch());
        let seen = registry.probe(Probe::Readiness);
        a.join().unwrap();
        c.join().unwrap();
        // Healthy and stale (before), Healthy and touched (Pass), Unhealthy: never Warn.
        assert_ne!(seen, Outcome::Warn, "no state of db warns");
        let snapshot = registry.check("db").unwrap().snapshot_at(registry.now());
        assert_eq!(snapshot.status(), Status::Unhealthy);
        assert_eq!(snapshot.reason(), Some("down"), "fresh: no stale reason");
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
        assert_eq!(fold(&registry, Probe::Readiness), Outcome::Fail);
        assert!(subscription.has_changed());
    });
}

/// Model 11: three writers on one check (the main thread is the third): the owner hand-off
/// survives any interleaving, the last report wins and the words agree with the fold.
#[test]
fn three_writers_on_one_check() {
    bounded(1, || {
        let time = ManualClock::new();
        let mut b = builder(&time);
        let db = push(&mut b, CheckSpec::new("db").readiness().liveness());
        let registry = b.build();

        let (one, two) = (db.clone(), db.clone());
        let a = thread::spawn(move || one.unhealthy("down"));
        let c = thread::spawn(move || two.degraded("slow"));
        db.healthy();
        a.join().unwrap();
        c.join().unwrap();
        let last = last_report(&registry, "db");
        assert_eq!(db.status(), last, "last report wins");
        for probe in [Probe::Liveness, Probe::Readiness] {
            let expected = Outcome::of(last, true, probe);
            assert_eq!(registry.probe(probe), expected);
            assert_eq!(fold(&registry, probe), expected);
        }
    });
}

/// Model 12: the one-word lifecycle: a gate opening (which latches startup and clears
/// readiness' PENDING) races `begin_shutdown` and a reader of the aggregate. Readiness
/// passes only between the latch and the shutdown; an aggregate that shows readiness
/// passing shows startup passing; nothing passes readiness after `begin_shutdown` returned.
#[test]
fn one_word_lifecycle() {
    bounded(2, || {
        let time = ManualClock::new();
        let gate = StartupGate::new();
        let mut b = builder(&time);
        b.gate(CheckSpec::new("warmup").startup(), &gate).unwrap();
        let registry = b.build();
        let returned = Arc::new(AtomicBool::new(false));

        let opener = {
            let gate = gate.clone();
            thread::spawn(move || gate.done())
        };
        let shutdown = {
            let (registry, returned) = (registry.clone(), Arc::clone(&returned));
            thread::spawn(move || {
                registry.begin_shutdown();
                returned.store(true, Ordering::Release);
            })
        };
        let after_shutdown = returned.load(Ordering::Acquire);
        let seen = registry.aggregate();
        if seen.readiness == Outcome::Pass {
            assert_eq!(
                seen.startup,
                Outcome::Pass,
                "ready but not started: {seen:?}"
            );
            assert!(!after_shutdown, "ready after begin_shutdown returned");
        }
        opener.join().unwrap();
        shutdown.join().unwrap();
        let end = registry.aggregate();
        assert_eq!(end.startup, Outcome::Pass);
        assert_eq!(end.readiness, Outcome::Fail);
        assert_eq!(registry.phase(), health_core::Phase::Draining);
    });
}

/// Model 13: the timed-member deadline. `db` is Healthy but stale; a writer publishes
/// Unhealthy (refreshing it), a second reader's scan may raise the deadline from the
/// fresh stamp, and the main reader may take that deadline. Before the write `db` fails
/// (stale), after it `db` fails (Unhealthy): no reader may ever see readiness pass, which
/// a deadline taken without the class behind its stamp would allow.
#[test]
fn timed_member_deadline() {
    bounded(2, || {
        let (registry, db) = stale_readiness_check();

        let writer = thread::spawn(move || db.unhealthy("down"));
        let scanner = {
            let registry = registry.clone();
            thread::spawn(move || registry.probe(Probe::Readiness))
        };
        let seen = registry.probe(Probe::Readiness);
        assert_eq!(seen, Outcome::Fail, "stale before, Unhealthy after");
        writer.join().unwrap();
        assert_eq!(scanner.join().unwrap(), Outcome::Fail, "the scanner too");
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
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
