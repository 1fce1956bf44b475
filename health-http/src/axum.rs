//! The probes inside an axum application (feature `axum`): on the application's own
//! router and port, draining with the application's own server.
//!
//! - [`router`]: `/livez`, `/readyz`, `/startupz`, `/healthz` and their
//!   `/<probe>/<check>` paths, to [`merge`](::axum::Router::merge) into the application's
//!   router (or [`nest`](::axum::Router::nest) under a prefix).
//! - [`HealthService::probe`]: one probe as a service of its own, to mount at any path
//!   (`/ready`, `/health/live`) with [`route_service`](::axum::Router::route_service).
//! - [`drain`]: the shutdown future for `axum::serve(...).with_graceful_shutdown(...)`:
//!   readiness fails at once, the server keeps serving for the drain delay, then axum
//!   stops accepting and finishes the requests in flight, as [`serve`](crate::serve)
//!   does for the probes alone. [`shutdown_signal`] is the signal to give it.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use health_core::{HealthCheck, Probe, Runner, StartupGate};
//! use health_http::HealthService;
//! use health_http::axum::{drain, router, shutdown_signal};
//!
//! #[derive(Clone, HealthCheck)]
//! struct AppState {
//!     #[health(startup)]
//!     warmup: StartupGate,
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let state = AppState { warmup: StartupGate::new() };
//!     let (registry, _runner) = Runner::spawn(&state)?;
//!     let health = HealthService::new(registry.clone());
//!
//!     let app = Router::new()
//!         .route("/", get(|| async { "hello" }))
//!         .merge(router(&health))                                  // /livez, /readyz, ...
//!         .route_service("/ready", health.probe(Probe::Readiness)) // any path you like
//!         .with_state(state.clone());
//!     state.warmup.done();
//!
//!     let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//!     axum::serve(listener, app)
//!         .with_graceful_shutdown(drain(registry, Duration::from_secs(5), shutdown_signal()))
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! # Embedded or dedicated
//!
//! Embedded probes are answered by the application's runtime, behind its work: fine while
//! its workers never block, but a blocking call or a CPU burst that holds every worker
//! delays the probes too, and a kubelet whose liveness probe times out restarts the pod.
//! For probes that answer whatever the application does, serve them on a port, thread
//! and runtime of their own with [`Serve::spawn`](crate::Serve::spawn) (a
//! [`ProbeServer`](crate::ProbeServer)) and pair it with `health_core::RuntimeStall`, so
//! that a runtime that is really stuck fails liveness with a reason. The application's
//! own axum server still drains with [`drain`]; both call
//! [`Registry::begin_shutdown`], which only the first call does anything for.
//!
//! # Routing notes
//!
//! - [`router`] sets no fallback, so it merges into a router that has one (axum refuses to
//!   merge two fallbacks) and unknown paths reach the application's fallback.
//! - `Router::nest("/health", router(...))` serves `/health/readyz`: nesting strips the
//!   prefix before the probes see the path. Prefer it to `nest_service`, which would
//!   also hand `/health` itself to the probes.
//! - `route_service` matches its path exactly: `/ready` answers, `/ready/` does not.

use std::future::{Future, Ready, ready};
use std::time::Duration;

use bytes::Bytes;
use health_core::{Probe, Registry};
use http::{Request, Response};
use http_body_util::Full;

use crate::service::HealthService;

/// The probes' standard paths: `/livez`, `/readyz`, `/startupz`, `/healthz` (liveness)
/// and `/<probe>/<check>` below each, as routes to (clones of) `service`, for
/// [`merge`](::axum::Router::merge) or [`nest`](::axum::Router::nest); and `/metrics`
/// if `service` serves metrics (feature `prometheus`, `HealthService::metrics`).
///
/// Generic over the application's state `S`, so it merges into a `Router<AppState>`
/// before `with_state`. It has no fallback of its own (see the [module
/// docs](self#routing-notes)).
///
/// # Examples
///
/// ```
/// use axum::Router;
/// use health_http::HealthService;
///
/// # #[derive(Clone)] struct AppState;
/// let health = HealthService::new(health_core::Registry::builder().build());
/// let app: Router<AppState> = Router::new()
///     .merge(health_http::axum::router(&health))
///     .nest("/internal", health_http::axum::router(&health)) // /internal/readyz, ...
///     .fallback(|| async { "not here" });
/// # let _ = app;
/// ```
pub fn router<S>(service: &HealthService) -> ::axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    const PATHS: [(&str, &str); 4] = [
        ("/livez", "/livez/{check}"),
        ("/readyz", "/readyz/{check}"),
        ("/startupz", "/startupz/{check}"),
        ("/healthz", "/healthz/{check}"),
    ];
    let router = PATHS
        .into_iter()
        .fold(::axum::Router::new(), |router, (probe, check)| {
            // The service routes on the whole path itself; axum only selects it.
            router
                .route_service(probe, service.clone())
                .route_service(check, service.clone())
        });
    #[cfg(feature = "prometheus")]
    if service.served_metrics().is_some() {
        return router.route_service("/metrics", service.clone());
    }
    router
}

