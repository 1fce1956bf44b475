//! Reading one check: its status at a moment, with its report, for verbose and JSON
//! output.

use std::fmt;
use std::time::Duration;

use crate::clock::{Timestamp, format_duration};
use crate::report::Report;
use crate::spec::{CheckKind, Probes};
use crate::status::{Outcome, Probe, Status};
use crate::sync::Arc;

use super::slot::{Slot, Source};

/// One check of a [`Registry`](crate::Registry), borrowed for reading.
///
/// # Examples
///
/// ```
/// use health_core::{CheckSpec, Registry, Status};
/// let mut builder = Registry::builder();
/// let db = builder.push(CheckSpec::new("db").readiness())?;
/// let registry = builder.build();
/// db.unhealthy("connection refused");
/// let check = registry.check("db").unwrap();
/// let snapshot = check.snapshot_at(registry.now());
/// assert_eq!(snapshot.status(), Status::Unhealthy);
/// assert_eq!(snapshot.reason(), Some("connection refused"));
/// # Ok::<(), health_core::RegistryError>(())
/// ```
#[derive(Clone, Copy)]
pub struct CheckView<'a> {
    pub(super) slot: &'a Slot,
}

impl<'a> CheckView<'a> {
    /// Returns the name.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// # b.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = b.build();
    /// assert_eq!(registry.check("db").unwrap().name(), "db");
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn name(&self) -> &'a str {
        &self.slot.name
    }

    /// Returns the probes the check belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// # b.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = b.build();
    /// assert!(registry.check("db").unwrap().probes().contains(health_core::Probe::Readiness));
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn probes(&self) -> Probes {
        self.slot.probes
    }

    /// Returns `true` if a failure fails the probe.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// # b.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = b.build();
    /// assert!(registry.check("db").unwrap().is_critical());
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn is_critical(&self) -> bool {
        self.slot.critical
    }

    /// Returns what the check watches.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// # b.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = b.build();
    /// assert_eq!(registry.check("db").unwrap().kind(), health_core::CheckKind::Internal);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn kind(&self) -> CheckKind {
        self.slot.kind
    }

    /// Returns the status at `now`, staleness and gates included.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// # b.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = b.build();
    /// let db = registry.check("db").unwrap();
    /// assert_eq!(db.status_at(registry.now()), health_core::Status::Unknown);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn status_at(&self, now: Timestamp) -> Status {
        self.slot.status_at(now).0
    }

    /// Returns how the check counts towards `probe` at `now`.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{Outcome, Probe};
    /// # let mut b = health_core::Registry::builder();
    /// # b.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = b.build();
    /// let db = registry.check("db").unwrap();
    /// assert_eq!(db.outcome_at(Probe::Readiness, registry.now()), Outcome::Fail);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn outcome_at(&self, probe: Probe, now: Timestamp) -> Outcome {
        Outcome::of(self.status_at(now), self.slot.critical, probe)
    }

    /// Returns the status with its report and timing, for verbose and JSON output.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// # let db = b.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = b.build();
    /// db.healthy();
    /// let snapshot = registry.check("db").unwrap().snapshot_at(registry.now());
    /// assert_eq!(snapshot.status(), health_core::Status::Healthy);
    /// assert!(snapshot.age().is_some());
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn snapshot_at(&self, now: Timestamp) -> CheckSnapshot {
        let (status, stamp, stale) = self.slot.status_at(now);
        // The status was read first: the report is at least as new (module docs).
        let report = self.slot.report.load_full();
        let has_result =
            !matches!(self.slot.source, Source::Pushed) || report.status() != Status::Unknown;
        let stale_reason = stale.map(|age| {
            let limit = Duration::from_nanos(self.slot.max_age.unwrap_or(0));
            match self.slot.source {
                Source::Heartbeat(silence) => format!(
                    "{silence} {} (max_silence {})",
                    format_duration(age),
                    format_duration(limit)
                ),
                _ if has_result => format!(
                    "stale: last result {} ago (max_age {})",
                    format_duration(age),
                    format_duration(limit)
                ),
                _ => format!(
                    "stale: no result in {} (max_age {})",
                    format_duration(age),
                    format_duration(limit)
                ),
            }
        });
        let gate_reason = matches!(&self.slot.source, Source::Gate)
            .then_some(status == Status::Unknown)
            .filter(|&closed| closed)
            .map(|_| "not done yet".to_owned());
        CheckSnapshot {
            status,
            report,
            override_reason: stale_reason.or(gate_reason),
            updated: has_result.then_some(stamp),
            age: has_result.then(|| now.saturating_duration_since(stamp)),
        }
    }
}

impl fmt::Debug for CheckView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckView")
            .field("name", &self.slot.name)
            .field("probes", &self.slot.probes)
            .field("critical", &self.slot.critical)
            .finish_non_exhaustive()
    }
}

/// One check's state at one moment, owned: status, reason, report details and age.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_core::{CheckSpec, ManualClock, RegistryBuilder, Status};
///
/// let time = ManualClock::new();
/// let mut builder = RegistryBuilder::with_clock(time.clock());
/// let db = builder.push(CheckSpec::new("db").readiness().max_age(Duration::from_secs(30)))?;
/// let registry = builder.build();
/// db.healthy();
/// time.advance(Duration::from_secs(31));
/// let snapshot = registry.check("db").unwrap().snapshot_at(registry.now());
/// assert_eq!(snapshot.status(), Status::Unhealthy);
/// assert_eq!(snapshot.reason(), Some("stale: last result 31s ago (max_age 30s)"));
/// # Ok::<(), health_core::RegistryError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CheckSnapshot {
    status: Status,
    report: Arc<Report>,
    override_reason: Option<String>,
    updated: Option<Timestamp>,
    age: Option<Duration>,
}

impl CheckSnapshot {
    /// Returns the status, staleness included.
    ///
    /// # Examples
    ///
    /// See [`CheckSnapshot`].
    #[must_use]
    pub fn status(&self) -> Status {
        self.status
    }

    /// Returns why the check is not healthy: the staleness or gate reason, else the
    /// report's.
    ///
    /// # Examples
    ///
    /// See [`CheckSnapshot`].
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        self.override_reason
            .as_deref()
            .or_else(|| self.report.reason())
    }

    /// Returns the last published report (observed value, duration).
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// # let db = b.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = b.build();
    /// db.publish(health_core::Report::new(health_core::Status::Healthy).with_observed(4.0, "ms"));
    /// let snapshot = registry.check("db").unwrap().snapshot_at(registry.now());
    /// assert_eq!(snapshot.report().observed().unwrap().value(), 4.0);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Returns when the last result (or beat) was recorded, if any.
    ///
    /// # Examples
    ///
    /// See [`CheckSnapshot`].
    #[must_use]
    pub fn updated(&self) -> Option<Timestamp> {
        self.updated
    }

    /// Returns the age of the last result, if any.
    ///
    /// # Examples
    ///
    /// See [`CheckSnapshot`].
    #[must_use]
    pub fn age(&self) -> Option<Duration> {
        self.age
    }
}
