//! Building a registry: validated specs become slots, then a frozen table.

use std::fmt;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::clock::{Clock, duration_nanos};
use crate::heartbeat::{Heartbeat, StartupGate};
use crate::report::Report;
use crate::spec::{CheckSpec, RegistryError, check_range, validate_name};
use crate::status::{Outcome, Probe, Status, counters};
use crate::sync::{Arc, ArcSwap, AtomicU8, AtomicU64, Ordering};

use super::lifecycle::STARTED;
use super::slot::{CheckHandle, Slot, Source};
use super::{Registry, Shared, Table};

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
    /// no probe, or its `max_age` is zero or longer than the clock can count.
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
    /// As [`push`](Self::push); [`RegistryError::MissingMaxSilence`] if the spec has no
    /// `max_age`, and [`RegistryError::ClockMismatch`] if the heartbeat reads another clock
    /// than the registry (make it with [`Heartbeat::with_clock`] and the registry's clock).
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
        if !heartbeat.clock.same_as(&self.shared.clock) {
            return Err(RegistryError::ClockMismatch {
                name: spec.name().to_owned(),
            });
        }
        self.add(
            spec,
            Source::Heartbeat(heartbeat.silence),
            Arc::clone(&heartbeat.stamp),
        )
        .map(drop)
    }

    /// Adds a start-up gate: Unknown until [`StartupGate::done`], then Healthy.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push), and [`RegistryError::MaxAgeOnGate`] if the spec has a
    /// `max_age`: a gate never goes stale.
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
        if let Some(max_age) = spec.max_age_limit() {
            return Err(RegistryError::MaxAgeOnGate {
                name: spec.name().to_owned(),
                max_age,
            });
        }
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
        if let Some(max_age) = max_age {
            check_range(&name, "max_age", max_age)?;
        }
        // Heartbeats and gates never publish: their counted status is Healthy and the
        // timed scan judges them at read time.
        let initial = match source {
            Source::Pushed => Status::Unknown,
            Source::Heartbeat(_) | Source::Gate(_) => Status::Healthy,
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
