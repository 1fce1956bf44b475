//! Heartbeats and start-up gates: checks judged at read time from one atomic each.

use std::time::Duration;

use std::fmt;

use crate::clock::{Clock, Timestamp};
use crate::registry::CheckHandle;
use crate::sync::{Arc, AtomicBool, AtomicU64, Mutex, Ordering};

/// A check that a loop keeps alive by calling [`beat`](Self::beat); it reads Unhealthy once
/// the loop has been silent longer than its `max_silence`, judged when a probe reads it.
///
/// Register it with [`RegistryBuilder::heartbeat`](crate::RegistryBuilder::heartbeat), with
/// the spec's `max_age` as the `max_silence`. A heartbeat that never beats counts from its
/// creation, so a worker that never started fails too. For queue lag, beat after each
/// processed item: the silence is then "now − last processed".
///
/// Make it with the clock of the registry it joins ([`Heartbeat::with_clock`]) when that
/// clock is not the system clock; the registry refuses a heartbeat on another clock
/// ([`RegistryError::ClockMismatch`](crate::RegistryError::ClockMismatch)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_core::{CheckSpec, Heartbeat, ManualClock, Outcome, Probe, RegistryBuilder};
///
/// let time = ManualClock::new();
/// let worker = Heartbeat::with_clock(&time.clock());
/// let mut builder = RegistryBuilder::with_clock(time.clock());
/// builder.heartbeat(CheckSpec::new("worker").liveness().max_age(Duration::from_secs(30)), &worker)?;
/// let registry = builder.build();
///
/// time.advance(Duration::from_secs(31));
/// assert_eq!(registry.probe(Probe::Liveness), Outcome::Fail);
/// worker.beat();
/// assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
/// # Ok::<(), health_core::RegistryError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Heartbeat {
    pub(crate) stamp: Arc<AtomicU64>,
    pub(crate) clock: Clock,
    /// How a stale reason names the silence, before its length: `no heartbeat for`.
    pub(crate) silence: &'static str,
}

impl Heartbeat {
    /// Creates a heartbeat on the system clock, counting silence from now.
    ///
    /// # Examples
    ///
    /// ```
    /// let worker = health_core::Heartbeat::new();
    /// worker.beat();
    /// ```
    #[must_use]
    pub fn new() -> Heartbeat {
        Heartbeat::with_clock(&Clock::system())
    }

    /// Creates a heartbeat on `clock`, counting silence from now.
    ///
    /// # Examples
    ///
    /// ```
    /// let time = health_core::ManualClock::new();
    /// let worker = health_core::Heartbeat::with_clock(&time.clock());
    /// assert_eq!(worker.last_beat(), health_core::Timestamp::ZERO);
    /// ```
    #[must_use]
    pub fn with_clock(clock: &Clock) -> Heartbeat {
        Heartbeat::worded(clock, "no heartbeat for")
    }

    /// Creates a heartbeat whose stale reason reads `{silence} 6.1s (max_silence 5s)`,
    /// for built-in checks that know what the silence means (a stalled runtime).
    pub(crate) fn worded(clock: &Clock, silence: &'static str) -> Heartbeat {
        Heartbeat {
            stamp: Arc::new(AtomicU64::new(clock.now().as_nanos())),
            clock: clock.clone(),
            silence,
        }
    }

    /// Records that the loop is alive: one clock read and one atomic store.
    ///
    /// # Examples
    ///
    /// ```
    /// let worker = health_core::Heartbeat::new();
    /// worker.beat();
    /// assert!(worker.silence() < std::time::Duration::from_secs(1));
    /// ```
    pub fn beat(&self) {
        self.beat_at(self.clock.now());
    }

    /// Records a beat at `at`, a time on the heartbeat's clock.
    pub(crate) fn beat_at(&self, at: Timestamp) {
        // Ordering: the stamp publishes no other memory; readers only compare it with
        // their `now`. A plain store (not `fetch_max`) keeps the hot path one cheap store;
        // two threads beating the same heartbeat can at worst store a stamp a few
        // nanoseconds older, which no `max_silence` notices.
        self.stamp.store(at.as_nanos(), Ordering::Relaxed);
    }

