//! One slot per check and the lock-free protocol that keeps the probe words in step with
//! the slots: the publish, drain and read steps, with their orderings.
//!
//! # Memory ordering
//!
//! Each probe has one word (see `word.rs`) holding its failing and warning member counts;
//! a probe read is one `Acquire` load of it (and, for a probe with timed members, of its
//! deadline first; see `read.rs`). The counts are only ever changed by a slot's *owner*,
//! and a slot has at most one owner at a time, so each check's contribution moves through
//! exactly the statuses it had, in order, and the counts never go negative or borrow.
//!
//! A slot's `state` byte holds the status last applied to the words and two flags, `BUSY`
//! (a writer owns the slot) and `DIRTY` (a report arrived that the owner may not have
//! seen). A write is:
//!
//! 1. store the new report in the slot's `ArcSwap`;
//! 2. `fetch_or(BUSY | DIRTY)`, `Release`: if `BUSY` was already set, the owner will see
//!    the report, and the writer returns: nobody waits for anybody. Otherwise the writer
//!    is now the owner and *drains*, one transition per turn:
//! 3. clear `DIRTY` (`Acquire`: it reads the last of the writers' RMWs on `state`, so it
//!    acquires every writer's step 2 and their reports), read the clock, load the newest
//!    report;
//! 4. move the counts from the applied status to the report's with one `fetch_add` per
//!    probe (`Release`);
//! 5. give up ownership with one `fetch_xor` (`Release`) that clears `BUSY` and writes
//!    the new status, leaving `DIRTY` as it is;
//! 6. raise the stamp to the clock read of step 3 (`fetch_max`, `Release`): after the
//!    class, so that a reader meets at worst a new class with an old stamp (see `read.rs`
//!    for why that mix is harmless and the other is not);
//! 7. *announce*, owning nothing: the tracing event, the start-up latch, waking
//!    subscribers. These run user code (a tracing subscriber, a waker) that may panic; the
//!    slot is consistent by then, so a panic reaches the writer's caller and freezes
//!    nothing (a report left `DIRTY` is applied by the next write);
//! 8. if step 5 found `DIRTY`, a report arrived during the turn: take the slot again
//!    with step 2's `fetch_or` (unless a newer writer already did; `Relaxed`, as the turn's
//!    work was released in step 5) and drain another turn.
//!
//! So the happens-before chain writer → owner → reader is: report store, then the
//! `Release` RMW on `state`; the owner's `Acquire` RMW on `state`, report load, `Release`
//! add on the word; the reader's `Acquire` load of the word, then its report load. A
//! reader that sees a check's new class therefore sees a report at least that new, and
//! one that sees its new applied status (`Slot::applied`, acquiring step 5) sees that
//! report and the probes' counts of it.
//!
//! Every one of these orderings is needed: `scripts/ordering-mutations.sh` weakens each in
//! turn, and a loom model (`tests/loom.rs`) fails for every one.
//!
//! # Consistency
//!
//! A reader sees, per probe, the counts of some set of statuses each check really had
//! (its applied status, which moves along that check's own history), never a mix the
//! writes could not produce. When no write is in flight, the counts equal the fold of the
//! slots' statuses; when two writers race on one check, the later report wins. Writes to
//! one check that land during an owner's turn are coalesced: the next turn applies the
//! newest, and the tracing event names that transition only.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::clock::Timestamp;
use crate::report::Report;
use crate::spec::{CheckKind, Probes};
use crate::status::{Outcome, Probe, Status};
use crate::sync::{Arc, ArcSwap, AtomicU8, AtomicU64, Ordering};

use super::Shared;
use super::metrics::Counters;
use super::subscription::Panics;
use super::word;

const STATUS_MASK: u8 = 0b0011;
const BUSY: u8 = 0b0100;
const DIRTY: u8 = 0b1000;

