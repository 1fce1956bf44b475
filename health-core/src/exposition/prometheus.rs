//! The `prometheus-client` collector (feature `prometheus-client`).

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use crate::registry::{CheckMetrics, DURATION_BUCKETS, Registry};
use crate::status::{Probe, Status};

use super::{
    HELP_CHECK_CONSECUTIVE_FAILURES, HELP_CHECK_DURATION, HELP_CHECK_LAST_RUN, HELP_CHECK_RUNS,
    HELP_CHECK_STATUS, HELP_CHECK_TIMEOUT, HELP_CHECK_TRANSITIONS, HELP_PROBE_STATUS,
    InvalidPrefix, Names, Row, bucket_bounds, rows, run_results, transitions, unix_seconds,
};

/// Exposes a [`Registry`]'s health as Prometheus metrics: a `prometheus-client`
/// [`Collector`] that the service registers in its own `prometheus_client` registry.
///
/// It holds no metric of its own: each scrape reads the checks' statuses and the counters
/// the runner and the registry keep (see [`CheckMetrics`](crate::CheckMetrics)). Nothing
/// is global, and a probe read costs the same with it.
///
/// # Families
///
/// With the default prefix `health_` (label values are check names, probe names and fixed
/// words, never a failure's reason):
///
/// | family | type | labels | series |
/// |---|---|---|---|
/// | `health_check_status` | gauge | `check`, `state` | 1 for the check's status now (`unknown`, `healthy`, `degraded`, `unhealthy`; stale counts as `unhealthy`), 0 for the others |
/// | `health_check_runs_total` | counter | `check`, `result` | runs by result: `healthy`, `degraded`, `unhealthy`, `timeout`, `panic` (and `unknown` once seen) |
/// | `health_check_duration_seconds` | histogram | `check` | run time, buckets [`DURATION_BUCKETS`] |
/// | `health_check_transitions_total` | counter | `check`, `from`, `to` | applied status transitions |
/// | `health_check_consecutive_failures` | gauge | `check` | failed runs in a row |
/// | `health_check_last_run_timestamp_seconds` | gauge | `check` | end of the last run, Unix time |
/// | `health_check_timeout_seconds` | gauge | `check` | the runner's timeout |
/// | `health_probe_status` | gauge | `probe` | 1 if `liveness`, `readiness`, `startup` passes now |
///
/// Runs, durations, consecutive failures, the last run and the timeout exist for checks
/// the runner runs; transitions for every check but heartbeats (judged when read, they
/// publish nothing); the last run once there was one. A registry built with
/// [`record_metrics(false)`](crate::RegistryBuilder::record_metrics) shows only the
/// statuses.
///
/// # Examples
///
/// ```
/// use health_core::{CheckSpec, PrometheusCollector, Registry};
/// use prometheus_client::encoding::text::encode;
///
/// let mut builder = Registry::builder();
/// let db = builder.push(CheckSpec::new("db").readiness())?;
/// let registry = builder.build();
/// db.healthy();
///
/// let mut metrics = prometheus_client::registry::Registry::default();
/// metrics.register_collector(Box::new(PrometheusCollector::new(&registry)));
/// let mut text = String::new();
/// encode(&mut text, &metrics)?;
/// assert!(text.contains(r#"health_check_status{check="db",state="healthy"} 1"#));
/// assert!(text.contains(r#"health_check_transitions_total{check="db",from="unknown",to="healthy"} 1"#));
/// assert!(text.contains(r#"health_probe_status{probe="readiness"} 1"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PrometheusCollector {
    registry: Registry,
    names: Names,
}

impl PrometheusCollector {
    /// Creates a collector for `registry`, its families prefixed `health_`.
    ///
    /// # Examples
    ///
    /// See [`PrometheusCollector`].
    #[must_use]
    pub fn new(registry: &Registry) -> PrometheusCollector {
        PrometheusCollector {
            registry: registry.clone(),
            names: Names::default_prefix(),
        }
    }

