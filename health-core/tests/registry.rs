//! Public-API behaviour of the registry: the aggregation rules, one row per rule.

// Built without loom: these use std threads, proptest and real time.
#![cfg(not(loom))]

use std::time::Duration;

use health_core::{
    CheckSpec, Heartbeat, ManualClock, Outcome, Phase, Probe, Registry, RegistryBuilder,
    RegistryError, StartupGate, Status,
};

/// A member to register for one row: its probes, criticality, and what to publish.
#[derive(Clone, Copy)]
struct Member {
    probe: Probe,
    critical: bool,
    status: Status,
}

const fn m(probe: Probe, critical: bool, status: Status) -> Member {
    Member {
        probe,
        critical,
        status,
    }
}

fn registry_of(members: &[Member]) -> Registry {
    let mut builder = Registry::builder();
    for (i, member) in members.iter().enumerate() {
        let handle = builder
            .push(
                CheckSpec::new(format!("check-{i}"))
                    .probe(member.probe)
                    .critical(member.critical),
            )
            .unwrap();
        match member.status {
            Status::Unknown => {}
            Status::Healthy => handle.healthy(),
            Status::Degraded => handle.degraded("degraded"),
            Status::Unhealthy => handle.unhealthy("unhealthy"),
        }
    }
    builder.build()
}

#[test]
fn aggregation_rules() {
    use Outcome::{Fail, Pass, Warn};
    use Probe::{Liveness, Readiness, Startup};
    use Status::{Degraded, Healthy, Unhealthy, Unknown};

    let rows: &[(&str, &[Member], Probe, Outcome)] = &[
        ("a probe with no members passes", &[], Readiness, Pass),
        (
            "all healthy passes",
            &[m(Readiness, true, Healthy), m(Readiness, true, Healthy)],
            Readiness,
            Pass,
        ),
        (
            "unknown passes liveness",
            &[m(Liveness, true, Unknown)],
            Liveness,
            Pass,
        ),
        (
            "unknown fails readiness",
            &[m(Readiness, true, Unknown)],
            Readiness,
            Fail,
        ),
        (
            "unknown fails startup",
            &[m(Startup, true, Unknown)],
            Startup,
            Fail,
        ),
        (
            "critical unhealthy fails",
            &[m(Readiness, true, Unhealthy), m(Readiness, true, Healthy)],
            Readiness,
            Fail,
        ),
        (
            "critical unhealthy fails liveness",
            &[m(Liveness, true, Unhealthy)],
            Liveness,
            Fail,
        ),
        (
            "non-critical unhealthy warns",
            &[m(Readiness, false, Unhealthy), m(Readiness, true, Healthy)],
            Readiness,
            Warn,
        ),
        (
            "non-critical unknown warns readiness",
            &[m(Readiness, false, Unknown)],
            Readiness,
            Warn,
        ),
        (
            "degraded warns",
            &[m(Readiness, true, Degraded)],
            Readiness,
            Warn,
        ),
        (
            "non-critical degraded warns",
            &[m(Liveness, false, Degraded)],
            Liveness,
            Warn,
        ),
        (
            "fail beats warn",
            &[m(Readiness, true, Degraded), m(Readiness, true, Unhealthy)],
            Readiness,
            Fail,
        ),
        (
            "other probes' members do not count",
            &[m(Readiness, true, Unhealthy)],
            Liveness,
            Pass,
        ),
        (
            "an unstarted service fails readiness",
            &[m(Startup, true, Unknown), m(Readiness, true, Healthy)],
            Readiness,
            Fail,
        ),
        (
            "a started service passes readiness",
            &[m(Startup, true, Healthy), m(Readiness, true, Healthy)],
            Readiness,
            Pass,
        ),
    ];
    for (rule, members, probe, expected) in rows {
        let registry = registry_of(members);
        assert_eq!(registry.probe(*probe), *expected, "rule: {rule}");
        assert_eq!(
            registry.probe_excluding(*probe, registry.now(), |_| false),
            *expected,
            "rule (scan): {rule}"
        );
    }
}

