//! The registry: a fixed table of checks and the probe reads over it.
//!
//! The protocol that keeps each probe's word in step with the checks' statuses, with its
//! memory-ordering argument, lives in [`slot`] (one file to audit), the word's layout in
//! [`word`], and the probe reads (the one-load fast path and the cold path) in [`read`].
//! Around them: [`builder`] collects checks, [`lifecycle`] holds the start-up latch and
//! shutdown phases, [`view`] reads one check for verbose and JSON output, and
//! [`subscription`] announces changes.

mod builder;
mod lifecycle;
mod metrics;
mod read;
mod slot;
mod subscription;
mod view;
mod word;

use std::collections::HashMap;
use std::fmt;

use crossbeam_utils::CachePadded;

use crate::clock::{Clock, Timestamp};
use crate::status::{Outcome, Probe};
use crate::sync::{Arc, ArcSwap, AtomicU64, OnceLock};

pub use self::builder::RegistryBuilder;
pub use self::lifecycle::Phase;
pub use self::metrics::{CheckMetrics, DURATION_BUCKETS, RunResult};
pub use self::slot::CheckHandle;
use self::slot::Slot;
use self::subscription::Subscriber;
pub use self::subscription::Subscription;
pub use self::view::{CheckSnapshot, CheckView};

/// The outcome of every probe at one moment.
///
/// # Examples
///
/// ```
/// use health_core::{Outcome, Registry};
/// let aggregate = Registry::builder().build().aggregate();
/// assert_eq!(aggregate.readiness, Outcome::Pass);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Aggregate {
    /// The liveness outcome.
    pub liveness: Outcome,
    /// The readiness outcome.
    pub readiness: Outcome,
    /// The startup outcome.
    pub startup: Outcome,
}

impl Aggregate {
    /// Returns the outcome of `probe`.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{Outcome, Probe, Registry};
    /// assert_eq!(Registry::builder().build().aggregate().get(Probe::Startup), Outcome::Pass);
    /// ```
    #[must_use]
    pub fn get(&self, probe: Probe) -> Outcome {
        match probe {
            Probe::Liveness => self.liveness,
            Probe::Readiness => self.readiness,
            Probe::Startup => self.startup,
        }
    }
}

/// State every handle and the registry share: the probe words, subscribers, the clock.
struct Shared {
    /// Per probe (in [`Probe::ALL`] order), its word and its staleness deadline.
    probes: [CachePadded<ProbeState>; 3],
    /// Bumped on every change a subscriber is told about.
    version: AtomicU64,
    subscribers: ArcSwap<Vec<Arc<Subscriber>>>,
    clock: Clock,
    /// The frozen table, once built: writers need it to evaluate the start-up latch.
    table: OnceLock<Arc<Table>>,
}

/// One probe's shared state, on a cache line of its own.
struct ProbeState {
    /// Member counts and lifecycle flags; see [`word`].
    word: AtomicU64,
    /// A time (clock nanoseconds) up to which no timed member of the probe can be stale: a
    /// lower bound of the earliest `stamp + max_age` among them; see [`read`].
    deadline: AtomicU64,
}

/// The frozen table of checks.
struct Table {
    slots: Box<[Arc<Slot>]>,
    /// Per probe, the indices of its members in registration order.
    members: [Box<[usize]>; 3],
    /// Per probe, the members with a `max_age` (heartbeats and stale-able checks).
    timed: [Box<[usize]>; 3],
    by_name: HashMap<Box<str>, usize>,
}

/// The health of a service: a fixed table of checks, read by probes without locks or
/// allocation.
///
/// Cheap to clone (two `Arc`s). Readers and writers may be on any threads.
///
/// # Consistency
///
/// A probe read observes, for each check, some status that check really had (with its
/// freshness), never a mix of two; once all writes have returned, it equals the fold of
/// the checks' statuses. A probe with no timed member (no heartbeat, no `max_age`) is one
/// atomic load; one with timed members reads the clock once more, never once per check
/// (see [`probe_at`](Self::probe_at) to pass `now` yourself).
///
/// # Examples
///
/// ```
/// use health_core::{CheckSpec, Outcome, Probe, Registry};
///
/// let mut builder = Registry::builder();
/// let db = builder.push(CheckSpec::new("db").readiness())?;
/// let cache = builder.push(CheckSpec::new("cache").readiness().critical(false))?;
/// let registry = builder.build();
///
/// db.healthy();
/// cache.unhealthy("connection refused");
/// assert_eq!(registry.probe(Probe::Readiness), Outcome::Warn); // non-critical: still passing
/// assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);  // no members
/// registry.begin_shutdown();
/// assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
/// # Ok::<(), health_core::RegistryError>(())
/// ```
#[derive(Clone)]
pub struct Registry {
    shared: Arc<Shared>,
    table: Arc<Table>,
    /// Per probe, whether it has timed members (fixed when built); never for startup,
    /// which reads its timed members only until it latches, on the cold path.
    timed: [bool; 3],
}