    /// Creates a collector for `registry` whose family names start with `prefix` instead
    /// of `health_` (`""` for none). A `prometheus_client` registry's own prefix, if any,
    /// still comes first.
    ///
    /// # Errors
    ///
    /// [`InvalidPrefix`] unless `prefix` is empty or ASCII letters, digits and `_` not
    /// starting with a digit.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{PrometheusCollector, Registry};
    ///
    /// let registry = Registry::builder().build();
    /// let collector = PrometheusCollector::with_prefix(&registry, "shop_health_")?;
    /// # let _ = collector;
    /// assert!(PrometheusCollector::with_prefix(&registry, "9lives_").is_err());
    /// # Ok::<(), health_core::InvalidPrefix>(())
    /// ```
    pub fn with_prefix(
        registry: &Registry,
        prefix: &str,
    ) -> Result<PrometheusCollector, InvalidPrefix> {
        Ok(PrometheusCollector {
            registry: registry.clone(),
            names: Names::new(prefix)?,
        })
    }

    fn encode_checks(&self, encoder: &mut DescriptorEncoder<'_>, rows: &[Row<'_>]) -> fmt::Result {
        let names = &self.names;
        let status = Desc::gauge(&names.check_status, HELP_CHECK_STATUS);
        family(encoder, &status, !rows.is_empty(), |family| {
            for row in rows {
                for state in Status::ALL {
                    let labels = [("check", row.name), ("state", state.as_str())];
                    family
                        .encode_family(&labels)?
                        .encode_gauge(&flag(row.status == state))?;
                }
            }
            Ok(())
        })?;
        let any_scheduled = scheduled(rows).next().is_some();
        let runs = Desc::counter(&names.check_runs, HELP_CHECK_RUNS);
        family(encoder, &runs, any_scheduled, |family| {
            for (check, metrics) in scheduled(rows) {
                for (result, count) in run_results(metrics) {
                    counter(
                        family,
                        &[("check", check), ("result", result.as_str())],
                        count,
                    )?;
                }
            }
            Ok(())
        })?;
        let duration = Desc {
            unit: Some(&Unit::Seconds),
            ..Desc::new(
                &names.check_duration,
                HELP_CHECK_DURATION,
                MetricType::Histogram,
            )
        };
        family(encoder, &duration, any_scheduled, |family| {
            for (check, metrics) in scheduled(rows) {
                histogram(family, check, metrics)?;
            }
            Ok(())
        })?;
        let counted = || {
            rows.iter()
                .filter_map(|row| Some((row.name, row.metrics.as_ref()?)))
        };
        let any_counted = counted().any(|(_, metrics)| transitions(metrics).next().is_some());
        let changes = Desc::counter(&names.check_transitions, HELP_CHECK_TRANSITIONS);
        family(encoder, &changes, any_counted, |family| {
            for (check, metrics) in counted() {
                for (from, to, count) in transitions(metrics) {
                    let labels = [
                        ("check", check),
                        ("from", from.as_str()),
                        ("to", to.as_str()),
                    ];
                    counter(family, &labels, count)?;
                }
            }
            Ok(())
        })?;
        self.encode_gauges(encoder, rows, any_scheduled)
    }

    /// The per-check gauges of scheduled checks.
    fn encode_gauges(
        &self,
        encoder: &mut DescriptorEncoder<'_>,
        rows: &[Row<'_>],
        any_scheduled: bool,
    ) -> fmt::Result {
        let names = &self.names;
        let consecutive = Desc::gauge(
            &names.check_consecutive_failures,
            HELP_CHECK_CONSECUTIVE_FAILURES,
        );
        family(encoder, &consecutive, any_scheduled, |family| {
            for (check, metrics) in scheduled(rows) {
                gauge(family, check, &metrics.consecutive_failures())?;
            }
            Ok(())
        })?;
        let last_runs =
            || scheduled(rows).filter_map(|(check, metrics)| Some((check, metrics.last_run()?)));
        let last_run = Desc::seconds(&names.check_last_run, HELP_CHECK_LAST_RUN);
        family(encoder, &last_run, last_runs().next().is_some(), |family| {
            for (check, last_run) in last_runs() {
                gauge(family, check, &unix_seconds(&self.registry, last_run))?;
            }
            Ok(())
        })?;
        let timeout = Desc::seconds(&names.check_timeout, HELP_CHECK_TIMEOUT);
        family(encoder, &timeout, any_scheduled, |family| {
            for (check, metrics) in scheduled(rows) {
                if let Some(timeout) = metrics.timeout() {
                    gauge(family, check, &timeout.as_secs_f64())?;
                }
            }
            Ok(())
        })
    }
}

