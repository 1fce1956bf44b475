//! The full result of one check run: what probes show to humans.

use std::borrow::Cow;
use std::time::Duration;

use crate::status::Status;

/// A check's full result: status plus the details that verbose and JSON output show.
///
/// Published through a [`CheckHandle`](crate::CheckHandle) and kept behind an `ArcSwap`,
/// so readers always see one whole report, never parts of two.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_core::{Report, Status};
///
/// let report = Report::new(Status::Degraded)
///     .with_reason("replication lag 4s")
///     .with_observed(4.0, "s")
///     .with_duration(Duration::from_millis(3));
/// assert_eq!(report.reason(), Some("replication lag 4s"));
/// assert_eq!(report.observed().map(|o| o.unit()), Some("s"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    status: Status,
    reason: Option<Cow<'static, str>>,
    observed: Option<Observed>,
    measurements: Vec<(Cow<'static, str>, Observed)>,
    duration: Option<Duration>,
    ending: Ending,
}

/// How the run behind a report ended, for the metrics' `result` label: a timeout and a
/// panic both publish Unhealthy, and an SRE must tell them from a plain failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The check returned this report.
    Returned,
    /// The run was cut at its deadline ([`Report::timed_out`]).
    TimedOut,
    /// The check panicked; the runner wrote the report.
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))]
    Panicked,
}

/// A measured value and its unit (`observedValue` / `observedUnit` in health+json).
///
/// # Examples
///
/// ```
/// let report = health_core::Report::new(health_core::Status::Healthy).with_observed(12.5, "ms");
/// let observed = report.observed().unwrap();
/// assert_eq!((observed.value(), observed.unit()), (12.5, "ms"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    value: f64,
    unit: Cow<'static, str>,
}

impl Observed {
    /// Returns the value.
    ///
    /// # Examples
    ///
    /// ```
    /// # let r = health_core::Report::new(health_core::Status::Healthy).with_observed(1.0, "s");
    /// assert_eq!(r.observed().unwrap().value(), 1.0);
    /// ```
    #[must_use]
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Returns the unit.
    ///
    /// # Examples
    ///
    /// ```
    /// # let r = health_core::Report::new(health_core::Status::Healthy).with_observed(1.0, "s");
    /// assert_eq!(r.observed().unwrap().unit(), "s");
    /// ```
    #[must_use]
    pub fn unit(&self) -> &str {
        &self.unit
    }
}

impl Report {
    /// Creates a report with `status` and no details.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = health_core::Report::new(health_core::Status::Healthy);
    /// assert_eq!(r.reason(), None);
    /// ```
    #[must_use]
    pub const fn new(status: Status) -> Report {
        Report {
            status,
            reason: None,
            observed: None,
            measurements: Vec::new(),
            duration: None,
            ending: Ending::Returned,
        }
    }

    /// Sets the human-readable reason.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = health_core::Report::new(health_core::Status::Unhealthy).with_reason("connection refused");
    /// assert_eq!(r.reason(), Some("connection refused"));
    /// ```
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<Cow<'static, str>>) -> Report {
        self.reason = Some(reason.into());
        self
    }

    /// Sets an observed value and its unit.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = health_core::Report::new(health_core::Status::Healthy).with_observed(3.0, "items");
    /// assert!(r.observed().is_some());
    /// ```
    #[must_use]
    pub fn with_observed(mut self, value: f64, unit: impl Into<Cow<'static, str>>) -> Report {
        self.observed = Some(Observed {
            value,
            unit: unit.into(),
        });
        self
    }

    /// Adds a named measurement beside the main observed value: a check that sees more
    /// than one number (a pool's size, idle and in-use connections) reports each under
    /// its own name. health+json shows it as its own entry, `"<check>:<name>"`, the
    /// draft's `componentName:measurementName`.
    ///
    /// Names are words like `pool_size`; the same name twice is shown twice.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{Report, Status};
    ///
    /// let report = Report::new(Status::Healthy)
    ///     .with_observed(1.5, "ms")
    ///     .with_measurement("pool_size", 4.0, "connections")
    ///     .with_measurement("pool_idle", 3.0, "connections");
    /// let names: Vec<&str> = report.measurements().map(|(name, _)| name).collect();
    /// assert_eq!(names, ["pool_size", "pool_idle"]);
    /// assert_eq!(report.observed().unwrap().unit(), "ms");
    /// ```
    #[must_use]
    pub fn with_measurement(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: f64,
        unit: impl Into<Cow<'static, str>>,
    ) -> Report {
        self.measurements.push((
            name.into(),
            Observed {
                value,
                unit: unit.into(),
            },
        ));
        self
    }

    /// Sets how long the check run took.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let r = health_core::Report::new(health_core::Status::Healthy).with_duration(Duration::from_millis(2));
    /// assert_eq!(r.duration(), Some(Duration::from_millis(2)));
    /// ```
    #[must_use]
    pub fn with_duration(mut self, duration: Duration) -> Report {
        self.duration = Some(duration);
        self
    }

    /// Returns the status.
    ///
    /// # Examples
    ///
    /// ```
    /// # use health_core::{Report, Status};
    /// assert_eq!(Report::new(Status::Degraded).status(), Status::Degraded);
    /// ```
    #[must_use]
    pub fn status(&self) -> Status {
        self.status
    }

    /// Returns the reason, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # use health_core::{Report, Status};
    /// assert_eq!(Report::new(Status::Healthy).reason(), None);
    /// ```
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Returns the observed value, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # use health_core::{Report, Status};
    /// assert!(Report::new(Status::Healthy).observed().is_none());
    /// ```
    #[must_use]
    pub fn observed(&self) -> Option<&Observed> {
        self.observed.as_ref()
    }

    /// Returns the named measurements, in the order they were added.
    ///
    /// # Examples
    ///
    /// ```
    /// # use health_core::{Report, Status};
    /// let report = Report::new(Status::Healthy).with_measurement("pool_in_use", 2.0, "connections");
    /// let (name, observed) = report.measurements().next().unwrap();
    /// assert_eq!((name, observed.value()), ("pool_in_use", 2.0));
    /// ```
    #[must_use]
    pub fn measurements(&self) -> impl ExactSizeIterator<Item = (&str, &Observed)> {
        self.measurements
            .iter()
            .map(|(name, observed)| (name.as_ref(), observed))
    }

    /// Returns the run's duration, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # use health_core::{Report, Status};
    /// assert_eq!(Report::new(Status::Healthy).duration(), None);
    /// ```
    #[must_use]
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }

    /// Marks how the run behind this report ended.
    pub(crate) fn ended(mut self, ending: Ending) -> Report {
        self.ending = ending;
        self
    }

    /// Returns how the run behind this report ended.
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))]
    pub(crate) fn ending(&self) -> Ending {
        self.ending
    }
}
