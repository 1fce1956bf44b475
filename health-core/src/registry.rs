//! The registry: one slot per check, per-probe counters, and the lock-free protocol that
//! keeps them in step.
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
use std::collections::HashMap;
use std::fmt;
use std::task::Waker;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::clock::{Clock, Timestamp, duration_nanos, format_duration};
use crate::heartbeat::{Heartbeat, StartupGate};
use crate::report::Report;
use crate::spec::{CheckKind, CheckSpec, Probes, RegistryError, validate_name};
use crate::status::{Outcome, Probe, Status, counters};
use crate::sync::{Arc, ArcSwap, AtomicBool, AtomicU8, AtomicU64, Ordering, fence};

const STATUS_MASK: u8 = 0b0011;
const BUSY: u8 = 0b0100;
const DIRTY: u8 = 0b1000;

const STARTED: u8 = 0b001;
const DRAINING: u8 = 0b010;
const STOPPED: u8 = 0b100;

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

/// State every handle and the registry share: the counters, the lifecycle, subscribers.
struct Shared {
    counters: [CachePadded<AtomicU64>; 3],
    lifecycle: AtomicU8,
    /// Bumped on every change of a probe's counted outcome or of the lifecycle.
    version: AtomicU64,
    wakers: ArcSwap<Vec<Waker>>,
    no_wakers: Arc<Vec<Waker>>,
    clock: Clock,
}

impl Shared {
    /// Wakes every subscription after a change of outcome or lifecycle.
    fn notify(&self) {
        // Ordering: Release pairs with the Acquire version load in `Subscription`, so a
        // subscriber that sees the bump sees the change behind it.
        self.version.fetch_add(1, Ordering::Release);
        // Ordering: the SeqCst fences here and in `Subscription::poll_changed` make the
        // store-buffering pattern safe: either this swap finds the subscriber's waker, or
        // the subscriber's version load after its fence sees this bump. With weaker
        // orderings both could miss and the subscriber would sleep through a change.
        fence(Ordering::SeqCst);
        let wakers = self.wakers.swap(Arc::clone(&self.no_wakers));
        for waker in wakers.iter() {
            waker.wake_by_ref();
        }
    }
}

/// How a slot's status is decided.
enum Source {
    /// By published reports.
    Pushed,
    /// By the stamp's age (the stamp is the heartbeat's).
    Heartbeat,
    /// By a start-up gate's flag.
    Gate(Arc<AtomicBool>),
}

struct Slot {
    name: Box<str>,
    probes: Probes,
    critical: bool,
    kind: CheckKind,
    /// In nanoseconds; `None` for checks that never go stale.
    max_age: Option<u64>,
    source: Source,
    /// Applied status (`STATUS_MASK`) plus `BUSY` and `DIRTY`; see the module docs.
    state: CachePadded<AtomicU8>,
    /// Time of the last result, in clock nanoseconds; shared with the heartbeat, if any.
    stamp: Arc<AtomicU64>,
    report: ArcSwap<Report>,
    /// A ready `Healthy` report, so `healthy()` and the runner's plain passes allocate
    /// nothing.
    healthy: Arc<Report>,
}

impl Slot {
    fn applied(&self) -> Status {
        // Ordering: Acquire pairs with the owner's releasing compare-exchange in
        // `CheckHandle::drain`, so a report loaded after this is at least as new.
        Status::from_bits(self.state.load(Ordering::Acquire) & STATUS_MASK)
    }

