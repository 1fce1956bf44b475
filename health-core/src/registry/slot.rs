//! One slot per check and the lock-free protocol that keeps the per-probe counters in
//! step with the slots: the publish, drain and read steps, with their orderings.
//!
//! # Memory ordering
//!
//! Each probe has one packed counter word (failing and warning members, see
//! `status::counters`); a probe read is one `Acquire` load of it, plus one load per
//! *timed* member (heartbeats, gates, checks with a `max_age`) against a single clock
//! read. The word is only ever changed by a slot's *owner*, and a slot has at most one
//! owner at a time, so each check's contribution to the counters moves through exactly
//! the statuses it had, in order, and the counts never go negative or borrow across
//! halves.
//!
//! A slot's `state` byte holds the status last applied to the counters and two flags,
//! `BUSY` (a writer owns the slot) and `DIRTY` (a report arrived that the owner may not
//! have seen). A write is:
//!
//! 1. raise the stamp (`fetch_max`, `Relaxed`);
//! 2. store the new report in the slot's `ArcSwap`;
//! 3. `fetch_or(BUSY | DIRTY)` with `AcqRel`. If `BUSY` was already set, the owner will
//!    see the report, and the writer returns: nobody waits for anybody.
//!    Otherwise the writer is now the owner and *drains*: clear `DIRTY` (`AcqRel`, which
//!    acquires every writer's step 3 and so its report), load the newest report, move
//!    the counters from the applied status to the report's status with one `fetch_add`
//!    per probe (`Release`), then give up ownership with a compare-exchange that only
//!    succeeds if `DIRTY` is still clear; if a report arrived meanwhile it drains again.
//!
//! So the happens-before chain writer → owner → reader is: report store, then `Release`
//! RMW on `state`; owner's `Acquire` on `state`, report load, `Release` add on the counter
//! word; reader's `Acquire` load of the counter word, then its report load. A reader that
//! sees a check's new class therefore sees a report (and stamp) at least that new.
//!
//! # Consistency
//!
//! A reader sees, per probe, the counts of some set of statuses each check really had
//! (its applied status, which moves along that check's own history), never a mix the
//! writes could not produce. When no write is in flight, the counters equal the fold of
//! the slots' statuses; when two writers race on one check, the later report wins.
//! Writes to one check that land while its owner drains are coalesced: the owner applies
//! the newest, and the tracing event names that transition only.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::clock::{Timestamp, duration_nanos};
use crate::report::Report;
use crate::spec::{CheckKind, Probes};
use crate::status::{Outcome, Probe, Status, counters};
use crate::sync::{Arc, ArcSwap, AtomicBool, AtomicU8, AtomicU64, Ordering};

use super::Shared;

const STATUS_MASK: u8 = 0b0011;
const BUSY: u8 = 0b0100;
const DIRTY: u8 = 0b1000;

/// How a slot's status is decided.
pub(super) enum Source {
    /// By published reports.
    Pushed,
    /// By the stamp's age (the stamp is the heartbeat's); its reason starts with the
    /// heartbeat's wording of the silence.
    Heartbeat(&'static str),
    /// By a start-up gate's flag.
    Gate(Arc<AtomicBool>),
}

pub(super) struct Slot {
    pub(super) name: Box<str>,
    pub(super) probes: Probes,
    pub(super) critical: bool,
    pub(super) kind: CheckKind,
    /// In nanoseconds; `None` for checks that never go stale.
    pub(super) max_age: Option<u64>,
    pub(super) source: Source,
    /// Applied status (`STATUS_MASK`) plus `BUSY` and `DIRTY`; see the module docs.
    pub(super) state: CachePadded<AtomicU8>,
    /// Time of the last result, in clock nanoseconds; shared with the heartbeat, if any.
    pub(super) stamp: Arc<AtomicU64>,
    pub(super) report: ArcSwap<Report>,
    /// A ready `Healthy` report, so `healthy()` and the runner's plain passes allocate
    /// nothing.
    pub(super) healthy: Arc<Report>,
}

impl Slot {
    pub(super) fn applied(&self) -> Status {
        // Ordering: Acquire pairs with the owner's releasing compare-exchange in
        // `CheckHandle::drain`, so a report loaded after this is at least as new.
        Status::from_bits(self.state.load(Ordering::Acquire) & STATUS_MASK)
    }

