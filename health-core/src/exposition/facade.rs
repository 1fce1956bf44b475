//! The `metrics` facade emitter (feature `metrics`).

use std::fmt;
#[cfg(feature = "runtime")]
use std::time::Duration;

use metrics::{Key, KeyName, Label, Level, Metadata, Recorder, SharedString, Unit};

use crate::registry::{CheckMetrics, DURATION_BUCKETS, Registry, RunResult};
use crate::status::{Probe, Status};

use super::{
    HELP_CHECK_CONSECUTIVE_FAILURES, HELP_CHECK_DURATION, HELP_CHECK_LAST_RUN, HELP_CHECK_RUNS,
    HELP_CHECK_STATUS, HELP_CHECK_TIMEOUT, HELP_CHECK_TRANSITIONS, HELP_PROBE_STATUS,
    InvalidPrefix, Names, bucket_bounds, rows, run_results, transitions, unix_seconds,
};

static METADATA: Metadata<'static> =
    Metadata::new("health_core", Level::INFO, Some(module_path!()));

/// Sends a [`Registry`]'s health to the recorder of the [`metrics`](https://docs.rs/metrics)
/// facade that the application installed: the same families as
/// `PrometheusCollector` (feature `prometheus-client`), full names (`_total`, `_seconds`)
/// included.
///
/// The facade is push-based, so the emitter reads the registry when asked:
/// [`emit`](Self::emit) once per scrape interval or so, or spawn its `run` task (feature
/// `runtime`). It installs no recorder; with none installed, an emission is a no-op.
///
/// Counters are set with `absolute` and gauges with `set`, so emitting twice changes
/// nothing. The facade's histograms take observations, not buckets: each emission records
/// the runs that ended since the previous one, each at the mean duration of those runs
/// kept within the run's own bucket. That is exact when at most one run of a check ends
/// between two emissions (emit at least as often as the shortest interval), and within
/// the bucket otherwise.
///
/// # Examples
///
/// ```
/// use health_core::{CheckSpec, MetricsEmitter, Registry};
/// use metrics_util::debugging::{DebugValue, DebuggingRecorder};
///
/// let mut builder = Registry::builder();
/// let db = builder.push(CheckSpec::new("db").readiness())?;
/// let registry = builder.build();
/// db.healthy();
///
/// let recorder = DebuggingRecorder::new();
/// let snapshotter = recorder.snapshotter();
/// let mut emitter = MetricsEmitter::new(&registry);
/// metrics::with_local_recorder(&recorder, || emitter.emit());
///
/// let healthy = snapshotter.snapshot().into_vec().into_iter().find(|(key, ..)| {
///     let key = key.key();
///     key.name() == "health_check_status"
///         && key.labels().any(|label| label.key() == "state" && label.value() == "healthy")
/// });
/// assert!(matches!(healthy, Some((_, _, _, DebugValue::Gauge(value))) if value == 1.0));
/// # Ok::<(), health_core::RegistryError>(())
/// ```
pub struct MetricsEmitter {
    registry: Registry,
    names: Names,
    checks: Vec<CheckKeys>,
    probes: [Key; 3],
}

/// One check's keys, built once, and what of its histogram was already emitted.
struct CheckKeys {
    status: [Key; 4],
    runs: [Key; 6],
    duration: Key,
    /// Indexed `from * 4 + to` by status bits.
    transitions: [Key; 16],
    consecutive_failures: Key,
    last_run: Key,
    timeout: Key,
    emitted: Emitted,
}

/// The cumulative histogram state as of the last emission.
#[derive(Default)]
struct Emitted {
    buckets: [u64; DURATION_BUCKETS.len() + 1],
    sum: std::time::Duration,
}

impl MetricsEmitter {
    /// Creates an emitter for `registry`, its families prefixed `health_`.
    ///
    /// # Examples
    ///
    /// See [`MetricsEmitter`].
    #[must_use]
    pub fn new(registry: &Registry) -> MetricsEmitter {
        MetricsEmitter::build(registry, Names::default_prefix())
    }

    /// Creates an emitter for `registry` whose family names start with `prefix` instead
    /// of `health_` (`""` for none).
    ///
    /// # Errors
    ///
    /// [`InvalidPrefix`] unless `prefix` is empty or ASCII letters, digits and `_` not
    /// starting with a digit.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = health_core::Registry::builder().build();
    /// let emitter = health_core::MetricsEmitter::with_prefix(&registry, "shop_")?;
    /// # let _ = emitter;
    /// # Ok::<(), health_core::InvalidPrefix>(())
    /// ```
    pub fn with_prefix(registry: &Registry, prefix: &str) -> Result<MetricsEmitter, InvalidPrefix> {
        Ok(MetricsEmitter::build(registry, Names::new(prefix)?))
    }

