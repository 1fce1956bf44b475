//! The names the service answers for, checked for ambiguity when it is built, and the
//! status each one reports.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

use health_core::{Phase, Probe, Registry};

use super::pb::health_check_response::ServingStatus;

/// What a name reports on.
pub(crate) enum Target {
    /// `""`: the server as a whole.
    Overall,
    Probe(Probe),
    /// A check, by its name in the registry.
    Check(Box<str>),
}

impl Target {
    /// Returns the status now, from the registry's atomics: pass and warn are `SERVING`,
    /// fail is `NOT_SERVING`, exactly as the HTTP answers.
    pub(crate) fn status(&self, registry: &Registry) -> ServingStatus {
        let serving = match self {
            // Liveness, so a kubelet `grpc` probe without `service` never restarts the pod
            // for a dependency outage; and not serving from the start of shutdown, as
            // grpc-go's `Shutdown` does, so gRPC clients leave before the listener closes.
            Target::Overall => {
                registry.phase() < Phase::Draining && registry.probe(Probe::Liveness).is_passing()
            }
            Target::Probe(probe) => registry.probe(*probe).is_passing(),
            // The HTTP answer of `/<probe>/<check>`, taken over every probe the check
            // belongs to: they differ only for a check with no result yet, which
            // liveness lets pass and the others do not.
            Target::Check(name) => registry.check(name).is_some_and(|check| {
                let now = registry.now();
                check
                    .probes()
                    .iter()
                    .all(|probe| check.outcome_at(probe, now).is_passing())
            }),
        };
        if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        }
    }
}

/// Every name, with its target.
pub(crate) struct Names {
    /// Name → index into `targets`.
    by_name: HashMap<Box<str>, usize>,
    /// `""`, the probes, then the checks in registration order.
    targets: Box<[Target]>,
}

/// Who answers for a name, for error messages.
enum Owner {
    Overall,
    Probe(Probe),
    Check,
    Alias(Probe),
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Overall => f.write_str("the server's overall status"),
            Owner::Probe(probe) => write!(f, "the {probe} probe"),
            Owner::Check => f.write_str("a check"),
            Owner::Alias(probe) => write!(f, "an alias of the {probe} probe"),
        }
    }
}

impl Names {
    pub(crate) fn new(
        registry: &Registry,
        aliases: &[(String, Probe)],
    ) -> Result<Names, NameError> {
        let mut by_name: HashMap<Box<str>, (usize, Owner)> = HashMap::new();
        let mut targets = Vec::with_capacity(1 + Probe::ALL.len() + registry.len());
        let mut add = |name: &str, index: usize, owner: Owner| match by_name.entry(name.into()) {
            Entry::Occupied(taken) => Err(NameError::Ambiguous {
                name: name.to_owned(),
                first: taken.get().1.to_string(),
                second: owner.to_string(),
            }),
            Entry::Vacant(free) => {
                free.insert((index, owner));
                Ok(())
            }
        };
        add("", targets.len(), Owner::Overall)?;
        targets.push(Target::Overall);
        for probe in Probe::ALL {
            add(probe.as_str(), targets.len(), Owner::Probe(probe))?;
            targets.push(Target::Probe(probe));
        }
        for check in registry.checks() {
            add(check.name(), targets.len(), Owner::Check)?;
            targets.push(Target::Check(check.name().into()));
        }
        for (alias, probe) in aliases {
            // The probe's own target: an alias adds a name, not a status to keep.
            let index = 1 + probe_position(*probe);
            add(alias, index, Owner::Alias(*probe))?;
        }
        Ok(Names {
            by_name: by_name
                .into_iter()
                .map(|(name, (index, _))| (name, index))
                .collect(),
            targets: targets.into_boxed_slice(),
        })
    }

    /// Returns the index of the target `name` reports on.
    pub(crate) fn get(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub(crate) fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Every name with the index of its target, in no particular order.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = (&str, usize)> {
        self.by_name.iter().map(|(name, &index)| (&**name, index))
    }
}

fn probe_position(probe: Probe) -> usize {
    Probe::ALL
        .iter()
        .position(|&p| p == probe)
        .expect("Probe::ALL lists every probe")
}

/// A name the gRPC service would answer for twice, found when it is built.
///
/// `""` and `liveness`, `readiness`, `startup` are the service's own; every check answers
/// for its name; aliases add names. A name may have only one meaning, so a check named
/// like a probe, an alias equal to any other name (`""` included) and a repeated alias
/// are refused, rather than one silently shadowing the other.
///
/// # Examples
///
/// ```
/// use health_core::{CheckSpec, Probe, Registry};
/// use health_http::grpc::{GrpcHealth, NameError};
///
/// let mut builder = Registry::builder();
/// builder.push(CheckSpec::new("orders").readiness())?;
/// let registry = builder.build();
/// let err = GrpcHealth::builder(registry).alias("orders", Probe::Readiness).build().unwrap_err();
/// assert!(matches!(err, NameError::Ambiguous { .. }));
/// assert_eq!(
///     err.to_string(),
///     "gRPC health name \"orders\" is ambiguous: it names a check and an alias of the readiness probe",
/// );
/// # Ok::<(), health_core::RegistryError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    /// Two things would answer to `name`.
    Ambiguous {
        /// The name.
        name: String,
        /// What had it first, e.g. `the readiness probe`.
        first: String,
        /// What asked for it too, e.g. `a check`.
        second: String,
    },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Ambiguous {
                name,
                first,
                second,
            } => write!(
                f,
                "gRPC health name {name:?} is ambiguous: it names {first} and {second}"
            ),
        }
    }
}

impl std::error::Error for NameError {}