#[test]
fn stale_result_fails_and_says_why() {
    let time = ManualClock::new();
    let mut builder = RegistryBuilder::with_clock(time.clock());
    let db = builder
        .push(
            CheckSpec::new("db")
                .readiness()
                .max_age(Duration::from_secs(10)),
        )
        .unwrap();
    let registry = builder.build();
    db.healthy();
    time.advance(Duration::from_secs(10));
    assert_eq!(
        registry.probe(Probe::Readiness),
        Outcome::Pass,
        "exactly max_age is fresh"
    );
    time.advance(Duration::from_secs(1));
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
    let snapshot = registry.check("db").unwrap().snapshot_at(registry.now());
    assert_eq!(snapshot.status(), Status::Unhealthy);
    assert_eq!(
        snapshot.reason(),
        Some("stale: last result 11s ago (max_age 10s)")
    );
    db.healthy();
    assert_eq!(
        registry.probe(Probe::Readiness),
        Outcome::Pass,
        "a new result is fresh"
    );
}

#[test]
fn stale_non_critical_only_warns() {
    let time = ManualClock::new();
    let mut builder = RegistryBuilder::with_clock(time.clock());
    let cache = builder
        .push(
            CheckSpec::new("cache")
                .readiness()
                .critical(false)
                .max_age(Duration::from_secs(5)),
        )
        .unwrap();
    let registry = builder.build();
    cache.healthy();
    time.advance(Duration::from_secs(6));
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Warn);
}

#[test]
fn never_reported_goes_stale_from_registration() {
    let time = ManualClock::new();
    let mut builder = RegistryBuilder::with_clock(time.clock());
    builder
        .push(
            CheckSpec::new("loop")
                .liveness()
                .max_age(Duration::from_secs(5)),
        )
        .unwrap();
    let registry = builder.build();
    assert_eq!(
        registry.probe(Probe::Liveness),
        Outcome::Pass,
        "unknown passes liveness"
    );
    time.advance(Duration::from_secs(6));
    assert_eq!(
        registry.probe(Probe::Liveness),
        Outcome::Fail,
        "a runner that never ran is dead"
    );
    let snapshot = registry.check("loop").unwrap().snapshot_at(registry.now());
    assert_eq!(
        snapshot.reason(),
        Some("stale: no result in 6s (max_age 5s)")
    );
}

#[test]
fn heartbeat_fails_liveness_after_max_silence_only() {
    let time = ManualClock::new();
    let worker = Heartbeat::with_clock(&time.clock());
    let mut builder = RegistryBuilder::with_clock(time.clock());
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    builder
        .heartbeat(
            CheckSpec::new("worker")
                .liveness()
                .max_age(Duration::from_secs(30)),
            &worker,
        )
        .unwrap();
    let registry = builder.build();
    db.healthy();
    time.advance(Duration::from_secs(29));
    worker.beat();
    time.advance(Duration::from_secs(30));
    assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
    time.advance(Duration::from_millis(1));
    assert_eq!(registry.probe(Probe::Liveness), Outcome::Fail);
    assert_eq!(
        registry.probe(Probe::Readiness),
        Outcome::Pass,
        "a stalled worker is not a readiness matter"
    );
    let snapshot = registry
        .check("worker")
        .unwrap()
        .snapshot_at(registry.now());
    assert_eq!(
        snapshot.reason(),
        Some("no heartbeat for 30.0s (max_silence 30s)")
    );
}

#[test]
fn startup_latches() {
    let warmup = StartupGate::new();
    let mut builder = Registry::builder();
    builder
        .gate(CheckSpec::new("warmup").startup(), &warmup)
        .unwrap();
    let migrations = builder
        .push(CheckSpec::new("migrations").startup())
        .unwrap();
    let registry = builder.build();
    assert_eq!(registry.phase(), Phase::Starting);
    warmup.done();
    assert_eq!(
        registry.probe(Probe::Startup),
        Outcome::Fail,
        "one startup check is still unknown"
    );
    migrations.healthy();
    assert_eq!(registry.probe(Probe::Startup), Outcome::Pass);
    assert_eq!(registry.phase(), Phase::Serving);
    migrations.unhealthy("re-run failed");
    assert_eq!(
        registry.probe(Probe::Startup),
        Outcome::Pass,
        "latched: startup never fails again"
    );
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
}

