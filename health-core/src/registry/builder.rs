//! Building a registry: validated specs become slots, then a frozen table.

use std::fmt;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::clock::{Clock, duration_nanos};
use crate::heartbeat::{Heartbeat, StartupGate};
use crate::report::Report;
use crate::spec::{CheckSpec, RegistryError, check_range, validate_name};
use crate::status::{Outcome, Probe, Status};
use crate::sync::{Arc, ArcSwap, AtomicU8, AtomicU64, OnceLock, Ordering};

use super::metrics::Counters;
use super::slot::{CheckHandle, Slot, Source};
use super::word::{self, LATCHED, MAX_MEMBERS, PENDING};
use super::{ProbeState, Registry, Shared, Table};

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
    pub(super) slots: Vec<Arc<Slot>>,
    /// See [`record_metrics`](Self::record_metrics).
    pub(super) record_metrics: bool,
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
        RegistryBuilder {
            shared: Arc::new(Shared {
                probes: Probe::ALL.map(|_| {
                    CachePadded::new(ProbeState {
                        word: AtomicU64::new(0),
                        deadline: AtomicU64::new(0),
                    })
                }),
                version: AtomicU64::new(0),
                subscribers: ArcSwap::from_pointee(Vec::new()),
                clock,
                table: OnceLock::new(),
            }),
            slots: Vec::new(),
            record_metrics: true,
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
    /// Opening the gate is a write, like a handle's: it moves the probes' counts, settles
    /// the start-up latch and wakes subscribers. A gate may join several registries.
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
        let slot = self.add(spec, Source::Gate, Arc::new(AtomicU64::new(now.as_nanos())))?;
        gate.register(CheckHandle {
            slot,
            shared: Arc::clone(&self.shared),
        });
        Ok(())
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
        if self.slots.len() >= MAX_MEMBERS {
            return Err(RegistryError::TooManyChecks {
                name,
                limit: MAX_MEMBERS,
            });
        }
        // A heartbeat never publishes: its counted status is Healthy and the timed scan
        // judges its silence at read time. A gate publishes Healthy when it opens.
        let initial = match source {
            Source::Pushed | Source::Gate => Status::Unknown,
            Source::Heartbeat(_) => Status::Healthy,
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
            metrics: Counters::new(self.record_metrics),
        });
        for probe in slot.probes.iter() {
            let unit = word::unit(Outcome::of(initial, slot.critical, probe));
            // Ordering: Relaxed; no reader exists before `build`, and the registry reaches
            // its readers through whatever hands it over. Handles given out earlier may be
            // publishing already: their adds and this one are RMWs on the same word, so
            // none is lost whatever the ordering.
            self.shared.probes[probe.index()]
                .word
                .fetch_add(unit, Ordering::Relaxed);
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
                .filter(|&index| self.slots[index].max_age.is_some())
                .collect::<Box<[usize]>>()
        });
        let by_name = self
            .slots
            .iter()
            .enumerate()
            .map(|(index, slot)| (slot.name.clone(), index))
            .collect();
        let table = Arc::new(Table {
            slots: self.slots.into_boxed_slice(),
            members,
            timed,
            by_name,
        });
        let shared = self.shared;
        // Ordering (every op until the registry is returned): Relaxed; no reader exists
        // yet (see `add`), and the flags below are RMWs that no concurrent publish loses.
        for probe in [Probe::Liveness, Probe::Readiness] {
            let deadline = table.timed[probe.index()]
                .iter()
                .map(|&index| table.slots[index].fresh_until())
                .min()
                .unwrap_or(u64::MAX);
            shared.probes[probe.index()]
                .deadline
                .store(deadline, Ordering::Relaxed);
        }
        let has_startup = !table.members[Probe::Startup.index()].is_empty();
        if has_startup {
            for probe in [Probe::Startup, Probe::Readiness] {
                shared.probes[probe.index()]
                    .word
                    .fetch_or(PENDING, Ordering::Relaxed);
            }
        } else {
            shared.probes[Probe::Startup.index()]
                .word
                .fetch_or(LATCHED, Ordering::Relaxed);
        }
        // Writers that find the table settle the latch when they change a startup member;
        // one that raced this `set` and missed it leaves the latch to the next read,
        // which settles it as well (reads evaluate it while `PENDING`).
        if shared.table.set(Arc::clone(&table)).is_err() {
            unreachable!("`build` consumes the builder, so the table is set once");
        }
        let registry = Registry {
            timed: Probe::ALL
                .map(|probe| probe != Probe::Startup && !table.timed[probe.index()].is_empty()),
            shared,
            table,
        };
        if has_startup {
            // Members that already pass (gates opened early, handles published before
            // `build`) latch at once.
            let _ = registry
                .shared
                .latch_startup(&registry.table, registry.now());
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
