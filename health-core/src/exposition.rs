//! Metrics exposition: the families, their names and which series each check has, shared
//! by the `prometheus-client` collector and the `metrics` facade emitter.
//!
//! Both read the registry at scrape (or emission) time: the statuses as a probe judges
//! them now, and each check's counters (`registry/metrics.rs`). Nothing here runs on a
//! probe read or on a check run.

#[cfg(feature = "metrics")]
pub(crate) mod facade;
#[cfg(feature = "prometheus-client")]
pub(crate) mod prometheus;

use std::error::Error;
use std::fmt;
use std::time::{Duration, UNIX_EPOCH};

use crate::clock::Timestamp;
use crate::registry::{CheckMetrics, Registry, RunResult};
use crate::status::Status;

/// The default prefix of every family name.
pub(crate) const DEFAULT_PREFIX: &str = "health_";

/// A metric-name prefix that Prometheus would refuse, from `PrometheusCollector::with_prefix`
/// or `MetricsEmitter::with_prefix`.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "prometheus-client")] {
/// let registry = health_core::Registry::builder().build();
/// let err = health_core::PrometheusCollector::with_prefix(&registry, "my-app_").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "metric prefix \"my-app_\" is invalid: use ASCII letters, digits and '_', not starting with a digit",
/// );
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidPrefix {
    prefix: String,
}

impl fmt::Display for InvalidPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "metric prefix {:?} is invalid: use ASCII letters, digits and '_', not starting with a digit",
            self.prefix
        )
    }
}

impl Error for InvalidPrefix {}

/// The name of every family under one prefix, without the suffixes an encoder adds
/// (`_total` for counters in the OpenMetrics text, the unit).
#[derive(Clone, Debug)]
pub(crate) struct Names {
    pub(crate) check_status: String,
    pub(crate) check_runs: String,
    pub(crate) check_duration: String,
    pub(crate) check_transitions: String,
    pub(crate) check_consecutive_failures: String,
    pub(crate) check_last_run: String,
    pub(crate) check_timeout: String,
    pub(crate) probe_status: String,
}

impl Names {
    /// The names under `prefix`: empty, or a Prometheus name start. Colons, legal in
    /// names, are left to recording rules, as the Prometheus docs ask of exporters.
    pub(crate) fn new(prefix: &str) -> Result<Names, InvalidPrefix> {
        let mut chars = prefix.chars();
        let valid = chars
            .next()
            .is_none_or(|first| first.is_ascii_alphabetic() || first == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(InvalidPrefix {
                prefix: prefix.to_owned(),
            });
        }
        Ok(Names::unchecked(prefix))
    }

    /// The names under [`DEFAULT_PREFIX`].
    pub(crate) fn default_prefix() -> Names {
        Names::unchecked(DEFAULT_PREFIX)
    }

    fn unchecked(prefix: &str) -> Names {
        let name = |family: &str| format!("{prefix}{family}");
        Names {
            check_status: name("check_status"),
            check_runs: name("check_runs"),
            check_duration: name("check_duration"),
            check_transitions: name("check_transitions"),
            check_consecutive_failures: name("check_consecutive_failures"),
            check_last_run: name("check_last_run_timestamp"),
            check_timeout: name("check_timeout"),
            probe_status: name("probe_status"),
        }
    }
}

pub(crate) const HELP_CHECK_STATUS: &str = "Status of each check as the probes judge it now (staleness included): 1 for its state, 0 for the others.";
pub(crate) const HELP_CHECK_RUNS: &str = "Runs of each scheduled check, by result: healthy, degraded, unhealthy, timeout, panic (unknown once seen).";
pub(crate) const HELP_CHECK_DURATION: &str =
    "How long each run of a scheduled check took, timed-out runs included.";
pub(crate) const HELP_CHECK_TRANSITIONS: &str =
    "Status transitions applied to each check, by status before and after.";
pub(crate) const HELP_CHECK_CONSECUTIVE_FAILURES: &str = "Runs in a row of each scheduled check that failed (unhealthy, timeout or panic), up to the last run.";
pub(crate) const HELP_CHECK_LAST_RUN: &str =
    "When the last run of each scheduled check ended, in seconds since the Unix epoch.";
pub(crate) const HELP_CHECK_TIMEOUT: &str =
    "The runner's timeout for each scheduled check: compare the duration's p99 with it.";
pub(crate) const HELP_PROBE_STATUS: &str =
    "Whether each probe passes now (1, HTTP 200) or fails (0, HTTP 503).";

/// One check as an exporter sees it at one moment.
pub(crate) struct Row<'a> {
    /// The facade emitter built its keys from the names once.
    #[cfg_attr(not(feature = "prometheus-client"), allow(dead_code))]
    pub(crate) name: &'a str,
    pub(crate) status: Status,
    /// `None` if the registry records no metrics.
    pub(crate) metrics: Option<CheckMetrics>,
}

impl Row<'_> {
    /// The metrics of a check the runner runs.
    pub(crate) fn scheduled(&self) -> Option<&CheckMetrics> {
        self.metrics
            .as_ref()
            .filter(|metrics| metrics.timeout().is_some())
    }
}

/// Reads every check at `registry.now()`.
pub(crate) fn rows(registry: &Registry) -> Vec<Row<'_>> {
    let now = registry.now();
    registry
        .checks()
        .map(|check| Row {
            name: check.name(),
            status: check.status_at(now),
            metrics: check.metrics(),
        })
        .collect()
}

/// The run results a scheduled check shows: the five always, so that `rate()` sees each
/// series from zero, and `unknown` (a check that could not tell) once it happened.
pub(crate) fn run_results(metrics: &CheckMetrics) -> impl Iterator<Item = (RunResult, u64)> {
    RunResult::ALL
        .into_iter()
        .map(|result| (result, metrics.runs(result)))
        .filter(|&(result, count)| result != RunResult::Unknown || count > 0)
}

/// The transitions a check shows: the nine into a result (from any status to another of
/// healthy, degraded, unhealthy) always, and those into unknown once they happened.
pub(crate) fn transitions(metrics: &CheckMetrics) -> impl Iterator<Item = (Status, Status, u64)> {
    Status::ALL
        .into_iter()
        .flat_map(|from| Status::ALL.into_iter().map(move |to| (from, to)))
        .filter(|&(from, to)| from != to)
        .filter_map(|(from, to)| {
            let count = metrics.transitions(from, to)?;
            (to != Status::Unknown || count > 0).then_some((from, to, count))
        })
}

/// Seconds since the Unix epoch of `timestamp` on the registry's clock.
pub(crate) fn unix_seconds(registry: &Registry, timestamp: Timestamp) -> f64 {
    registry
        .clock()
        .to_system_time(timestamp)
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

/// The bucket bounds in seconds, then `+Inf`.
pub(crate) fn bucket_bounds() -> impl Iterator<Item = f64> {
    crate::registry::DURATION_BUCKETS
        .iter()
        .map(Duration::as_secs_f64)
        .chain([f64::INFINITY])
}

#[cfg(test)]
mod tests {
    use super::Names;

    #[test]
    fn prefixes_follow_the_prometheus_name_rules() {
        for good in ["", "health_", "_x", "myapp_health_", "A9_"] {
            assert!(Names::new(good).is_ok(), "{good:?} is a valid prefix");
        }
        for bad in ["9x_", "my-app_", "a:b_", "é_", "a b"] {
            assert!(Names::new(bad).is_err(), "{bad:?} must be refused");
        }
        assert_eq!(
            Names::new("svc_").unwrap().check_runs,
            "svc_check_runs",
            "the prefix goes before the family name as it is"
        );
    }
}