#[test]
fn shutdown_fails_readiness_only() {
    let mut builder = Registry::builder();
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    let registry = builder.build();
    db.healthy();
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
    registry.begin_shutdown();
    assert_eq!(registry.phase(), Phase::Draining);
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
    assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
    assert_eq!(registry.probe(Probe::Startup), Outcome::Pass);
    db.healthy();
    assert_eq!(
        registry.probe(Probe::Readiness),
        Outcome::Fail,
        "shutdown is monotonic"
    );
    registry.stop();
    assert_eq!(registry.phase(), Phase::Stopped);
}

#[test]
fn bad_names_are_errors_naming_the_name() {
    let mut builder = Registry::builder();
    let cases = [
        ("", "must not be empty"),
        ("DB", "may only contain"),
        ("db/primary", "may only contain"),
        ("db primary", "may only contain"),
        (".", "must not start with '.'"),
        ("..", "must not start with '.'"),
        (".db", "must not start with '.'"),
        ("db.", "must not end with '.'"),
        ("db..primary", "empty segment"),
        // Readiness' verbose and JSON output name its lifecycle lines so.
        ("startup", "reserved"),
        ("shutdown", "reserved"),
    ];
    for (name, reason) in cases {
        let err = builder.push(CheckSpec::new(name).readiness()).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(&format!("{name:?}")),
            "{message} must name {name:?}"
        );
        assert!(message.contains(reason), "{message} must say {reason:?}");
    }
    let long = "a".repeat(64);
    assert!(matches!(
        builder.push(CheckSpec::new(long).readiness()),
        Err(RegistryError::InvalidName { .. })
    ));
    assert!(
        builder
            .push(CheckSpec::new("a".repeat(63)).readiness())
            .is_ok()
    );
    builder.push(CheckSpec::new("db").readiness()).unwrap();
    assert_eq!(
        builder.push(CheckSpec::new("db").liveness()).unwrap_err(),
        RegistryError::DuplicateName { name: "db".into() }
    );
    assert_eq!(
        builder.push(CheckSpec::new("orphan")).unwrap_err(),
        RegistryError::NoProbe {
            name: "orphan".into()
        }
    );
    assert_eq!(
        builder
            .push(CheckSpec::new("zero").readiness().max_age(Duration::ZERO))
            .unwrap_err(),
        RegistryError::ZeroMaxAge {
            name: "zero".into()
        }
    );
    let registry = builder.build();
    assert_eq!(registry.len(), 2, "refused checks leave nothing behind");
}

#[test]
fn a_check_in_several_probes_counts_in_each() {
    let mut builder = Registry::builder();
    let core = builder
        .push(CheckSpec::new("core").liveness().readiness())
        .unwrap();
    let registry = builder.build();
    core.unhealthy("wedged");
    assert_eq!(registry.probe(Probe::Liveness), Outcome::Fail);
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
    core.healthy();
    assert_eq!(registry.aggregate().liveness, Outcome::Pass);
    assert_eq!(registry.aggregate().readiness, Outcome::Pass);
    assert_eq!(registry.members(Probe::Liveness).count(), 1);
    assert_eq!(registry.members(Probe::Startup).count(), 0);
}

#[test]
fn exclusion_skips_named_members() {
    let mut builder = Registry::builder();
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    let cache = builder.push(CheckSpec::new("cache").readiness()).unwrap();
    let registry = builder.build();
    db.unhealthy("down");
    cache.healthy();
    let now = registry.now();
    assert_eq!(
        registry.probe_excluding(Probe::Readiness, now, |n| n == "cache"),
        Outcome::Fail
    );
    assert_eq!(
        registry.probe_excluding(Probe::Readiness, now, |n| n == "db"),
        Outcome::Pass
    );
    registry.begin_shutdown();
    assert_eq!(
        registry.probe_excluding(Probe::Readiness, now, |_| true),
        Outcome::Fail,
        "excluding every check does not exclude shutdown"
    );
}