    fn is_timed(&self) -> bool {
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
    fn timed_outcome(&self, probe: Probe, now: Timestamp) -> Outcome {
        self.read_time_status(now)
            .map_or(Outcome::Pass, |(status, _)| {
                Outcome::of(status, self.critical, probe)
            })
    }

    fn status_at(&self, now: Timestamp) -> (Status, Option<Duration>) {
        self.read_time_status(now)
            .unwrap_or_else(|| (self.applied(), None))
    }
}

/// Collects checks, then freezes them into a [`Registry`].
///
/// Adding a check validates its name and returns what publishes its results; the set of
/// checks is fixed once [`build`](Self::build) is called (as the Kubernetes API server
/// freezes its health checks once served).
///
/// # Examples
///
/// ```
/// use health_core::{CheckSpec, Outcome, Probe, RegistryBuilder};
///
/// let mut builder = RegistryBuilder::new();
/// let db = builder.push(CheckSpec::new("db").readiness())?;
/// let registry = builder.build();
/// assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail); // no result yet
/// db.healthy();
/// assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
/// # Ok::<(), health_core::RegistryError>(())
/// ```
pub struct RegistryBuilder {
    shared: Arc<Shared>,
    slots: Vec<Arc<Slot>>,
    #[cfg(feature = "runtime")]
    pub(crate) scheduled: Vec<crate::runtime::Scheduled>,
    #[cfg(feature = "runtime")]
    pub(crate) jitter_seed: Option<u64>,
}

impl RegistryBuilder {
    /// Creates a builder on the system clock.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = health_core::RegistryBuilder::new().build();
    /// assert_eq!(registry.len(), 0);
    /// ```
    #[must_use]
    pub fn new() -> RegistryBuilder {
        RegistryBuilder::with_clock(Clock::system())
    }

    /// Creates a builder whose registry reads time from `clock` (virtual time in tests).
    ///
    /// # Examples
    ///
    /// ```
    /// let time = health_core::ManualClock::new();
    /// let registry = health_core::RegistryBuilder::with_clock(time.clock()).build();
    /// assert_eq!(registry.now(), health_core::Timestamp::ZERO);
    /// ```
    #[must_use]
    pub fn with_clock(clock: Clock) -> RegistryBuilder {
        let no_wakers = Arc::new(Vec::new());
        RegistryBuilder {
            shared: Arc::new(Shared {
                counters: [0, 0, 0].map(|word| CachePadded::new(AtomicU64::new(word))),
                lifecycle: AtomicU8::new(0),
                version: AtomicU64::new(0),
                wakers: ArcSwap::new(Arc::clone(&no_wakers)),
                no_wakers,
                clock,
            }),
            slots: Vec::new(),
            #[cfg(feature = "runtime")]
            scheduled: Vec::new(),
            #[cfg(feature = "runtime")]
            jitter_seed: None,
        }
    }

    /// Adds a check whose results are published through the returned handle. It starts
    /// `Unknown`.
    ///
    /// # Errors
    ///
    /// A [`RegistryError`] naming the check if its name is invalid or taken, it belongs to
    /// no probe, or its `max_age` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{CheckSpec, Registry, RegistryError};
    /// let mut builder = Registry::builder();
    /// builder.push(CheckSpec::new("db").readiness())?;
    /// let err = builder.push(CheckSpec::new("db").readiness()).unwrap_err();
    /// assert_eq!(err, RegistryError::DuplicateName { name: "db".into() });
    /// # Ok::<(), RegistryError>(())
    /// ```
    pub fn push(&mut self, spec: CheckSpec) -> Result<CheckHandle, RegistryError> {
        let now = self.shared.clock.now();
        let slot = self.add(
            spec,
            Source::Pushed,
            Arc::new(AtomicU64::new(now.as_nanos())),
        )?;
        Ok(CheckHandle {
            slot,
            shared: Arc::clone(&self.shared),
        })
    }

    /// Adds a heartbeat; the spec's `max_age` is its `max_silence`.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push), and [`RegistryError::MissingMaxSilence`] if the spec has
    /// no `max_age`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use health_core::{CheckSpec, Heartbeat, Registry};
    /// let worker = Heartbeat::new();
    /// let mut builder = Registry::builder();
    /// builder.heartbeat(CheckSpec::new("worker").liveness().max_age(Duration::from_secs(30)), &worker)?;
    /// assert!(builder.heartbeat(CheckSpec::new("other").liveness(), &worker).is_err());
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    pub fn heartbeat(
        &mut self,
        spec: CheckSpec,
        heartbeat: &Heartbeat,
    ) -> Result<(), RegistryError> {
        if spec.max_age_limit().is_none() {
            return Err(RegistryError::MissingMaxSilence {
                name: spec.name().to_owned(),
            });
        }
        self.add(spec, Source::Heartbeat, Arc::clone(&heartbeat.stamp))
            .map(drop)
    }

