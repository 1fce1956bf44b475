//! Statuses, probes and outcomes, and their atomic encodings.

use std::fmt;

/// The status of one check.
///
/// # Examples
///
/// ```
/// use health_core::Status;
///
/// assert_eq!(Status::default(), Status::Unknown);
/// assert_eq!(Status::Degraded.to_string(), "degraded");
/// assert!(Status::Healthy.is_passing() && !Status::Unhealthy.is_passing());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// No result yet.
    #[default]
    Unknown,
    /// The check passed.
    Healthy,
    /// The check passed with a concern; probes still pass but report `warn`.
    Degraded,
    /// The check failed.
    Unhealthy,
}

impl Status {
    /// Every status, in encoding order.
    pub const ALL: [Status; 4] = [
        Status::Unknown,
        Status::Healthy,
        Status::Degraded,
        Status::Unhealthy,
    ];

    /// Returns the lower-case name: `unknown`, `healthy`, `degraded` or `unhealthy`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::Status::Unhealthy.as_str(), "unhealthy");
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unhealthy => "unhealthy",
        }
    }

    /// Returns `true` for `Healthy` and `Degraded`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(health_core::Status::Degraded.is_passing());
    /// ```
    #[must_use]
    pub const fn is_passing(self) -> bool {
        matches!(self, Status::Healthy | Status::Degraded)
    }

    pub(crate) const fn to_bits(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_bits(bits: u8) -> Status {
        match bits {
            0 => Status::Unknown,
            1 => Status::Healthy,
            2 => Status::Degraded,
            3 => Status::Unhealthy,
            _ => panic!("invalid status encoding {bits:#x}: only 0..=3 are ever stored"),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of the three questions Kubernetes asks.
///
/// # Examples
///
/// ```
/// use health_core::Probe;
///
/// assert_eq!(Probe::Readiness.path(), "readyz");
/// assert_eq!(Probe::from_path("livez"), Some(Probe::Liveness));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Probe {
    /// "Is the process wedged?" Only internal checks belong here.
    Liveness,
    /// "Should traffic come here?" Dependency checks live here.
    Readiness,
    /// "Has initialisation finished?" Latched once it passes.
    Startup,
}

impl Probe {
    /// Every probe.
    pub const ALL: [Probe; 3] = [Probe::Liveness, Probe::Readiness, Probe::Startup];

    /// Returns the name of the probe: `liveness`, `readiness` or `startup`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::Probe::Startup.as_str(), "startup");
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Probe::Liveness => "liveness",
            Probe::Readiness => "readiness",
            Probe::Startup => "startup",
        }
    }

    /// Returns the Kubernetes endpoint name without the slash: `livez`, `readyz`, `startupz`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::Probe::Liveness.path(), "livez");
    /// ```
    #[must_use]
    pub const fn path(self) -> &'static str {
        match self {
            Probe::Liveness => "livez",
            Probe::Readiness => "readyz",
            Probe::Startup => "startupz",
        }
    }

    /// Returns the probe served at `livez`, `readyz` or `startupz`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::Probe::from_path("startupz"), Some(health_core::Probe::Startup));
    /// assert_eq!(health_core::Probe::from_path("healthz"), None);
    /// ```
    #[must_use]
    pub fn from_path(path: &str) -> Option<Probe> {
        Probe::ALL.into_iter().find(|probe| probe.path() == path)
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    pub(crate) const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer to one probe: the aggregate of its members.
///
/// `Warn` still passes (HTTP 200); only `Fail` fails the probe. The order is by severity,
/// so [`Ord::max`] combines outcomes.
///
/// # Examples
///
/// ```
/// use health_core::Outcome;
///
/// assert!(Outcome::Warn.is_passing());
/// assert_eq!(Outcome::Pass.max(Outcome::Fail), Outcome::Fail);
/// assert_eq!(Outcome::Warn.as_str(), "warn");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Every member passes.
    Pass,
    /// Passing, with a degraded member or a failing non-critical member.
    Warn,
    /// A critical member fails, or the probe's lifecycle gate is closed.
    Fail,
}

impl Outcome {
    /// Returns `true` for `Pass` and `Warn`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!health_core::Outcome::Fail.is_passing());
    /// ```
    #[must_use]
    pub const fn is_passing(self) -> bool {
        !matches!(self, Outcome::Fail)
    }

    /// Returns the IETF health+json name: `pass`, `warn` or `fail`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::Outcome::Fail.as_str(), "fail");
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
        }
    }

    /// Returns how a member with `status` counts towards `probe`.
    ///
    /// This is the one place the aggregation rules live: Unknown passes liveness (the
    /// startup probe guards it) and fails readiness and startup; a failing non-critical
    /// member only warns.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{Outcome, Probe, Status};
    ///
    /// assert_eq!(Outcome::of(Status::Unknown, true, Probe::Liveness), Outcome::Pass);
    /// assert_eq!(Outcome::of(Status::Unknown, true, Probe::Readiness), Outcome::Fail);
    /// assert_eq!(Outcome::of(Status::Unhealthy, false, Probe::Readiness), Outcome::Warn);
    /// ```
    #[must_use]
    pub const fn of(status: Status, critical: bool, probe: Probe) -> Outcome {
        let failing = match status {
            Status::Healthy => return Outcome::Pass,
            Status::Degraded => return Outcome::Warn,
            Status::Unhealthy => true,
            Status::Unknown => !matches!(probe, Probe::Liveness),
        };
        match (failing, critical) {
            (false, _) => Outcome::Pass,
            (true, true) => Outcome::Fail,
            (true, false) => Outcome::Warn,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::{Probe, Status};

    #[test]
    fn status_bits_round_trip() {
        for status in Status::ALL {
            assert_eq!(
                Status::from_bits(status.to_bits()),
                status,
                "every status must survive its atomic encoding"
            );
        }
    }

    #[test]
    #[should_panic(expected = "invalid status encoding")]
    fn status_bits_reject_garbage() {
        let _ = Status::from_bits(4);
    }

    #[test]
    fn probe_paths_round_trip() {
        for probe in Probe::ALL {
            assert_eq!(Probe::from_path(probe.path()), Some(probe));
        }
    }
}