    pub(super) fn is_timed(&self) -> bool {
        self.max_age.is_some() || matches!(self.source, Source::Gate(_))
    }

    /// The silence since the last result if it exceeds `max_age`.
    fn staleness(&self, now: Timestamp) -> Option<Duration> {
        let max_age = self.max_age?;
        // Ordering: the stamp publishes nothing; see the module docs for why a reader that
        // acquired the counters also sees the stamp written with the report they count.
        let stamp = Timestamp::from_nanos(self.stamp.load(Ordering::Relaxed));
        let age = now.saturating_duration_since(stamp);
        (duration_nanos(age) > max_age).then_some(age)
    }

    /// The status time or a gate imposes, overriding the applied one: Unknown while a
    /// gate is closed, Unhealthy (with the age) once stale.
    fn read_time_status(&self, now: Timestamp) -> Option<(Status, Option<Duration>)> {
        if let Source::Gate(done) = &self.source {
            // Ordering: Acquire pairs with `StartupGate::done`.
            if !done.load(Ordering::Acquire) {
                return Some((Status::Unknown, None));
            }
        }
        self.staleness(now)
            .map(|age| (Status::Unhealthy, Some(age)))
    }

    /// How this timed member counts towards `probe` beyond what the counters hold.
    pub(super) fn timed_outcome(&self, probe: Probe, now: Timestamp) -> Outcome {
        self.read_time_status(now)
            .map_or(Outcome::Pass, |(status, _)| {
                Outcome::of(status, self.critical, probe)
            })
    }

    pub(super) fn status_at(&self, now: Timestamp) -> (Status, Option<Duration>) {
        self.read_time_status(now)
            .unwrap_or_else(|| (self.applied(), None))
    }
}

/// Publishes one check's results, from any thread: sync, no lock, never waits.
///
/// Cheap to clone. See the [`Registry`](crate::Registry) docs for what readers observe.
///
/// # Examples
///
/// ```
/// use health_core::{CheckSpec, Registry, Report, Status};
///
/// let mut builder = Registry::builder();
/// let db = builder.push(CheckSpec::new("db").readiness())?;
/// db.degraded("replication lag 4s");
/// db.publish(Report::new(Status::Healthy).with_observed(12.0, "ms"));
/// assert_eq!(db.status(), Status::Healthy);
/// # Ok::<(), health_core::RegistryError>(())
/// ```
#[derive(Clone)]
pub struct CheckHandle {
    pub(super) slot: Arc<Slot>,
    pub(super) shared: Arc<Shared>,
}

impl CheckHandle {
    /// Returns the check's name.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// let db = b.push(health_core::CheckSpec::new("db").readiness())?;
    /// assert_eq!(db.name(), "db");
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.slot.name
    }