#[test]
fn subscription_coalesces_to_the_newest_state() {
    let mut builder = Registry::builder();
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    let registry = builder.build();
    let mut subscription = registry.subscribe();
    assert!(!subscription.has_changed());
    db.degraded("slow"); // Unknown (fail) -> Degraded (warn): a change
    db.unhealthy("down");
    db.healthy();
    assert!(subscription.has_changed());
    let seen = subscription.mark_seen();
    assert_eq!(
        seen.readiness,
        Outcome::Pass,
        "only the newest state is delivered"
    );
    assert!(!subscription.has_changed());
    db.healthy();
    assert!(
        !subscription.has_changed(),
        "a write that changes no outcome is not a change"
    );
    registry.begin_shutdown();
    assert!(subscription.has_changed(), "lifecycle changes are changes");
}

#[test]
fn subscription_wakes_a_waiting_task() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Wake, Waker};

    struct CountingWaker(AtomicUsize);
    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    let mut builder = Registry::builder();
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    let registry = builder.build();
    let mut subscription = registry.subscribe();
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&counter));
    let mut cx = Context::from_waker(&waker);
    let mut changed = Box::pin(subscription.changed());
    assert!(changed.as_mut().poll(&mut cx).is_pending());
    db.healthy();
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        1,
        "the writer woke the subscriber"
    );
    match changed.as_mut().poll(&mut cx) {
        Poll::Ready(aggregate) => assert_eq!(aggregate.readiness, Outcome::Pass),
        Poll::Pending => panic!("woken but not ready"),
    }
}

#[test]
fn handles_publish_before_build() {
    let mut builder = Registry::builder();
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    db.healthy();
    let registry = builder.build();
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
}

#[test]
fn reports_carry_details() {
    let mut builder = Registry::builder();
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    let registry = builder.build();
    db.publish(
        health_core::Report::new(Status::Degraded)
            .with_reason("replication lag")
            .with_observed(4.5, "s")
            .with_duration(Duration::from_millis(3)),
    );
    let snapshot = registry.check("db").unwrap().snapshot_at(registry.now());
    assert_eq!(snapshot.status(), Status::Degraded);
    assert_eq!(snapshot.reason(), Some("replication lag"));
    assert!((snapshot.report().observed().unwrap().value() - 4.5).abs() < f64::EPSILON);
    assert_eq!(snapshot.report().duration(), Some(Duration::from_millis(3)));
    assert!(snapshot.updated().is_some());
}

/// A waker that counts its wake-ups.
struct Counting(std::sync::atomic::AtomicUsize);

impl std::task::Wake for Counting {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Counting {
    fn new() -> std::sync::Arc<Counting> {
        std::sync::Arc::new(Counting(std::sync::atomic::AtomicUsize::new(0)))
    }

    fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Polls `subscription.changed()` once with `waker`: registers the waker if nothing
/// changed yet.
fn poll_once(subscription: &mut health_core::Subscription, waker: &std::task::Waker) -> bool {
    let mut cx = std::task::Context::from_waker(waker);
    let changed = std::pin::pin!(subscription.changed());
    changed.poll(&mut cx).is_ready()
}

#[test]
fn a_panicking_waker_freezes_no_check_and_the_others_still_wake() {
    struct Panicking;
    impl std::task::Wake for Panicking {
        fn wake(self: std::sync::Arc<Self>) {
            panic!("a waker with a bug");
        }
    }

    let mut builder = Registry::builder();
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    let registry = builder.build();
    let mut buggy = registry.subscribe();
    let mut fine = registry.subscribe();
    let counting = Counting::new();
    assert!(!poll_once(
        &mut buggy,
        &std::task::Waker::from(std::sync::Arc::new(Panicking))
    ));
    assert!(!poll_once(
        &mut fine,
        &std::task::Waker::from(std::sync::Arc::clone(&counting))
    ));

    let write = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| db.unhealthy("down")));
    assert!(write.is_err(), "the waker's panic reaches the writer");
    assert_eq!(
        counting.count(),
        1,
        "the other subscriber was woken all the same"
    );
    assert_eq!(db.status(), Status::Unhealthy);
    drop(buggy);
    db.healthy();
    assert_eq!(db.status(), Status::Healthy, "a later write still applies");
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
}

