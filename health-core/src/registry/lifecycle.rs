//! The lifecycle: the start-up latch and the shutdown phases, one atomic byte.

use crate::status::{Outcome, Probe};
use crate::sync::Ordering;

use super::{Now, Registry};

pub(super) const STARTED: u8 = 0b001;
pub(super) const DRAINING: u8 = 0b010;
pub(super) const STOPPED: u8 = 0b100;

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

impl Registry {
    /// The outcome the lifecycle alone decides, if it does: startup passes once latched;
    /// readiness fails while draining or not yet started. Liveness has no gate.
    pub(super) fn lifecycle_gate(&self, probe: Probe, now: &mut Now<'_>) -> Option<Outcome> {
        if probe == Probe::Liveness {
            return None;
        }
        // Ordering: Acquire pairs with the Release RMWs in `raise_lifecycle` and the
        // startup latch.
        let lifecycle = self.shared.lifecycle.load(Ordering::Acquire);
        let started = lifecycle & STARTED != 0;
        match probe {
            Probe::Startup => started.then_some(Outcome::Pass),
            _ => (lifecycle & DRAINING != 0 || (!started && !self.latch_startup(now).is_passing()))
                .then_some(Outcome::Fail),
        }
    }

    /// Evaluates the startup members and latches the startup probe once they pass.
    pub(super) fn latch_startup(&self, now: &mut Now<'_>) -> Outcome {
        let outcome = self.members_outcome(Probe::Startup, now);
        if outcome.is_passing() {
            // Ordering: Release pairs with the lifecycle loads; the RMW makes the latch
            // idempotent when several readers latch at once.
            let before = self.shared.lifecycle.fetch_or(STARTED, Ordering::AcqRel);
            if before & STARTED == 0 {
                tracing::info!(target: "health", "startup probe passed: latched");
                self.shared.notify();
            }
        }
        outcome
    }

    /// Returns where the process is in its life.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::Registry::builder().build().phase(), health_core::Phase::Serving);
    /// ```
    #[must_use]
    pub fn phase(&self) -> Phase {
        // Ordering: Acquire pairs with the lifecycle RMWs.
        let lifecycle = self.shared.lifecycle.load(Ordering::Acquire);
        if lifecycle & STOPPED != 0 {
            Phase::Stopped
        } else if lifecycle & DRAINING != 0 {
            Phase::Draining
        } else if lifecycle & STARTED != 0 {
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
        // Latches, as any startup read does, if the startup members pass now.
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
        self.raise_lifecycle(DRAINING, "shutdown began: readiness fails from now on");
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
        self.raise_lifecycle(DRAINING | STOPPED, "stopped");
    }

    fn raise_lifecycle(&self, bits: u8, message: &'static str) {
        // Ordering: Release pairs with the readers' Acquire lifecycle loads; being an RMW
        // on the one lifecycle byte, it is ordered after any earlier latch, and any read
        // that starts after this returns sees the bit (coherence).
        let before = self.shared.lifecycle.fetch_or(bits, Ordering::AcqRel);
        if before & bits != bits {
            tracing::info!(target: "health", "{message}");
            self.shared.notify();
        }
    }
}
