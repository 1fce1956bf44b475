//! Time: a monotonic clock that tests can drive.

use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::sync::{Arc, AtomicU64, Ordering};

/// A point on a [`Clock`]'s monotonic timeline, in nanoseconds since the clock's epoch.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_core::Timestamp;
///
/// let t = Timestamp::from_nanos(5_000_000_000);
/// assert_eq!(t.saturating_duration_since(Timestamp::from_nanos(2_000_000_000)), Duration::from_secs(3));
/// assert_eq!(Timestamp::ZERO.saturating_duration_since(t), Duration::ZERO);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The clock's epoch.
    pub const ZERO: Timestamp = Timestamp(0);

    /// Creates a timestamp `nanos` nanoseconds after the epoch.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::Timestamp::from_nanos(7).as_nanos(), 7);
    /// ```
    #[must_use]
    pub const fn from_nanos(nanos: u64) -> Timestamp {
        Timestamp(nanos)
    }

    /// Returns the nanoseconds since the epoch.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::Timestamp::ZERO.as_nanos(), 0);
    /// ```
    #[must_use]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Returns the time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::Timestamp;
    /// assert_eq!(Timestamp::from_nanos(10).saturating_duration_since(Timestamp::from_nanos(4)).as_nanos(), 6);
    /// ```
    #[must_use]
    pub const fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// Returns `self + duration`, saturating at the end of time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use health_core::Timestamp;
    /// assert_eq!(Timestamp::ZERO.saturating_add(Duration::from_nanos(3)), Timestamp::from_nanos(3));
    /// ```
    #[must_use]
    pub fn saturating_add(self, duration: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(duration_nanos(duration)))
    }
}

/// Converts to nanoseconds, saturating: 2^64 ns is 584 years, so no real duration saturates.
pub(crate) fn duration_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The source of time for a registry and its heartbeats.
///
/// [`Clock::system`] is the process's monotonic clock (with feature `runtime`, tokio's,
/// so a runtime with paused time drives it). [`ManualClock`] is virtual time for tests:
/// it moves only when told to.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_core::{Clock, ManualClock};
///
/// let manual = ManualClock::new();
/// let clock: Clock = manual.clock();
/// let t0 = clock.now();
/// manual.advance(Duration::from_secs(2));
/// assert_eq!(clock.now().saturating_duration_since(t0), Duration::from_secs(2));
/// ```
#[derive(Clone, Default)]
pub struct Clock(ClockSource);

#[derive(Clone, Default)]
enum ClockSource {
    #[default]
    System,
    Manual(Arc<ManualState>),
}

struct ManualState {
    nanos: AtomicU64,
    wall_epoch: SystemTime,
}

impl Clock {
    /// Returns the process's monotonic clock.
    ///
    /// # Examples
    ///
    /// ```
    /// let clock = health_core::Clock::system();
    /// assert!(clock.now() <= clock.now());
    /// ```
    #[must_use]
    pub fn system() -> Clock {
        Clock(ClockSource::System)
    }

    /// Returns the current time on this clock.
    ///
    /// # Examples
    ///
    /// ```
    /// let now = health_core::Clock::system().now();
    /// # let _ = now;
    /// ```
    #[must_use]
    pub fn now(&self) -> Timestamp {
        match &self.0 {
            ClockSource::System => system::now(),
            // Ordering: the counter publishes no other memory; a test that advances the
            // clock and then signals another thread orders the two with that signal.
            ClockSource::Manual(state) => Timestamp(state.nanos.load(Ordering::Relaxed)),
        }
    }

