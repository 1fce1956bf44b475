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
///
/// The types judged by their silence are told apart so that an error names the type
/// the user wrote, not the heartbeat a `RuntimeStall` is built on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judged {
    /// Run by the runner on a [`Schedule`].
    Scheduled,
    /// A [`Heartbeat`]: judged at read time against its `max_silence`.
    Heartbeat,
    /// A [`RuntimeStall`]: judged at read time against its `max_silence`, as a heartbeat.
    RuntimeStall,
    /// A [`RuntimeLag`]: judged at read time against its `max_silence`, as a heartbeat.
    RuntimeLag,
    /// A [`StartupGate`]: judged at read time, never stale.
    Gate,
}

/// How a field type becomes a check: heartbeats and gates are judged at read time,
/// anything that implements [`Check`] is scheduled.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a health check",
    label = "this field's type does not implement `health_core::Check`",
    note = "implement `Check` for it, or check it through a function: #[health(with = ping)] with `async fn ping(_: &{Self})`",
    note = "for a collection of checks (a `Vec`, an array, a map keyed by name), write #[health(each)]: one check per element"
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
    const JUDGED: Judged = Judged::RuntimeStall;

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
    const JUDGED: Judged = Judged::RuntimeLag;

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

/// A collection whose elements are checks, one per element: `#[health(each)]`.
///
/// Elements are named by index (`Vec`, arrays, slices) or by key (maps keyed by name,
/// in key order). The registry reaches an element through its key on every run: the
/// collection is behind a shared reference for as long as the registry holds the state,
/// so it cannot change, and the key always finds its element.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a collection of checks",
    label = "#[health(each)] needs a `Vec`, an array, a slice or a map keyed by name",
    note = "elements are named by index (`Vec<T>`, `[T; N]`, `Box<[T]>`, `Arc<[T]>`) or by key (`BTreeMap<K, T>`, `HashMap<K, T>` with `K: AsRef<str>`, such as `String`)"
)]
pub trait Each: Send + Sync + 'static {
    /// The type of one element.
    type Element: 'static;
    /// What finds an element again: an index or a map key.
    type Key: Clone + Send + Sync + 'static;

    /// Every element's key and name segment, in registration order.
    fn keys(&self) -> Vec<(Self::Key, String)>;

    /// The element under `key`, one of [`keys`](Self::keys).
    fn element(&self, key: &Self::Key) -> &Self::Element;

    // The derive calls the two below as `<T as Each>::...`, spanned at the field's type,
    // like every other use of `T: Each`: a type that is not a collection is then one
    // error there, which rustc reports once.

    /// The elements, each with its full name: `prefix segment . key`.
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidName`] for an empty key (the other rules apply to the full
    /// name when it is registered).
    fn elements(
        &self,
        prefix: &str,
        segment: &str,
    ) -> Result<Vec<(Self::Key, String)>, RegistryError> {
        self.keys()
            .into_iter()
            .map(|(key, name)| {
                let mut full = nested(prefix, segment);
                full.push_str(&name);
                if name.is_empty() {
                    return Err(RegistryError::InvalidName {
                        name: full,
                        reason: "the element's key is empty",
                    });
                }
                Ok((key, full))
            })
            .collect()
    }

    /// Reaches the element under `key` of the collection that `outer` reaches.
    fn project<R, P>(
        outer: P,
        key: Self::Key,
    ) -> impl Fn(&R) -> &Self::Element + Clone + Send + Sync + 'static
    where
        R: 'static,
        P: Fn(&R) -> &Self + Clone + Send + Sync + 'static,
    {
        move |root| outer(root).element(&key)
    }
}

impl<T: Send + Sync + 'static> Each for [T] {
    type Element = T;
    type Key = usize;

    fn keys(&self) -> Vec<(usize, String)> {
        (0..self.len())
            .map(|index| (index, index.to_string()))
            .collect()
    }

    fn element(&self, key: &usize) -> &T {
        &self[*key]
    }
}

impl<T: Send + Sync + 'static> Each for Vec<T> {
    type Element = T;
    type Key = usize;

    fn keys(&self) -> Vec<(usize, String)> {
        self.as_slice().keys()
    }

    fn element(&self, key: &usize) -> &T {
        &self[*key]
    }
}

impl<T: Send + Sync + 'static, const N: usize> Each for [T; N] {
    type Element = T;
    type Key = usize;

    fn keys(&self) -> Vec<(usize, String)> {
        self.as_slice().keys()
    }

    fn element(&self, key: &usize) -> &T {
        &self[*key]
    }
}

impl<C: Each + ?Sized> Each for Box<C> {
    type Element = C::Element;
    type Key = C::Key;

    fn keys(&self) -> Vec<(C::Key, String)> {
        (**self).keys()
    }

    fn element(&self, key: &C::Key) -> &C::Element {
        (**self).element(key)
    }
}

impl<C: Each + ?Sized> Each for Arc<C> {
    type Element = C::Element;
    type Key = C::Key;

    fn keys(&self) -> Vec<(C::Key, String)> {
        (**self).keys()
    }

    fn element(&self, key: &C::Key) -> &C::Element {
        (**self).element(key)
    }
}

impl<K, T> Each for std::collections::BTreeMap<K, T>
where
    K: AsRef<str> + Ord + Clone + Send + Sync + 'static,
    T: Send + Sync + 'static,
{
    type Element = T;
    type Key = K;

    fn keys(&self) -> Vec<(K, String)> {
        self.keys()
            .map(|key| (key.clone(), key.as_ref().to_owned()))
            .collect()
    }

    fn element(&self, key: &K) -> &T {
        match self.get(key) {
            Some(element) => element,
            None => unreachable!("the map is shared, so it cannot lose a key"),
        }
    }
}

impl<K, T, S> Each for std::collections::HashMap<K, T, S>
where
    K: AsRef<str> + Eq + std::hash::Hash + Clone + Send + Sync + 'static,
    T: Send + Sync + 'static,
    S: std::hash::BuildHasher + Send + Sync + 'static,
{
    type Element = T;
    type Key = K;

    /// Sorted by name: a `HashMap`'s own order changes from run to run, and the order
    /// of registration is the order of `?verbose` lines.
    fn keys(&self) -> Vec<(K, String)> {
        let mut keys: Vec<(K, String)> = self
            .keys()
            .map(|key| (key.clone(), key.as_ref().to_owned()))
            .collect();
        keys.sort_unstable_by(|a, b| a.1.cmp(&b.1));
        keys
    }

    fn element(&self, key: &K) -> &T {
        match self.get(key) {
            Some(element) => element,
            None => unreachable!("the map is shared, so it cannot lose a key"),
        }
    }
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
    /// An `each` field: its segment, under which any name may be an element's.
    Each(&'static str),
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
                if let Some(rest) = below(name, segment.as_bytes())
                    && contains(nested, rest)
                {
                    return true;
                }
            }
            Name::Each(segment) => {
                if below(name, segment.as_bytes()).is_some() {
                    return true;
                }
            }
        }
        index += 1;
    }
    false
}

/// Returns `rest` if `name` is `segment.rest`.
const fn below<'n>(name: &'n [u8], segment: &[u8]) -> Option<&'n [u8]> {
    if name.len() > segment.len() && name[segment.len()] == b'.' {
        let (head, rest) = name.split_at(segment.len());
        if bytes_eq(head, segment) {
            return Some(rest.split_at(1).1);
        }
    }
    None
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

// Each message names the type the field has: a const panic takes one literal, so the
// messages are spelled out per type rather than assembled.

/// Fails compilation when `max_silence` is written on a field not judged by its silence.
pub const fn assert_max_silence(judged: Judged) {
    match judged {
        Judged::Heartbeat | Judged::RuntimeStall | Judged::RuntimeLag => {}
        Judged::Scheduled => panic!(
            "`max_silence` is for fields judged by their silence (`Heartbeat`, `RuntimeStall`, `RuntimeLag`): use `max_age` for how old a result may get"
        ),
        Judged::Gate => panic!("a `StartupGate` never goes stale: remove `max_silence`"),
    }
}

/// Fails compilation when a field judged by its silence has no `max_silence`.
pub const fn assert_without_max_silence(judged: Judged) {
    match judged {
        Judged::Scheduled | Judged::Gate => {}
        Judged::Heartbeat => panic!(
            "a `Heartbeat` field needs `max_silence = \"...\"`: how long its loop may stay silent"
        ),
        Judged::RuntimeStall => panic!(
            "a `RuntimeStall` field needs `max_silence = \"...\"`: how long the runtime may go without running a tick"
        ),
        Judged::RuntimeLag => panic!(
            "a `RuntimeLag` field needs `max_silence = \"...\"`: how late the runtime may run its ticks"
        ),
    }
}

