//! The background runner (feature `runtime`): schedule, timeout, thresholds, jitter, panic
//! isolation and staleness, in tokio's virtual time; the TCP check against a real listener;
//! the lag check on a manual clock.
//!
//! Virtual-time tests run on a paused current-thread runtime. `Registry::builder()` reads
//! the system clock, which under feature `runtime` is tokio's `Instant`, so the registry's
//! clock moves exactly as far as the paused clock (checked first, below). Time only moves
//! when every task is idle and the test sleeps, so each test observes at instants strictly
//! between scheduled runs (runs fall on whole seconds, observations at `+500ms` or
//! `±1ms`): nothing depends on which of two timers due at the same instant fires first.

#![cfg(all(feature = "runtime", not(loom)))]

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use health_core::{
    Check, CheckKind, CheckSnapshot, CheckSpec, Heartbeat, LagCheck, ManualClock, Outcome, Probe,
    Registry, RegistryBuilder, Report, Runner, Schedule, Status, TcpCheck, check_fn,
};
use tokio::time::{Instant, sleep, sleep_until};

const fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

const fn secs(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// A schedule without jitter: runs fall on exact multiples of the interval, which most
/// tests here count. Jitter has tests of its own.
fn unjittered(interval: Duration) -> Schedule {
    Schedule::every(interval).jitter(Duration::ZERO)
}

/// Sleeps (in virtual time, in the paused tests) until `offset` after `start`.
async fn until(start: Instant, offset: Duration) {
    sleep_until(start + offset).await;
}

fn snapshot(registry: &Registry, name: &str) -> CheckSnapshot {
    registry
        .check(name)
        .unwrap_or_else(|| panic!("no check named {name:?}"))
        .snapshot_at(registry.now())
}

fn status(registry: &Registry, name: &str) -> Status {
    snapshot(registry, name).status()
}

fn reason(registry: &Registry, name: &str) -> Option<String> {
    snapshot(registry, name).reason().map(str::to_owned)
}

/// A shared counter of check runs.
#[derive(Clone, Debug, Default)]
struct Counter(Arc<AtomicUsize>);

impl Counter {
    /// Counts one more; returns the new count.
    fn bump(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A check that passes and counts its runs.
fn counting(calls: &Counter) -> impl Check + use<> {
    let calls = calls.clone();
    check_fn(move || {
        calls.bump();
        async { Ok::<(), String>(()) }
    })
}

/// A check whose result follows `pass`; failures are numbered ("failure 3").
fn following(pass: &Arc<AtomicBool>) -> impl Check + use<> {
    let pass = Arc::clone(pass);
    let failures = Counter::default();
    check_fn(move || {
        let result = if pass.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(format!("failure {}", failures.bump()))
        };
        async move { result }
    })
}

#[tokio::test(start_paused = true)]
async fn registry_clock_follows_paused_tokio_time() {
    let registry = Registry::builder().build();
    let (t0, i0) = (registry.now(), Instant::now());
    sleep(secs(3_600)).await;
    assert_eq!(
        registry.now().saturating_duration_since(t0),
        secs(3_600),
        "the registry's clock must follow tokio's paused clock exactly"
    );
    assert_eq!(i0.elapsed(), secs(3_600));
    let worker = Heartbeat::new();
    sleep(secs(7)).await;
    assert_eq!(
        worker.silence(),
        secs(7),
        "Heartbeat::new() is on the same clock"
    );
}

/// What the hanging check of `timeout_drops_the_future` shares with its drop guard.
#[derive(Debug, Default)]
struct Hang {
    entered: Counter,
    dropped: Counter,
    /// The check's status as each guard was dropped.
    status_at_drop: Mutex<Vec<Status>>,
    registry: OnceLock<Registry>,
}

/// Held by a run's future; records when that future is dropped.
struct DropGuard(Arc<Hang>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.dropped.bump();
        if let Some(registry) = self.0.registry.get() {
            let status = status(registry, "hang");
            self.0.status_at_drop.lock().unwrap().push(status);
        }
    }
}

/// A check that never completes; its future holds a [`DropGuard`].
fn hanging(hang: &Arc<Hang>) -> impl Check + use<> {
    let hang = Arc::clone(hang);
    check_fn(move || {
        let hang = Arc::clone(&hang);
        async move {
            hang.entered.bump();
            let _guard = DropGuard(hang);
            std::future::pending::<Report>().await
        }
    })
}

#[tokio::test(start_paused = true)]
async fn timeout_drops_the_future() {
    let hang = Arc::new(Hang::default());
    let mut builder = Registry::builder();
    builder
        .schedule(
            CheckSpec::new("hang").readiness(),
            unjittered(secs(10)).timeout(ms(500)),
            hanging(&hang),
        )
        .unwrap();
    let start = Instant::now();
    let (registry, _runner) = builder.spawn();
    hang.registry.set(registry.clone()).unwrap();

    until(start, ms(499)).await;
    assert_eq!(hang.entered.get(), 1, "the first run starts at once");
    assert_eq!(hang.dropped.get(), 0, "the run is still within its timeout");
    assert_eq!(status(&registry, "hang"), Status::Unknown);

    until(start, ms(501)).await;
    assert_eq!(
        hang.dropped.get(),
        1,
        "the timeout must drop the run's future"
    );
    let snapshot = snapshot(&registry, "hang");
    assert_eq!(snapshot.status(), Status::Unhealthy);
    assert_eq!(snapshot.reason(), Some("timed out after 500ms"));
    assert_eq!(snapshot.report().duration(), Some(ms(500)));
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
    assert_eq!(
        *hang.status_at_drop.lock().unwrap(),
        [Status::Unknown],
        "the future is dropped before the timeout is recorded"
    );

    until(start, ms(10_501)).await;
    assert_eq!(
        (hang.entered.get(), hang.dropped.get()),
        (2, 2),
        "the next run starts on schedule and is dropped too"
    );
    assert_eq!(
        reason(&registry, "hang").as_deref(),
        Some("timed out after 500ms")
    );
}

#[tokio::test(start_paused = true)]
async fn stopping_the_runner_drops_the_run_in_flight() {
    let hang = Arc::new(Hang::default());
    let mut builder = Registry::builder();
    builder
        .schedule(
            CheckSpec::new("hang").readiness(),
            unjittered(secs(10)).timeout(secs(5)),
            hanging(&hang),
        )
        .unwrap();
    let start = Instant::now();
    let (registry, runner) = builder.spawn();
    hang.registry.set(registry.clone()).unwrap();
    assert_eq!(runner.len(), 1);

    until(start, secs(1)).await;
    assert_eq!((hang.entered.get(), hang.dropped.get()), (1, 0));
    runner.stop();
    sleep(ms(1)).await;
    assert_eq!(
        hang.dropped.get(),
        1,
        "stopping the runner must drop the run in flight"
    );
    until(start, secs(30)).await;
    assert_eq!(hang.entered.get(), 1, "a stopped runner runs nothing");
}

/// Counts runs in flight at once; `max` is the most ever seen.
#[derive(Debug, Default)]
struct InFlight {
    now: AtomicUsize,
    max: AtomicUsize,
    runs: Counter,
}

impl InFlight {
    fn enter(self: &Arc<Self>) -> Leave {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        self.runs.bump();
        Leave(Arc::clone(self))
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

/// Leaves on drop, so a run cut by its timeout leaves too.
struct Leave(Arc<InFlight>);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn one_run_in_flight() {
    let slow = Arc::new(InFlight::default());
    let cut = Arc::new(InFlight::default());
    let mut builder = Registry::builder();
    // Takes most of its interval, within its timeout.
    let in_flight = Arc::clone(&slow);
    builder
        .schedule(
            CheckSpec::new("slow").readiness(),
            unjittered(ms(100)).timeout(ms(90)),
            check_fn(move || {
                let in_flight = Arc::clone(&in_flight);
                async move {
                    let _leave = in_flight.enter();
                    sleep(ms(60)).await;
                }
            }),
        )
        .unwrap();
    // Would take 10× its interval, but its timeout cuts it at half.
    let in_flight = Arc::clone(&cut);
    builder
        .schedule(
            CheckSpec::new("cut").readiness(),
            unjittered(ms(100)).timeout(ms(50)),
            check_fn(move || {
                let in_flight = Arc::clone(&in_flight);
                async move {
                    let _leave = in_flight.enter();
                    sleep(secs(1)).await;
                }
            }),
        )
        .unwrap();
    let start = Instant::now();
    let (registry, _runner) = builder.spawn();

    until(start, ms(30_150)).await;
    assert_eq!(slow.max(), 1, "runs of one check must never overlap");
    assert_eq!(
        cut.max(),
        1,
        "a timed-out run must be gone before the next starts"
    );
    // A run never outlasts its interval (the timeout is below it): 0, 100ms, …, 30.1s.
    assert_eq!(slow.runs.get(), 302);
    assert_eq!(cut.runs.get(), 302);
    assert_eq!(status(&registry, "slow"), Status::Healthy);
    assert_eq!(
        reason(&registry, "cut").as_deref(),
        Some("timed out after 50ms")
    );
}

#[tokio::test(start_paused = true)]
async fn thresholds_hold_back_flaps_both_ways() {
    use Status::{Healthy, Unhealthy};
    // (does run k pass?, status after run k); runs are at k seconds.
    const PLAN: [(bool, Status); 15] = [
        (true, Healthy), // the first result is published as it is
        (false, Healthy),
        (false, Healthy),
        (false, Unhealthy), // the third consecutive failure
        (true, Unhealthy),
        (true, Healthy), // the second consecutive pass
        (false, Healthy),
        (true, Healthy), // a pass resets the failure count
        (false, Healthy),
        (false, Healthy),
        (false, Unhealthy),
        (true, Unhealthy),
        (false, Unhealthy), // a failure resets the pass count
        (true, Unhealthy),
        (true, Healthy),
    ];
    let pass = Arc::new(AtomicBool::new(true));
    let mut builder = Registry::builder();
    builder
        .schedule(
            CheckSpec::new("flappy").readiness(),
            unjittered(secs(1))
                .failure_threshold(3)
                .success_threshold(2),
            following(&pass),
        )
        .unwrap();
    let start = Instant::now();
    let (registry, _runner) = builder.spawn();

    let mut published_failures = Vec::new();
    for (run, (passes, expected)) in (0_u64..).zip(PLAN) {
        pass.store(passes, Ordering::SeqCst);
        until(start, ms(run * 1_000 + 500)).await;
        assert_eq!(status(&registry, "flappy"), expected, "after run {run}");
        let readiness = if expected == Healthy {
            Outcome::Pass
        } else {
            Outcome::Fail
        };
        assert_eq!(
            registry.probe(Probe::Readiness),
            readiness,
            "after run {run}"
        );
        if expected == Unhealthy {
            published_failures.push(reason(&registry, "flappy").unwrap());
        }
    }
    // Failures are numbered across the test: 1–3 at runs 1–3, 4 at run 6, 5–7 at runs
    // 8–10, 8 at run 12. A held-back pass leaves the last failure's reason in place; a
    // failure on the failing side replaces it.
    assert_eq!(
        published_failures,
        [
            "failure 3",
            "failure 3",
            "failure 7",
            "failure 7",
            "failure 8",
            "failure 8"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn held_back_failures_keep_the_check_fresh() {
    let pass = Arc::new(AtomicBool::new(true));
    let mut builder = Registry::builder();
    let schedule = unjittered(secs(1)).failure_threshold(10);
    assert_eq!(schedule.default_max_age(), ms(2_500));
    builder
        .schedule(
            CheckSpec::new("patient").readiness(),
            schedule,
            following(&pass),
        )
        .unwrap();
    let start = Instant::now();
    let (registry, _runner) = builder.spawn();

    until(start, ms(500)).await;
    assert_eq!(status(&registry, "patient"), Status::Healthy);
    pass.store(false, Ordering::SeqCst);
    // Nine held-back failures span 9 s, three times max_age: a live runner whose results
    // are held back must not look dead.
    until(start, ms(9_500)).await;
    assert_eq!(status(&registry, "patient"), Status::Healthy);
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
    let age = snapshot(&registry, "patient").age().unwrap();
    assert!(
        age <= ms(500),
        "a held-back run refreshes the age, got {age:?}"
    );
    until(start, ms(10_500)).await;
    assert_eq!(reason(&registry, "patient").as_deref(), Some("failure 10"));
}

/// Registers `CHECKS` checks that record when they first ran (offset from `start`).
fn jittered(
    builder: &mut RegistryBuilder,
    schedule: Schedule,
    start: Instant,
    first_runs: &Arc<Mutex<BTreeMap<String, Duration>>>,
) {
    for index in 0..CHECKS {
        let name = format!("check-{index}");
        let first_runs = Arc::clone(first_runs);
        let key = name.clone();
        builder
            .schedule(
                CheckSpec::new(name).readiness(),
                schedule,
                check_fn(move || {
                    first_runs
                        .lock()
                        .unwrap()
                        .entry(key.clone())
                        .or_insert_with(|| start.elapsed());
                    async { true }
                }),
            )
            .unwrap();
    }
}

const CHECKS: usize = 64;

#[tokio::test(start_paused = true)]
async fn jitter_is_bounded_and_deterministic_for_a_seed() {
    const DELAY: Duration = secs(2);
    const JITTER: Duration = secs(3);
    let schedule = unjittered(secs(60)).initial_delay(DELAY).jitter(JITTER);
    let runs: [_; 3] = std::array::from_fn(|_| Arc::new(Mutex::new(BTreeMap::new())));
    let start = Instant::now();
    let mut spawned: Vec<(Registry, Runner)> = Vec::new();
    for (seed, first_runs) in [7, 7, 8].into_iter().zip(&runs) {
        let mut builder = Registry::builder();
        builder.jitter_seed(seed);
        jittered(&mut builder, schedule, start, first_runs);
        spawned.push(builder.spawn());
    }
    // All three registries start at the same virtual instant.
    assert_eq!(start.elapsed(), Duration::ZERO);

    until(start, DELAY.saturating_sub(ms(1))).await;
    assert!(
        runs.iter()
            .all(|first_runs| first_runs.lock().unwrap().is_empty()),
        "no run before the initial delay"
    );
    until(start, DELAY + JITTER + ms(1)).await;
    let [a, b, c] = runs.map(|first_runs| first_runs.lock().unwrap().clone());
    assert_eq!(
        a.len(),
        CHECKS,
        "every check ran once the jitter window passed"
    );
    for (name, &offset) in &a {
        // The timer wheel fires at whole milliseconds, so a first run lands up to 1 ms
        // after its nanosecond offset; the window is [delay, delay + jitter] in ms.
        assert!(
            (DELAY..=DELAY + JITTER).contains(&offset),
            "{name} first ran at {offset:?}, outside [{DELAY:?}, {:?}]",
            DELAY + JITTER
        );
    }
    assert_eq!(a, b, "the same seed must give the same first-run times");
    let moved = a
        .iter()
        .filter(|&(name, offset)| c[name] != *offset)
        .count();
    assert!(
        moved >= CHECKS - 2,
        "another seed must move the checks, only {moved} moved"
    );
    let distinct: HashSet<_> = a.values().collect();
    assert!(
        distinct.len() >= CHECKS - 4,
        "checks must spread, got {} distinct times",
        distinct.len()
    );
    let (earliest, latest) = (a.values().min().unwrap(), a.values().max().unwrap());
    assert!(
        *earliest < DELAY + JITTER / 6 && *latest > DELAY + JITTER * 5 / 6,
        "{CHECKS} checks should cover the window, got {earliest:?}..{latest:?}"
    );
    for (registry, _) in &spawned {
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
    }
}

/// Panics with `message` (a `String` payload) where a check's result is expected.
fn explode(message: &str) -> Report {
    panic!("{message}")
}

/// A check that panics while *making* its future, on its first run only.
struct PanicsBeforeItsFuture(Counter);

impl Check for PanicsBeforeItsFuture {
    fn check(&self) -> impl Future<Output = Report> + Send {
        assert!(self.0.bump() > 1, "bad config on the first run");
        async { Report::healthy() }
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_check_is_unhealthy_and_the_runner_goes_on() {
    let [boom, flaky, eager, steady] = <[Counter; 4]>::default();
    let mut builder = Registry::builder();
    let every_second = unjittered(secs(1));
    let calls = boom.clone();
    builder
        .schedule(
            CheckSpec::new("boom").readiness(),
            every_second,
            check_fn(move || {
                let run = calls.bump();
                async move { explode(&format!("boom {run}")) }
            }),
        )
        .unwrap();
    let calls = flaky.clone();
    builder
        .schedule(
            CheckSpec::new("flaky").readiness(),
            every_second,
            check_fn(move || {
                let run = calls.bump();
                async move {
                    assert!(run > 1, "first run");
                }
            }),
        )
        .unwrap();
    builder
        .schedule(
            CheckSpec::new("eager").readiness(),
            every_second,
            PanicsBeforeItsFuture(eager.clone()),
        )
        .unwrap();
    builder
        .schedule(
            CheckSpec::new("steady").liveness(),
            every_second,
            counting(&steady),
        )
        .unwrap();
    let start = Instant::now();
    let (registry, _runner) = builder.spawn();

    until(start, ms(500)).await;
    assert_eq!(status(&registry, "boom"), Status::Unhealthy);
    assert_eq!(
        reason(&registry, "boom").as_deref(),
        Some("check panicked: boom 1")
    );
    assert_eq!(
        reason(&registry, "flaky").as_deref(),
        Some("check panicked: first run")
    );
    assert_eq!(
        reason(&registry, "eager").as_deref(),
        Some("check panicked: bad config on the first run"),
        "a panic before the check's future exists is caught too"
    );
    assert_eq!(status(&registry, "steady"), Status::Healthy);
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
    assert_eq!(
        registry.probe(Probe::Liveness),
        Outcome::Pass,
        "other checks are unaffected"
    );

    until(start, ms(1_500)).await;
    assert_eq!(
        reason(&registry, "boom").as_deref(),
        Some("check panicked: boom 2"),
        "the panicking check runs again"
    );
    assert_eq!(
        status(&registry, "flaky"),
        Status::Healthy,
        "and recovers when it stops panicking"
    );
    assert_eq!(status(&registry, "eager"), Status::Healthy);

    until(start, ms(4_500)).await;
    assert_eq!(
        [&boom, &flaky, &eager, &steady].map(Counter::get),
        [5; 4],
        "every check keeps its schedule: runs at 0, 1, 2, 3, 4 s"
    );
    assert_eq!(
        reason(&registry, "boom").as_deref(),
        Some("check panicked: boom 5")
    );
}

#[tokio::test(start_paused = true)]
async fn results_go_stale_once_the_runner_stops() {
    let calls = Counter::default();
    let schedule = unjittered(secs(1));
    let max_age = schedule.default_max_age();
    assert_eq!(max_age, ms(2_500), "interval 1s + timeout 500ms + 1s slack");
    let mut builder = Registry::builder();
    builder
        .schedule(CheckSpec::new("db").readiness(), schedule, counting(&calls))
        .unwrap();
    let start = Instant::now();
    let (registry, runner) = builder.spawn();

    until(start, ms(1_500)).await;
    assert_eq!(calls.get(), 2);
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
    drop(runner);

    // The last result is from t = 1 s.
    until(start, secs(1) + max_age.saturating_sub(ms(1))).await;
    assert_eq!(calls.get(), 2, "a dropped runner runs nothing");
    assert_eq!(
        status(&registry, "db"),
        Status::Healthy,
        "not stale within max_age"
    );
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);

    until(start, secs(1) + max_age + ms(1)).await;
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
    let snapshot = snapshot(&registry, "db");
    assert_eq!(snapshot.status(), Status::Unhealthy);
    let reason = snapshot.reason().unwrap();
    assert!(
        reason.starts_with("stale: last result ") && reason.ends_with(" ago (max_age 2.5s)"),
        "unexpected reason {reason:?}"
    );
    assert_eq!(
        snapshot.report().status(),
        Status::Healthy,
        "the last report is kept"
    );
}

#[tokio::test(start_paused = true)]
async fn initial_delay_defers_the_first_run() {
    let calls = Counter::default();
    let mut builder = Registry::builder();
    builder
        .schedule(
            CheckSpec::new("warm").readiness(),
            unjittered(secs(1)).initial_delay(secs(5)),
            counting(&calls),
        )
        .unwrap();
    let start = Instant::now();
    let (registry, _runner) = builder.spawn();

    until(start, ms(4_999)).await;
    assert_eq!(calls.get(), 0, "no run before the initial delay");
    let before = snapshot(&registry, "warm");
    assert_eq!(before.status(), Status::Unknown);
    assert_eq!(before.reason(), None, "waiting is not staleness");
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);

    until(start, ms(5_001)).await;
    assert_eq!(calls.get(), 1, "the first run right at the delay");
    assert_eq!(status(&registry, "warm"), Status::Healthy);
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);

    until(start, ms(6_001)).await;
    assert_eq!(calls.get(), 2, "then every interval");
}

#[tokio::test(start_paused = true)]
async fn failing_interval_applies_while_failing() {
    let pass = Arc::new(AtomicBool::new(true));
    let runs = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let mut builder = Registry::builder();
    let (passing, recorded) = (Arc::clone(&pass), Arc::clone(&runs));
    builder
        .schedule(
            CheckSpec::new("db").readiness(),
            unjittered(secs(10))
                .timeout(ms(500))
                .failing_interval(secs(1)),
            check_fn(move || {
                recorded.lock().unwrap().push(start.elapsed().as_secs());
                let passes = passing.load(Ordering::SeqCst);
                async move { passes }
            }),
        )
        .unwrap();
    let (registry, _runner) = builder.spawn();

    until(start, secs(15)).await;
    pass.store(false, Ordering::SeqCst);
    until(start, ms(23_500)).await;
    assert_eq!(status(&registry, "db"), Status::Unhealthy);
    pass.store(true, Ordering::SeqCst);
    until(start, ms(24_500)).await;
    assert_eq!(status(&registry, "db"), Status::Healthy);
    until(start, secs(40)).await;
    assert_eq!(
        *runs.lock().unwrap(),
        [0, 10, 20, 21, 22, 23, 24, 34],
        "every 10 s while passing, every 1 s while failing"
    );
}

#[tokio::test(start_paused = true)]
async fn probes_never_run_checks() {
    let calls = Counter::default();
    let mut builder = Registry::builder();
    builder
        .schedule(
            CheckSpec::new("db").readiness().liveness(),
            unjittered(secs(1)),
            counting(&calls),
        )
        .unwrap();
    let start = Instant::now();
    let (registry, _runner) = builder.spawn();

    until(start, ms(500)).await;
    assert_eq!(calls.get(), 1);
    for read in 0..10_000 {
        assert_eq!(registry.probe(Probe::ALL[read % 3]), Outcome::Pass);
        if read % 100 == 0 {
            // Let the runner's task run, should a read have woken it.
            tokio::task::yield_now().await;
        }
    }
    assert_eq!(calls.get(), 1, "10,000 probe reads ran the check");
    until(start, ms(3_500)).await;
    assert_eq!(
        calls.get(),
        4,
        "the check runs on its schedule only: at 0, 1, 2, 3 s"
    );
}

#[tokio::test(start_paused = true)]
async fn lag_check_on_the_runner() {
    let processed = Heartbeat::new();
    let mut builder = Registry::builder();
    builder
        .schedule(
            CheckSpec::new("lag").readiness(),
            unjittered(secs(1)),
            LagCheck::new(processed.clone(), secs(5), secs(30)),
        )
        .unwrap();
    let start = Instant::now();
    let (registry, _runner) = builder.spawn();
    assert_eq!(registry.check("lag").unwrap().kind(), CheckKind::Internal);

    until(start, ms(500)).await;
    assert_eq!(status(&registry, "lag"), Status::Healthy);
    until(start, ms(6_500)).await;
    assert_eq!(reason(&registry, "lag").as_deref(), Some("lag 6s over 5s"));
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Warn);
    until(start, ms(31_500)).await;
    assert_eq!(
        reason(&registry, "lag").as_deref(),
        Some("lag 31s over 30s")
    );
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
    processed.beat();
    until(start, ms(32_500)).await;
    assert_eq!(status(&registry, "lag"), Status::Healthy);
}

#[tokio::test]
async fn lag_check_bounds() {
    let time = ManualClock::new();
    let processed = Heartbeat::with_clock(&time.clock());
    let lag = LagCheck::new(processed.clone(), secs(5), secs(30));
    // (time since the last beat, status, reason, observed seconds)
    let cases = [
        (secs(0), Status::Healthy, None, 0.0),
        (secs(5), Status::Healthy, None, 5.0),
        (ms(5_001), Status::Degraded, Some("lag 5.0s over 5s"), 5.001),
        (secs(30), Status::Degraded, Some("lag 30s over 5s"), 30.0),
        (
            ms(30_001),
            Status::Unhealthy,
            Some("lag 30.0s over 30s"),
            30.001,
        ),
        (secs(95), Status::Unhealthy, Some("lag 95s over 30s"), 95.0),
    ];
    for (silence, expected, expected_reason, observed) in cases {
        processed.beat();
        time.advance(silence);
        let report = lag.check().await;
        assert_eq!(report.status(), expected, "after {silence:?}");
        assert_eq!(report.reason(), expected_reason, "after {silence:?}");
        let measured = report.observed().unwrap();
        assert!(
            (measured.value() - observed).abs() < 1e-9 && measured.unit() == "s",
            "after {silence:?}: observed {} {}",
            measured.value(),
            measured.unit()
        );
    }
    processed.beat();
    assert_eq!(
        lag.check().await.status(),
        Status::Healthy,
        "a beat clears the lag"
    );
}

/// Polls `condition` every few ms until it holds, or panics after `limit` of real time.
async fn wait_for(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) -> Duration {
    let started = std::time::Instant::now();
    loop {
        if condition() {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        sleep(ms(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_check_follows_a_real_listener() {
    const INTERVAL: Duration = ms(300);
    const TIMEOUT: Duration = ms(250);
    // Generous: two shared cores may be busy compiling.
    const SLACK: Duration = secs(3);
    tokio::time::timeout(secs(30), async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let mut builder = Registry::builder();
        builder
            .schedule(
                CheckSpec::new("tcp").readiness(),
                unjittered(INTERVAL).timeout(TIMEOUT),
                TcpCheck::new(address.clone()),
            )
            .unwrap();
        let (registry, _runner) = builder.spawn();
        assert_eq!(registry.check("tcp").unwrap().kind(), CheckKind::Dependency);

        wait_for(
            INTERVAL + TIMEOUT + SLACK,
            "open listener → Healthy",
            || status(&registry, "tcp") == Status::Healthy,
        )
        .await;
        let open = snapshot(&registry, "tcp");
        assert_eq!(open.report().observed().unwrap().unit(), "ms");
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);

        drop(listener);
        wait_for(
            INTERVAL + TIMEOUT + SLACK,
            "closed listener → Unhealthy",
            || status(&registry, "tcp") == Status::Unhealthy,
        )
        .await;
        assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
        // A run in flight under a starved scheduler could time out instead; the next
        // run then reports the refusal.
        let refused = format!("connect to {address}: ");
        wait_for(
            INTERVAL + TIMEOUT + SLACK,
            "the connect error as the reason",
            || reason(&registry, "tcp").is_some_and(|reason| reason.starts_with(&refused)),
        )
        .await;
    })
    .await
    .expect("the TCP check test must finish in 30 s");
}

#[test]
fn scheduled_closures_keep_their_kind() {
    use health_core::{CheckKind, CheckSpec, Registry, check_fn, dependency_fn};
    let mut builder = Registry::builder();
    let every = unjittered(Duration::from_secs(1));
    builder
        .schedule(
            CheckSpec::new("db").readiness(),
            every,
            dependency_fn(|| async { true }),
        )
        .unwrap();
    builder
        .schedule(
            CheckSpec::new("queue").readiness(),
            every,
            check_fn(|| async { true }),
        )
        .unwrap();
    let registry = builder.build();
    assert_eq!(registry.check("db").unwrap().kind(), CheckKind::Dependency);
    assert_eq!(registry.check("queue").unwrap().kind(), CheckKind::Internal);
}

/// A check whose future panics when dropped: at its deadline, the runner must survive it.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("clean-up failed");
    }
}

#[tokio::test(start_paused = true)]
async fn a_check_that_panics_when_dropped_keeps_its_schedule() {
    let calls = Counter::default();
    let counted = calls.clone();
    let mut builder = Registry::builder();
    builder
        .schedule(
            CheckSpec::new("messy").readiness(),
            unjittered(secs(1)).timeout(ms(100)),
            check_fn(move || {
                counted.bump();
                let guard = PanicsOnDrop;
                async move {
                    std::future::pending::<()>().await;
                    drop(guard);
                }
            }),
        )
        .unwrap();
    let (registry, _runner) = builder.spawn();
    let start = Instant::now();
    until(start, ms(3_500)).await;
    assert_eq!(
        calls.get(),
        4,
        "runs at 0, 1, 2 and 3 s: the task survived each drop"
    );
    assert_eq!(
        reason(&registry, "messy").as_deref(),
        Some("timed out after 100ms")
    );
}

/// Records the instant (offset from `start`) of every run of a check.
fn recording(start: Instant, runs: &Arc<Mutex<Vec<Duration>>>) -> impl Check + use<> {
    let runs = Arc::clone(runs);
    check_fn(move || {
        runs.lock().unwrap().push(start.elapsed());
        async { true }
    })
}

#[tokio::test(start_paused = true)]
async fn jitter_spreads_every_run_not_only_the_first() {
    const INTERVAL: Duration = secs(1);
    const JITTER: Duration = ms(400);
    let runs = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let mut builder = Registry::builder();
    builder.jitter_seed(7);
    builder
        .schedule(
            CheckSpec::new("db").readiness(),
            unjittered(INTERVAL).jitter(JITTER),
            recording(start, &runs),
        )
        .unwrap();
    let (_registry, _runner) = builder.spawn();
    until(start, secs(120)).await;

    let runs = runs.lock().unwrap().clone();
    let gaps: Vec<Duration> = runs
        .windows(2)
        .map(|pair| pair[1].saturating_sub(pair[0]))
        .collect();
    assert!(gaps.len() > 80, "only {} runs in 120 s", runs.len());
    for gap in &gaps {
        // The timer wheel fires at whole milliseconds: a run lands up to 1 ms late.
        assert!(
            (INTERVAL..=INTERVAL + JITTER + ms(1)).contains(gap),
            "a gap of {gap:?} is outside interval + [0, jitter)"
        );
    }
    let distinct: HashSet<_> = gaps.iter().map(Duration::as_millis).collect();
    assert!(
        distinct.len() > gaps.len() / 2,
        "every run must be jittered, not only the first: {} distinct gaps of {}",
        distinct.len(),
        gaps.len()
    );
}

#[tokio::test(start_paused = true)]
async fn replicas_started_together_spread_by_default() {
    const REPLICAS: u64 = 8;
    let start = Instant::now();
    let mut runs = Vec::new();
    let mut spawned = Vec::new();
    for seed in 0..REPLICAS {
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let mut builder = Registry::builder();
        builder.jitter_seed(seed);
        builder
            .schedule(
                CheckSpec::new("db").readiness(),
                Schedule::every(secs(10)),
                recording(start, &recorded),
            )
            .unwrap();
        spawned.push(builder.spawn());
        runs.push(recorded);
    }
    until(start, secs(60)).await;
    let runs: Vec<Vec<Duration>> = runs.iter().map(|r| r.lock().unwrap().clone()).collect();
    for run in 0..5 {
        let instants: HashSet<_> = runs.iter().map(|replica| replica[run]).collect();
        assert_eq!(
            instants.len(),
            runs.len(),
            "run {run}: {REPLICAS} replicas must not probe in lock-step by default, got {instants:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_live_jittered_runner_never_looks_stale() {
    // The widest a schedule may spread: jitter and timeout just below the interval, a
    // failing interval, runs that take anything up to their timeout, and checks that
    // flip between passing and failing.
    let schedule = unjittered(secs(2))
        .jitter(ms(1_999))
        .timeout(ms(900))
        .failing_interval(ms(1_000))
        .initial_delay(secs(3));
    let longest_gap = schedule
        .default_max_age()
        .saturating_sub(health_core::MAX_AGE_SLACK);
    let mut builder = Registry::builder();
    builder.jitter_seed(3);
    for index in 0..8_u64 {
        let calls = Counter::default();
        builder
            .schedule(
                CheckSpec::new(format!("check-{index}")).liveness(),
                schedule,
                check_fn(move || {
                    let call = calls.bump() as u64;
                    async move {
                        sleep(ms((call * 37 + index * 101) % 900)).await;
                        !(call + index).is_multiple_of(3)
                    }
                }),
            )
            .unwrap();
    }
    let start = Instant::now();
    let (registry, _runner) = builder.spawn();
    let mut oldest = Duration::ZERO;
    for step in 1..=12_000 {
        until(start, ms(step * 10 + 5)).await;
        for index in 0..8 {
            let snapshot = snapshot(&registry, &format!("check-{index}"));
            assert!(
                snapshot
                    .reason()
                    .is_none_or(|reason| !reason.starts_with("stale")),
                "a live runner looked stale at {:?}: {:?}",
                start.elapsed(),
                snapshot.reason()
            );
            oldest = oldest.max(snapshot.age().unwrap_or_default());
        }
    }
    assert!(
        oldest <= longest_gap,
        "a result got {oldest:?} old, beyond the longest gap {longest_gap:?} that default_max_age allows for"
    );
}
