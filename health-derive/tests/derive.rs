//! Behaviour of the generated impls: every attribute, observed through a registry.
//!
//! Time is virtual: the runtime starts paused (tokio advances it only when every task
//! waits) and registries read a `ManualClock`, so nothing here sleeps for real.

// `with` takes async fns; the test doubles have nothing to await.
#![allow(clippy::unused_async)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use health_core::{
    Check, CheckKind, HealthCheck, Heartbeat, ManualClock, Outcome, Probe, Probes, Registry,
    RegistryBuilder, RegistryError, Report, Runner, StartupGate, Status, TcpCheck,
};

/// A check whose result the test sets, counting its runs.
#[derive(Default)]
struct Scripted {
    failing: AtomicBool,
    runs: AtomicUsize,
}

impl Scripted {
    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn report(&self) -> Report {
        self.runs.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            Report::unhealthy("scripted failure")
        } else {
            Report::healthy()
        }
    }
}

impl Check for Scripted {
    async fn check(&self) -> Report {
        self.report()
    }
}

/// A dependency check (the kind `TcpCheck` has).
#[derive(Default)]
struct Remote(Scripted);

impl Check for Remote {
    const KIND: CheckKind = CheckKind::Dependency;

    async fn check(&self) -> Report {
        self.0.report()
    }
}

/// A check that never finishes.
struct Hangs;

impl Check for Hangs {
    async fn check(&self) -> Report {
        std::future::pending().await
    }
}

/// A foreign type, checked through `with`.
#[derive(Default)]
struct Pool {
    down: AtomicBool,
    pings: AtomicUsize,
}

async fn ping(pool: &Pool) -> Result<(), String> {
    pool.pings.fetch_add(1, Ordering::SeqCst);
    if pool.down.load(Ordering::SeqCst) {
        Err("connection refused".to_owned())
    } else {
        Ok(())
    }
}

/// Registers `state` on a manual clock (at zero) and starts its runner.
fn spawn<T: HealthCheck>(state: &Arc<T>) -> (Registry, Runner, ManualClock) {
    let time = ManualClock::new();
    let mut builder = RegistryBuilder::with_clock(time.clock());
    builder.jitter_seed(7);
    builder.register(state).expect("the state registers");
    let (registry, runner) = builder.spawn();
    (registry, runner, time)
}

/// Registers `state` without a runner (heartbeats and gates need none).
fn build<T: HealthCheck>(state: &Arc<T>, time: &ManualClock) -> Registry {
    let mut builder = RegistryBuilder::with_clock(time.clock());
    builder.register(state).expect("the state registers");
    builder.build()
}

/// Lets the paused runtime run every task due within `by` of virtual time.
async fn elapse(by: Duration) {
    tokio::time::sleep(by).await;
}

fn names(registry: &Registry) -> Vec<String> {
    registry
        .checks()
        .map(|check| check.name().to_owned())
        .collect()
}

fn probes(registry: &Registry, name: &str) -> Probes {
    registry.check(name).expect("check registered").probes()
}

fn status(registry: &Registry, name: &str) -> Status {
    let check = registry.check(name).expect("check registered");
    check.status_at(registry.now())
}

