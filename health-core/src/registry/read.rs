//! Probe reads: the fast path (one load of the probe's word, plus a clock read and a load
//! of its deadline for a probe with timed members) and the cold path (the start-up latch,
//! and the scan of timed members once the deadline has passed).
//!
//! # The deadline
//!
//! A timed member (a heartbeat, a check with a `max_age`) is stale once `now` is past its
//! `stamp + max_age`, judged when read. Scanning every timed member on every read would
//! make the read O(timed members), so each probe keeps a *deadline*: a lower bound of the
//! earliest `stamp + max_age` among its timed members. While `now <= deadline`, no timed
//! member can be stale and the word alone decides. A bound stays a bound because stamps
//! only grow (`fetch_max`): a minimum computed from stamps read at any earlier moment is at
//! most the minimum now. (A heartbeat's `beat` is a plain store, so two threads beating at
//! once can set its stamp back by the nanoseconds between their clock reads; the bound
//! then reflects the later of two beats that both happened, a difference no `max_silence`
//! notices.) Once `now` passes the deadline, the cold path scans: it judges each member
//! and raises the deadline to the new minimum, which is `<= now` for as long as a member
//! stays stale (so every read scans while one does, as it must to report it).
//!
//! # Why the deadline is read before the word
//!
//! A write moves a check's class in the word first and its stamp after (see `slot.rs`),
//! so "new class with an old stamp" is the only mix a reader can meet, and it is harmless:
//! it judges the new class with the old freshness, which gives the verdict of the state
//! before the write (if the old stamp was stale) or after it (if it was fresh). The other
//! mix, "old class with a new stamp", could pass a check that fails before the write (it
//! was stale) and after it (it is Unhealthy now). So a reader takes every freshness it
//! uses before the word: the scan loads the stamps with `Acquire` and then the word; the
//! fast path loads the deadline with `Acquire` (the scanner raised it with `Release` after
//! loading, with `Acquire`, stamps that writers published with `Release` after their class)
//! and then the word.

use crate::clock::Timestamp;
use crate::status::{Outcome, Probe, Status};
use crate::sync::Ordering;

use super::word::{self, DRAINING, LATCHED, PENDING};
use super::{Now, ProbeState, Registry, Shared, Table};

impl Registry {
    /// Reads `probe`: the word alone if the probe has no timed member.
    #[inline]
    pub(super) fn read(&self, probe: Probe, now: &mut Now<'_>) -> Outcome {
        if self.timed[probe.index()] {
            return self.read_timed(probe, now.get());
        }
        // Ordering: Acquire pairs with the owners' Release adds in `CheckHandle::apply`, so
        // a reader that sees a check's new class also sees its report afterwards.
        let word = self.shared.probes[probe.index()]
            .word
            .load(Ordering::Acquire);
        match word::decide(word) {
            Some(outcome) => outcome,
            None => self.read_cold(probe, now.get()),
        }
    }

    /// Reads a probe with timed members: its deadline, then its word.
    #[inline]
    fn read_timed(&self, probe: Probe, now: Timestamp) -> Outcome {
        let state = &self.shared.probes[probe.index()];
        // Ordering: Acquire pairs with the Release `fetch_max` in `raise_deadline`, so the
        // word loaded next holds every class whose stamp went into this deadline (module
        // docs). Relaxed, a reader could pair a new deadline with an old class.
        let deadline = state.deadline.load(Ordering::Acquire);
        // Ordering: Acquire, as in `read`.
        let word = state.word.load(Ordering::Acquire);
        match word::decide(word) {
            Some(Outcome::Fail) => Outcome::Fail,
            Some(outcome) if now.as_nanos() <= deadline => outcome,
            _ => self.read_cold(probe, now),
        }
    }

    /// The cold path: settles the start-up latch, or scans the timed members.
    #[cold]
    #[inline(never)]
    fn read_cold(&self, probe: Probe, now: Timestamp) -> Outcome {
        let (shared, table) = (&*self.shared, &*self.table);
        match probe {
            Probe::Startup => shared.latch_startup(table, now),
            Probe::Readiness if !shared.is_started(table, now) => Outcome::Fail,
            Probe::Liveness | Probe::Readiness => shared.members_outcome(table, probe, now),
        }
    }

    /// The outcome the lifecycle alone decides, if it does: startup passes once latched;
    /// readiness fails while draining or not yet started. For scans (`probe_excluding`).
    pub(super) fn lifecycle_gate(&self, probe: Probe, now: Timestamp) -> Option<Outcome> {
        // Ordering: Acquire, as in `read`.
        let word = self.shared.probes[probe.index()]
            .word
            .load(Ordering::Acquire);
        match probe {
            Probe::Liveness => None,
            Probe::Startup => (word & LATCHED != 0).then_some(Outcome::Pass),
            Probe::Readiness => (word & DRAINING != 0
                || (word & PENDING != 0 && !self.shared.is_started(&self.table, now)))
            .then_some(Outcome::Fail),
        }
    }
}

impl Shared {
    /// How `probe`'s members fare at `now`: the counts in its word, and every timed
    /// member judged by its stamp (the scan). Raises the probe's deadline on the way.
    pub(super) fn members_outcome(&self, table: &Table, probe: Probe, now: Timestamp) -> Outcome {
        let state = &self.probes[probe.index()];
        // Ordering: Acquire, as in `Registry::read`; only a shortcut for failing counts.
        if word::members(state.word.load(Ordering::Acquire)) == Outcome::Fail {
            return Outcome::Fail;
        }
        let mut silent = Outcome::Pass;
        let mut deadline = u64::MAX;
        for &index in &table.timed[probe.index()] {
            let slot = &table.slots[index];
            let fresh_until = slot.fresh_until();
            if now.as_nanos() > fresh_until {
                silent = silent.max(Outcome::of(Status::Unhealthy, slot.critical, probe));
                if silent == Outcome::Fail {
                    // The minimum of a part is no bound for the whole: leave the deadline.
                    return Outcome::Fail;
                }
            }
            deadline = deadline.min(fresh_until);
        }
        state.raise_deadline(deadline);
        // Ordering: Acquire, as in `Registry::read`; loaded after the stamps (module docs).
        word::members(state.word.load(Ordering::Acquire)).max(silent)
    }
}

impl ProbeState {
    /// Raises the deadline to `deadline` if that is later: every bound is a lower bound of
    /// the true earliest deadline, so the largest one seen is the tightest.
    fn raise_deadline(&self, deadline: u64) {
        // Ordering: Relaxed; this load only spares a write to the probe's cache line when
        // the deadline is already as late (the common case while a member is stale).
        if deadline > self.deadline.load(Ordering::Relaxed) {
            // Ordering: Release pairs with `read_timed`'s Acquire: a reader that sees this
            // deadline sees the classes of the stamps it was computed from (module docs).
            self.deadline.fetch_max(deadline, Ordering::Release);
        }
    }
}
