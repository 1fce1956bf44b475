//! Support for the code `#[derive(HealthCheck)]` generates. Not a public API: it may
//! change in any release.

use crate::check::{Check, HealthCheck};
use crate::heartbeat::{Heartbeat, StartupGate};
use crate::registry::RegistryBuilder;
use crate::runtime::Schedule;
use crate::spec::{CheckKind, CheckSpec, RegistryError};
use crate::stall::{RuntimeLag, RuntimeStall};

pub use std::boxed::Box;
pub use std::clone::Clone;
pub use std::default::Default;
pub use std::marker::{Send, Sync};
pub use std::ops::Fn;
pub use std::option::Option;
pub use std::primitive::str;
pub use std::result::Result;
pub use std::string::String;
pub use std::sync::Arc;
pub use std::time::Duration;
pub use std::unreachable;

/// How a field's status is produced; the derive refuses keys that cannot apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judged {
    /// Run by the runner on a [`Schedule`].
    Scheduled,
    /// A [`Heartbeat`]: judged at read time against its `max_silence`.
    Heartbeat,
    /// A [`StartupGate`]: judged at read time, never stale.
    Gate,
}

/// How a field type becomes a check: heartbeats and gates are judged at read time,
/// anything that implements [`Check`] is scheduled.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a health check",
    label = "this field's type does not implement `health_core::Check`",
    note = "implement `Check` for it, or check it through a function: #[health(with = ping)] with `async fn ping(_: &{Self})`"
)]
pub trait Field: Send + Sync + 'static {
    /// What the field watches; the derive refuses a dependency on liveness with it.
    const KIND: CheckKind;

    /// How the field's status is produced.
    const JUDGED: Judged = Judged::Scheduled;

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
    const JUDGED: Judged = Judged::Heartbeat;

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
    const JUDGED: Judged = Judged::Gate;

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

impl Field for RuntimeStall {
    const KIND: CheckKind = CheckKind::Internal;
    // Judged at read time against its `max_silence`, as a heartbeat.
    const JUDGED: Judged = Judged::Heartbeat;

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
        project(root).register(spec, builder)
    }
}

impl Field for RuntimeLag {
    const KIND: CheckKind = CheckKind::Internal;
    const JUDGED: Judged = Judged::Heartbeat;

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
        project(root).register(spec, builder)
    }
}

#[diagnostic::do_not_recommend]
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

// The assertions below take `<T as Field>::KIND` / `JUDGED` as values rather than `T`:
// for a type that is not a `Field`, every use then fails with the same error at the same
// span, which rustc reports once instead of once per assertion.

/// Fails compilation (in const evaluation) when a dependency sits on liveness without
/// `allow_dependency`.
pub const fn assert_not_dependency(kind: CheckKind) {
    assert!(
        !matches!(kind, CheckKind::Dependency),
        "a dependency check on liveness restarts every pod when the dependency fails: move it to readiness, or write `allow_dependency`"
    );
}

/// Reaches a field through the projection that reaches its struct.
///
/// A function pointer for the inner step gives the closure its higher-ranked signature
/// (`for<'a> fn(&'a S) -> &'a T`) without relying on closure signature inference.
pub fn project<R, S, T, P>(
    outer: P,
    inner: for<'a> fn(&'a S) -> &'a T,
) -> impl Fn(&R) -> &T + Clone + Send + Sync + 'static
where
    R: 'static,
    S: ?Sized + 'static,
    T: ?Sized + 'static,
    P: Fn(&R) -> &S + Clone + Send + Sync + 'static,
{
    move |root| inner(outer(root))
}

/// Returns `prefix` followed by `name`: a check's full name.
#[must_use]
pub fn join(prefix: &str, name: &str) -> String {
    let mut full = String::with_capacity(prefix.len() + name.len());
    full.push_str(prefix);
    full.push_str(name);
    full
}

