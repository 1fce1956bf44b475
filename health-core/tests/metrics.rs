//! Metrics (features `runtime`, `prometheus-client`, `metrics`): exact values after
//! scripted sequences of runs in tokio's virtual time, the OpenMetrics text as a strict
//! parser reads it, and the `metrics` facade through a local recorder.
//!
//! As in `runtime.rs`, runs fall on whole multiples of the interval (no jitter) and each
//! test observes strictly between them; a scripted run takes exactly its sleep, since
//! paused time moves only when every task waits.

#![cfg(all(
    feature = "runtime",
    feature = "prometheus-client",
    feature = "metrics",
    not(loom)
))]
// Every value compared is exact: counts, and durations and times of virtual time.
#![allow(clippy::float_cmp)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use health_core::{
    Check, CheckMetrics, CheckSpec, DURATION_BUCKETS, Heartbeat, MetricsEmitter,
    PrometheusCollector, Registry, RegistryBuilder, Report, RunResult, Schedule, Status, Timestamp,
    check_fn,
};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use openmetrics_parser::{MetricNumber, OpenMetricsValue};
use tokio::time::{Instant, sleep_until};

const fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

const INTERVAL: Duration = Duration::from_secs(10);
const TIMEOUT: Duration = Duration::from_secs(1);

/// One scripted run: how it ends, after how long.
#[derive(Clone, Copy, Debug)]
enum Step {
    Pass(Duration),
    Degrade(Duration),
    Fail(Duration),
    /// Never completes: the runner cuts it at its timeout.
    Hang,
    Panic,
}

/// A check that plays `steps` in order, one per run, then repeats the last.
fn scripted(steps: &[Step]) -> impl Check + use<> {
    let steps: Arc<[Step]> = steps.into();
    let next = Arc::new(AtomicUsize::new(0));
    check_fn(move || {
        let index = next.fetch_add(1, Ordering::SeqCst).min(steps.len() - 1);
        let step = steps[index];
        async move {
            match step {
                Step::Pass(took) => {
                    tokio::time::sleep(took).await;
                    Report::healthy()
                }
                Step::Degrade(took) => {
                    tokio::time::sleep(took).await;
                    Report::degraded("replica lag")
                }
                Step::Fail(took) => {
                    tokio::time::sleep(took).await;
                    Report::unhealthy("connection refused")
                }
                Step::Hang => std::future::pending().await,
                Step::Panic => panic!("scripted panic"),
            }
        }
    })
}

fn schedule() -> Schedule {
    Schedule::every(INTERVAL)
        .timeout(TIMEOUT)
        .jitter(Duration::ZERO)
}

/// Spawns one scheduled check named `db` playing `steps` (with `schedule` adjusted by
/// `tune`) and one pushed check named `cache`; returns them with the start instant.
fn spawn(
    steps: &[Step],
    tune: impl FnOnce(Schedule) -> Schedule,
) -> (
    Registry,
    health_core::Runner,
    health_core::CheckHandle,
    Instant,
) {
    let mut builder = Registry::builder();
    builder
        .schedule(
            CheckSpec::new("db").readiness(),
            tune(schedule()),
            scripted(steps),
        )
        .unwrap();
    let cache = builder
        .push(CheckSpec::new("cache").readiness().critical(false))
        .unwrap();
    let start = Instant::now();
    let (registry, runner) = builder.spawn();
    (registry, runner, cache, start)
}

fn metrics(registry: &Registry, name: &str) -> CheckMetrics {
    registry
        .check(name)
        .and_then(|check| check.metrics())
        .unwrap_or_else(|| panic!("{name} has metrics"))
}