/// How a slot's status is decided.
pub(super) enum Source {
    /// By published reports.
    Pushed,
    /// By the stamp's age (the stamp is the heartbeat's); counted Healthy. Its reason
    /// starts with the heartbeat's wording of the silence.
    Heartbeat(&'static str),
    /// By a start-up gate: Unknown until the gate publishes Healthy when it opens.
    Gate,
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
    /// Only grows (`fetch_max`), except by a heartbeat's racing beats (see `read.rs`).
    pub(super) stamp: Arc<AtomicU64>,
    pub(super) report: ArcSwap<Report>,
    /// A ready `Healthy` report, so `healthy()` and the runner's plain passes allocate
    /// nothing.
    pub(super) healthy: Arc<Report>,
    /// Runs and transitions, for metrics; never read by a probe (see `metrics.rs`).
    pub(super) metrics: CachePadded<Counters>,
}

impl Slot {
    pub(super) fn applied(&self) -> Status {
        // Ordering: Acquire pairs with the owner's releasing `fetch_xor` in
        // `CheckHandle::drain`, so a report loaded after this is at least as new.
        Status::from_bits(self.state.load(Ordering::Acquire) & STATUS_MASK)
    }

    /// The time of the last result (or beat), in clock nanoseconds.
    pub(super) fn stamp(&self) -> u64 {
        // Ordering: Acquire pairs with the owner's Release `fetch_max` in `drain`: a
        // reader that sees a stamp sees the class applied before it (see `read.rs`).
        self.stamp.load(Ordering::Acquire)
    }

    /// The last moment (clock nanoseconds) at which the last result is still fresh;
    /// `u64::MAX` for a check without `max_age`.
    pub(super) fn fresh_until(&self) -> u64 {
        self.max_age
            .map_or(u64::MAX, |max_age| self.stamp().saturating_add(max_age))
    }

    /// Whether a result stamped `stamp` is stale at `now`.
    fn is_stale_at(&self, stamp: u64, now: Timestamp) -> bool {
        self.max_age
            .is_some_and(|max_age| now.as_nanos().saturating_sub(stamp) > max_age)
    }

