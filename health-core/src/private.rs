//! Support for the code `#[derive(HealthCheck)]` generates. Not a public API: it may
//! change in any release.

use std::sync::Arc;

use crate::check::{Check, HealthCheck};
use crate::heartbeat::{Heartbeat, StartupGate};
use crate::registry::RegistryBuilder;
use crate::runtime::Schedule;
use crate::spec::{CheckKind, CheckSpec, RegistryError};

pub use std::boxed::Box;
pub use std::option::Option;
pub use std::result::Result;
pub use std::string::String;
pub use std::time::Duration;

/// How a field type becomes a check: heartbeats and gates are judged at read time,
/// anything that implements [`Check`] is scheduled.
pub trait Field: Send + Sync + 'static {
    /// What the field watches; the derive refuses a dependency on liveness with it.
    const KIND: CheckKind;

    /// Registers the field that `project` reaches from `root`.
    ///
    /// # Errors
    ///
    /// The builder's.
    fn register<R, P>(
        root: &Arc<R>,
        project: P,
        spec: CheckSpec,
        schedule: Schedule,
        builder: &mut RegistryBuilder,
    ) -> Result<(), RegistryError>
    where
        R: Send + Sync + 'static,
        P: Fn(&R) -> &Self + Clone + Send + Sync + 'static;
}

impl Field for Heartbeat {
    const KIND: CheckKind = CheckKind::Internal;

    fn register<R, P>(
        root: &Arc<R>,
        project: P,
        spec: CheckSpec,
        _: Schedule,
        builder: &mut RegistryBuilder,
    ) -> Result<(), RegistryError>
    where
        R: Send + Sync + 'static,
        P: Fn(&R) -> &Self + Clone + Send + Sync + 'static,
    {
        builder.heartbeat(spec, project(root))
    }
}

impl Field for StartupGate {
    const KIND: CheckKind = CheckKind::Internal;

    fn register<R, P>(
        root: &Arc<R>,
        project: P,
        spec: CheckSpec,
        _: Schedule,
        builder: &mut RegistryBuilder,
    ) -> Result<(), RegistryError>
    where
        R: Send + Sync + 'static,
        P: Fn(&R) -> &Self + Clone + Send + Sync + 'static,
    {
        builder.gate(spec, project(root))
    }
}

impl<T: Check> Field for T {
    const KIND: CheckKind = T::KIND;

    fn register<R, P>(
        root: &Arc<R>,
        project: P,
        spec: CheckSpec,
        schedule: Schedule,
        builder: &mut RegistryBuilder,
    ) -> Result<(), RegistryError>
    where
        R: Send + Sync + 'static,
        P: Fn(&R) -> &Self + Clone + Send + Sync + 'static,
    {
        builder.schedule(spec, schedule, Projected::<R, P, T>::new(root, project))
    }
}

/// A check reached through the shared state: keeps the state alive while the runner runs.
struct Projected<R, P, T> {
    root: Arc<R>,
    project: P,
    field: std::marker::PhantomData<fn() -> T>,
}

impl<R, P, T> Projected<R, P, T> {
    fn new(root: &Arc<R>, project: P) -> Self {
        Projected {
            root: Arc::clone(root),
            project,
            field: std::marker::PhantomData,
        }
    }
}

impl<R, P, T> Check for Projected<R, P, T>
where
    R: Send + Sync + 'static,
    P: Fn(&R) -> &T + Clone + Send + Sync + 'static,
    T: Check,
{
    const KIND: CheckKind = T::KIND;

    fn check(&self) -> impl std::future::Future<Output = crate::Report> + Send {
        (self.project)(&self.root).check()
    }
}

/// Registers a nested `#[health(flatten)]` field under `prefix`.
///
/// # Errors
///
/// The builder's.
pub fn flatten<R, P, T>(
    root: &Arc<R>,
    project: P,
    prefix: &str,
    builder: &mut RegistryBuilder,
) -> Result<(), RegistryError>
where
    R: Send + Sync + 'static,
    P: Fn(&R) -> &T + Clone + Send + Sync + 'static,
    T: HealthCheck,
{
    T::register_fields(root, project, prefix, builder)
}

/// Fails compilation (in const evaluation) when a dependency sits on liveness without
/// `allow_dependency`.
pub const fn assert_not_dependency<T: Field + ?Sized>() {
    if matches!(T::KIND, CheckKind::Dependency) {
        panic!(
            "a dependency check on liveness restarts every pod when the dependency fails: move it to readiness, or write `allow_dependency`"
        );
    }
}