/// `at` on the registry's clock as seconds since the Unix epoch: how the last-run
/// timestamp is exported.
fn unix_seconds(registry: &Registry, at: Timestamp) -> f64 {
    registry
        .clock()
        .to_system_time(at)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The bucket index of `took` in [`DURATION_BUCKETS`].
fn bucket(took: Duration) -> usize {
    DURATION_BUCKETS
        .iter()
        .position(|&bound| took <= bound)
        .unwrap_or(DURATION_BUCKETS.len())
}

/// The bucket counts expected for runs that took `durations`.
fn buckets(durations: &[Duration]) -> Vec<u64> {
    let mut counts = vec![0; DURATION_BUCKETS.len() + 1];
    for &took in durations {
        counts[bucket(took)] += 1;
    }
    counts
}

/// Six runs, one of each ending, ten seconds apart, starting at once.
const SIX: [Step; 6] = [
    Step::Pass(ms(3)),
    Step::Pass(ms(30)),
    Step::Degrade(ms(300)),
    Step::Fail(ms(3)),
    Step::Hang,
    Step::Panic,
];

#[tokio::test(start_paused = true)]
async fn runs_are_counted_by_result_with_exact_durations() {
    let (registry, _runner, _cache, start) = spawn(&SIX, |s| s);
    let t0 = registry.now();
    let before = metrics(&registry, "db");
    assert_eq!(before.runs_total(), 0);
    assert_eq!(before.last_run(), None, "no run yet");
    assert_eq!(before.timeout(), Some(TIMEOUT));

    sleep_until(start + 5 * INTERVAL + ms(500)).await;
    let metrics = metrics(&registry, "db");
    let counts: Vec<_> = RunResult::ALL.map(|r| metrics.runs(r)).into();
    assert_eq!(
        counts,
        [2, 1, 1, 1, 1, 0],
        "healthy, degraded, unhealthy, timeout, panic, unknown"
    );
    assert_eq!(metrics.runs_total(), 6);
    let took = [ms(3), ms(30), ms(300), ms(3), TIMEOUT, Duration::ZERO];
    assert_eq!(
        metrics.duration_buckets(),
        buckets(&took),
        "one run per bucket of its duration; the timeout lands on its own bound"
    );
    assert_eq!(metrics.duration_buckets()[bucket(TIMEOUT)], 1);
    assert_eq!(DURATION_BUCKETS[bucket(TIMEOUT)], TIMEOUT);
    assert_eq!(metrics.duration_sum(), took.iter().sum());
    assert_eq!(
        metrics.consecutive_failures(),
        3,
        "unhealthy, timeout and panic in a row"
    );
    assert_eq!(
        metrics.last_run(),
        Some(t0.saturating_add(5 * INTERVAL)),
        "the panic ended the sixth run at once, 50 s in"
    );
    let transitions: Vec<_> = Status::ALL
        .into_iter()
        .flat_map(|from| Status::ALL.map(|to| (from, to)))
        .filter(|&(from, to)| metrics.transitions(from, to) != Some(0))
        .collect();
    assert_eq!(
        transitions,
        [
            (Status::Unknown, Status::Healthy),
            (Status::Healthy, Status::Degraded),
            (Status::Degraded, Status::Unhealthy),
        ],
        "failing three times in a row is one transition"
    );
    assert_eq!(
        metrics.transitions(Status::Unknown, Status::Healthy),
        Some(1)
    );
}

#[tokio::test(start_paused = true)]
async fn a_pass_resets_consecutive_failures() {
    let steps = [
        Step::Fail(ms(1)),
        Step::Hang,
        Step::Pass(ms(1)),
        Step::Fail(ms(1)),
    ];
    let (registry, _runner, _cache, start) = spawn(&steps, |s| s);
    let mut seen = Vec::new();
    for run in 0..4 {
        sleep_until(start + run * INTERVAL + ms(1_500)).await;
        seen.push(metrics(&registry, "db").consecutive_failures());
    }
    assert_eq!(seen, [1, 2, 0, 1]);
}

#[tokio::test(start_paused = true)]
async fn a_flap_counts_every_run_and_only_the_published_transitions() {
    // Thresholds of 2: single failures and single passes are held back.
    let steps = [
        Step::Pass(ms(1)),
        Step::Fail(ms(1)),
        Step::Pass(ms(1)),
        Step::Fail(ms(1)),
        Step::Fail(ms(1)),
        Step::Pass(ms(1)),
        Step::Pass(ms(1)),
    ];
    let (registry, _runner, _cache, start) =
        spawn(&steps, |s| s.failure_threshold(2).success_threshold(2));
    let mut consecutive = Vec::new();
    let mut statuses = Vec::new();
    for run in 0..7 {
        sleep_until(start + run * INTERVAL + ms(500)).await;
        consecutive.push(metrics(&registry, "db").consecutive_failures());
        statuses.push(registry.check("db").unwrap().status_at(registry.now()));
    }
    assert_eq!(consecutive, [0, 1, 0, 1, 2, 0, 0]);
    assert_eq!(
        statuses,
        [
            Status::Healthy,
            Status::Healthy,
            Status::Healthy,
            Status::Healthy,
            Status::Unhealthy,
            Status::Unhealthy,
            Status::Healthy
        ]
    );
    let metrics = metrics(&registry, "db");
    assert_eq!(metrics.runs(RunResult::Healthy), 4);
    assert_eq!(metrics.runs(RunResult::Unhealthy), 3);
    assert_eq!(
        metrics.transitions(Status::Healthy, Status::Unhealthy),
        Some(1)
    );
    assert_eq!(
        metrics.transitions(Status::Unhealthy, Status::Healthy),
        Some(1)
    );
    assert_eq!(
        metrics.transitions(Status::Unknown, Status::Healthy),
        Some(1)
    );
}

#[tokio::test(start_paused = true)]
async fn pushed_checks_count_transitions_not_runs() {
    let (registry, _runner, cache, _start) = spawn(&SIX, |s| s);
    cache.healthy();
    cache.unhealthy("evicted");
    cache.unhealthy("still evicted");
    cache.degraded("warming");
    cache.healthy();
    let metrics = metrics(&registry, "cache");
    assert_eq!(metrics.runs_total(), 0);
    assert_eq!(metrics.timeout(), None, "not run by the runner");
    assert_eq!(metrics.last_run(), None);
    for (from, to) in [
        (Status::Unknown, Status::Healthy),
        (Status::Healthy, Status::Unhealthy),
        (Status::Unhealthy, Status::Degraded),
        (Status::Degraded, Status::Healthy),
    ] {
        assert_eq!(metrics.transitions(from, to), Some(1), "{from} → {to}");
    }
    assert_eq!(
        metrics.transitions(Status::Unhealthy, Status::Unhealthy),
        Some(0)
    );
}

#[test]
fn heartbeats_have_no_transitions_and_recording_can_be_turned_off() {
    let worker = Heartbeat::new();
    let mut builder = RegistryBuilder::new();
    builder
        .heartbeat(
            CheckSpec::new("worker")
                .liveness()
                .max_age(Duration::from_secs(5)),
            &worker,
        )
        .unwrap();
    let registry = builder.build();
    let heartbeat = metrics(&registry, "worker");
    assert_eq!(
        heartbeat.transitions(Status::Healthy, Status::Unhealthy),
        None
    );

    let mut builder = RegistryBuilder::new();
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    builder.record_metrics(false);
    let late = builder.push(CheckSpec::new("late").readiness()).unwrap();
    let registry = builder.build();
    db.unhealthy("down");
    late.healthy();
    assert!(registry.check("db").unwrap().metrics().is_none());
    assert!(
        registry.check("late").unwrap().metrics().is_none(),
        "the switch applies to checks added after it too"
    );
    let text = scrape(&registry);
    assert!(text.contains(r#"health_check_status{check="db",state="unhealthy"} 1"#));
    assert!(
        !text.contains("health_check_transitions_total{"),
        "no counts shown when none are recorded:\n{text}"
    );
}

/// The registry's metrics as `prometheus-client` encodes them, collector under `prefix`.
fn scrape_with(registry: &Registry, collector: PrometheusCollector) -> String {
    let mut metrics = prometheus_client::registry::Registry::default();
    metrics.register_collector(Box::new(collector));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &metrics).unwrap();
    let _ = registry;
    text
}

fn scrape(registry: &Registry) -> String {
    scrape_with(registry, PrometheusCollector::new(registry))
}

/// The prefix of the families in `text`: what precedes `probe_status`.
fn prefix(text: &str) -> &str {
    let at = text.find("probe_status ").expect("a probe_status family");
    let start = text[..at].rfind(' ').map_or(0, |space| space + 1);
    &text[start..at]
}

/// A strictly parsed exposition, flattened: `(family, labels)` → value.
#[derive(Debug)]
struct Parsed(BTreeMap<(String, BTreeMap<String, String>), OpenMetricsValue>);

impl Parsed {
    fn new(text: &str) -> Parsed {
        // openmetrics-parser 0.5 refuses a UNIT line on a histogram, which the OpenMetrics
        // spec allows (a unit may describe any family but info and stateset; Prometheus
        // reads it): check the one we write is there, then leave it out of its parse.
        let unit = "# UNIT health_check_duration_seconds seconds\n";
        let unit = unit.replace("health_", prefix(text));
        assert!(
            !text.contains("_check_duration_seconds_count") || text.contains(&unit),
            "the duration histogram names its unit:\n{text}"
        );
        let parsable = text.replace(&unit, "");
        let exposition = openmetrics_parser::openmetrics::parse_openmetrics(&parsable)
            .unwrap_or_else(|err| panic!("not valid OpenMetrics ({err}):\n{text}"));
        let mut samples = BTreeMap::new();
        for (name, family) in exposition.families {
            for sample in family.iter_samples() {
                let labels = sample
                    .get_labelset()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                samples.insert((name.clone(), labels), sample.value.clone());
            }
        }
        Parsed(samples)
    }

    fn get(&self, family: &str, labels: &[(&str, &str)]) -> &OpenMetricsValue {
        let key = (
            family.to_owned(),
            labels
                .iter()
                .map(|&(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        );
        self.0
            .get(&key)
            .unwrap_or_else(|| panic!("no {family}{labels:?} in {:#?}", self.0.keys()))
    }

    fn number(&self, family: &str, labels: &[(&str, &str)]) -> f64 {
        match self.get(family, labels) {
            OpenMetricsValue::Gauge(n) => n.as_f64(),
            OpenMetricsValue::Counter(c) => c.value.as_f64(),
            other => panic!("{family}: not a number: {other:?}"),
        }
    }

    fn families(&self) -> Vec<&str> {
        let mut names: Vec<_> = self.0.keys().map(|(name, _)| name.as_str()).collect();
        names.dedup();
        names
    }

    fn series(&self, family: &str) -> usize {
        self.0.keys().filter(|(name, _)| name == family).count()
    }
}

#[tokio::test(start_paused = true)]
async fn the_exposition_parses_and_shows_the_exact_values() {
    let (registry, _runner, cache, start) = spawn(&SIX, |s| s);
    let t0 = registry.now();
    cache.degraded("warming");
    sleep_until(start + 5 * INTERVAL + ms(500)).await;
    let parsed = Parsed::new(&scrape(&registry));

    assert_eq!(
        parsed.families(),
        [
            "health_check_consecutive_failures",
            "health_check_duration_seconds",
            "health_check_last_run_timestamp_seconds",
            "health_check_runs",
            "health_check_status",
            "health_check_timeout_seconds",
            "health_check_transitions",
            "health_probe_status",
        ]
    );
    let db = |extra: &[(&'static str, &'static str)]| {
        let mut labels = vec![("check", "db")];
        labels.extend_from_slice(extra);
        labels
    };
    for (result, count) in [
        ("healthy", 2.0),
        ("degraded", 1.0),
        ("unhealthy", 1.0),
        ("timeout", 1.0),
        ("panic", 1.0),
    ] {
        let labels = db(&[("result", result)]);
        assert_eq!(
            parsed.number("health_check_runs", &labels),
            count,
            "{result}"
        );
    }
    assert_eq!(
        parsed.series("health_check_runs"),
        5,
        "no unknown result shown before one happens; the pushed check has no runs"
    );
    for state in ["unknown", "healthy", "degraded", "unhealthy"] {
        let expected = if state == "unhealthy" { 1.0 } else { 0.0 };
        let labels = db(&[("state", state)]);
        assert_eq!(parsed.number("health_check_status", &labels), expected);
    }
    assert_eq!(
        parsed.number(
            "health_check_status",
            &[("check", "cache"), ("state", "degraded")]
        ),
        1.0
    );
    assert_eq!(
        parsed.number(
            "health_check_transitions",
            &db(&[("from", "degraded"), ("to", "unhealthy")])
        ),
        1.0
    );
    assert_eq!(
        parsed.number(
            "health_check_transitions",
            &[("check", "cache"), ("from", "unknown"), ("to", "degraded")]
        ),
        1.0
    );
    assert_eq!(
        parsed.series("health_check_transitions"),
        18,
        "nine transitions into a result per check, none into unknown"
    );
    assert_eq!(
        parsed.number("health_check_consecutive_failures", &db(&[])),
        3.0
    );
    assert_eq!(parsed.number("health_check_timeout_seconds", &db(&[])), 1.0);
    let last_run = unix_seconds(&registry, t0.saturating_add(5 * INTERVAL));
    assert_eq!(
        parsed.number("health_check_last_run_timestamp_seconds", &db(&[])),
        last_run
    );
    for (probe, passing) in [("liveness", 1.0), ("readiness", 0.0), ("startup", 1.0)] {
        assert_eq!(
            parsed.number("health_probe_status", &[("probe", probe)]),
            passing,
            "{probe}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_exposition_histogram_is_cumulative_and_exact() {
    let (registry, _runner, _cache, start) = spawn(&SIX, |s| s);
    sleep_until(start + 5 * INTERVAL + ms(500)).await;
    let parsed = Parsed::new(&scrape(&registry));
    let db = [("check", "db")];
    let OpenMetricsValue::Histogram(histogram) = parsed.get("health_check_duration_seconds", &db)
    else {
        panic!("the duration is a histogram");
    };
    let took = [ms(3), ms(30), ms(300), ms(3), TIMEOUT, Duration::ZERO];
    assert_eq!(histogram.count, Some(6));
    let sum: Duration = took.iter().sum();
    assert_eq!(histogram.sum.map(|s| s.as_f64()), Some(sum.as_secs_f64()));
    let expected = buckets(&took);
    let mut cumulative = 0;
    assert_eq!(histogram.buckets.len(), DURATION_BUCKETS.len() + 1);
    for (index, bucket) in histogram.buckets.iter().enumerate() {
        cumulative += expected[index];
        let bound = DURATION_BUCKETS
            .get(index)
            .map_or(f64::INFINITY, Duration::as_secs_f64);
        assert_eq!(bucket.upper_bound, bound);
        assert_eq!(
            bucket.count,
            MetricNumber::Int(i64::try_from(cumulative).unwrap()),
            "le={bound}"
        );
    }
}

#[test]
fn the_prefix_is_configurable() {
    let mut builder = RegistryBuilder::new();
    builder.push(CheckSpec::new("db").readiness()).unwrap();
    let registry = builder.build();
    let collector = PrometheusCollector::with_prefix(&registry, "shop_").unwrap();
    let parsed = Parsed::new(&scrape_with(&registry, collector));
    assert_eq!(
        parsed.number(
            "shop_check_status",
            &[("check", "db"), ("state", "unknown")]
        ),
        1.0
    );
    assert_eq!(
        parsed.number("shop_probe_status", &[("probe", "readiness")]),
        0.0
    );
    let bare = PrometheusCollector::with_prefix(&registry, "").unwrap();
    assert!(Parsed::new(&scrape_with(&registry, bare)).series("probe_status") == 3);
    assert!(PrometheusCollector::with_prefix(&registry, "shop-").is_err());
    assert!(MetricsEmitter::with_prefix(&registry, "1shop").is_err());
}

/// A facade snapshot, flattened: `(name, labels)` → value.
struct Facade(BTreeMap<(String, Vec<(String, String)>), DebugValue>);

impl Facade {
    fn new(snapshotter: &Snapshotter) -> Facade {
        let values = snapshotter.snapshot().into_vec().into_iter();
        Facade(
            values
                .map(|(key, _, _, value)| {
                    let key = key.key();
                    let labels = key
                        .labels()
                        .map(|l| (l.key().to_owned(), l.value().to_owned()))
                        .collect();
                    ((key.name().to_owned(), labels), value)
                })
                .collect(),
        )
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> &DebugValue {
        let labels = labels
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        self.0
            .get(&(name.to_owned(), labels))
            .unwrap_or_else(|| panic!("no {name} in {:#?}", self.0.keys()))
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.get(name, labels) {
            DebugValue::Counter(value) => *value,
            other => panic!("{name}{labels:?}: {other:?}"),
        }
    }

    fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        match self.get(name, labels) {
            DebugValue::Gauge(value) => value.into_inner(),
            other => panic!("{name}{labels:?}: {other:?}"),
        }
    }

    /// The observations recorded since the previous snapshot.
    fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        match self.get(name, labels) {
            DebugValue::Histogram(values) => values.iter().map(|v| v.into_inner()).collect(),
            other => panic!("{name}{labels:?}: {other:?}"),
        }
    }
}

const DB: [(&str, &str); 1] = [("check", "db")];

#[tokio::test(start_paused = true)]
async fn the_facade_gets_each_run_once_at_its_duration() {
    let (registry, _runner, _cache, start) = spawn(&SIX, |s| s);
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let mut emitter = MetricsEmitter::new(&registry);
    let mut observed = Vec::new();
    // Emitting after each run hands the facade each run's exact duration; emitting twice
    // in a row repeats nothing.
    for run in 0..6 {
        sleep_until(start + run * INTERVAL + ms(1_500)).await;
        for _ in 0..2 {
            metrics::with_local_recorder(&recorder, || emitter.emit());
            let facade = Facade::new(&snapshotter);
            observed.extend(facade.histogram("health_check_duration_seconds", &DB));
        }
    }
    let took = [ms(3), ms(30), ms(300), ms(3), TIMEOUT, Duration::ZERO];
    assert_eq!(
        observed,
        took.map(|took| took.as_secs_f64()),
        "one observation per run, at its exact duration"
    );
}

#[tokio::test(start_paused = true)]
async fn the_facade_gets_every_family() {
    let (registry, _runner, _cache, start) = spawn(&SIX, |s| s);
    let t0 = registry.now();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let mut emitter = MetricsEmitter::new(&registry);
    sleep_until(start + 5 * INTERVAL + ms(500)).await;
    metrics::with_local_recorder(&recorder, || emitter.emit());
    let facade = Facade::new(&snapshotter);
    let runs = |result| facade.counter("health_check_runs_total", &[DB[0], ("result", result)]);
    assert_eq!(
        ["healthy", "degraded", "unhealthy", "timeout", "panic"].map(runs),
        [2, 1, 1, 1, 1]
    );
    let changes = [DB[0], ("from", "healthy"), ("to", "degraded")];
    assert_eq!(
        facade.counter("health_check_transitions_total", &changes),
        1
    );
    assert_eq!(facade.gauge("health_check_consecutive_failures", &DB), 3.0);
    assert_eq!(facade.gauge("health_check_timeout_seconds", &DB), 1.0);
    let last_run = unix_seconds(&registry, t0.saturating_add(5 * INTERVAL));
    assert_eq!(
        facade.gauge("health_check_last_run_timestamp_seconds", &DB),
        last_run
    );
    let unhealthy = [DB[0], ("state", "unhealthy")];
    assert_eq!(facade.gauge("health_check_status", &unhealthy), 1.0);
    let unknown = [("check", "cache"), ("state", "unknown")];
    assert_eq!(facade.gauge("health_check_status", &unknown), 1.0);
    assert_eq!(
        facade.gauge("health_probe_status", &[("probe", "readiness")]),
        0.0
    );
    assert_eq!(
        facade.histogram("health_check_duration_seconds", &DB).len(),
        6
    );
    let names: std::collections::BTreeSet<_> =
        facade.0.keys().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        [
            "health_check_consecutive_failures",
            "health_check_duration_seconds",
            "health_check_last_run_timestamp_seconds",
            "health_check_runs_total",
            "health_check_status",
            "health_check_timeout_seconds",
            "health_check_transitions_total",
            "health_probe_status",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn runs_between_emissions_land_in_their_buckets() {
    let (registry, _runner, _cache, start) = spawn(&SIX, |s| s);
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let mut emitter = MetricsEmitter::new(&registry);
    sleep_until(start + 5 * INTERVAL + ms(500)).await;
    metrics::with_local_recorder(&recorder, || emitter.emit());
    let mut seen = Facade::new(&snapshotter).histogram("health_check_duration_seconds", &DB);
    seen.sort_by(f64::total_cmp);
    assert_eq!(seen.len(), 6, "every run once");
    let took = [ms(3), ms(30), ms(300), ms(3), TIMEOUT, Duration::ZERO];
    let mut expected: Vec<usize> = took.iter().map(|&t| bucket(t)).collect();
    expected.sort_unstable();
    let landed: Vec<usize> = seen
        .iter()
        .map(|&seconds| {
            DURATION_BUCKETS
                .iter()
                .position(|bound| seconds <= bound.as_secs_f64())
                .unwrap_or(DURATION_BUCKETS.len())
        })
        .collect();
    assert_eq!(
        landed, expected,
        "each observation within its run's bucket: {seen:?}"
    );
}