    /// The status at `now` and the stamp it was judged by, with the silence since the
    /// last result if that is past `max_age` (then the status is Unhealthy).
    pub(super) fn status_at(&self, now: Timestamp) -> (Status, Timestamp, Option<Duration>) {
        // The stamp before the status, as every reader takes freshness before the class.
        let stamp = self.stamp();
        let applied = self.applied();
        let stamp_at = Timestamp::from_nanos(stamp);
        if self.is_stale_at(stamp, now) {
            let age = now.saturating_duration_since(stamp_at);
            (Status::Unhealthy, stamp_at, Some(age))
        } else {
            (applied, stamp_at, None)
        }
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
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))]
    pub(crate) fn touch(&self) {
        let now = self.shared.clock.now();
        // Ordering: Relaxed; a touch applies no class, so it has nothing to publish: the
        // class it vouches for is the one already applied. Being an RMW, it continues the
        // release sequence of the owner's last `fetch_max`, so a reader that loads this
        // stamp still acquires that owner's class.
        let previous = self.slot.stamp.fetch_max(now.as_nanos(), Ordering::Relaxed);
        if self.slot.is_stale_at(previous, now) {
            self.announce(None, true, now);
        }
    }

    /// [`touch`](Self::touch), for the loom models (the runner that calls it does not
    /// build under loom).
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn loom_touch(&self) {
        self.touch();
    }

    fn publish_arc(&self, report: Arc<Report>) {
        self.slot.report.store(report);
        // Ordering: Release publishes the report stored above to whichever thread owns
        // the slot (it clears DIRTY with an Acquire RMW and only then loads the report).
        // Weaker, the owner could load an older report and apply a stale status with
        // nobody left to fix it. No Acquire: if we become the owner, the Acquire of the
        // drain's first RMW orders everything the previous owner released.
        let before = self.slot.state.fetch_or(BUSY | DIRTY, Ordering::Release);
        if before & BUSY == 0 {
            self.drain(Status::from_bits(before & STATUS_MASK));
        }
    }

    /// Runs as the slot's owner: applies the newest report, one turn per transition,
    /// until no report is pending.
    fn drain(&self, mut from: Status) {
        loop {
            // Ordering: Acquire synchronises with every writer whose DIRTY we clear (it
            // reads the last RMW of the release sequence on `state`), so the report load
            // below sees their reports. Clearing *before* the load means a writer that
            // stores later sets DIRTY again and the turn ends with another.
            self.slot.state.fetch_and(!DIRTY, Ordering::Acquire);
            let now = self.shared.clock.now();
            let report = self.slot.report.load_full();
            let to = report.status();
            if to != from {
                self.apply(from, to);
                self.slot.metrics.transition(from, to);
            }
            // Ordering: Release publishes the counts applied above to `Slot::applied`
            // readers, so `status()` never runs ahead of the probes. (The report reaches
            // them anyway, through the release sequence of the writer's `fetch_or`.)
            let released = self
                .slot
                .state
                .fetch_xor(BUSY | (from.to_bits() ^ to.to_bits()), Ordering::Release);
            debug_assert_eq!(
                released & (BUSY | STATUS_MASK),
                BUSY | from.to_bits(),
                "only the owner changes a busy slot's status"
            );
            // Ordering: Release pairs with the Acquire stamp loads of readers (`read.rs`):
            // one that sees this stamp sees the class applied above. Raised after the
            // class, so a reader meets at worst a new class with an old stamp.
            let previous = self.slot.stamp.fetch_max(now.as_nanos(), Ordering::Release);
            let revived = self.slot.is_stale_at(previous, now);
            self.announce((to != from).then_some((from, &*report)), revived, now);
            if released & DIRTY == 0 {
                return;
            }
            // A report arrived during the turn: take the slot again, as a writer does,
            // unless a newer writer already has.
            // Ordering: Relaxed; unlike a writer's, this RMW has nothing to publish (the
            // turn's work was released by the `fetch_xor` above), and the next turn's
            // `fetch_and` acquires the reports of the writers who set DIRTY, through the
            // release sequence this RMW continues.
            let before = self.slot.state.fetch_or(BUSY | DIRTY, Ordering::Relaxed);
            if before & BUSY != 0 {
                return;
            }
            from = Status::from_bits(before & STATUS_MASK);
        }
    }

    /// Moves this check's contribution to every probe it belongs to from `from` to `to`.
    /// Only the owner calls this.
    ///
    /// In the reverse of the order `Registry::aggregate` reads the probes, so that a reader
    /// who sees the new class in one probe sees it in every probe it reads after (its
    /// Acquire load pairs with the Release add of the probe applied *last*).
    fn apply(&self, from: Status, to: Status) {
        let probes = Probe::ALL.into_iter().rev();
        for probe in probes.filter(|&probe| self.slot.probes.contains(probe)) {
            let delta = word::delta(
                Outcome::of(from, self.slot.critical, probe),
                Outcome::of(to, self.slot.critical, probe),
            );
            if delta != 0 {
                // Ordering: Release pairs with the readers' Acquire word loads in
                // `read.rs`: a reader that sees this class sees the report behind it.
                self.shared.probes[probe.index()]
                    .word
                    .fetch_add(delta, Ordering::Release);
            }
        }
    }

    /// Tells the world, owning nothing: logs the transition from `change`'s status to the
    /// report's, if any, and on a transition or a return from stale settles the start-up
    /// latch and wakes subscribers. A panic in a callback resumes after all of them ran.
    fn announce(&self, change: Option<(Status, &Report)>, revived: bool, now: Timestamp) {
        let mut panics = Panics::default();
        if let Some((from, report)) = change {
            panics.run(|| transition_event(&self.slot.name, from, report));
        }
        if change.is_some() || revived {
            if self.slot.probes.contains(Probe::Startup)
                && let Some(table) = self.shared.table.get()
            {
                panics.run(|| {
                    self.shared.latch_startup(table, now);
                });
            }
            self.shared.notify(&mut panics);
        }
        panics.resume();
    }
}

/// The `tracing` event of one transition: a warning into Unhealthy, information otherwise.
fn transition_event(check: &str, from: Status, report: &Report) {
    let to = report.status();
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
}

impl fmt::Debug for CheckHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckHandle")
            .field("name", &self.slot.name)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}