fn reason(registry: &Registry, name: &str) -> Option<String> {
    let check = registry.check(name).expect("check registered");
    check
        .snapshot_at(registry.now())
        .reason()
        .map(str::to_owned)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn probes_are_the_keys_written() {
    #[derive(HealthCheck)]
    struct State {
        #[health(readiness)]
        ready: StartupGate,
        #[health(liveness, max_silence = "1s")]
        live: Heartbeat,
        #[health(startup)]
        start: StartupGate,
        #[health(startup, readiness)]
        both: StartupGate,
        #[health(liveness, readiness, startup, max_silence = "1s")]
        all: Heartbeat,
        not_a_check: StartupGate,
    }
    let time = ManualClock::new();
    let state = Arc::new(State {
        ready: StartupGate::new(),
        live: Heartbeat::with_clock(&time.clock()),
        start: StartupGate::new(),
        both: StartupGate::new(),
        all: Heartbeat::with_clock(&time.clock()),
        not_a_check: StartupGate::new(),
    });
    let registry = build(&state, &time);
    assert_eq!(names(&registry), ["ready", "live", "start", "both", "all"]);
    let only = |probe| Probes::EMPTY.with(probe);
    assert_eq!(probes(&registry, "ready"), only(Probe::Readiness));
    assert_eq!(probes(&registry, "live"), only(Probe::Liveness));
    assert_eq!(probes(&registry, "start"), only(Probe::Startup));
    assert_eq!(
        probes(&registry, "both"),
        only(Probe::Startup).with(Probe::Readiness)
    );
    assert_eq!(probes(&registry, "all").iter().count(), 3);
    assert!(
        registry.check("not_a_check").is_none(),
        "only annotated fields are checks"
    );
    assert!(!state.not_a_check.is_done());
}

#[test]
fn names_default_to_the_field_and_can_be_overridden() {
    #[derive(HealthCheck)]
    #[allow(non_snake_case)]
    struct State {
        #[health(startup)]
        migrations: StartupGate,
        #[health(startup, name = "cache-warmup")]
        warmup: StartupGate,
        #[health(startup)]
        r#type: StartupGate,
        #[health(startup)]
        #[health(name = "upper")]
        Upper: StartupGate,
    }
    let state = Arc::new(State {
        migrations: StartupGate::new(),
        warmup: StartupGate::new(),
        r#type: StartupGate::new(),
        Upper: StartupGate::new(),
    });
    let registry = build(&state, &ManualClock::new());
    assert_eq!(
        names(&registry),
        ["migrations", "cache-warmup", "type", "upper"],
        "raw identifiers lose their `r#`; keys may be split over several attributes"
    );
}

#[test]
fn tuple_struct_fields_are_named_explicitly() {
    #[derive(HealthCheck)]
    struct State(
        #[health(startup, name = "first")] StartupGate,
        u8,
        #[health(startup, name = "third")] StartupGate,
    );
    let state = Arc::new(State(StartupGate::new(), 0, StartupGate::new()));
    let registry = build(&state, &ManualClock::new());
    assert_eq!(names(&registry), ["first", "third"]);
    state.2.done();
    assert_eq!(registry.probe(Probe::Startup), Outcome::Fail);
    state.0.done();
    assert_eq!(registry.probe(Probe::Startup), Outcome::Pass);
    assert_eq!(state.1, 0);
}

#[test]
fn a_unit_struct_or_one_without_checks_registers_nothing() {
    #[derive(HealthCheck)]
    struct Unit;
    #[derive(HealthCheck)]
    struct Plain {
        value: u8,
    }
    assert!(build(&Arc::new(Unit), &ManualClock::new()).is_empty());
    let plain = Arc::new(Plain { value: 1 });
    assert!(build(&plain, &ManualClock::new()).is_empty());
    assert_eq!(plain.value, 1);
}

#[test]
fn prefix_names_every_check_of_the_struct() {
    #[derive(HealthCheck)]
    #[health(prefix = "api")]
    struct State {
        #[health(startup)]
        warmup: StartupGate,
        #[health(startup, name = "cache")]
        other: StartupGate,
    }
    let state = Arc::new(State {
        warmup: StartupGate::new(),
        other: StartupGate::new(),
    });
    let registry = build(&state, &ManualClock::new());
    assert_eq!(names(&registry), ["api.warmup", "api.cache"]);
}

#[test]
fn reserved_names_may_start_longer_names() {
    // `startup` and `shutdown` name readiness' lifecycle lines, so no check may take them
    // (tests/ui/reserved-name.rs); a prefix or a segment only ever starts a longer name.
    #[derive(HealthCheck)]
    struct Drain {
        #[health(readiness)]
        queue: StartupGate,
    }
    #[derive(HealthCheck)]
    #[health(prefix = "startup")]
    struct Prefixed {
        #[health(startup)]
        db: StartupGate,
    }
    #[derive(HealthCheck)]
    struct Segments {
        #[health(flatten)]
        shutdown: Drain,
        #[health(startup, each)]
        startup: Vec<StartupGate>,
    }
    let prefixed = Arc::new(Prefixed {
        db: StartupGate::new(),
    });
    assert_eq!(
        names(&build(&prefixed, &ManualClock::new())),
        ["startup.db"]
    );
    let segments = Arc::new(Segments {
        shutdown: Drain {
            queue: StartupGate::new(),
        },
        startup: vec![StartupGate::new()],
    });
    assert_eq!(
        names(&build(&segments, &ManualClock::new())),
        ["shutdown.queue", "startup.0"]
    );
}

#[test]
fn flatten_nests_names_at_any_depth() {
    #[derive(HealthCheck)]
    struct Consumer {
        #[health(startup)]
        subscribed: StartupGate,
    }
    #[derive(HealthCheck)]
    #[health(prefix = "kafka")]
    struct Queues {
        #[health(startup)]
        connected: StartupGate,
        #[health(flatten)]
        orders: Consumer,
        #[health(flatten, name = "pay")]
        payments: Consumer,
    }
    #[derive(HealthCheck)]
    struct State {
        #[health(startup)]
        migrations: StartupGate,
        #[health(flatten)]
        queues: Queues,
        #[health(startup, name = "queues.elsewhere")]
        dotted: StartupGate,
    }
    let consumer = || Consumer {
        subscribed: StartupGate::new(),
    };
    let state = Arc::new(State {
        migrations: StartupGate::new(),
        queues: Queues {
            connected: StartupGate::new(),
            orders: consumer(),
            payments: consumer(),
        },
        dotted: StartupGate::new(),
    });
    let registry = build(&state, &ManualClock::new());
    assert_eq!(
        names(&registry),
        [
            "migrations",
            "queues.kafka.connected",
            "queues.kafka.orders.subscribed",
            "queues.kafka.pay.subscribed",
            "queues.elsewhere",
        ]
    );
    // The nested fields are the state's own: opening them opens the checks.
    state.migrations.done();
    state.dotted.done();
    state.queues.connected.done();
    state.queues.orders.subscribed.done();
    assert_eq!(registry.probe(Probe::Startup), Outcome::Fail);
    state.queues.payments.subscribed.done();
    assert_eq!(registry.probe(Probe::Startup), Outcome::Pass);
}

#[test]
fn critical_false_only_warns() {
    #[derive(HealthCheck)]
    struct State {
        #[health(readiness, critical = false)]
        cache: Scripted,
        #[health(readiness)]
        db: Scripted,
    }
    let state = Arc::new(State {
        cache: Scripted::default(),
        db: Scripted::default(),
    });
    let time = ManualClock::new();
    let mut builder = RegistryBuilder::with_clock(time.clock());
    builder.register(&state).unwrap();
    let registry = builder.build(); // no runner: read the specs only
    assert!(!registry.check("cache").unwrap().is_critical());
    assert!(registry.check("db").unwrap().is_critical());
}

#[tokio::test(start_paused = true)]
async fn a_failing_non_critical_check_warns() {
    #[derive(HealthCheck)]
    #[health(jitter = "0s")] // runs on exact multiples of the interval
    struct State {
        #[health(readiness, critical = false)]
        cache: Scripted,
    }
    let state = Arc::new(State {
        cache: Scripted::default(),
    });
    state.cache.fail(true);
    let (registry, _runner, _time) = spawn(&state);
    elapse(Duration::from_millis(1)).await;
    assert_eq!(status(&registry, "cache"), Status::Unhealthy);
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Warn);
}

#[tokio::test(start_paused = true)]
async fn interval_spaces_the_runs_and_struct_defaults_apply() {
    #[derive(HealthCheck)]
    #[health(interval = "5s", jitter = "0s")]
    struct State {
        #[health(readiness)]
        default: Scripted,
        #[health(readiness, interval = "2s")]
        own: Scripted,
        #[health(readiness, interval = "1m")]
        slow: Scripted,
    }
    let state = Arc::new(State {
        default: Scripted::default(),
        own: Scripted::default(),
        slow: Scripted::default(),
    });
    let (_registry, _runner, _time) = spawn(&state);
    elapse(Duration::from_millis(10_500)).await;
    assert_eq!(state.default.runs(), 3, "runs at 0, 5s, 10s");
    assert_eq!(state.own.runs(), 6, "runs at 0, 2s, ..., 10s");
    assert_eq!(state.slow.runs(), 1, "runs at 0");
}