    /// Adds a start-up gate: Unknown until [`StartupGate::done`], then Healthy.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{CheckSpec, Registry, StartupGate};
    /// let warmup = StartupGate::new();
    /// let mut builder = Registry::builder();
    /// builder.gate(CheckSpec::new("warmup").startup(), &warmup)?;
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    pub fn gate(&mut self, spec: CheckSpec, gate: &StartupGate) -> Result<(), RegistryError> {
        let now = self.shared.clock.now();
        self.add(
            spec,
            Source::Gate(Arc::clone(&gate.done)),
            Arc::new(AtomicU64::new(now.as_nanos())),
        )
        .map(drop)
    }

    fn add(
        &mut self,
        spec: CheckSpec,
        source: Source,
        stamp: Arc<AtomicU64>,
    ) -> Result<Arc<Slot>, RegistryError> {
        let CheckSpec {
            name,
            probes,
            critical,
            max_age,
            kind,
        } = spec;
        validate_name(&name)?;
        if self.slots.iter().any(|slot| *slot.name == *name) {
            return Err(RegistryError::DuplicateName { name });
        }
        if probes.is_empty() {
            return Err(RegistryError::NoProbe { name });
        }
        if max_age == Some(Duration::ZERO) {
            return Err(RegistryError::ZeroMaxAge { name });
        }
        // Heartbeats and gates never publish: their counted status is Healthy and the
        // timed scan judges them at read time.
        let initial = match source {
            Source::Pushed => Status::Unknown,
            Source::Heartbeat | Source::Gate(_) => Status::Healthy,
        };
        let slot = Arc::new(Slot {
            name: name.into_boxed_str(),
            probes,
            critical,
            kind,
            max_age: max_age.map(duration_nanos),
            source,
            state: CachePadded::new(AtomicU8::new(initial.to_bits())),
            stamp,
            report: ArcSwap::from_pointee(Report::new(initial)),
            healthy: Arc::new(Report::new(Status::Healthy)),
        });
        for probe in slot.probes.iter() {
            let unit = counters::unit(Outcome::of(initial, slot.critical, probe));
            // Ordering: Release so a reader that counts this member also sees its slot;
            // the handle may already be publishing on another thread.
            self.shared.counters[probe.index()].fetch_add(unit, Ordering::Release);
        }
        self.slots.push(Arc::clone(&slot));
        Ok(slot)
    }

