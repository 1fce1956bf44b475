//! Check descriptors and name validation.

use std::fmt;
use std::time::Duration;

use crate::clock::format_duration;
use crate::status::Probe;

pub use health_rules::MAX_NAME_LEN;

/// What a check watches; the restart-storm guard uses it.
///
/// # Examples
///
/// ```
/// use health_core::{CheckKind, CheckSpec};
/// let spec = CheckSpec::new("db").readiness().kind(CheckKind::Dependency);
/// assert_eq!(spec.check_kind(), CheckKind::Dependency);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CheckKind {
    /// Something inside the process: a loop, a queue, a start-up step.
    #[default]
    Internal,
    /// An external system: a database, a queue broker, a downstream service. Belongs on
    /// readiness, never on liveness (an outage would restart every pod at once).
    Dependency,
}

impl CheckKind {
    /// Returns the health+json `componentType`: `component` or `datastore`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::CheckKind::Dependency.component_type(), "datastore");
    /// ```
    #[must_use]
    pub const fn component_type(self) -> &'static str {
        match self {
            CheckKind::Internal => "component",
            CheckKind::Dependency => "datastore",
        }
    }
}

/// A set of probes, as a bit set.
///
/// # Examples
///
/// ```
/// use health_core::{Probe, Probes};
/// let probes = Probes::EMPTY.with(Probe::Readiness).with(Probe::Startup);
/// assert!(probes.contains(Probe::Startup) && !probes.contains(Probe::Liveness));
/// assert_eq!(probes.iter().count(), 2);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Probes(u8);

impl Probes {
    /// No probe.
    pub const EMPTY: Probes = Probes(0);

    /// Returns this set plus `probe`.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{Probe, Probes};
    /// assert!(Probes::EMPTY.with(Probe::Liveness).contains(Probe::Liveness));
    /// ```
    #[must_use]
    pub const fn with(self, probe: Probe) -> Probes {
        Probes(self.0 | probe.bit())
    }

    /// Returns `true` if `probe` is in the set.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{Probe, Probes};
    /// assert!(!Probes::EMPTY.contains(Probe::Readiness));
    /// ```
    #[must_use]
    pub const fn contains(self, probe: Probe) -> bool {
        self.0 & probe.bit() != 0
    }

    /// Returns `true` if the set has no probe.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(health_core::Probes::EMPTY.is_empty());
    /// ```
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Iterates over the probes in the set, in [`Probe::ALL`] order.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{Probe, Probes};
    /// let all: Vec<_> = Probes::EMPTY.with(Probe::Startup).iter().collect();
    /// assert_eq!(all, [Probe::Startup]);
    /// ```
    pub fn iter(self) -> impl Iterator<Item = Probe> {
        Probe::ALL
            .into_iter()
            .filter(move |&probe| self.contains(probe))
    }
}

impl fmt::Debug for Probes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Describes one check: its name, the probes it belongs to, whether it is critical, and how
/// old its last result may be.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_core::{CheckSpec, Probe};
///
/// let spec = CheckSpec::new("cache").readiness().critical(false).max_age(Duration::from_secs(30));
/// assert!(spec.probes().contains(Probe::Readiness));
/// assert!(!spec.is_critical());
/// ```
#[derive(Clone, Debug)]
pub struct CheckSpec {
    pub(crate) name: String,
    pub(crate) probes: Probes,
    pub(crate) critical: bool,
    pub(crate) max_age: Option<Duration>,
    pub(crate) kind: CheckKind,
}

impl CheckSpec {
    /// Creates a critical check named `name` that belongs to no probe yet. The name is
    /// validated when the spec is registered.
    ///
    /// # Examples
    ///
    /// ```
    /// let spec = health_core::CheckSpec::new("db");
    /// assert_eq!(spec.name(), "db");
    /// ```
    #[must_use]
    pub fn new(name: impl Into<String>) -> CheckSpec {
        CheckSpec {
            name: name.into(),
            probes: Probes::EMPTY,
            critical: true,
            max_age: None,
            kind: CheckKind::Internal,
        }
    }

    /// Adds the check to the liveness probe.
    ///
    /// # Examples
    ///
    /// ```
    /// # use health_core::{CheckSpec, Probe};
    /// assert!(CheckSpec::new("loop").liveness().probes().contains(Probe::Liveness));
    /// ```
    #[must_use]
    pub fn liveness(self) -> CheckSpec {
        self.probe(Probe::Liveness)
    }

    /// Adds the check to the readiness probe.
    ///
    /// # Examples
    ///
    /// ```
    /// # use health_core::{CheckSpec, Probe};
    /// assert!(CheckSpec::new("db").readiness().probes().contains(Probe::Readiness));
    /// ```
    #[must_use]
    pub fn readiness(self) -> CheckSpec {
        self.probe(Probe::Readiness)
    }