#[tokio::test(start_paused = true)]
async fn the_runner_default_interval_is_ten_seconds() {
    #[derive(HealthCheck)]
    #[health(jitter = "0s")] // runs on exact multiples of the interval
    struct State {
        #[health(readiness)]
        db: Scripted,
    }
    let state = Arc::new(State {
        db: Scripted::default(),
    });
    let (_registry, _runner, _time) = spawn(&state);
    elapse(Duration::from_millis(20_500)).await;
    assert_eq!(state.db.runs(), 3);
}

#[tokio::test(start_paused = true)]
async fn timeout_bounds_a_run_and_the_field_overrides_the_struct() {
    #[derive(HealthCheck)]
    #[health(timeout = "2s", jitter = "0s")]
    struct State {
        #[health(readiness, timeout = "500ms")]
        fast: Hangs,
        #[health(readiness)]
        slow: Hangs,
    }
    let state = Arc::new(State {
        fast: Hangs,
        slow: Hangs,
    });
    let (registry, _runner, _time) = spawn(&state);
    elapse(Duration::from_millis(600)).await;
    assert_eq!(
        reason(&registry, "fast").as_deref(),
        Some("timed out after 500ms")
    );
    assert_eq!(status(&registry, "slow"), Status::Unknown);
    elapse(secs(2)).await;
    assert_eq!(
        reason(&registry, "slow").as_deref(),
        Some("timed out after 2s")
    );
}

#[tokio::test(start_paused = true)]
async fn initial_delay_postpones_the_first_run() {
    #[derive(HealthCheck)]
    #[health(initial_delay = "30s", jitter = "0s")]
    struct State {
        #[health(readiness, initial_delay = "5s")]
        db: Scripted,
        #[health(readiness)]
        cache: Scripted,
    }
    let state = Arc::new(State {
        db: Scripted::default(),
        cache: Scripted::default(),
    });
    let (_registry, _runner, _time) = spawn(&state);
    elapse(Duration::from_millis(4_900)).await;
    assert_eq!(state.db.runs(), 0);
    elapse(Duration::from_millis(200)).await;
    assert_eq!(state.db.runs(), 1);
    elapse(secs(20)).await;
    assert_eq!(state.cache.runs(), 0, "the struct's default delay: 30s");
    elapse(secs(5)).await;
    assert_eq!(state.cache.runs(), 1);
}

#[tokio::test(start_paused = true)]
async fn jitter_spreads_the_first_run_within_its_bound() {
    #[derive(HealthCheck)]
    struct State {
        #[health(readiness, interval = "1m", jitter = "20s")]
        a: Scripted,
        #[health(readiness, interval = "1m", jitter = "20s")]
        b: Scripted,
        #[health(readiness, interval = "1m", jitter = "20s")]
        c: Scripted,
    }
    let state = Arc::new(State {
        a: Scripted::default(),
        b: Scripted::default(),
        c: Scripted::default(),
    });
    let (_registry, _runner, _time) = spawn(&state);
    let mut first_runs = Vec::new();
    for tenth in 1..=200 {
        elapse(Duration::from_millis(100)).await;
        for (name, check) in [("a", &state.a), ("b", &state.b), ("c", &state.c)] {
            if check.runs() == 1 && !first_runs.iter().any(|(n, _)| *n == name) {
                first_runs.push((name, tenth));
            }
        }
    }
    assert_eq!(
        first_runs.len(),
        3,
        "every first run lands within the jitter"
    );
    let mut at: Vec<_> = first_runs.iter().map(|(_, tenth)| *tenth).collect();
    at.dedup();
    assert!(
        at.len() > 1,
        "three checks, one seed: their offsets differ ({first_runs:?})"
    );
}

#[tokio::test(start_paused = true)]
async fn failure_threshold_holds_back_the_first_failures() {
    #[derive(HealthCheck)]
    #[health(interval = "1s", failure_threshold = 5)]
    struct State {
        #[health(readiness, failure_threshold = 3)]
        db: Scripted,
        #[health(readiness)]
        cache: Scripted,
    }
    let state = Arc::new(State {
        db: Scripted::default(),
        cache: Scripted::default(),
    });
    let (registry, _runner, _time) = spawn(&state);
    elapse(Duration::from_millis(500)).await;
    assert_eq!(status(&registry, "db"), Status::Healthy);
    state.db.fail(true);
    state.cache.fail(true);
    elapse(secs(2)).await; // failures at 1s and 2s
    assert_eq!(status(&registry, "db"), Status::Healthy);
    elapse(secs(1)).await; // the third
    assert_eq!(status(&registry, "db"), Status::Unhealthy);
    assert_eq!(
        status(&registry, "cache"),
        Status::Healthy,
        "the struct's 5"
    );
    elapse(secs(2)).await;
    assert_eq!(status(&registry, "cache"), Status::Unhealthy);
}

#[tokio::test(start_paused = true)]
async fn success_threshold_holds_back_the_first_passes() {
    #[derive(HealthCheck)]
    struct State {
        #[health(readiness, interval = "1s", success_threshold = 2)]
        db: Scripted,
    }
    let state = Arc::new(State {
        db: Scripted::default(),
    });
    state.db.fail(true);
    let (registry, _runner, _time) = spawn(&state);
    elapse(Duration::from_millis(500)).await;
    assert_eq!(status(&registry, "db"), Status::Unhealthy);
    state.db.fail(false);
    elapse(secs(1)).await;
    assert_eq!(status(&registry, "db"), Status::Unhealthy, "one pass");
    elapse(secs(1)).await;
    assert_eq!(status(&registry, "db"), Status::Healthy, "two passes");
}