    /// Freezes the checks into a registry. A registry with no startup check is started
    /// from the beginning.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = health_core::Registry::builder().build();
    /// assert!(registry.is_started());
    /// ```
    #[must_use]
    pub fn build(self) -> Registry {
        #[cfg(feature = "runtime")]
        if !self.scheduled.is_empty() {
            tracing::warn!(target: "health", checks = self.scheduled.len(), "scheduled checks will not run: use RegistryBuilder::spawn, not build");
        }
        let members = Probe::ALL.map(|probe| {
            self.slots
                .iter()
                .enumerate()
                .filter(|(_, slot)| slot.probes.contains(probe))
                .map(|(index, _)| index)
                .collect::<Box<[usize]>>()
        });
        let timed = Probe::ALL.map(|probe| {
            members[probe.index()]
                .iter()
                .copied()
                .filter(|&index| self.slots[index].is_timed())
                .collect::<Box<[usize]>>()
        });
        let by_name = self
            .slots
            .iter()
            .enumerate()
            .map(|(index, slot)| (slot.name.clone(), index))
            .collect();
        let registry = Registry {
            shared: self.shared,
            table: Arc::new(Table {
                slots: self.slots.into_boxed_slice(),
                members,
                timed,
                by_name,
            }),
        };
        if registry.table.members[Probe::Startup.index()].is_empty() {
            // Ordering: Release pairs with the Acquire lifecycle loads of readers.
            registry
                .shared
                .lifecycle
                .fetch_or(STARTED, Ordering::Release);
        }
        registry
    }
}

impl Default for RegistryBuilder {
    fn default() -> Self {
        RegistryBuilder::new()
    }
}

impl fmt::Debug for RegistryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryBuilder")
            .field(
                "checks",
                &self.slots.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The frozen table of checks.
struct Table {
    slots: Box<[Arc<Slot>]>,
    /// Per probe, the indices of its members in registration order.
    members: [Box<[usize]>; 3],
    /// Per probe, the members judged at read time (heartbeats, gates, `max_age`).
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
/// A probe read observes, for each check, some status that check really had, never a mix
/// of two; once all writes have returned, it equals the fold of the checks' statuses. A
/// probe reads the clock at most once, and only if it has timed members; see
/// [`probe_at`](Self::probe_at) to pass `now` yourself.
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

    /// Returns the outcome of `probe` now.
    ///
    /// A few atomic loads: no lock, no allocation, no call to any dependency.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{Outcome, Probe, Registry};
    /// assert_eq!(Registry::builder().build().probe(Probe::Liveness), Outcome::Pass);
    /// ```
    #[must_use]
    pub fn probe(&self, probe: Probe) -> Outcome {
        self.probe_with(probe, &mut Now::Lazy(&self.shared.clock))
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
    pub fn probe_at(&self, probe: Probe, now: Timestamp) -> Outcome {
        self.probe_with(probe, &mut Now::At(now))
    }

    fn probe_with(&self, probe: Probe, now: &mut Now<'_>) -> Outcome {
        if let Some(outcome) = self.lifecycle_gate(probe, now) {
            return outcome;
        }
        match probe {
            Probe::Startup => self.latch_startup(now),
            Probe::Liveness | Probe::Readiness => self.members_outcome(probe, now),
        }
    }

    /// The outcome the lifecycle alone decides, if it does: startup passes once latched;
    /// readiness fails while draining or not yet started. Liveness has no gate.
    fn lifecycle_gate(&self, probe: Probe, now: &mut Now<'_>) -> Option<Outcome> {
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
    fn latch_startup(&self, now: &mut Now<'_>) -> Outcome {
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

    fn members_outcome(&self, probe: Probe, now: &mut Now<'_>) -> Outcome {
        // Ordering: Acquire pairs with the owners' Release adds in `CheckHandle::apply`
        // (and in `RegistryBuilder::add`), so the reports behind the counts are visible.
        let word = self.shared.counters[probe.index()].load(Ordering::Acquire);
        let mut outcome = counters::outcome(word);
        let timed = &self.table.timed[probe.index()];
        if outcome == Outcome::Fail || timed.is_empty() {
            return outcome;
        }
        let now = now.get();
        for &index in timed {
            outcome = outcome.max(self.table.slots[index].timed_outcome(probe, now));
            if outcome == Outcome::Fail {
                break;
            }
        }
        outcome
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
            liveness: self.probe_with(Probe::Liveness, &mut now),
            readiness: self.probe_with(Probe::Readiness, &mut now),
            startup: self.probe_with(Probe::Startup, &mut now),
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
        if let Some(outcome) = self.lifecycle_gate(probe, &mut Now::At(now)) {
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

    /// Returns a latest-only subscription to changes of the probes' outcomes.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = health_core::Registry::builder().build();
    /// let subscription = registry.subscribe();
    /// registry.begin_shutdown();
    /// assert!(subscription.has_changed());
    /// ```
    #[must_use]
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            // Ordering: Acquire pairs with `Shared::notify`.
            seen: self.shared.version.load(Ordering::Acquire),
            registry: self.clone(),
        }
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

/// Publishes one check's results, from any thread: sync, no lock, never waits.
///
/// Cheap to clone. See the [`Registry`] docs for what readers observe.
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
    slot: Arc<Slot>,
    shared: Arc<Shared>,
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

/// One check of a [`Registry`], borrowed for reading.
///
/// # Examples
///
/// ```
/// use health_core::{CheckSpec, Registry, Status};
/// let mut builder = Registry::builder();
/// let db = builder.push(CheckSpec::new("db").readiness())?;
/// let registry = builder.build();
/// db.unhealthy("connection refused");
/// let check = registry.check("db").unwrap();
/// let snapshot = check.snapshot_at(registry.now());
/// assert_eq!(snapshot.status(), Status::Unhealthy);
/// assert_eq!(snapshot.reason(), Some("connection refused"));
/// # Ok::<(), health_core::RegistryError>(())
/// ```
#[derive(Clone, Copy)]
pub struct CheckView<'a> {
    slot: &'a Slot,
}

impl<'a> CheckView<'a> {
    /// Returns the name.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// # b.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = b.build();
    /// assert_eq!(registry.check("db").unwrap().name(), "db");
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn name(&self) -> &'a str {
        &self.slot.name
    }

    /// Returns the probes the check belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// # b.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = b.build();
    /// assert!(registry.check("db").unwrap().probes().contains(health_core::Probe::Readiness));
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn probes(&self) -> Probes {
        self.slot.probes
    }

    /// Returns `true` if a failure fails the probe.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// # b.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = b.build();
    /// assert!(registry.check("db").unwrap().is_critical());
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn is_critical(&self) -> bool {
        self.slot.critical
    }

    /// Returns what the check watches.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// # b.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = b.build();
    /// assert_eq!(registry.check("db").unwrap().kind(), health_core::CheckKind::Internal);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn kind(&self) -> CheckKind {
        self.slot.kind
    }

    /// Returns the status at `now`, staleness and gates included.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// # b.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = b.build();
    /// let db = registry.check("db").unwrap();
    /// assert_eq!(db.status_at(registry.now()), health_core::Status::Unknown);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn status_at(&self, now: Timestamp) -> Status {
        self.slot.status_at(now).0
    }

    /// Returns how the check counts towards `probe` at `now`.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{Outcome, Probe};
    /// # let mut b = health_core::Registry::builder();
    /// # b.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = b.build();
    /// let db = registry.check("db").unwrap();
    /// assert_eq!(db.outcome_at(Probe::Readiness, registry.now()), Outcome::Fail);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn outcome_at(&self, probe: Probe, now: Timestamp) -> Outcome {
        Outcome::of(self.status_at(now), self.slot.critical, probe)
    }

    /// Returns the status with its report and timing, for verbose and JSON output.
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// # let db = b.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = b.build();
    /// db.healthy();
    /// let snapshot = registry.check("db").unwrap().snapshot_at(registry.now());
    /// assert_eq!(snapshot.status(), health_core::Status::Healthy);
    /// assert!(snapshot.age().is_some());
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn snapshot_at(&self, now: Timestamp) -> CheckSnapshot {
        let (status, stale) = self.slot.status_at(now);
        // The status was read first: the report is at least as new (module docs).
        let report = self.slot.report.load_full();
        // Ordering: see `Slot::staleness`.
        let stamp = Timestamp::from_nanos(self.slot.stamp.load(Ordering::Relaxed));
        let has_result =
            !matches!(self.slot.source, Source::Pushed) || report.status() != Status::Unknown;
        let stale_reason = stale.map(|age| {
            let limit = Duration::from_nanos(self.slot.max_age.unwrap_or(0));
            match self.slot.source {
                Source::Heartbeat => format!(
                    "no heartbeat for {} (max_silence {})",
                    format_duration(age),
                    format_duration(limit)
                ),
                _ if has_result => format!(
                    "stale: last result {} ago (max_age {})",
                    format_duration(age),
                    format_duration(limit)
                ),
                _ => format!(
                    "stale: no result in {} (max_age {})",
                    format_duration(age),
                    format_duration(limit)
                ),
            }
        });
        let gate_reason = matches!(&self.slot.source, Source::Gate(_))
            .then_some(status == Status::Unknown)
            .filter(|&closed| closed)
            .map(|_| "not done yet".to_owned());
        CheckSnapshot {
            status,
            report,
            override_reason: stale_reason.or(gate_reason),
            updated: has_result.then_some(stamp),
            age: has_result.then(|| now.saturating_duration_since(stamp)),
        }
    }
}

impl fmt::Debug for CheckView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckView")
            .field("name", &self.slot.name)
            .field("probes", &self.slot.probes)
            .field("critical", &self.slot.critical)
            .finish_non_exhaustive()
    }
}

