//! Evaluated checks: the [`Check`] trait, closures as checks, and the trait behind
//! `#[derive(HealthCheck)]`.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::clock::format_duration;
use crate::report::{Ending, Report};
use crate::spec::{CheckKind, RegistryError};
use crate::status::Status;
// The public API takes `std`'s `Arc`: these values are not part of the modelled protocol,
// and users hold `std::sync::Arc<AppState>` under loom too.
use std::sync::Arc;

/// A check the runner evaluates in the background: a database ping, a downstream call.
///
/// Probes never call it; the runner does, on its schedule, and publishes the result.
/// `KIND` says whether it watches an external system, which keeps it off liveness.
///
/// # Examples
///
/// ```
/// use health_core::{Check, CheckKind, Report};
///
/// struct Cache;
///
/// impl Check for Cache {
///     const KIND: CheckKind = CheckKind::Dependency;
///
///     async fn check(&self) -> Report {
///         Report::degraded("hit rate 40%").with_observed(40.0, "percent")
///     }
/// }
/// # let _ = Cache;
/// ```
pub trait Check: Send + Sync + 'static {
    /// What the check watches; [`CheckKind::Internal`] unless overridden.
    const KIND: CheckKind = CheckKind::Internal;

    /// Runs the check once. The runner bounds it with the schedule's timeout and drops
    /// the future at the deadline.
    fn check(&self) -> impl Future<Output = Report> + Send;
}

impl<T: Check + ?Sized> Check for Arc<T> {
    const KIND: CheckKind = T::KIND;

    fn check(&self) -> impl Future<Output = Report> + Send {
        T::check(self)
    }
}

/// What a check closure may return: a [`Report`], a [`Status`], a `bool`, or a `Result`
/// whose error becomes the Unhealthy reason.
///
/// # Examples
///
/// ```
/// use health_core::{IntoReport, Status};
///
/// let failed: Result<(), std::io::Error> = Err(std::io::Error::other("connection refused"));
/// let report = failed.into_report();
/// assert_eq!(report.status(), Status::Unhealthy);
/// assert_eq!(report.reason(), Some("connection refused"));
/// assert_eq!(true.into_report().status(), Status::Healthy);
/// ```
pub trait IntoReport {
    /// Converts into a report.
    fn into_report(self) -> Report;
}

impl IntoReport for Report {
    fn into_report(self) -> Report {
        self
    }
}

impl IntoReport for Status {
    fn into_report(self) -> Report {
        Report::new(self)
    }
}

impl IntoReport for bool {
    fn into_report(self) -> Report {
        if self {
            Report::new(Status::Healthy)
        } else {
            Report::unhealthy("check returned false")
        }
    }
}

impl<T: IntoReport, E: fmt::Display> IntoReport for Result<T, E> {
    fn into_report(self) -> Report {
        match self {
            Ok(ok) => ok.into_report(),
            Err(err) => Report::unhealthy(err.to_string()),
        }
    }
}

impl IntoReport for () {
    fn into_report(self) -> Report {
        Report::new(Status::Healthy)
    }
}

/// A [`Check`] made from a closure returning a future; see [`check_fn`] and
/// [`dependency_fn`].
///
/// `DEPENDENCY` is the check's kind as a type parameter, so `Check::KIND` (which the
/// runner and the derive's restart-storm guard read) is exact at compile time.
pub struct FnCheck<F, const DEPENDENCY: bool = false> {
    function: F,
}

impl<F, const DEPENDENCY: bool> fmt::Debug for FnCheck<F, DEPENDENCY> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnCheck")
            .field("kind", &Self::KIND_OF)
            .finish_non_exhaustive()
    }
}

/// The kind a closure check's `DEPENDENCY` parameter stands for.
pub(crate) const fn kind_of(dependency: bool) -> CheckKind {
    if dependency {
        CheckKind::Dependency
    } else {
        CheckKind::Internal
    }
}

/// Makes a [`Check`] from a closure that returns a future of anything [`IntoReport`].
///
/// The check is [`CheckKind::Internal`]; use [`dependency_fn`] for one that calls an
/// external system.
///
/// # Examples
///
/// ```
/// use health_core::{check_fn, Check, Status};
///
/// let queue_depth = check_fn(|| async {
///     let depth = 12;
///     if depth < 1_000 { Ok(()) } else { Err(format!("queue depth {depth}")) }
/// });
/// # let report = futures_lite_block_on(queue_depth.check());
/// # assert_eq!(report.status(), Status::Healthy);
/// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// ```
pub fn check_fn<F, Fut>(function: F) -> FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: IntoReport,
{
    FnCheck { function }
}