    fn build(registry: &Registry, names: Names) -> MetricsEmitter {
        let runs = format!("{}_total", names.check_runs);
        let duration = format!("{}_seconds", names.check_duration);
        let transitions = format!("{}_total", names.check_transitions);
        let last_run = format!("{}_seconds", names.check_last_run);
        let timeout = format!("{}_seconds", names.check_timeout);
        let checks = registry
            .checks()
            .map(|check| {
                let name = check.name();
                let key = |family: &str, extra: &[(&'static str, &'static str)]| {
                    let labels = [Label::new("check", name.to_owned())]
                        .into_iter()
                        .chain(extra.iter().map(|&(key, value)| Label::new(key, value)))
                        .collect::<Vec<_>>();
                    Key::from_parts(family.to_owned(), labels)
                };
                CheckKeys {
                    status: Status::ALL
                        .map(|state| key(&names.check_status, &[("state", state.as_str())])),
                    runs: RunResult::ALL.map(|result| key(&runs, &[("result", result.as_str())])),
                    duration: key(&duration, &[]),
                    transitions: std::array::from_fn(|index| {
                        let (from, to) = (Status::ALL[index / 4], Status::ALL[index % 4]);
                        key(
                            &transitions,
                            &[("from", from.as_str()), ("to", to.as_str())],
                        )
                    }),
                    consecutive_failures: key(&names.check_consecutive_failures, &[]),
                    last_run: key(&last_run, &[]),
                    timeout: key(&timeout, &[]),
                    emitted: Emitted::default(),
                }
            })
            .collect();
        let probes = Probe::ALL.map(|probe| {
            Key::from_parts(
                names.probe_status.clone(),
                vec![Label::new("probe", probe.as_str())],
            )
        });
        MetricsEmitter {
            registry: registry.clone(),
            names,
            checks,
            probes,
        }
    }

    /// Reads the registry and sends every family to the current recorder (the thread's
    /// local one, else the global one; see [`metrics::with_recorder`]).
    ///
    /// # Examples
    ///
    /// See [`MetricsEmitter`].
    pub fn emit(&mut self) {
        metrics::with_recorder(|recorder| self.emit_to(recorder));
    }

    /// Emits every `every` until the returned future is dropped (for `tokio::spawn`). A
    /// period under a millisecond is taken as one.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = health_core::Registry::builder().build();
    /// let emitter = health_core::MetricsEmitter::new(&registry);
    /// let task = tokio::spawn(emitter.run(std::time::Duration::from_secs(10)));
    /// # task.abort(); }
    /// ```
    #[cfg(feature = "runtime")]
    #[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
    pub async fn run(mut self, every: Duration) {
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(1)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.emit();
        }
    }

    fn emit_to(&mut self, recorder: &dyn Recorder) {
        self.describe(recorder);
        let rows = rows(&self.registry);
        for (row, keys) in rows.iter().zip(&mut self.checks) {
            for (key, state) in keys.status.iter().zip(Status::ALL) {
                gauge(recorder, key, f64::from(u8::from(row.status == state)));
            }
            let Some(metrics) = &row.metrics else {
                continue;
            };
            for (from, to, count) in transitions(metrics) {
                let index = usize::from(from.to_bits()) * 4 + usize::from(to.to_bits());
                counter(recorder, &keys.transitions[index], count);
            }
            let Some(metrics) = row.scheduled() else {
                continue;
            };
            for (result, count) in run_results(metrics) {
                counter(recorder, &keys.runs[result as usize], count);
            }
            let histogram = recorder.register_histogram(&keys.duration, &METADATA);
            keys.emitted.observe(metrics, |seconds, runs| {
                histogram.record_many(seconds, runs);
            });
            gauge(
                recorder,
                &keys.consecutive_failures,
                // Exact below 2^53 failures in a row.
                #[allow(clippy::cast_precision_loss)]
                {
                    metrics.consecutive_failures() as f64
                },
            );
            if let Some(last_run) = metrics.last_run() {
                gauge(
                    recorder,
                    &keys.last_run,
                    unix_seconds(&self.registry, last_run),
                );
            }
            if let Some(timeout) = metrics.timeout() {
                gauge(recorder, &keys.timeout, timeout.as_secs_f64());
            }
        }
        let aggregate = self.registry.aggregate();
        for (key, probe) in self.probes.iter().zip(Probe::ALL) {
            let passing = aggregate.get(probe).is_passing();
            gauge(recorder, key, f64::from(u8::from(passing)));
        }
    }

    /// Describes every family; recorders keep the last description, so repeating it is
    /// harmless, and a recorder installed late still gets it.
    fn describe(&self, recorder: &dyn Recorder) {
        let names = &self.names;
        let name = |name: String| KeyName::from(name);
        let help = SharedString::const_str;
        recorder.describe_gauge(
            name(names.check_status.clone()),
            None,
            help(HELP_CHECK_STATUS),
        );
        recorder.describe_counter(
            name(format!("{}_total", names.check_runs)),
            None,
            help(HELP_CHECK_RUNS),
        );
        recorder.describe_histogram(
            name(format!("{}_seconds", names.check_duration)),
            Some(Unit::Seconds),
            help(HELP_CHECK_DURATION),
        );
        recorder.describe_counter(
            name(format!("{}_total", names.check_transitions)),
            None,
            help(HELP_CHECK_TRANSITIONS),
        );
        recorder.describe_gauge(
            name(names.check_consecutive_failures.clone()),
            None,
            help(HELP_CHECK_CONSECUTIVE_FAILURES),
        );
        recorder.describe_gauge(
            name(format!("{}_seconds", names.check_last_run)),
            Some(Unit::Seconds),
            help(HELP_CHECK_LAST_RUN),
        );
        recorder.describe_gauge(
            name(format!("{}_seconds", names.check_timeout)),
            Some(Unit::Seconds),
            help(HELP_CHECK_TIMEOUT),
        );
        recorder.describe_gauge(
            name(names.probe_status.clone()),
            None,
            help(HELP_PROBE_STATUS),
        );
    }
}

