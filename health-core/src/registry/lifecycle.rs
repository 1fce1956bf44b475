//! The lifecycle: the start-up latch and the shutdown phases, as flags in the startup and
//! readiness words (see `word.rs`), so a probe read needs no other load to honour them.

use crate::clock::Timestamp;
use crate::status::{Outcome, Probe};
use crate::sync::Ordering;

use super::subscription::Panics;
use super::word::{DRAINING, LATCHED, PENDING, STOPPED};
use super::{Registry, Shared, Table};

/// Where the process is in its life; readiness passes only while `Serving`.
///
/// # Examples
///
/// ```
/// use health_core::{Phase, Registry};
/// let registry = Registry::builder().build();
/// assert_eq!(registry.phase(), Phase::Serving);
/// registry.begin_shutdown();
/// assert_eq!(registry.phase(), Phase::Draining);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// The startup probe has not passed yet.
    Starting,
    /// Started and not shutting down.
    Serving,
    /// Shutdown began: readiness fails, liveness is unaffected, the server still answers.
    Draining,
    /// The server stopped accepting.
    Stopped,
}

impl Phase {
    /// Returns the lower-case name.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::Phase::Draining.as_str(), "draining");
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Serving => "serving",
            Phase::Draining => "draining",
            Phase::Stopped => "stopped",
        }
    }
}

impl Shared {
    /// Evaluates the startup probe's members at `now` and latches it once they pass: the
    /// startup probe passes from then on, and readiness stops waiting for it.
    ///
    /// Readers call this while the words say `PENDING`, and writers whenever a startup
    /// member's status changes or it comes back from stale, so a latch is announced at the
    /// write that causes it. Latching is idempotent: the first to latch logs and notifies.
    pub(super) fn latch_startup(&self, table: &Table, now: Timestamp) -> Outcome {
        let startup = &self.probes[Probe::Startup.index()].word;
        // Ordering: Acquire, as in `Registry::read`.
        if startup.load(Ordering::Acquire) & LATCHED != 0 {
            return Outcome::Pass;
        }
        let outcome = self.members_outcome(table, Probe::Startup, now);
        if outcome.is_passing() {
            // Ordering: Relaxed; the latch publishes nothing of its own. The Release below
            // carries it to readers that see readiness started, and `notify`'s to
            // subscribers.
            let before = startup.fetch_or(LATCHED, Ordering::Relaxed);
            if before & LATCHED == 0 {
                // Ordering: Release pairs with the readers' Acquire word loads: one that
                // sees readiness started also sees startup latched (an aggregate never
                // shows readiness passing beside a startup probe that fails).
                self.probes[Probe::Readiness.index()]
                    .word
                    .fetch_and(!PENDING, Ordering::Release);
                let mut panics = Panics::default();
                panics.run(|| tracing::info!(target: "health", "startup probe passed: latched"));
                self.notify(&mut panics);
                panics.resume();
            }
            // Latched: passes for good, whatever the members' warnings.
            return Outcome::Pass;
        }
        outcome
    }

    /// Returns `true` if the startup probe has latched, latching it if it passes now.
    pub(super) fn is_started(&self, table: &Table, now: Timestamp) -> bool {
        self.latch_startup(table, now).is_passing()
    }

    fn raise_lifecycle(&self, bits: u64, message: &'static str) {
        // Ordering: Relaxed; the flags publish no other memory, and coherence alone makes
        // any read that starts after this returns see them (every later value of the
        // word, written by RMWs, keeps them). An RMW on the word continues the release
        // sequences of the owners' adds, so readers still acquire those.
        let before = self.probes[Probe::Readiness.index()]
            .word
            .fetch_or(bits, Ordering::Relaxed);
        if before & bits != bits {
            let mut panics = Panics::default();
            panics.run(|| tracing::info!(target: "health", "{message}"));
            self.notify(&mut panics);
            panics.resume();
        }
    }
}

impl Registry {
    /// Returns where the process is in its life.
    ///
    /// Agrees with [`is_started`](Self::is_started): both latch the startup probe if its
    /// members pass now.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::Registry::builder().build().phase(), health_core::Phase::Serving);
    /// ```
    #[must_use]
    pub fn phase(&self) -> Phase {
        // Ordering: Relaxed; only the shutdown flags are used, and they publish nothing
        // (see `raise_lifecycle`). The start-up answer comes from `is_started`, whose read
        // acquires what a latch publishes.
        let readiness = self.shared.probes[Probe::Readiness.index()]
            .word
            .load(Ordering::Relaxed);
        if readiness & STOPPED != 0 {
            Phase::Stopped
        } else if readiness & DRAINING != 0 {
            Phase::Draining
        } else if self.is_started() {
            Phase::Serving
        } else {
            Phase::Starting
        }
    }

    /// Returns `true` once the startup probe has passed (it stays passed).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(health_core::Registry::builder().build().is_started());
    /// ```
    #[must_use]
    pub fn is_started(&self) -> bool {
        // The startup probe's read latches it if its members pass now.
        self.probe(Probe::Startup).is_passing()
    }

    /// Begins shutdown: from the moment this returns, readiness fails; liveness is
    /// unaffected. Idempotent.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{Outcome, Probe, Registry};
    /// let registry = Registry::builder().build();
    /// registry.begin_shutdown();
    /// assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
    /// assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
    /// ```
    pub fn begin_shutdown(&self) {
        self.shared
            .raise_lifecycle(DRAINING, "shutdown began: readiness fails from now on");
    }

    /// Marks the server stopped (implies [`begin_shutdown`](Self::begin_shutdown)).
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = health_core::Registry::builder().build();
    /// registry.stop();
    /// assert_eq!(registry.phase(), health_core::Phase::Stopped);
    /// ```
    pub fn stop(&self) {
        self.shared.raise_lifecycle(DRAINING | STOPPED, "stopped");
    }
}