/// Makes a [`CheckKind::Dependency`] check from a closure, like [`check_fn`].
///
/// # Examples
///
/// ```
/// use health_core::dependency_fn;
///
/// let db = dependency_fn(|| async { Ok::<(), std::io::Error>(()) });
/// # let _ = db;
/// ```
pub fn dependency_fn<F, Fut>(function: F) -> FnCheck<F, true>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: IntoReport,
{
    FnCheck { function }
}

impl<F, const DEPENDENCY: bool> FnCheck<F, DEPENDENCY> {
    const KIND_OF: CheckKind = kind_of(DEPENDENCY);

    /// Returns what the check watches.
    ///
    /// # Examples
    ///
    /// ```
    /// let check = health_core::dependency_fn(|| async { true });
    /// assert_eq!(check.kind(), health_core::CheckKind::Dependency);
    /// assert_eq!(health_core::check_fn(|| async { true }).kind(), health_core::CheckKind::Internal);
    /// ```
    #[must_use]
    pub fn kind(&self) -> CheckKind {
        Self::KIND_OF
    }
}

impl<F, Fut, const DEPENDENCY: bool> Check for FnCheck<F, DEPENDENCY>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: IntoReport,
{
    const KIND: CheckKind = Self::KIND_OF;

    async fn check(&self) -> Report {
        (self.function)().await.into_report()
    }
}

impl Report {
    /// Creates a `Healthy` report.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::Report::healthy().status(), health_core::Status::Healthy);
    /// ```
    #[must_use]
    pub const fn healthy() -> Report {
        Report::new(Status::Healthy)
    }

    /// Creates a `Degraded` report with `reason`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::Report::degraded("slow").reason(), Some("slow"));
    /// ```
    #[must_use]
    pub fn degraded(reason: impl Into<Cow<'static, str>>) -> Report {
        Report::new(Status::Degraded).with_reason(reason)
    }

    /// Creates an `Unhealthy` report with `reason`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(health_core::Report::unhealthy("down").status(), health_core::Status::Unhealthy);
    /// ```
    #[must_use]
    pub fn unhealthy(reason: impl Into<Cow<'static, str>>) -> Report {
        Report::new(Status::Unhealthy).with_reason(reason)
    }

    /// Creates the `Unhealthy` report of a run cut at its deadline, `timed out after
    /// 500ms`, with `timeout` as its duration: what the runner publishes, for a check that
    /// enforces a deadline of its own to say it the same way. Metrics count its run as a
    /// `timeout`, not a plain `unhealthy`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use health_core::Report;
    ///
    /// let report = Report::timed_out(Duration::from_millis(1500));
    /// assert_eq!(report.reason(), Some("timed out after 1.5s"));
    /// assert_eq!(report.duration(), Some(Duration::from_millis(1500)));
    /// ```
    #[must_use]
    pub fn timed_out(timeout: Duration) -> Report {
        Report::unhealthy(format!("timed out after {}", format_duration(timeout)))
            .with_duration(timeout)
            .ended(Ending::TimedOut)
    }
}

/// A state struct whose fields are checks; implement it with `#[derive(HealthCheck)]`.
///
/// The derive registers each annotated field with a [`RegistryBuilder`](crate::RegistryBuilder):
/// heartbeats and start-up gates are judged at read time, everything else is scheduled on
/// the runner. The service keeps using the fields (heartbeats beat, gates open).
///
/// # Examples
///
/// ```
/// # #[cfg(all(feature = "derive", feature = "runtime"))] {
/// use std::sync::Arc;
/// use health_core::{HealthCheck, Heartbeat, Outcome, Probe, RegistryBuilder, StartupGate};
///
/// #[derive(HealthCheck)]
/// struct AppState {
///     #[health(liveness, max_silence = "30s")]
///     worker: Heartbeat,
///     #[health(startup)]
///     warmup: StartupGate,
/// }
///
/// let state = Arc::new(AppState { worker: Heartbeat::new(), warmup: StartupGate::new() });
/// let mut builder = RegistryBuilder::new();
/// builder.register(&state)?;
/// let registry = builder.build();
/// state.warmup.done();
/// state.worker.beat();
/// assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
/// # }
/// # Ok::<(), health_core::RegistryError>(())
/// ```
pub trait HealthCheck: Send + Sync + 'static {
    /// Registers the checks of the value that `project` reaches from `root`, with names
    /// prefixed by `prefix` (empty, or ending in `.`). Generated by the derive.
    ///
    /// # Errors
    ///
    /// The first [`RegistryError`] a field's registration returns.
    #[doc(hidden)]
    fn register_fields<R, P>(
        root: &Arc<R>,
        project: P,
        prefix: &str,
        builder: &mut crate::RegistryBuilder,
    ) -> Result<(), RegistryError>
    where
        R: Send + Sync + 'static,
        P: Fn(&R) -> &Self + Clone + Send + Sync + 'static;
}

/// The projection from a registered state to itself.
fn identity<T>(state: &T) -> &T {
    state
}