/// One probe as a service of its own, answering at whatever path it is mounted on; see
/// [`HealthService::probe`].
#[derive(Clone, Debug)]
pub struct ProbeService {
    service: HealthService,
    probe: Probe,
}

impl HealthService {
    /// Returns a service that answers `probe` at any path (feature `axum`): mount it with
    /// `Router::route_service("/ready", ...)` or `("/health/live", ...)`.
    ///
    /// It answers as the probe's standard path does (`?verbose`, `?exclude=`,
    /// health+json, prepared plain answers, 405 for other methods), and names itself in
    /// text answers as that path (`readyz check passed`). A check's own path needs
    /// [`router`].
    ///
    /// # Examples
    ///
    /// ```
    /// use axum::Router;
    /// use health_core::Probe;
    /// use health_http::HealthService;
    ///
    /// let health = HealthService::new(health_core::Registry::builder().build());
    /// let app: Router = Router::new()
    ///     .route_service("/ready", health.probe(Probe::Readiness))
    ///     .route_service("/health/live", health.probe(Probe::Liveness));
    /// # let _ = app;
    /// ```
    #[must_use]
    pub fn probe(&self, probe: Probe) -> ProbeService {
        ProbeService {
            service: self.clone(),
            probe,
        }
    }
}

impl<B> hyper::service::Service<Request<B>> for ProbeService {
    type Response = Response<Full<Bytes>>;
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self::Response, Self::Error>>;

    fn call(&self, request: Request<B>) -> Self::Future {
        let (mut parts, _body) = request.into_parts();
        let answer = self
            .service
            .answer_at(&mut parts, self.probe.path(), self.probe, None);
        ready(Ok(answer))
    }
}

impl<B> tower_service::Service<Request<B>> for ProbeService {
    type Response = Response<Full<Bytes>>;
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        hyper::service::Service::call(self, request)
    }
}

/// Waits for `signal`, then begins shutdown (readiness fails at once: load balancers
/// move traffic away), waits `delay` while the server keeps serving, then completes: the
/// shutdown future for `axum::serve(...).with_graceful_shutdown(...)`.
///
/// When it completes, axum stops accepting and lets the requests in flight finish, so
/// the application drains like [`serve`](crate::serve): keep `delay` plus the longest
/// request below the pod's `terminationGracePeriodSeconds`. Liveness is untouched. Call
/// [`Registry::stop`] once `axum::serve` returns if anything reads the phase.
///
/// Works with any server that takes a shutdown future (hyper-util's graceful shutdown,
/// tonic's `serve_with_shutdown`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_core::{Outcome, Phase, Probe, Registry};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let registry = Registry::builder().build();
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let drained = tokio::spawn(health_http::axum::drain(
///     registry.clone(),
///     Duration::from_secs(5),
///     async { stopped.await.ok(); }, // e.g. health_http::axum::shutdown_signal()
/// ));
///
/// stop.send(()).unwrap();
/// tokio::time::sleep(Duration::from_secs(1)).await;
/// assert_eq!(registry.phase(), Phase::Draining); // readiness fails from the signal on...
/// assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
/// assert!(!drained.is_finished()); // ...while the server keeps serving
/// tokio::time::sleep(Duration::from_secs(5)).await;
/// assert!(drained.is_finished()); // then axum stops accepting
/// # }
/// ```
pub async fn drain<F>(registry: Registry, delay: Duration, signal: F)
where
    F: Future<Output = ()>,
{
    signal.await;
    registry.begin_shutdown();
    tracing::info!(target: "health", ?delay, "draining: readiness fails, still serving");
    tokio::time::sleep(delay).await;
    tracing::info!(target: "health", "drained: the server stops accepting");
}

/// Completes on SIGTERM (the kubelet's stop signal) or Ctrl-C: the signal to give
/// [`drain`].
///
/// If SIGTERM cannot be listened for, it says so in a `tracing` warning and waits for
/// Ctrl-C alone.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() {
/// health_http::axum::shutdown_signal().await;
/// # }
/// ```
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(err) => {
                tracing::warn!(target: "health", error = %err, "cannot listen for SIGTERM: Ctrl-C only");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