    /// Returns the status last applied to the probes.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// let db = b.push(health_core::CheckSpec::new("db").readiness())?;
    /// assert_eq!(db.status(), health_core::Status::Unknown);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn status(&self) -> Status {
        self.slot.applied()
    }

    /// Publishes `Healthy` with no details; allocates nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// let db = b.push(health_core::CheckSpec::new("db").readiness())?;
    /// db.healthy();
    /// assert_eq!(db.status(), health_core::Status::Healthy);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    pub fn healthy(&self) {
        self.publish_arc(Arc::clone(&self.slot.healthy));
    }

    /// Publishes `Degraded` with `reason`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// let db = b.push(health_core::CheckSpec::new("db").readiness())?;
    /// db.degraded("slow: p99 900ms");
    /// assert_eq!(db.status(), health_core::Status::Degraded);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    pub fn degraded(&self, reason: impl Into<Cow<'static, str>>) {
        self.publish(Report::new(Status::Degraded).with_reason(reason));
    }

    /// Publishes `Unhealthy` with `reason`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// let db = b.push(health_core::CheckSpec::new("db").readiness())?;
    /// db.unhealthy("connection refused");
    /// assert_eq!(db.status(), health_core::Status::Unhealthy);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    pub fn unhealthy(&self, reason: impl Into<Cow<'static, str>>) {
        self.publish(Report::new(Status::Unhealthy).with_reason(reason));
    }

    /// Publishes a full report.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{Report, Status};
    /// # let mut b = health_core::Registry::builder();
    /// let db = b.push(health_core::CheckSpec::new("db").readiness())?;
    /// db.publish(Report::new(Status::Healthy).with_observed(3.0, "ms"));
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    pub fn publish(&self, report: Report) {
        if report == *self.slot.healthy {
            self.healthy();
        } else {
            self.publish_arc(Arc::new(report));
        }
    }

    /// Refreshes the stamp without changing the result: the runner calls this when a
    /// threshold holds a result back, so a live runner never looks stale.
    #[cfg(feature = "runtime")]
    pub(crate) fn touch(&self) {
        // Ordering: see `publish_arc`; a stamp alone publishes nothing.
        self.slot
            .stamp
            .fetch_max(self.shared.clock.now().as_nanos(), Ordering::Relaxed);
    }

    fn publish_arc(&self, report: Arc<Report>) {
        let now = self.shared.clock.now();
        // Ordering: Relaxed; the stamp is published to readers by the Release RMW below
        // (see the module docs). `fetch_max` keeps it monotonic under racing writers.
        self.slot.stamp.fetch_max(now.as_nanos(), Ordering::Relaxed);
        self.slot.report.store(report);
        // Ordering: Release publishes the report stored above to whichever thread owns
        // the slot (it clears DIRTY with an Acquire RMW and only then loads the report).
        // Acquire because if we become the owner we must see the counters' contributions
        // the previous owner applied before releasing. Weaker, the owner could load an
        // older report and apply a stale status with nobody left to fix it.
        let before = self.slot.state.fetch_or(BUSY | DIRTY, Ordering::AcqRel);
        if before & BUSY == 0 {
            self.drain(Status::from_bits(before & STATUS_MASK));
        }
    }

    /// Runs as the slot's only owner: applies the newest report until none is pending.
    fn drain(&self, mut applied: Status) {
        let in_word = applied;
        loop {
            // Ordering: AcqRel; Acquire synchronises with every writer whose DIRTY we
            // clear, so the report load below sees their reports. Clearing *before* the
            // load means a writer that stores later sets DIRTY again and fails our release.
            self.slot.state.fetch_and(!DIRTY, Ordering::AcqRel);
            let report = self.slot.report.load_full();
            let target = report.status();
            if target != applied {
                self.apply(applied, &report);
                applied = target;
            }
            // Ordering: Release publishes the counter updates and the report load to the
            // next owner and to `Slot::applied` readers; it fails if a writer set DIRTY
            // since our `fetch_and`, and then we drain again.
            match self.slot.state.compare_exchange(
                BUSY | in_word.to_bits(),
                applied.to_bits(),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(current) => debug_assert_eq!(
                    current & (BUSY | DIRTY),
                    BUSY | DIRTY,
                    "only writers raising DIRTY may change a busy slot"
                ),
            }
        }
    }

    /// Moves this check's contribution to every probe it belongs to from `from` to the
    /// report's status. Only the owner calls this.
    fn apply(&self, from: Status, report: &Report) {
        let to = report.status();
        let mut changed = false;
        for probe in self.slot.probes.iter() {
            let delta = counters::delta(
                Outcome::of(from, self.slot.critical, probe),
                Outcome::of(to, self.slot.critical, probe),
            );
            if delta == 0 {
                continue;
            }
            let counter = &self.shared.counters[probe.index()];
            // Ordering: Release pairs with the readers' Acquire load in
            // `Registry::members_outcome`: a reader that sees this class sees the report.
            let before = counter.fetch_add(delta, Ordering::Release);
            changed |= counters::outcome(before) != counters::outcome(before.wrapping_add(delta));
        }
        let check = &*self.slot.name;
        let duration = report.duration();
        match (to, report.reason()) {
            (Status::Unhealthy, reason) => {
                let reason = reason.unwrap_or("");
                tracing::warn!(target: "health", check = %check, %from, %to, reason, ?duration, "check transition");
            }
            (_, Some(reason)) => {
                tracing::info!(target: "health", check = %check, %from, %to, reason, ?duration, "check transition");
            }
            (_, None) => {
                tracing::info!(target: "health", check = %check, %from, %to, ?duration, "check transition");
            }
        }
        if changed {
            self.shared.notify();
        }
    }
}

impl fmt::Debug for CheckHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckHandle")
            .field("name", &self.slot.name)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}