/// A state that [`RegistryBuilder::register`](crate::RegistryBuilder::register) and
/// `Runner::spawn` accept: an `Arc<T>`, or a `T: Clone` whose clones share their data,
/// the two shapes an axum application holds, each registered without wrapping it again.
///
/// - **`Arc<T>`**: the registry keeps a clone of the `Arc`.
/// - **`T: Clone`** (e.g. `#[derive(Clone, HealthCheck)] struct AppState { db: Arc<Pool>,
///   … }`): the registry keeps one clone of `T`, made at registration. The service's
///   copy and the registry's must see the same data, so the fields must share it across
///   clones (`Arc`, pools, clients, [`Heartbeat`](crate::Heartbeat),
///   [`StartupGate`](crate::StartupGate)), as axum's `State` requires anyway. A field that
///   holds its data by value (a bare counter) would be checked in the registry's copy only.
///
/// Sealed: implemented for exactly these two shapes.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "derive")] {
/// use std::sync::Arc;
/// use health_core::{HealthCheck, Outcome, Probe, Registry, StartupGate};
///
/// #[derive(Clone, HealthCheck)]
/// struct AppState {
///     #[health(startup)]
///     warmup: StartupGate, // a clone shares the gate
///     name: Arc<str>,
/// }
///
/// let state = AppState { warmup: StartupGate::new(), name: "api".into() };
/// let mut builder = Registry::builder();
/// builder.register(&state)?; // a clone of `state`, no `Arc<AppState>` needed
/// let registry = builder.build();
/// state.warmup.done();
/// assert_eq!(registry.probe(Probe::Startup), Outcome::Pass);
/// # assert_eq!(&*state.name, "api");
/// # }
/// # Ok::<(), health_core::RegistryError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be registered as a state",
    label = "expected `Arc<T>` or `T: Clone`, where `T` derives `HealthCheck`",
    note = "pass an `Arc` of the state, or derive `Clone` for a state whose fields share their data (`Arc`, handles)"
)]
pub trait SharedState: sealed::Sealed {
    /// The struct that derives [`HealthCheck`].
    type State: HealthCheck;

    /// Returns the `Arc` the registry keeps.
    #[doc(hidden)]
    fn share(&self) -> Arc<Self::State>;
}

mod sealed {
    pub trait Sealed {}
    impl<T: super::HealthCheck> Sealed for std::sync::Arc<T> {}
    impl<T: super::HealthCheck + Clone> Sealed for T {}
}

impl<T: HealthCheck> SharedState for Arc<T> {
    type State = T;

    fn share(&self) -> Arc<T> {
        Arc::clone(self)
    }
}

// No overlap with `Arc<T>`: `Arc<T>` is never a `HealthCheck`, which only the derive
// implements (on the user's own structs) and the orphan rule keeps off `Arc<Local>`.
impl<T: HealthCheck + Clone> SharedState for T {
    type State = T;

    fn share(&self) -> Arc<T> {
        Arc::new(self.clone())
    }
}

impl crate::RegistryBuilder {
    /// Registers every check of a `#[derive(HealthCheck)]` state: one call for the whole
    /// struct, flattened fields and collections included.
    ///
    /// `state` is an `Arc<T>` or a cheaply cloned `T` (see [`SharedState`]). The
    /// registry keeps it alive (scheduled checks run against it); the service keeps using
    /// its own copy: heartbeats beat, gates open.
    ///
    /// # Errors
    ///
    /// The first [`RegistryError`] of a field (a duplicate name across two registered
    /// states, a name made too long by a prefix, an invalid key of a map of checks); the
    /// builder may then hold some of the state's checks and should be dropped.
    ///
    /// # Examples
    ///
    /// An `Arc` of the state:
    ///
    /// ```
    /// # #[cfg(all(feature = "derive", feature = "runtime"))] {
    /// use std::sync::Arc;
    /// use health_core::{HealthCheck, Outcome, Probe, Registry, StartupGate};
    ///
    /// #[derive(HealthCheck)]
    /// struct AppState {
    ///     #[health(startup)]
    ///     migrations: StartupGate,
    /// }
    ///
    /// let state = Arc::new(AppState { migrations: StartupGate::new() });
    /// let mut builder = Registry::builder();
    /// builder.register(&state)?;
    /// let registry = builder.build();
    ///
    /// assert_eq!(registry.probe(Probe::Startup), Outcome::Fail);
    /// state.migrations.done();
    /// assert_eq!(registry.probe(Probe::Startup), Outcome::Pass);
    /// # }
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    ///
    /// A state that is itself a bundle of shared handles, as axum's `State` is:
    ///
    /// ```
    /// # #[cfg(all(feature = "derive", feature = "runtime"))] {
    /// use std::sync::Arc;
    /// use health_core::{HealthCheck, Outcome, Probe, Registry, StartupGate};
    ///
    /// #[derive(Clone, HealthCheck)]
    /// struct AppState {
    ///     #[health(startup)]
    ///     migrations: StartupGate, // its clones share one gate
    ///     config: Arc<String>,
    /// }
    ///
    /// let state = AppState {
    ///     migrations: StartupGate::new(),
    ///     config: Arc::new("prod".to_owned()),
    /// };
    /// let mut builder = Registry::builder();
    /// builder.register(&state)?; // keeps a clone of the handles, not an `Arc<AppState>`
    /// let registry = builder.build();
    ///
    /// state.migrations.done(); // the service's copy and the registry's share the gate
    /// assert_eq!(registry.probe(Probe::Startup), Outcome::Pass);
    /// # assert_eq!(*state.config, "prod");
    /// # }
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    pub fn register<S: SharedState>(&mut self, state: &S) -> Result<(), RegistryError> {
        S::State::register_fields(&state.share(), identity::<S::State>, "", self)
    }
}