/// One check's state at one moment, owned: status, reason, report details and age.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_core::{CheckSpec, ManualClock, RegistryBuilder, Status};
///
/// let time = ManualClock::new();
/// let mut builder = RegistryBuilder::with_clock(time.clock());
/// let db = builder.push(CheckSpec::new("db").readiness().max_age(Duration::from_secs(30)))?;
/// let registry = builder.build();
/// db.healthy();
/// time.advance(Duration::from_secs(31));
/// let snapshot = registry.check("db").unwrap().snapshot_at(registry.now());
/// assert_eq!(snapshot.status(), Status::Unhealthy);
/// assert_eq!(snapshot.reason(), Some("stale: last result 31s ago (max_age 30s)"));
/// # Ok::<(), health_core::RegistryError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CheckSnapshot {
    status: Status,
    report: Arc<Report>,
    override_reason: Option<String>,
    updated: Option<Timestamp>,
    age: Option<Duration>,
}

impl CheckSnapshot {
    /// Returns the status, staleness included.
    ///
    /// # Examples
    ///
    /// See [`CheckSnapshot`].
    #[must_use]
    pub fn status(&self) -> Status {
        self.status
    }

    /// Returns why the check is not healthy: the staleness or gate reason, else the
    /// report's.
    ///
    /// # Examples
    ///
    /// See [`CheckSnapshot`].
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        self.override_reason
            .as_deref()
            .or_else(|| self.report.reason())
    }

    /// Returns the last published report (observed value, duration).
    ///
    /// # Examples
    ///
    /// ```
    /// # let mut b = health_core::Registry::builder();
    /// # let db = b.push(health_core::CheckSpec::new("db").readiness())?;
    /// # let registry = b.build();
    /// db.publish(health_core::Report::new(health_core::Status::Healthy).with_observed(4.0, "ms"));
    /// let snapshot = registry.check("db").unwrap().snapshot_at(registry.now());
    /// assert_eq!(snapshot.report().observed().unwrap().value(), 4.0);
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    #[must_use]
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Returns when the last result (or beat) was recorded, if any.
    ///
    /// # Examples
    ///
    /// See [`CheckSnapshot`].
    #[must_use]
    pub fn updated(&self) -> Option<Timestamp> {
        self.updated
    }

    /// Returns the age of the last result, if any.
    ///
    /// # Examples
    ///
    /// See [`CheckSnapshot`].
    #[must_use]
    pub fn age(&self) -> Option<Duration> {
        self.age
    }
}