#[tokio::test(start_paused = true)]
async fn max_age_makes_an_old_result_stale() {
    #[derive(HealthCheck)]
    #[health(jitter = "0s")] // runs on exact multiples of the interval
    struct State {
        #[health(readiness, interval = "1m", max_age = "2m")]
        db: Scripted,
    }
    let state = Arc::new(State {
        db: Scripted::default(),
    });
    let (registry, _runner, time) = spawn(&state);
    elapse(Duration::from_millis(1)).await;
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
    time.advance(secs(119)); // the registry's clock only: no new run
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
    time.advance(secs(2));
    assert_eq!(status(&registry, "db"), Status::Unhealthy);
    assert!(reason(&registry, "db").unwrap().starts_with("stale"));
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
}

/// The derive checks `max_age` against the runner's defaults at compile time and
/// health-core again at registration: at the boundary both must agree, or one of them
/// refuses what the other allows.
#[tokio::test(start_paused = true)]
async fn max_age_at_the_longest_gap_compiles_and_registers() {
    #[derive(HealthCheck)]
    struct State {
        // 10s + default jitter 1s + default timeout 1s
        #[health(readiness, interval = "10s", max_age = "12s")]
        db: Scripted,
        // 1s + default jitter 100ms + default timeout 500ms
        #[health(readiness, interval = "1s", max_age = "1600ms")]
        cache: Scripted,
        // initial_delay 1m + default jitter 1s + default timeout 1s
        #[health(readiness, initial_delay = "1m", max_age = "62s")]
        queue: Scripted,
    }
    let state = Arc::new(State {
        db: Scripted::default(),
        cache: Scripted::default(),
        queue: Scripted::default(),
    });
    let (registry, _runner, _time) = spawn(&state);
    assert_eq!(registry.len(), 3);
}

#[test]
fn max_silence_limits_a_heartbeat() {
    #[derive(HealthCheck)]
    struct State {
        #[health(liveness, max_silence = "30s")]
        worker: Heartbeat,
    }
    let time = ManualClock::new();
    let state = Arc::new(State {
        worker: Heartbeat::with_clock(&time.clock()),
    });
    let registry = build(&state, &time);
    time.advance(secs(29));
    assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
    time.advance(secs(2));
    assert_eq!(registry.probe(Probe::Liveness), Outcome::Fail);
    state.worker.beat(); // the service keeps beating its field
    assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
}