#[cfg(feature = "runtime")]
impl crate::Runner {
    /// Registers every check of a `#[derive(HealthCheck)]` state in a new registry on the
    /// system clock and starts the scheduled ones on the current tokio runtime.
    ///
    /// `state` is an `Arc<T>` or a cheaply cloned `T` (see [`SharedState`]).
    ///
    /// Shorthand for [`RegistryBuilder::register`](crate::RegistryBuilder::register) then
    /// [`RegistryBuilder::spawn`](crate::RegistryBuilder::spawn); use those two to set a
    /// clock or a jitter seed, or to register more than one state.
    ///
    /// # Errors
    ///
    /// As [`RegistryBuilder::register`](crate::RegistryBuilder::register).
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime, as `tokio::spawn` does.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(all(feature = "derive", feature = "runtime"))]
    /// # mod example {
    /// use std::sync::Arc;
    /// use health_core::{HealthCheck, Heartbeat, Outcome, Probe, Runner};
    ///
    /// #[derive(HealthCheck)]
    /// struct AppState {
    ///     #[health(liveness, max_silence = "30s")]
    ///     worker: Heartbeat,
    ///     #[health(readiness, interval = "5s", timeout = "1s", with = ping)]
    ///     db: String,
    /// }
    ///
    /// async fn ping(url: &String) -> Result<(), String> {
    ///     if url.starts_with("postgres://") { Ok(()) } else { Err(format!("bad url {url}")) }
    /// }
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// pub async fn main() -> Result<(), health_core::RegistryError> {
    ///     let state = Arc::new(AppState {
    ///         worker: Heartbeat::new(),
    ///         db: "postgres://db".to_owned(),
    ///     });
    ///     let (registry, runner) = Runner::spawn(&state)?;
    ///     assert_eq!(runner.len(), 1); // the heartbeat is judged when read, not run
    ///     state.worker.beat();
    ///     assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
    ///     Ok(())
    /// }
    /// # }
    /// # fn main() {
    /// #     #[cfg(all(feature = "derive", feature = "runtime"))]
    /// #     example::main().unwrap();
    /// # }
    /// ```
    ///
    /// The same with a state of shared handles, as an axum application holds it
    /// (`Router::with_state(state.clone())`):
    ///
    /// ```
    /// # #[cfg(all(feature = "derive", feature = "runtime"))]
    /// # mod example {
    /// use std::sync::Arc;
    /// use health_core::{HealthCheck, Heartbeat, Outcome, Probe, Runner};
    ///
    /// #[derive(Clone, HealthCheck)]
    /// struct AppState {
    ///     #[health(liveness, max_silence = "30s")]
    ///     worker: Heartbeat, // its clones share one heartbeat
    ///     #[health(readiness, with = ping)]
    ///     db: Arc<String>,
    /// }
    ///
    /// async fn ping(url: &Arc<String>) -> bool {
    ///     url.starts_with("postgres://")
    /// }
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// pub async fn main() -> Result<(), health_core::RegistryError> {
    ///     let state = AppState { worker: Heartbeat::new(), db: Arc::new("postgres://db".into()) };
    ///     let (registry, _runner) = Runner::spawn(&state)?; // no `Arc<AppState>`
    ///     state.worker.beat();
    ///     assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
    ///     Ok(())
    /// }
    /// # }
    /// # fn main() {
    /// #     #[cfg(all(feature = "derive", feature = "runtime"))]
    /// #     example::main().unwrap();
    /// # }
    /// ```
    pub fn spawn<S: SharedState>(
        state: &S,
    ) -> Result<(crate::Registry, crate::Runner), RegistryError> {
        let mut builder = crate::RegistryBuilder::new();
        builder.register(state)?;
        Ok(builder.spawn())
    }
}