impl Registry {
    /// Returns a builder on the system clock.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = health_core::Registry::builder().build();
    /// # let _ = registry;
    /// ```
    #[must_use]
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::new()
    }

    /// Returns whether `self` and `other` are the same registry: one built registry and
    /// its clones, which share every check, the lifecycle and the subscribers.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::Registry;
    ///
    /// let registry = Registry::builder().build();
    /// assert!(registry.ptr_eq(&registry.clone()));
    /// assert!(!registry.ptr_eq(&Registry::builder().build()));
    /// ```
    #[must_use]
    pub fn ptr_eq(&self, other: &Registry) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Returns the outcome of `probe` now.
    ///
    /// One atomic load and a compare, plus one clock read if the probe has timed members:
    /// no lock, no allocation, no call to any dependency.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{Outcome, Probe, Registry};
    /// assert_eq!(Registry::builder().build().probe(Probe::Liveness), Outcome::Pass);
    /// ```
    #[must_use]
    #[inline]
    pub fn probe(&self, probe: Probe) -> Outcome {
        self.read(probe, &mut Now::Lazy(&self.shared.clock))
    }

    /// Returns the outcome of `probe` at `now`, which the caller read from
    /// [`now`](Self::now) (or drives as virtual time).
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{Outcome, Probe, Registry};
    /// let registry = Registry::builder().build();
    /// assert_eq!(registry.probe_at(Probe::Readiness, registry.now()), Outcome::Pass);
    /// ```
    #[must_use]
    #[inline]
    pub fn probe_at(&self, probe: Probe, now: Timestamp) -> Outcome {
        self.read(probe, &mut Now::At(now))
    }

    /// Returns the outcome of every probe.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{Outcome, Registry};
    /// assert_eq!(Registry::builder().build().aggregate().liveness, Outcome::Pass);
    /// ```
    #[must_use]
    pub fn aggregate(&self) -> Aggregate {
        let mut now = Now::Lazy(&self.shared.clock);
        Aggregate {
            liveness: self.read(Probe::Liveness, &mut now),
            readiness: self.read(Probe::Readiness, &mut now),
            startup: self.read(Probe::Startup, &mut now),
        }
    }

    /// Returns the outcome of `probe` at `now` leaving out the members for which
    /// `excluded` returns `true`: a scan of the members, for `?exclude=` requests.
    ///
    /// The lifecycle gates (start-up, shutdown) still apply.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{CheckSpec, Outcome, Probe, Registry};
    /// let mut builder = Registry::builder();
    /// builder.push(CheckSpec::new("db").readiness())?;
    /// let registry = builder.build();
    /// assert_eq!(registry.probe_excluding(Probe::Readiness, registry.now(), |name| name == "db"), Outcome::Pass);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn probe_excluding(
        &self,
        probe: Probe,
        now: Timestamp,
        mut excluded: impl FnMut(&str) -> bool,
    ) -> Outcome {
        if let Some(outcome) = self.lifecycle_gate(probe, now) {
            return outcome;
        }
        self.members(probe)
            .filter(|check| !excluded(check.name()))
            .map(|check| check.outcome_at(probe, now))
            .fold(Outcome::Pass, Outcome::max)
    }

    /// Returns the current time on the registry's clock.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = health_core::Registry::builder().build();
    /// assert!(registry.now() <= registry.now());
    /// ```
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    /// Returns the registry's clock.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = health_core::Registry::builder().build();
    /// let _wall = registry.clock().to_system_time(registry.now());
    /// ```
    #[must_use]
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// Returns the number of checks.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::Registry::builder().build().len(), 0);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.table.slots.len()
    }

    /// Returns `true` if the registry has no check.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(health_core::Registry::builder().build().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.table.slots.is_empty()
    }

    /// Iterates over every check in registration order.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{CheckSpec, Registry};
    /// let mut builder = Registry::builder();
    /// builder.push(CheckSpec::new("db").readiness())?;
    /// let registry = builder.build();
    /// assert_eq!(registry.checks().map(|c| c.name()).collect::<Vec<_>>(), ["db"]);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn checks(&self) -> impl ExactSizeIterator<Item = CheckView<'_>> {
        self.table.slots.iter().map(|slot| CheckView { slot })
    }

    /// Iterates over the members of `probe` in registration order.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{CheckSpec, Probe, Registry};
    /// let mut builder = Registry::builder();
    /// builder.push(CheckSpec::new("db").readiness())?;
    /// let registry = builder.build();
    /// assert_eq!(registry.members(Probe::Liveness).count(), 0);
    /// assert_eq!(registry.members(Probe::Readiness).count(), 1);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn members(&self, probe: Probe) -> impl ExactSizeIterator<Item = CheckView<'_>> {
        self.table.members[probe.index()]
            .iter()
            .map(|&index| CheckView {
                slot: &self.table.slots[index],
            })
    }

    /// Returns the check named `name`, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{CheckSpec, Registry};
    /// let mut builder = Registry::builder();
    /// builder.push(CheckSpec::new("db").readiness())?;
    /// let registry = builder.build();
    /// assert!(registry.check("db").is_some() && registry.check("nope").is_none());
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn check(&self, name: &str) -> Option<CheckView<'_>> {
        let &index = self.table.by_name.get(name)?;
        Some(CheckView {
            slot: &self.table.slots[index],
        })
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("checks", &self.len())
            .field("phase", &self.phase())
            .field("aggregate", &self.aggregate())
            .finish()
    }
}

/// The time of one probe read: read from the clock on first use, at most once.
enum Now<'a> {
    Lazy(&'a Clock),
    At(Timestamp),
}

impl Now<'_> {
    fn get(&mut self) -> Timestamp {
        match *self {
            Now::At(now) => now,
            Now::Lazy(clock) => {
                let now = clock.now();
                *self = Now::At(now);
                now
            }
        }
    }
}