impl Collector for PrometheusCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let rows = rows(&self.registry);
        self.encode_checks(&mut encoder, &rows)?;
        let aggregate = self.registry.aggregate();
        let probes = Desc::gauge(&self.names.probe_status, HELP_PROBE_STATUS);
        family(&mut encoder, &probes, true, |family| {
            for probe in Probe::ALL {
                family
                    .encode_family(&[("probe", probe.as_str())])?
                    .encode_gauge(&flag(aggregate.get(probe).is_passing()))?;
            }
            Ok(())
        })
    }
}

impl fmt::Debug for PrometheusCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusCollector")
            .field("checks", &self.registry.len())
            .field(
                "prefix",
                &self.names.probe_status.trim_end_matches("probe_status"),
            )
            .finish()
    }
}

/// A family's descriptor.
struct Desc<'a> {
    name: &'a str,
    help: &'static str,
    unit: Option<&'static Unit>,
    kind: MetricType,
}

impl<'a> Desc<'a> {
    fn new(name: &'a str, help: &'static str, kind: MetricType) -> Desc<'a> {
        Desc {
            name,
            help,
            unit: None,
            kind,
        }
    }

    fn gauge(name: &'a str, help: &'static str) -> Desc<'a> {
        Desc::new(name, help, MetricType::Gauge)
    }

    fn seconds(name: &'a str, help: &'static str) -> Desc<'a> {
        Desc {
            unit: Some(&Unit::Seconds),
            ..Desc::gauge(name, help)
        }
    }

    fn counter(name: &'a str, help: &'static str) -> Desc<'a> {
        Desc::new(name, help, MetricType::Counter)
    }
}

/// Encodes one family, its descriptor then the samples `samples` writes, if `present`: a
/// family with no series is left out, as `prometheus-client` leaves out an empty `Family`.
fn family(
    encoder: &mut DescriptorEncoder<'_>,
    desc: &Desc<'_>,
    present: bool,
    samples: impl FnOnce(&mut MetricEncoder<'_>) -> fmt::Result,
) -> fmt::Result {
    if !present {
        return Ok(());
    }
    let mut family = encoder.encode_descriptor(desc.name, desc.help, desc.unit, desc.kind)?;
    samples(&mut family)
}

fn counter(
    family: &mut MetricEncoder<'_>,
    labels: &impl EncodeLabelSet,
    value: u64,
) -> fmt::Result {
    family
        .encode_family(labels)?
        .encode_counter::<NoLabelSet, _, u64>(&value, None)
}

fn gauge(
    family: &mut MetricEncoder<'_>,
    check: &str,
    value: &impl EncodeGaugeValue,
) -> fmt::Result {
    family
        .encode_family(&[("check", check)])?
        .encode_gauge(value)
}

fn histogram(family: &mut MetricEncoder<'_>, check: &str, metrics: &CheckMetrics) -> fmt::Result {
    let mut buckets = [(0.0, 0); DURATION_BUCKETS.len() + 1];
    for ((bucket, bound), &count) in buckets
        .iter_mut()
        .zip(bucket_bounds())
        .zip(metrics.duration_buckets())
    {
        *bucket = (bound, count);
    }
    family
        .encode_family(&[("check", check)])?
        .encode_histogram::<NoLabelSet>(
            metrics.duration_sum().as_secs_f64(),
            metrics.duration_buckets().iter().sum(),
            &buckets,
            None,
        )
}

/// The scheduled checks, with their metrics.
fn scheduled<'a>(rows: &'a [Row<'a>]) -> impl Iterator<Item = (&'a str, &'a CheckMetrics)> {
    rows.iter()
        .filter_map(|row| Some((row.name, row.scheduled()?)))
}

/// `value` as a gauge of 1 or 0.
fn flag(value: bool) -> i64 {
    i64::from(value)
}
