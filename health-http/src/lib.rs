//! Serves `health-core` probes over HTTP with Kubernetes conventions: `/livez`,
//! `/readyz`, `/startupz`, answered from prepared bodies without locks or formatting.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use health_core::{CheckSpec, Registry};
//! use health_http::{HealthService, serve};
//! use tokio::net::TcpListener;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut builder = Registry::builder();
//! let db = builder.push(CheckSpec::new("db").readiness())?;
//! let registry = builder.build();
//! db.healthy();
//!
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! serve(listener, HealthService::new(registry))
//!     .drain_delay(Duration::ZERO) // 5 s by default; none here, so the example ends at once
//!     .with_graceful_shutdown(async { /* e.g. tokio::signal::ctrl_c() */ })
//!     .await;
//! # Ok(()) }
//! ```
//!
//! # Items
//!
//! **Answering:** [`HealthService`], a hyper (and tower) `Service`.
//!
//! **Serving standalone:** [`serve`], [`Serve`], [`Listener`]; on a thread and runtime of
//! its own, so that a busy or blocked application runtime never delays a probe:
//! [`Serve::spawn`], [`ProbeServer`].
//!
//! **Inside an axum application** (feature `axum`): `axum::router` for the standard
//! paths, `HealthService::probe` for one probe at any path, `axum::drain` for the
//! application server's graceful shutdown.
//!
//! **Checking other services:** [`HttpCheck`], for the `health-core` runner.
//!
//! # Routes
//!
//! GET and HEAD (HEAD: same headers, no body); any other method is 405 with
//! `Allow: GET, HEAD`; any other path 404.
//!
//! | path | answer |
//! |---|---|
//! | `/livez` `/readyz` `/startupz` | 200 `ok` on pass or warn; 503 `readyz check failed` on fail |
//! | `/healthz` | `/livez` (compatibility), naming itself `healthz`: charts point `livenessProbe` at it, so it never fails for a dependency or a drain |
//! | `/<probe>/<check>` | one check: 200 `ok`, or 503 with its line; 404 if not a member |
//! | `?verbose` | the API server's text: `[+]db ok`, `[-]cache failed: reason withheld`, …, `readyz check passed` |
//! | `?exclude=a&exclude=b` | skips those checks (`[+]a excluded: ok`); unknown names: a `warn:` line |
//! | `Accept: application/health+json` | IETF health+json: `status`, a `checks` map, `notes` |
//! | `/metrics` | with feature `prometheus` and `HealthService::metrics`: the service's `prometheus-client` registry as OpenMetrics text (`application/openmetrics-text; version=1.0.0`); 404 otherwise |
//!
//! Every answer carries `Cache-Control: no-store`, `X-Content-Type-Options: nosniff`,
//! `Content-Type` and `Content-Length`. Plain probe answers (no `verbose`, `exclude` or
//! JSON) are prepared ahead: one lock-free read, a static body, no formatting or copying.
//!
//! **The verbose format** is the Kubernetes API server's (byte for byte where their
//! vocabularies meet; `warn` is ours, the API server has no such state): a line per
//! member in registration order (`[+]name ok`, `[+]name excluded: ok`,
//! `[-]name failed: reason withheld`; a degraded or failing non-critical member is
//! `[+]name warn: reason withheld`), then `warn: some health checks cannot be excluded:
//! no matches for "x","y"` if some excluded names matched nothing (sorted, deduplicated),
//! then `<endpoint> check passed` or `failed`. Readiness adds the lifecycle gates as
//! the API server does: a `shutdown` line always (`[-]shutdown failed: reason withheld`
//! from [`Registry::begin_shutdown`] on), and a `startup` line while the startup probe
//! has not passed. The gates cannot be excluded. A registry with checks `ping`, `log`,
//! `etcd` answers `/readyz?verbose` while draining with exactly the API server's
//!
//! ```text
//! [+]ping ok
//! [+]log ok
//! [+]etcd ok
//! [-]shutdown failed: reason withheld
//! readyz check failed
//! ```
//!
//! Differences from the API server, on purpose: a failure is 503, not 500 (the kubelet
//! counts both as failure; 503 says "not now" to load balancers, as the IETF draft
//! allows); without `?verbose`, a failure body is only its last line, since plain
//! answers are prepared; a check's own path withholds its reason like the rest.
//!
//! Once the startup probe has latched, `/startupz` passes for good; `?verbose` still
//! lists its members as they are now.
//!
//! **health+json** follows draft-inadarei-api-health-check-06: `status` is `pass`,
//! `warn` or `fail` (HTTP 200, 200, 503), `checks` maps each check name (and the
//! readiness gates) to a one-element array with `componentType` (`component`,
//! `datastore`, `system` for the gates), `status`, RFC 3339 `time` of the last result,
//! `observedValue`/`observedUnit`, and `output` only on non-pass and only when details
//! are shown. Excluded checks are left out.
//!
//! **Details.** Reasons are error strings from dependencies, so they are withheld unless
//! the service opts in: [`HealthService::details`] for everyone, or
//! [`HealthService::details_when`] with a predicate on the request (a token header; not
//! the peer's address, which a service mesh's sidecar makes loopback for everyone).
//!
//! # Public API
//!
//! Signatures use only `std`, [`health_core`], [`http`], [`hyper`]'s `Service`,
//! [`bytes::Bytes`], [`http_body_util::Full`], [`tokio::net::TcpListener`] (or
//! `std::net::TcpListener`, through [`Listener`]) and, with the `tower` feature,
//! `tower_service::Service`; with the `axum` feature, `axum::Router`; with the
//! `prometheus` feature, `prometheus_client::registry::Registry`.
//!
//! # Features
//!
//! - `tower` (default): `tower_service::Service` for [`HealthService`], for axum's
//!   `Router::route_service` and `nest_service`.
//! - `axum`: the `health_http::axum` module (implies `tower`).
//! - `prometheus`: `/metrics` from a `prometheus-client` registry
//!   (`HealthService::metrics`), and `health-core`'s `prometheus-client` feature for
//!   its `PrometheusCollector`.
//!
//! [`Registry::begin_shutdown`]: health_core::Registry::begin_shutdown

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod check;
mod dedicated;
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub mod grpc;
#[cfg(feature = "prometheus")]
mod metrics;
mod render;
mod route;
mod serve;
mod service;

pub use crate::check::HttpCheck;
pub use crate::dedicated::ProbeServer;
pub use crate::serve::{Listener, Serve, serve};
pub use crate::service::HealthService;

/// The README's examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