    /// Returns `true` if both read the same timeline: both the system clock, or the same
    /// [`ManualClock`].
    pub(crate) fn same_as(&self, other: &Clock) -> bool {
        match (&self.0, &other.0) {
            (ClockSource::System, ClockSource::System) => true,
            (ClockSource::Manual(a), ClockSource::Manual(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Returns the wall-clock time of `timestamp`, for reports (`time` in health+json).
    ///
    /// # Examples
    ///
    /// ```
    /// let clock = health_core::Clock::system();
    /// let wall = clock.to_system_time(clock.now());
    /// assert!(wall > std::time::UNIX_EPOCH);
    /// ```
    #[must_use]
    pub fn to_system_time(&self, timestamp: Timestamp) -> SystemTime {
        let epoch = match &self.0 {
            ClockSource::System => system::wall_epoch(),
            ClockSource::Manual(state) => state.wall_epoch,
        };
        epoch + Duration::from_nanos(timestamp.0)
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            ClockSource::System => f.write_str("Clock::System"),
            ClockSource::Manual(_) => write!(f, "Clock::Manual({:?})", self.now()),
        }
    }
}

/// Virtual time for tests: a clock that moves only when [`advance`](Self::advance)d.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let manual = health_core::ManualClock::new();
/// manual.advance(Duration::from_millis(1500));
/// assert_eq!(manual.clock().now().as_nanos(), 1_500_000_000);
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock(Clock);

impl ManualClock {
    /// Creates a clock at [`Timestamp::ZERO`]; its wall-clock epoch is the current time.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::ManualClock::new().clock().now(), health_core::Timestamp::ZERO);
    /// ```
    #[must_use]
    pub fn new() -> ManualClock {
        ManualClock(Clock(ClockSource::Manual(Arc::new(ManualState {
            nanos: AtomicU64::new(0),
            wall_epoch: SystemTime::now(),
        }))))
    }

    /// Returns the [`Clock`] that reads this virtual time.
    ///
    /// # Examples
    ///
    /// ```
    /// let manual = health_core::ManualClock::new();
    /// let registry = health_core::RegistryBuilder::with_clock(manual.clock()).build();
    /// # let _ = registry;
    /// ```
    #[must_use]
    pub fn clock(&self) -> Clock {
        self.0.clone()
    }

    /// Moves the clock forward by `duration`.
    ///
    /// # Examples
    ///
    /// ```
    /// let manual = health_core::ManualClock::new();
    /// manual.advance(std::time::Duration::from_nanos(3));
    /// assert_eq!(manual.clock().now().as_nanos(), 3);
    /// ```
    pub fn advance(&self, duration: Duration) {
        if let ClockSource::Manual(state) = &(self.0).0 {
            // Saturating, not `fetch_add`: advancing past the end of time (two
            // `Duration::MAX`, say) must stop there, not wrap round to the past.
            // Ordering: see `Clock::now`.
            let _ = state
                .nanos
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |nanos| {
                    Some(nanos.saturating_add(duration_nanos(duration)))
                });
        }
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

/// The process-wide monotonic timeline behind [`Clock::system`].
///
/// One epoch for the whole process, so timestamps taken by a `Heartbeat` made before its
/// registry compare with the registry's own.
mod system {
    use std::time::{Duration, Instant};

    use super::{OnceLock, SystemTime, Timestamp, duration_nanos};

    /// How far before its first use the epoch is set. Tokio's paused clock starts at the
    /// real time the runtime was created, which can be *before* the first read of this
    /// clock; an epoch at first use would then saturate that runtime's readings to zero
    /// until its virtual time caught up (and a paused runtime far ahead of real time
    /// would freeze every other runtime's readings the same way). A day covers any
    /// process that reads its clock within a day of starting a runtime.
    const BACKDATE: Duration = Duration::from_hours(24);

    fn epoch() -> &'static (Instant, SystemTime) {
        static EPOCH: OnceLock<(Instant, SystemTime)> = OnceLock::new();
        EPOCH.get_or_init(|| {
            let (instant, wall) = (Instant::now(), SystemTime::now());
            match (instant.checked_sub(BACKDATE), wall.checked_sub(BACKDATE)) {
                (Some(instant), Some(wall)) => (instant, wall),
                _ => (instant, wall),
            }
        })
    }

    /// The current instant: tokio's with feature `runtime`, so paused time drives it.
    fn instant_now() -> Instant {
        #[cfg(feature = "runtime")]
        return tokio::time::Instant::now().into_std();
        #[cfg(not(feature = "runtime"))]
        return Instant::now();
    }

    pub(super) fn now() -> Timestamp {
        Timestamp(duration_nanos(
            instant_now().saturating_duration_since(epoch().0),
        ))
    }

    pub(super) fn wall_epoch() -> SystemTime {
        epoch().1
    }
}

/// Formats a duration for reasons (`31s`, `1.5s`, `500ms`), as `health-rules` does for
/// the derive's messages.
pub(crate) use health_rules::format_duration;