/// Returns the prefix for the checks of a flattened field named `name`: `prefix name .`.
#[must_use]
pub fn nested(prefix: &str, name: &str) -> String {
    let mut full = join(prefix, name);
    full.push('.');
    full
}

/// One entry of a derived struct's check names, for compile-time duplicate detection
/// across `flatten`.
#[derive(Debug)]
pub enum Name {
    /// A check, by its name within the struct (the struct's `prefix` included).
    Check(&'static str),
    /// A flattened field: its segment and the nested struct's names.
    Flatten(&'static str, &'static [Name]),
}

/// What `#[health(flatten)]` needs of the nested type, implemented by the derive: its
/// check names, as a tree, for compile-time duplicate detection, and its registration.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be flattened: it does not derive `HealthCheck`",
    label = "#[health(flatten)] needs a struct with #[derive(HealthCheck)]"
)]
pub trait Names: HealthCheck {
    /// The names, relative to the prefix the struct is registered under.
    const NAMES: &'static [Name];

    /// Registers the nested struct that `project` reaches, under `prefix`.
    ///
    /// # Errors
    ///
    /// The builder's.
    fn flatten<R, P>(
        root: &Arc<R>,
        project: P,
        prefix: &str,
        builder: &mut RegistryBuilder,
    ) -> Result<(), RegistryError>
    where
        R: Send + Sync + 'static,
        P: Fn(&R) -> &Self + Clone + Send + Sync + 'static,
    {
        Self::register_fields(root, project, prefix, builder)
    }
}

/// Returns `true` if `tree` registers a check named `name`.
#[must_use]
pub const fn contains(tree: &[Name], name: &[u8]) -> bool {
    let mut index = 0;
    while index < tree.len() {
        match &tree[index] {
            Name::Check(check) => {
                if bytes_eq(check.as_bytes(), name) {
                    return true;
                }
            }
            Name::Flatten(segment, nested) => {
                let segment = segment.as_bytes();
                if name.len() > segment.len() && name[segment.len()] == b'.' {
                    let (head, rest) = name.split_at(segment.len());
                    if bytes_eq(head, segment) && contains(nested, rest.split_at(1).1) {
                        return true;
                    }
                }
            }
        }
        index += 1;
    }
    false
}

const fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut index = 0;
    while index < a.len() {
        if a[index] != b[index] {
            return false;
        }
        index += 1;
    }
    true
}

/// Fails compilation when the flattened `tree` also registers `name`; `message` names the
/// clash (generated with both names spelled out).
pub const fn assert_unique(tree: &[Name], name: &str, message: &str) {
    assert!(!contains(tree, name.as_bytes()), "{}", message);
}

/// Fails compilation when `max_silence` is written on a field that is not a heartbeat.
pub const fn assert_heartbeat(judged: Judged) {
    assert!(
        matches!(judged, Judged::Heartbeat),
        "`max_silence` is for `Heartbeat` fields: use `max_age` for how old a result may get"
    );
}

/// Fails compilation when a heartbeat field has no `max_silence`.
pub const fn assert_not_heartbeat(judged: Judged) {
    assert!(
        !matches!(judged, Judged::Heartbeat),
        "a `Heartbeat` field needs `max_silence = \"...\"`: how long its loop may stay silent"
    );
}

/// Fails compilation when `max_age` is written on a heartbeat or start-up gate.
pub const fn assert_max_age(judged: Judged) {
    match judged {
        Judged::Scheduled => {}
        Judged::Heartbeat => {
            panic!("a `Heartbeat` goes stale after its `max_silence`: write that, not `max_age`");
        }
        Judged::Gate => panic!("a `StartupGate` never goes stale: remove `max_age`"),
    }
}

/// Fails compilation when a timing key is written on a field the runner never runs.
pub const fn assert_scheduled(judged: Judged) {
    assert!(
        matches!(judged, Judged::Scheduled),
        "timing keys apply to checks the runner runs; a `Heartbeat` or `StartupGate` is judged when a probe reads it"
    );
}