    /// Adds the check to the startup probe.
    ///
    /// # Examples
    ///
    /// ```
    /// # use health_core::{CheckSpec, Probe};
    /// assert!(CheckSpec::new("warmup").startup().probes().contains(Probe::Startup));
    /// ```
    #[must_use]
    pub fn startup(self) -> CheckSpec {
        self.probe(Probe::Startup)
    }

    /// Adds the check to `probe`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use health_core::{CheckSpec, Probe};
    /// assert!(CheckSpec::new("db").probe(Probe::Readiness).probes().contains(Probe::Readiness));
    /// ```
    #[must_use]
    pub fn probe(mut self, probe: Probe) -> CheckSpec {
        self.probes = self.probes.with(probe);
        self
    }

    /// Sets whether a failure fails the probe (`true`, the default) or only warns.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!health_core::CheckSpec::new("cache").critical(false).is_critical());
    /// ```
    #[must_use]
    pub fn critical(mut self, critical: bool) -> CheckSpec {
        self.critical = critical;
        self
    }

    /// Sets the oldest a result may be before it reads as Unhealthy ("stale: …"). For a
    /// heartbeat this is its `max_silence`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let spec = health_core::CheckSpec::new("db").max_age(Duration::from_secs(15));
    /// assert_eq!(spec.max_age_limit(), Some(Duration::from_secs(15)));
    /// ```
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> CheckSpec {
        self.max_age = Some(max_age);
        self
    }

    /// Sets what the check watches (see [`CheckKind`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use health_core::{CheckKind, CheckSpec};
    /// assert_eq!(CheckSpec::new("db").kind(CheckKind::Dependency).check_kind(), CheckKind::Dependency);
    /// ```
    #[must_use]
    pub fn kind(mut self, kind: CheckKind) -> CheckSpec {
        self.kind = kind;
        self
    }

    /// Returns the name.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::CheckSpec::new("db").name(), "db");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the probes the check belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(health_core::CheckSpec::new("db").probes().is_empty());
    /// ```
    #[must_use]
    pub fn probes(&self) -> Probes {
        self.probes
    }

    /// Returns `true` if a failure fails the probe.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(health_core::CheckSpec::new("db").is_critical());
    /// ```
    #[must_use]
    pub fn is_critical(&self) -> bool {
        self.critical
    }

    /// Returns the maximum result age, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::CheckSpec::new("db").max_age_limit(), None);
    /// ```
    #[must_use]
    pub fn max_age_limit(&self) -> Option<std::time::Duration> {
        self.max_age
    }

    /// Returns what the check watches.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::CheckSpec::new("db").check_kind(), health_core::CheckKind::Internal);
    /// ```
    #[must_use]
    pub fn check_kind(&self) -> CheckKind {
        self.kind
    }
}