#[test]
fn opening_a_startup_gate_wakes_subscribers() {
    let warmup = StartupGate::new();
    let mut builder = Registry::builder();
    builder
        .gate(CheckSpec::new("warmup").startup(), &warmup)
        .unwrap();
    let registry = builder.build();
    let mut subscription = registry.subscribe();
    let counting = Counting::new();
    assert!(!poll_once(
        &mut subscription,
        &std::task::Waker::from(std::sync::Arc::clone(&counting))
    ));
    warmup.done();
    assert!(subscription.has_changed(), "the gate opening is a change");
    assert!(counting.count() >= 1, "the waiting task was woken");
    assert_eq!(subscription.mark_seen().readiness, Outcome::Pass);
}

#[test]
fn a_dropped_subscription_releases_its_waker_at_once() {
    let mut builder = Registry::builder();
    builder.push(CheckSpec::new("db").readiness()).unwrap();
    let registry = builder.build();
    let counting = Counting::new();
    let waker = std::task::Waker::from(std::sync::Arc::clone(&counting));
    let mut subscription = registry.subscribe();
    assert!(!poll_once(&mut subscription, &waker));
    assert!(!poll_once(&mut subscription, &waker));
    drop(subscription);
    assert_eq!(
        std::sync::Arc::strong_count(&counting),
        2,
        "only `counting` and `waker` hold it: the registry kept no copy"
    );
}

#[test]
fn subscriptions_wake_on_any_change_of_a_checks_status() {
    let mut builder = Registry::builder();
    let cache = builder
        .push(CheckSpec::new("cache").readiness().critical(false))
        .unwrap();
    let registry = builder.build();
    let mut subscription = registry.subscribe();
    // Unknown and Unhealthy both warn readiness for a non-critical check: the probe's
    // outcome stays Warn, the check's status changes.
    cache.unhealthy("down");
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Warn);
    assert!(
        subscription.has_changed(),
        "a watcher of `cache` must hear of it"
    );
    subscription.mark_seen();
    cache.degraded("slow");
    assert!(
        subscription.has_changed(),
        "Unhealthy to Degraded is a change too"
    );
    subscription.mark_seen();
    cache.degraded("still slow");
    assert!(
        !subscription.has_changed(),
        "the same status again is no change"
    );
}

#[test]
fn phase_and_is_started_agree_about_the_latch() {
    let mut builder = Registry::builder();
    let migrations = builder
        .push(CheckSpec::new("migrations").startup())
        .unwrap();
    let registry = builder.build();
    assert_eq!(registry.phase(), Phase::Starting);
    migrations.healthy();
    assert_eq!(registry.phase(), Phase::Serving, "no probe read needed");
    assert!(registry.is_started());

    // A startup heartbeat that beats again after a silence passes without any write to
    // the registry: the next look at the latch, whichever, settles it.
    let time = ManualClock::new();
    let loader = Heartbeat::with_clock(&time.clock());
    let mut builder = RegistryBuilder::with_clock(time.clock());
    builder
        .heartbeat(
            CheckSpec::new("loader")
                .startup()
                .max_age(Duration::from_secs(5)),
            &loader,
        )
        .unwrap();
    time.advance(Duration::from_secs(6));
    let registry = builder.build();
    assert_eq!(registry.phase(), Phase::Starting, "silent too long");
    loader.beat();
    assert_eq!(registry.phase(), Phase::Serving);
    assert!(registry.is_started());
}
