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
    duration: Option<Duration>,
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
            duration: None,
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
}