/// Why a registry refused a check.
///
/// # Examples
///
/// ```
/// use health_core::{CheckSpec, Registry, RegistryError};
///
/// let mut builder = Registry::builder();
/// let err = builder.push(CheckSpec::new("Bad Name").readiness()).unwrap_err();
/// assert!(matches!(err, RegistryError::InvalidName { .. }));
/// assert!(err.to_string().contains("\"Bad Name\""));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryError {
    /// The name breaks a rule of [`validate_name`]: empty, too long, a character outside
    /// `[a-z0-9_.-]`, an empty segment, or reserved.
    InvalidName {
        /// The refused name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Another check already has this name.
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// The check belongs to no probe, so no probe would ever read it.
    NoProbe {
        /// The check's name.
        name: String,
    },
    /// A heartbeat needs a `max_age` (its `max_silence`).
    MissingMaxSilence {
        /// The heartbeat's name.
        name: String,
    },
    /// A zero `max_age` would make every result stale at once.
    ZeroMaxAge {
        /// The check's name.
        name: String,
    },
    /// A start-up gate has a `max_age`: a gate never goes stale.
    MaxAgeOnGate {
        /// The gate's name.
        name: String,
        /// The refused `max_age`.
        max_age: Duration,
    },
    /// A heartbeat reads another [`Clock`](crate::Clock) than its registry, so its
    /// silence would be measured against the wrong time.
    ClockMismatch {
        /// The heartbeat's name.
        name: String,
    },
    /// A schedule setting is zero where a run needs more: `interval`, `timeout` or
    /// `failing_interval` above zero, `failure_threshold` or `success_threshold` at least 1.
    ZeroSetting {
        /// The check's name.
        name: String,
        /// The setting, as the `Schedule` method that sets it.
        setting: &'static str,
    },
    /// A duration is longer than the registry's clock can count (2^64 nanoseconds, about
    /// 584 years): `Duration::MAX`, say.
    DurationOutOfRange {
        /// The check's name.
        name: String,
        /// The setting: `max_age` or a `Schedule` method.
        setting: &'static str,
        /// The refused duration.
        value: Duration,
    },
    /// One schedule duration must stay below another: the timeout below the interval
    /// and the failing interval (a run may not outlast its period), the jitter and the
    /// failing interval below the interval.
    DurationNotBelow {
        /// The check's name.
        name: String,
        /// The setting that is too long.
        setting: &'static str,
        /// Its value.
        value: Duration,
        /// The setting it must stay below.
        limit: &'static str,
        /// That setting's value.
        limit_value: Duration,
    },
    /// A scheduled check's `max_age` is shorter than the longest gap a live runner may
    /// leave between two results, so the check would read stale while healthy.
    MaxAgeTooShort {
        /// The check's name.
        name: String,
        /// The refused `max_age`.
        max_age: Duration,
        /// The shortest `max_age` the schedule allows: `max(interval, initial_delay) +
        /// jitter + timeout`.
        needed: Duration,
    },
    /// The registry already holds the most checks a probe's counts can hold.
    TooManyChecks {
        /// The refused check's name.
        name: String,
        /// The most checks a registry holds.
        limit: usize,
    },
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::InvalidName { name, reason } => {
                write!(f, "invalid check name {name:?}: {reason}")
            }
            RegistryError::DuplicateName { name } => {
                write!(f, "duplicate check name {name:?}")
            }
            RegistryError::NoProbe { name } => write!(
                f,
                "check {name:?} belongs to no probe: add liveness, readiness or startup"
            ),
            RegistryError::MissingMaxSilence { name } => {
                write!(f, "heartbeat {name:?} needs a max_age (its max_silence)")
            }
            RegistryError::ZeroMaxAge { name } => {
                write!(f, "check {name:?} has a zero max_age")
            }
            RegistryError::MaxAgeOnGate { name, max_age } => write!(
                f,
                "startup gate {name:?} never goes stale: remove its max_age ({})",
                format_duration(*max_age)
            ),
            RegistryError::ClockMismatch { name } => write!(
                f,
                "heartbeat {name:?} reads another clock than its registry: make it with Heartbeat::with_clock and the registry's clock"
            ),
            RegistryError::ZeroSetting { name, setting } => {
                let rule = if setting.ends_with("threshold") {
                    "be at least 1"
                } else {
                    "be above zero"
                };
                write!(f, "check {name:?}: {setting} must {rule}")
            }
            RegistryError::DurationOutOfRange {
                name,
                setting,
                value,
            } => write!(
                f,
                "check {name:?}: {setting} {value:?} is longer than the clock can count (584 years)"
            ),
            RegistryError::DurationNotBelow {
                name,
                setting,
                value,
                limit,
                limit_value,
            } => write!(
                f,
                "check {name:?}: {setting} {} must be below its {limit} {}",
                format_duration(*value),
                format_duration(*limit_value)
            ),
            RegistryError::MaxAgeTooShort {
                name,
                max_age,
                needed,
            } => write!(
                f,
                "check {name:?}: max_age {} is shorter than the {} a live runner may leave between two results (max(interval, initial_delay) + jitter + timeout): it would read stale while healthy",
                format_duration(*max_age),
                format_duration(*needed)
            ),
            RegistryError::TooManyChecks { name, limit } => {
                write!(
                    f,
                    "check {name:?} is one too many: a registry holds at most {limit} checks"
                )
            }
        }
    }
}

impl std::error::Error for RegistryError {}

/// Checks a name against the rules: 1 to [`MAX_NAME_LEN`] bytes of `[a-z0-9_.-]`, in
/// `.`-separated segments none of which is empty (no leading, trailing or doubled `.`),
/// and neither `startup` nor `shutdown`, which readiness' verbose and JSON output use for
/// its lifecycle lines.
///
/// The rules are `health-rules`', which `#[derive(HealthCheck)]` applies at compile time.
///
/// # Errors
///
/// [`RegistryError::InvalidName`] naming the name and the broken rule.
///
/// # Examples
///
/// ```
/// assert!(health_core::validate_name("queue.orders-v2").is_ok());
/// assert!(health_core::validate_name("").is_err());
/// assert!(health_core::validate_name("DB").is_err());
/// assert!(health_core::validate_name("queue..orders").is_err());
/// assert!(health_core::validate_name("shutdown").is_err());
/// ```
pub fn validate_name(name: &str) -> Result<(), RegistryError> {
    match health_rules::name_problem(name) {
        None => Ok(()),
        Some(reason) => Err(RegistryError::InvalidName {
            name: name.to_owned(),
            reason,
        }),
    }
}

/// Refuses a `setting` of check `name` longer than the clock counts, so no sum or
/// deadline built from it can overflow into a panic or wrap around.
pub(crate) fn check_range(
    name: &str,
    setting: &'static str,
    value: Duration,
) -> Result<(), RegistryError> {
    if value <= health_rules::MAX_DURATION {
        return Ok(());
    }
    Err(RegistryError::DurationOutOfRange {
        name: name.to_owned(),
        setting,
        value,
    })
}