#[tokio::test(start_paused = true)]
async fn with_runs_the_function_on_the_field_as_a_dependency() {
    #[derive(HealthCheck)]
    struct State {
        #[health(readiness, interval = "1s", with = ping)]
        db: Pool,
        #[health(readiness, interval = "1s", with = checks::ping_len)]
        url: String,
    }
    mod checks {
        pub(super) async fn ping_len(url: &str) -> bool {
            !url.is_empty()
        }
    }
    let state = Arc::new(State {
        db: Pool::default(),
        url: "postgres://db".to_owned(),
    });
    let (registry, _runner, _time) = spawn(&state);
    assert_eq!(registry.check("db").unwrap().kind(), CheckKind::Dependency);
    elapse(Duration::from_millis(500)).await;
    assert_eq!(status(&registry, "db"), Status::Healthy);
    assert_eq!(status(&registry, "url"), Status::Healthy);
    state.db.down.store(true, Ordering::SeqCst);
    elapse(secs(1)).await;
    assert_eq!(status(&registry, "db"), Status::Unhealthy);
    assert_eq!(
        reason(&registry, "db").as_deref(),
        Some("connection refused")
    );
    assert_eq!(state.db.pings.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn field_types_give_the_kind() {
    #[derive(HealthCheck)]
    #[health(jitter = "0s")] // runs on exact multiples of the interval
    struct State {
        #[health(readiness)]
        internal: Scripted,
        #[health(readiness)]
        remote: Remote,
        #[health(readiness)]
        shared: Arc<Remote>,
        #[health(readiness)]
        tcp: TcpCheck,
    }
    let state = Arc::new(State {
        internal: Scripted::default(),
        remote: Remote::default(),
        shared: Arc::new(Remote::default()),
        tcp: TcpCheck::new("127.0.0.1:1"),
    });
    let (registry, runner, _time) = spawn(&state);
    assert_eq!(runner.len(), 4);
    let kind = |name| registry.check(name).unwrap().kind();
    assert_eq!(kind("internal"), CheckKind::Internal);
    assert_eq!(kind("remote"), CheckKind::Dependency);
    assert_eq!(kind("shared"), CheckKind::Dependency, "through Arc<T>");
    assert_eq!(kind("tcp"), CheckKind::Dependency);
    elapse(Duration::from_millis(1)).await;
    assert_eq!(state.shared.0.runs(), 1, "the Arc'd check runs");
}

#[tokio::test(start_paused = true)]
async fn allow_dependency_lets_a_dependency_on_liveness() {
    #[derive(HealthCheck)]
    #[health(jitter = "0s")] // runs on exact multiples of the interval
    struct State {
        #[health(liveness, allow_dependency)]
        remote: Remote,
        #[health(liveness, allow_dependency, with = ping)]
        db: Pool,
        #[health(liveness)]
        internal: Scripted, // an internal check needs no permission
    }
    let state = Arc::new(State {
        remote: Remote::default(),
        db: Pool::default(),
        internal: Scripted::default(),
    });
    let (registry, _runner, _time) = spawn(&state);
    for name in ["remote", "db", "internal"] {
        assert_eq!(probes(&registry, name), Probes::EMPTY.with(Probe::Liveness));
    }
    state.db.down.store(true, Ordering::SeqCst);
    elapse(Duration::from_millis(1)).await;
    assert_eq!(registry.probe(Probe::Liveness), Outcome::Fail);
}

#[tokio::test(start_paused = true)]
async fn runner_spawn_wires_a_state_in_one_call() {
    #[derive(HealthCheck)]
    #[health(jitter = "0s")] // runs on exact multiples of the interval
    struct State {
        #[health(readiness)]
        db: Scripted,
        #[health(startup)]
        migrations: StartupGate,
    }
    let state = Arc::new(State {
        db: Scripted::default(),
        migrations: StartupGate::new(),
    });
    let (registry, runner) = Runner::spawn(&state).unwrap();
    assert_eq!(runner.len(), 1);
    elapse(Duration::from_millis(1)).await;
    assert_eq!(state.db.runs(), 1);
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail, "starting");
    state.migrations.done();
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
    drop(runner);
    elapse(secs(60)).await;
    assert_eq!(state.db.runs(), 1, "dropping the runner stops the checks");
}

#[test]
fn two_states_share_a_builder_and_clash_at_run_time_only() {
    #[derive(HealthCheck)]
    struct Api {
        #[health(startup)]
        warmup: StartupGate,
    }
    #[derive(HealthCheck)]
    #[health(prefix = "admin")]
    struct Admin {
        #[health(startup)]
        warmup: StartupGate,
    }
    let api = Arc::new(Api {
        warmup: StartupGate::new(),
    });
    let admin = Arc::new(Admin {
        warmup: StartupGate::new(),
    });
    let mut builder = RegistryBuilder::new();
    builder.register(&api).unwrap();
    builder.register(&admin).unwrap();
    assert_eq!(
        builder.register(&api),
        Err(RegistryError::DuplicateName {
            name: "warmup".to_owned()
        })
    );
}

#[test]
fn generic_structs_with_where_clauses() {
    trait Backend: Check {}
    impl Backend for Remote {}

    #[derive(HealthCheck)]
    struct Service<B, I: Check, const N: usize>
    where
        B: Backend,
    {
        #[health(readiness)]
        backend: B,
        #[health(liveness)]
        internal: I, // the restart-storm guard, evaluated per instantiation
        #[health(liveness, allow_dependency)]
        remote: B,
        #[health(readiness, name = "shared")]
        arc: Arc<B>,
        #[health(liveness, max_silence = "1s")]
        worker: Heartbeat,
        _spare: [u8; N],
    }

    #[derive(HealthCheck)]
    struct Outer<T: HealthCheck, D: Default> {
        #[health(flatten)]
        inner: T,
        #[health(readiness)]
        defaulted: D, // a bound that does not imply `Check`: the impl adds `D: Field`
    }

    let time = ManualClock::new();
    let state = Arc::new(Outer {
        inner: Service::<Remote, Scripted, 2> {
            backend: Remote::default(),
            internal: Scripted::default(),
            remote: Remote::default(),
            arc: Arc::new(Remote::default()),
            worker: Heartbeat::with_clock(&time.clock()),
            _spare: [0; 2],
        },
        defaulted: Scripted::default(),
    });
    let mut builder = RegistryBuilder::with_clock(time.clock());
    builder.register(&state).unwrap();
    let registry = builder.build();
    assert_eq!(
        names(&registry),
        [
            "inner.backend",
            "inner.internal",
            "inner.remote",
            "inner.shared",
            "inner.worker",
            "defaulted"
        ]
    );
    assert_eq!(
        registry.check("inner.backend").unwrap().kind(),
        CheckKind::Dependency
    );
}

#[test]
fn generic_collections() {
    #[derive(HealthCheck)]
    struct Pools<C, N, const K: usize> {
        #[health(readiness, each)]
        many: Vec<C>,
        #[health(liveness, each, allow_dependency)]
        fixed: [C; K],
        #[health(flatten, each)]
        nested: Vec<N>,
    }
    #[derive(HealthCheck)]
    struct Nested {
        #[health(startup)]
        gate: StartupGate,
    }
    let state = Arc::new(Pools::<Remote, Nested, 1> {
        many: vec![Remote::default(), Remote::default()],
        fixed: [Remote::default()],
        nested: vec![Nested {
            gate: StartupGate::new(),
        }],
    });
    let mut builder = RegistryBuilder::new();
    builder.register(&state).unwrap();
    let registry = builder.build();
    assert_eq!(
        names(&registry),
        ["many.0", "many.1", "fixed.0", "nested.0.gate"]
    );
    assert_eq!(
        registry.check("fixed.0").unwrap().kind(),
        CheckKind::Dependency
    );
}

#[test]
fn sixty_four_fields_compile_and_register() {
    macro_rules! wide {
        ($($field:ident)*) => {
            #[derive(HealthCheck)]
            struct Wide {
                $(#[health(startup)] $field: StartupGate,)*
            }
            let state = Arc::new(Wide { $($field: StartupGate::new(),)* });
            let registry = build(&state, &ManualClock::new());
            assert_eq!(registry.len(), 64);
            $(state.$field.done();)*
            assert_eq!(registry.probe(Probe::Startup), Outcome::Pass);
        };
    }
    wide!(
        f00 f01 f02 f03 f04 f05 f06 f07 f08 f09 f10 f11 f12 f13 f14 f15
        f16 f17 f18 f19 f20 f21 f22 f23 f24 f25 f26 f27 f28 f29 f30 f31
        f32 f33 f34 f35 f36 f37 f38 f39 f40 f41 f42 f43 f44 f45 f46 f47
        f48 f49 f50 f51 f52 f53 f54 f55 f56 f57 f58 f59 f60 f61 f62 f63
    );
}

#[tokio::test(start_paused = true)]
async fn each_makes_one_check_per_element() {
    #[derive(HealthCheck)]
    #[health(jitter = "0s")] // runs on exact multiples of the interval
    struct State {
        #[health(readiness, each, interval = "1s")]
        shards: Vec<Scripted>,
        #[health(readiness, each, name = "zone")]
        zones: [Remote; 2],
        #[health(readiness, each, critical = false)]
        upstreams: std::collections::BTreeMap<String, Remote>,
        #[health(readiness, each)]
        caches: std::collections::HashMap<&'static str, Scripted>,
        #[health(readiness, each)]
        shared: Arc<[Scripted]>,
    }
    let upstreams = [
        ("search", Remote::default()),
        ("billing", Remote::default()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    let caches = [
        ("b", Scripted::default()),
        ("a", Scripted::default()),
        ("c", Scripted::default()),
    ]
    .into_iter()
    .collect();
    let state = Arc::new(State {
        shards: vec![Scripted::default(), Scripted::default()],
        zones: [Remote::default(), Remote::default()],
        upstreams,
        caches,
        shared: Arc::from([Scripted::default()]),
    });
    let (registry, runner, _time) = spawn(&state);
    assert_eq!(
        names(&registry),
        [
            "shards.0",
            "shards.1",
            "zone.0",
            "zone.1",
            "upstreams.billing",
            "upstreams.search",
            "caches.a",
            "caches.b",
            "caches.c",
            "shared.0",
        ],
        "indices, or keys in key order (a HashMap's sorted)"
    );
    assert_eq!(runner.len(), 10, "every element is run");
    let kind = |name| registry.check(name).unwrap().kind();
    assert_eq!(kind("shards.1"), CheckKind::Internal);
    assert_eq!(
        kind("zone.0"),
        CheckKind::Dependency,
        "the element type's kind"
    );
    assert!(!registry.check("upstreams.search").unwrap().is_critical());
    assert!(registry.check("caches.a").unwrap().is_critical());

    elapse(Duration::from_millis(500)).await;
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
    // Each element has its own status.
    state.shards[1].fail(true);
    state.upstreams["billing"].0.fail(true);
    elapse(secs(10)).await;
    assert_eq!(status(&registry, "shards.0"), Status::Healthy);
    assert_eq!(status(&registry, "shards.1"), Status::Unhealthy);
    assert_eq!(status(&registry, "upstreams.search"), Status::Healthy);
    assert_eq!(status(&registry, "upstreams.billing"), Status::Unhealthy);
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
    assert_eq!(
        registry.probe_excluding(Probe::Readiness, registry.now(), |name| name == "shards.1"),
        Outcome::Warn,
        "one element excluded by name; the non-critical upstream only warns"
    );
    // The field's timing applies to every element: `shards` every 1s, the rest every 10s.
    assert_eq!(state.shards[0].runs(), 11);
    assert_eq!(state.shards[1].runs(), 11);
    assert_eq!(state.caches["a"].runs(), 2);
    assert_eq!(state.shared[0].runs(), 2);
}

#[test]
fn each_element_can_be_a_heartbeat_or_a_gate() {
    #[derive(HealthCheck)]
    #[health(prefix = "app")]
    struct State {
        #[health(liveness, each, max_silence = "10s")]
        workers: Vec<Heartbeat>,
        #[health(startup, each)]
        partitions: std::collections::BTreeMap<&'static str, StartupGate>,
    }
    let time = ManualClock::new();
    let state = Arc::new(State {
        workers: vec![
            Heartbeat::with_clock(&time.clock()),
            Heartbeat::with_clock(&time.clock()),
        ],
        partitions: [("p-0", StartupGate::new()), ("p-1", StartupGate::new())]
            .into_iter()
            .collect(),
    });
    let registry = build(&state, &time);
    assert_eq!(
        names(&registry),
        [
            "app.workers.0",
            "app.workers.1",
            "app.partitions.p-0",
            "app.partitions.p-1"
        ]
    );
    state.partitions["p-0"].done();
    assert_eq!(registry.probe(Probe::Startup), Outcome::Fail);
    state.partitions["p-1"].done();
    assert_eq!(registry.probe(Probe::Startup), Outcome::Pass);
    time.advance(secs(11));
    state.workers[0].beat();
    assert_eq!(status(&registry, "app.workers.0"), Status::Healthy);
    assert_eq!(status(&registry, "app.workers.1"), Status::Unhealthy);
    assert_eq!(registry.probe(Probe::Liveness), Outcome::Fail);
}

#[tokio::test(start_paused = true)]
async fn each_with_checks_every_element_through_the_function() {
    #[derive(HealthCheck)]
    #[health(jitter = "0s")] // runs on exact multiples of the interval
    struct State {
        #[health(readiness, each, interval = "1s", with = ping)]
        pools: Vec<Pool>,
        #[health(liveness, each, kind = "internal", with = checks::non_empty)]
        queues: std::collections::BTreeMap<String, String>,
    }
    mod checks {
        pub(super) async fn non_empty(name: &str) -> Result<(), String> {
            if name.is_empty() {
                Err("empty".to_owned())
            } else {
                Ok(())
            }
        }
    }
    let state = Arc::new(State {
        pools: vec![Pool::default(), Pool::default()],
        queues: [("orders".to_owned(), "orders-v2".to_owned())]
            .into_iter()
            .collect(),
    });
    let (registry, _runner, _time) = spawn(&state);
    assert_eq!(names(&registry), ["pools.0", "pools.1", "queues.orders"]);
    assert_eq!(
        registry.check("pools.1").unwrap().kind(),
        CheckKind::Dependency
    );
    assert_eq!(
        registry.check("queues.orders").unwrap().kind(),
        CheckKind::Internal
    );
    elapse(Duration::from_millis(500)).await;
    state.pools[1].down.store(true, Ordering::SeqCst);
    elapse(secs(1)).await;
    assert_eq!(status(&registry, "pools.0"), Status::Healthy);
    assert_eq!(
        reason(&registry, "pools.1").as_deref(),
        Some("connection refused")
    );
    assert_eq!(status(&registry, "queues.orders"), Status::Healthy);
    assert_eq!(state.pools[0].pings.load(Ordering::SeqCst), 2);
}

#[test]
fn each_flatten_nests_every_element() {
    #[derive(HealthCheck)]
    struct Shard {
        #[health(startup)]
        primary: StartupGate,
        #[health(startup)]
        replica: StartupGate,
    }
    #[derive(HealthCheck)]
    struct State {
        #[health(flatten, each)]
        shards: Vec<Shard>,
    }
    let shard = || Shard {
        primary: StartupGate::new(),
        replica: StartupGate::new(),
    };
    let state = Arc::new(State {
        shards: vec![shard(), shard()],
    });
    let registry = build(&state, &ManualClock::new());
    assert_eq!(
        names(&registry),
        [
            "shards.0.primary",
            "shards.0.replica",
            "shards.1.primary",
            "shards.1.replica"
        ]
    );
    for shard in &state.shards {
        shard.primary.done();
        shard.replica.done();
    }
    assert_eq!(registry.probe(Probe::Startup), Outcome::Pass);
}

#[test]
fn an_empty_collection_registers_nothing() {
    #[derive(HealthCheck)]
    struct State {
        #[health(readiness, each)]
        upstreams: Vec<Remote>,
    }
    let state = Arc::new(State {
        upstreams: Vec::new(),
    });
    assert!(build(&state, &ManualClock::new()).is_empty());
}

#[test]
fn a_map_key_that_is_no_name_is_a_registry_error_not_a_panic() {
    #[derive(HealthCheck)]
    struct State {
        #[health(startup, each)]
        gates: std::collections::BTreeMap<String, StartupGate>,
    }
    let register = |keys: &[&str]| {
        let state = Arc::new(State {
            gates: keys
                .iter()
                .map(|key| ((*key).to_owned(), StartupGate::new()))
                .collect(),
        });
        RegistryBuilder::new().register(&state)
    };
    assert_eq!(register(&["ok", "also-ok.v2"]), Ok(()));
    assert_eq!(
        register(&["Billing"]),
        Err(RegistryError::InvalidName {
            name: "gates.Billing".to_owned(),
            reason: "may only contain a-z, 0-9, '_', '.' and '-'"
        })
    );
    assert_eq!(
        register(&[""]),
        Err(RegistryError::InvalidName {
            name: "gates.".to_owned(),
            reason: "the element's key is empty"
        })
    );
    let long = "k".repeat(60);
    assert!(matches!(
        register(&[long.as_str()]),
        Err(RegistryError::InvalidName {
            reason: "must be at most 63 bytes",
            ..
        })
    ));
    let error = register(&["a b"]).unwrap_err().to_string();
    assert_eq!(
        error,
        "invalid check name \"gates.a b\": may only contain a-z, 0-9, '_', '.' and '-'"
    );
}

/// A stand-in HTTP client: counts its calls, fails the URLs it is told to.
#[derive(Default)]
struct Client {
    down: std::sync::Mutex<Vec<String>>,
    calls: AtomicUsize,
}

impl Client {
    async fn get(&self, url: &str) -> Result<(), String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.lock().unwrap().iter().any(|down| down == url) {
            Err(format!("GET {url}: connection refused"))
        } else {
            Ok(())
        }
    }

    fn take_down(&self, url: &str) {
        self.down.lock().unwrap().push(url.to_owned());
    }
}

#[tokio::test(start_paused = true)]
async fn a_check_of_the_whole_state_uses_several_fields() {
    #[derive(HealthCheck)]
    #[health(jitter = "0s")] // runs on exact multiples of the interval
    #[health(check(name = "billing", readiness, interval = "1s", with = Self::ping_billing))]
    #[health(check(name = "config", liveness, kind = "internal", with = config_loaded))]
    struct State {
        client: Client,
        billing_url: String,
        config: Option<String>,
        #[health(startup)]
        warmup: StartupGate,
    }
    impl State {
        async fn ping_billing(&self) -> Result<(), String> {
            self.client.get(&self.billing_url).await
        }
    }
    async fn config_loaded(state: &State) -> bool {
        state.config.is_some()
    }
    let state = Arc::new(State {
        client: Client::default(),
        billing_url: "http://billing/healthz".to_owned(),
        config: Some("prod".to_owned()),
        warmup: StartupGate::new(),
    });
    let (registry, runner, _time) = spawn(&state);
    assert_eq!(
        names(&registry),
        ["billing", "config", "warmup"],
        "in the order written"
    );
    assert_eq!(runner.len(), 2);
    assert_eq!(
        probes(&registry, "config"),
        Probes::EMPTY.with(Probe::Liveness)
    );
    assert_eq!(
        registry.check("billing").unwrap().kind(),
        CheckKind::Dependency
    );
    assert_eq!(
        registry.check("config").unwrap().kind(),
        CheckKind::Internal
    );
    elapse(Duration::from_millis(500)).await;
    assert_eq!(status(&registry, "billing"), Status::Healthy);
    assert_eq!(status(&registry, "config"), Status::Healthy);
    state.client.take_down("http://billing/healthz");
    elapse(secs(1)).await;
    assert_eq!(
        reason(&registry, "billing").as_deref(),
        Some("GET http://billing/healthz: connection refused")
    );
    assert_eq!(state.client.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_state_method_on_a_field_gets_the_state_and_the_field() {
    #[derive(HealthCheck)]
    #[health(jitter = "0s")] // runs on exact multiples of the interval
    struct State {
        client: Client,
        #[health(readiness, name = "billing", with = Self::ping)]
        billing_url: String,
        #[health(readiness, each, interval = "1s", with = State::ping)]
        upstreams: std::collections::BTreeMap<&'static str, String>,
    }
    impl State {
        async fn ping(&self, url: &str) -> Result<(), String> {
            self.client.get(url).await
        }
    }
    let state = Arc::new(State {
        client: Client::default(),
        billing_url: "http://billing/".to_owned(),
        upstreams: [
            ("search", "http://search/".to_owned()),
            ("ads", "http://ads/".to_owned()),
        ]
        .into_iter()
        .collect(),
    });
    let (registry, _runner, _time) = spawn(&state);
    assert_eq!(
        names(&registry),
        ["billing", "upstreams.ads", "upstreams.search"]
    );
    state.client.take_down("http://search/");
    elapse(Duration::from_millis(500)).await;
    assert_eq!(status(&registry, "billing"), Status::Healthy);
    assert_eq!(status(&registry, "upstreams.ads"), Status::Healthy);
    assert_eq!(
        reason(&registry, "upstreams.search").as_deref(),
        Some("GET http://search/: connection refused")
    );
    assert_eq!(
        registry.check("upstreams.ads").unwrap().kind(),
        CheckKind::Dependency
    );
}

#[tokio::test(start_paused = true)]
async fn kind_states_what_a_with_check_watches() {
    #[derive(HealthCheck)]
    #[health(jitter = "0s")] // runs on exact multiples of the interval
    struct State {
        #[health(liveness, kind = "internal", with = ping)]
        internal: Pool,
        #[health(readiness, kind = "dependency", with = ping)]
        explicit: Pool,
        #[health(readiness, with = ping)]
        default: Pool,
        #[health(liveness, allow_dependency, kind = "dependency", with = ping)]
        allowed: Pool,
    }
    let state = Arc::new(State {
        internal: Pool::default(),
        explicit: Pool::default(),
        default: Pool::default(),
        allowed: Pool::default(),
    });
    let (registry, _runner, _time) = spawn(&state);
    let kind = |name| registry.check(name).unwrap().kind();
    assert_eq!(kind("internal"), CheckKind::Internal);
    assert_eq!(kind("explicit"), CheckKind::Dependency);
    assert_eq!(
        kind("default"),
        CheckKind::Dependency,
        "`with` defaults to a dependency"
    );
    assert_eq!(kind("allowed"), CheckKind::Dependency);
    state.internal.down.store(true, Ordering::SeqCst);
    elapse(Duration::from_millis(1)).await;
    assert_eq!(registry.probe(Probe::Liveness), Outcome::Fail);
}

#[tokio::test(start_paused = true)]
async fn an_arc_state_or_a_cloned_state_registers_without_wrapping_twice() {
    /// The axum shape: a cheaply cloned bundle of shared handles.
    #[derive(Clone, HealthCheck)]
    #[health(jitter = "0s")] // runs on exact multiples of the interval
    struct AppState {
        #[health(readiness, interval = "1s")]
        db: Arc<Scripted>,
        #[health(startup)]
        warmup: StartupGate,
        #[health(readiness, each, with = ping)]
        pools: Arc<Vec<Pool>>,
    }
    let state = AppState {
        db: Arc::new(Scripted::default()),
        warmup: StartupGate::new(),
        pools: Arc::new(vec![Pool::default()]),
    };
    let (registry, _runner) = Runner::spawn(&state).unwrap();
    assert_eq!(
        Arc::strong_count(&state.db),
        2,
        "the registry holds one clone"
    );
    elapse(Duration::from_millis(1)).await;
    assert_eq!(
        state.db.runs(),
        1,
        "the checks run on the service's own handles"
    );
    state.warmup.done(); // on the service's copy: the registry's shares the gate
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
    state.pools[0].down.store(true, Ordering::SeqCst);
    elapse(secs(10)).await;
    assert_eq!(status(&registry, "pools.0"), Status::Unhealthy);

    // The same struct behind an `Arc`: registered as the `Arc`, not cloned.
    let shared = Arc::new(state.clone());
    assert_eq!(Arc::strong_count(&state.db), 3);
    let mut builder = RegistryBuilder::new();
    builder.register(&shared).unwrap();
    assert_eq!(Arc::strong_count(&state.db), 3, "no new `AppState`");
    assert!(Arc::strong_count(&shared) > 1, "the checks hold the `Arc`");
}

/// The generated code names nothing the caller could shadow, and leaks nothing.
mod hygiene {
    #![allow(dead_code, non_camel_case_types, non_upper_case_globals, clippy::all)]

    use ::health_core::{HealthCheck, Heartbeat, ManualClock, StartupGate};
    use ::std::sync::Arc as StdArc;

    // Everything the expansion could reach by a relative name, shadowed.
    mod core {}
    mod std {}
    mod health_core {}
    type Result<T> = ::std::result::Result<T, ()>;
    struct Option;
    struct Some;
    struct None;
    struct Ok;
    struct Err;
    struct Box;
    struct String;
    struct Duration;
    struct Arc;
    struct str;
    trait Send {}
    trait Sync {}
    trait Clone {}
    trait Fn {}
    trait Default {}
    trait Field {}
    trait Names {}
    trait Each {}
    // Constants named like the generated locals: a pattern `let root` would match them.
    const root: u8 = 0;
    const project: u8 = 0;
    const prefix: u8 = 0;
    const builder: u8 = 0;
    const state: u8 = 0;
    const spec: u8 = 0;
    const schedule: u8 = 0;
    const field: u8 = 0;
    const target: u8 = 0;
    const key: u8 = 0;
    const name: u8 = 0;
    #[allow(unused_macros)]
    macro_rules! format {
        ($($t:tt)*) => {
            compile_error!("the expansion must not call format!")
        };
    }

    async fn ping(_: &u8) -> bool {
        true
    }

    // Two derives in one module: no item of the first clashes with the second.
    #[derive(HealthCheck)]
    #[health(interval = "2s", timeout = "1s")]
    #[health(check(name = "whole", readiness, with = Self::whole))]
    pub(super) struct First {
        #[health(liveness, max_silence = "1s")]
        pub(super) worker: Heartbeat,
        #[health(readiness, with = ping)]
        pub(super) byte: u8,
        #[health(flatten)]
        pub(super) second: Second,
        #[health(readiness, each, with = Self::element)]
        pub(super) bytes: ::std::vec::Vec<u8>,
    }

    impl First {
        async fn whole(&self) -> bool {
            true
        }

        async fn element(&self, _: &u8) -> bool {
            true
        }
    }

    #[derive(HealthCheck)]
    pub(super) struct Second {
        #[health(startup)]
        pub(super) gate: StartupGate,
    }

    #[test]
    fn shadowed_names_change_nothing() {
        let time = ManualClock::new();
        let first = StdArc::new(First {
            worker: Heartbeat::with_clock(&time.clock()),
            byte: 1,
            second: Second {
                gate: StartupGate::new(),
            },
            bytes: ::std::vec![1, 2],
        });
        let mut registry = ::health_core::RegistryBuilder::with_clock(time.clock());
        registry.register(&first).unwrap();
        assert_eq!(registry.build().len(), 6);
    }
}