impl Emitted {
    /// Hands `record` the runs that ended since the last call, as (seconds, runs) per
    /// bucket: each at the mean of the new runs' durations, kept within its bucket.
    fn observe(&mut self, metrics: &CheckMetrics, mut record: impl FnMut(f64, usize)) {
        let buckets = metrics.duration_buckets();
        let new: u64 = buckets
            .iter()
            .zip(&self.buckets)
            .map(|(now, before)| now.saturating_sub(*before))
            .sum();
        if new == 0 {
            // A sum read ahead of its bucket stays pending for the run it belongs to.
            return;
        }
        let sum = metrics.duration_sum().saturating_sub(self.sum);
        #[allow(clippy::cast_precision_loss)] // run counts stay far below 2^53
        let mean = sum.as_secs_f64() / new as f64;
        // A bucket holds (previous bound, its bound]; the first one starts at zero.
        let mut lowest = 0.0;
        for ((upper, now), before) in bucket_bounds().zip(buckets).zip(&mut self.buckets) {
            let runs = now.saturating_sub(*before);
            if runs > 0 {
                record(
                    mean.clamp(lowest, upper),
                    usize::try_from(runs).unwrap_or(usize::MAX),
                );
            }
            *before = *now;
            lowest = upper.next_up();
        }
        self.sum = metrics.duration_sum();
    }
}

impl fmt::Debug for MetricsEmitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsEmitter")
            .field("checks", &self.checks.len())
            .field(
                "prefix",
                &self.names.probe_status.trim_end_matches("probe_status"),
            )
            .finish_non_exhaustive()
    }
}

fn counter(recorder: &dyn Recorder, key: &Key, value: u64) {
    recorder.register_counter(key, &METADATA).absolute(value);
}

fn gauge(recorder: &dyn Recorder, key: &Key, value: f64) {
    recorder.register_gauge(key, &METADATA).set(value);
}

#[cfg(test)]
mod tests {
    use super::Emitted;
    use crate::{CheckSpec, Registry};

    #[test]
    fn no_new_run_records_nothing() {
        let mut builder = Registry::builder();
        builder.push(CheckSpec::new("db").readiness()).unwrap();
        let registry = builder.build();
        let metrics = registry.check("db").unwrap().metrics().unwrap();
        let mut emitted = Emitted::default();
        let mut recorded = Vec::new();
        emitted.observe(&metrics, |seconds, runs| recorded.push((seconds, runs)));
        assert!(recorded.is_empty(), "no run, no observation: {recorded:?}");
    }
}