/// A latest-only subscription to changes of the probes' outcomes, like a watch channel:
/// changes that happen while the subscriber is busy coalesce into one, and a slow
/// subscriber never blocks a writer.
///
/// It wakes on changes that writes and the lifecycle cause. Staleness is judged when
/// read, so a result that merely ages is seen by the next read, not announced.
///
/// # Examples
///
/// ```
/// use health_core::{CheckSpec, Outcome, Registry};
///
/// let mut builder = Registry::builder();
/// let db = builder.push(CheckSpec::new("db").readiness())?;
/// let registry = builder.build();
/// let mut subscription = registry.subscribe();
/// db.healthy();
/// db.unhealthy("down");
/// db.healthy();
/// assert!(subscription.has_changed());
/// assert_eq!(subscription.mark_seen().readiness, Outcome::Pass); // only the newest state
/// assert!(!subscription.has_changed());
/// # Ok::<(), health_core::RegistryError>(())
/// ```
#[derive(Debug)]
pub struct Subscription {
    registry: Registry,
    seen: u64,
}

impl Subscription {
    /// Returns `true` if an outcome changed since the last [`mark_seen`](Self::mark_seen)
    /// or [`changed`](Self::changed).
    ///
    /// # Examples
    ///
    /// See [`Subscription`].
    #[must_use]
    pub fn has_changed(&self) -> bool {
        // Ordering: Acquire pairs with `Shared::notify`.
        self.registry.shared.version.load(Ordering::Acquire) != self.seen
    }

    /// Marks the current state seen and returns it.
    ///
    /// # Examples
    ///
    /// See [`Subscription`].
    pub fn mark_seen(&mut self) -> Aggregate {
        // Ordering: Acquire pairs with `Shared::notify`; the version is read before the
        // state, so a change racing with this call is reported again, never lost.
        self.seen = self.registry.shared.version.load(Ordering::Acquire);
        self.registry.aggregate()
    }

    /// Waits until an outcome changes, then returns the newest state.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn example(registry: health_core::Registry) {
    /// let mut subscription = registry.subscribe();
    /// let aggregate = subscription.changed().await;
    /// println!("readiness is now {}", aggregate.readiness);
    /// # }
    /// # let _ = example;
    /// ```
    pub async fn changed(&mut self) -> Aggregate {
        std::future::poll_fn(|cx| self.poll_changed(cx)).await;
        self.mark_seen()
    }

    fn poll_changed(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.has_changed() {
            return std::task::Poll::Ready(());
        }
        let waker = cx.waker();
        self.registry.shared.wakers.rcu(|wakers| {
            let mut wakers = Vec::clone(wakers);
            if !wakers.iter().any(|known| known.will_wake(waker)) {
                wakers.push(waker.clone());
            }
            wakers
        });
        // Ordering: pairs with the fence in `Shared::notify`; see there.
        fence(Ordering::SeqCst);
        if self.has_changed() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    }
}