    /// Returns the time of the last beat (or of creation, if none).
    ///
    /// # Examples
    ///
    /// ```
    /// let worker = health_core::Heartbeat::new();
    /// assert!(worker.last_beat() <= health_core::Clock::system().now());
    /// ```
    #[must_use]
    pub fn last_beat(&self) -> Timestamp {
        // Ordering: see `beat`.
        Timestamp::from_nanos(self.stamp.load(Ordering::Relaxed))
    }

    /// Returns how long the loop has been silent: now − last beat.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let time = health_core::ManualClock::new();
    /// let worker = health_core::Heartbeat::with_clock(&time.clock());
    /// time.advance(Duration::from_secs(2));
    /// assert_eq!(worker.silence(), Duration::from_secs(2));
    /// ```
    #[must_use]
    pub fn silence(&self) -> Duration {
        self.clock.now().saturating_duration_since(self.last_beat())
    }
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat::new()
    }
}

/// A start-up step: Unknown (failing startup and readiness) until [`done`](Self::done) is
/// called, Healthy ever after.
///
/// Opening it is a write to every registry it joined
/// ([`RegistryBuilder::gate`](crate::RegistryBuilder::gate)): the probes' counts move, the
/// startup probe latches if that was its last step, and subscribers wake.
///
/// # Examples
///
/// ```
/// use health_core::{CheckSpec, Outcome, Probe, Registry, StartupGate};
///
/// let migrations = StartupGate::new();
/// let mut builder = Registry::builder();
/// builder.gate(CheckSpec::new("migrations").startup(), &migrations)?;
/// let registry = builder.build();
///
/// assert_eq!(registry.probe(Probe::Startup), Outcome::Fail);
/// migrations.done();
/// assert_eq!(registry.probe(Probe::Startup), Outcome::Pass);
/// # Ok::<(), health_core::RegistryError>(())
/// ```
#[derive(Clone)]
pub struct StartupGate {
    inner: Arc<GateInner>,
}

struct GateInner {
    done: AtomicBool,
    /// The checks to mark Healthy when the gate opens; emptied when it does.
    waiting: Mutex<Vec<CheckHandle>>,
}

impl StartupGate {
    /// Creates a closed gate.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!health_core::StartupGate::new().is_done());
    /// ```
    #[must_use]
    pub fn new() -> StartupGate {
        StartupGate {
            inner: Arc::new(GateInner {
                done: AtomicBool::new(false),
                waiting: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Opens the gate, for good.
    ///
    /// # Examples
    ///
    /// ```
    /// let gate = health_core::StartupGate::new();
    /// gate.done();
    /// assert!(gate.is_done());
    /// ```
    pub fn done(&self) {
        let waiting = {
            let mut waiting = self.waiting();
            // Ordering: Release pairs with the Acquire in `is_done`, so whatever start-up
            // work ran before `done()` is visible to a thread that sees the gate open.
            // (The lock orders it with `register`; `is_done` takes no lock.)
            self.inner.done.store(true, Ordering::Release);
            std::mem::take(&mut *waiting)
        };
        // Outside the lock: a publish runs tracing subscribers and wakers.
        for check in waiting {
            check.healthy();
        }
    }

    /// Marks `check` Healthy when the gate opens (at once if it is open already).
    pub(crate) fn register(&self, check: CheckHandle) {
        let mut waiting = self.waiting();
        // Ordering: Relaxed; `done` is read under the lock that `done()` stores it under.
        if self.inner.done.load(Ordering::Relaxed) {
            drop(waiting);
            check.healthy();
        } else {
            waiting.push(check);
        }
    }

    /// The waiting list. The lock is held only to push or take the list, with no user
    /// code inside, so it is never poisoned; if it were, the list is still whole.
    fn waiting(&self) -> crate::sync::MutexGuard<'_, Vec<CheckHandle>> {
        self.inner
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Returns `true` once [`done`](Self::done) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!health_core::StartupGate::new().is_done());
    /// ```
    #[must_use]
    pub fn is_done(&self) -> bool {
        // Ordering: see `done`.
        self.inner.done.load(Ordering::Acquire)
    }
}

impl fmt::Debug for StartupGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartupGate")
            .field("done", &self.is_done())
            .finish_non_exhaustive()
    }
}

impl Default for StartupGate {
    fn default() -> Self {
        StartupGate::new()
    }
}