/// Fails compilation when `max_age` is written on a field judged at read time.
pub const fn assert_max_age(judged: Judged) {
    match judged {
        Judged::Scheduled => {}
        Judged::Heartbeat => {
            panic!("a `Heartbeat` goes stale after its `max_silence`: write that, not `max_age`");
        }
        Judged::RuntimeStall => panic!(
            "a `RuntimeStall` fails once no tick has run for its `max_silence`: write that, not `max_age`"
        ),
        Judged::RuntimeLag => panic!(
            "a `RuntimeLag` fails once its ticks run `max_silence` late: write that, not `max_age`"
        ),
        Judged::Gate => panic!("a `StartupGate` never goes stale: remove `max_age`"),
    }
}

/// Fails compilation when a timing key is written on a field the runner never runs.
pub const fn assert_scheduled(judged: Judged) {
    match judged {
        Judged::Scheduled => {}
        Judged::Heartbeat => panic!(
            "timing keys apply to checks the runner runs; a `Heartbeat` is judged when a probe reads it"
        ),
        Judged::RuntimeStall => panic!(
            "timing keys apply to checks the runner runs; a `RuntimeStall` is judged when a probe reads it (its ticker's period is set by `RuntimeStall::start_with`)"
        ),
        Judged::RuntimeLag => panic!(
            "timing keys apply to checks the runner runs; a `RuntimeLag` is judged when a probe reads it (its ticker's period is set by `RuntimeStall::start_with`)"
        ),
        Judged::Gate => panic!(
            "timing keys apply to checks the runner runs; a `StartupGate` is judged when a probe reads it"
        ),
    }
}
