//! Lock-free health state for Kubernetes liveness, readiness and startup probes: a probe
//! is one atomic load (plus one clock read if it has time-judged members), never a lock,
//! never an allocation, never a call to a dependency.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use health_core::{CheckKind, CheckSpec, Heartbeat, Outcome, Probe, Registry, StartupGate};
//!
//! let worker = Heartbeat::new();
//! let warmup = StartupGate::new();
//! let mut builder = Registry::builder();
//! let db = builder.push(CheckSpec::new("db").readiness().kind(CheckKind::Dependency))?;
//! builder.heartbeat(CheckSpec::new("worker").liveness().max_age(Duration::from_secs(30)), &worker)?;
//! builder.gate(CheckSpec::new("warmup").startup(), &warmup)?;
//! let registry = builder.build();
//!
//! assert_eq!(registry.probe(Probe::Startup), Outcome::Fail);
//! assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail); // not started yet
//! warmup.done();
//! db.healthy();
//! worker.beat();
//! assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
//!
//! db.unhealthy("connection refused");                         // a dependency outage…
//! assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
//! assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);  // …never restarts the pod
//!
//! registry.begin_shutdown();                                  // drain: readiness fails at once
//! assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
//! # Ok::<(), health_core::RegistryError>(())
//! ```
//!
//! # Items
//!
//! **Describing checks:** [`CheckSpec`], [`CheckKind`], [`Probes`], [`validate_name`],
//! [`RegistryError`].
//!
//! **Building and reading:** [`Registry`], [`RegistryBuilder`], [`CheckView`],
//! [`CheckSnapshot`], [`Aggregate`], [`Subscription`], [`Phase`].
//!
//! **Publishing:** [`CheckHandle`], [`Report`], [`Observed`], [`Heartbeat`],
//! [`StartupGate`].
//!
//! **State structs:** [`HealthCheck`](trait@HealthCheck) (derived with feature `derive`),
//! [`SharedState`].
//!
//! **Evaluated checks** (feature `runtime`): [`Check`], [`check_fn`], [`dependency_fn`],
//! [`IntoReport`], `blocking_fn` / `blocking_dependency_fn` (`BlockingCheck`, for
//! synchronous code that may block), `Schedule`, `Runner`, `TcpCheck`, `LagCheck`,
//! `Resolver` (bounded name lookups for `TcpCheck` and health-http's `HttpCheck`), and
//! `RegistryBuilder::schedule` / `RegistryBuilder::spawn`.
//!
//! **The application runtime's own health** (feature `runtime`): `RuntimeStall` fails
//! liveness when the runtime stops running a ticker, `RuntimeLag` fails readiness while
//! it runs it late.
//!
//! **PostgreSQL** (features `sqlx`, `deadpool-postgres`): `PgCheck`, and [`Check`] for
//! `sqlx::PgPool` and `deadpool_postgres::Pool` themselves, so
//! `#[health(readiness)] db: PgPool` needs nothing more.
//!
//! **Values and time:** [`Status`], [`Probe`], [`Outcome`], [`Clock`], [`ManualClock`],
//! [`Timestamp`].
//!
//! **Metrics:** [`CheckMetrics`] (from [`CheckView::metrics`]), [`RunResult`],
//! [`DURATION_BUCKETS`], `RegistryBuilder::record_metrics`; exported by
//! `PrometheusCollector` (feature `prometheus-client`) and `MetricsEmitter` (feature
//! `metrics`), with `InvalidPrefix`.
//!
//! # Semantics
//!
//! A probe fails if a critical member is Unhealthy or stale, or (readiness and startup
//! only) still Unknown; it warns (and still passes) if a member is Degraded or a
//! non-critical member fails; otherwise it passes. A probe with no members passes.
//! Readiness also fails until the startup probe has passed once (it latches) and from
//! the moment [`Registry::begin_shutdown`] is called.
//!
//! # Memory ordering
//!
//! Each probe keeps its failing and warning member counts, and the lifecycle's flags, in
//! one atomic word; a check's single current *owner* moves the check's contribution along
//! its statuses in order, so a reader's single `Acquire` load sees counts some real
//! sequence of writes produced. Writers never wait: a write that finds the check owned
//! leaves its report for the owner. The protocol, with the happens-before chain from a
//! write to a read, is described in `src/registry/slot.rs` (and the reads in
//! `src/registry/read.rs`); every step is model-checked with loom (`tests/loom.rs`), and
//! `scripts/ordering-mutations.sh` shows each ordering is needed: weakening any one makes
//! a model fail.
//!
//! # Features
//!
//! - `derive`: `#[derive(HealthCheck)]`.
//! - `runtime`: the tokio runner for evaluated checks.
//! - `sqlx`: checks for `sqlx::PgPool` (sqlx with `postgres` and `runtime-tokio` only).
//!   Implies `runtime`.
//! - `deadpool-postgres`: checks for `deadpool_postgres::Pool`. Implies `runtime`.
//! - `prometheus-client`: `PrometheusCollector`, the checks' metrics in a
//!   `prometheus-client` registry.
//! - `metrics`: `MetricsEmitter`, the checks' metrics to the `metrics` facade's recorder.

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(loom, allow(dead_code))]

#[cfg(feature = "runtime")]
mod builtin;
mod check;
mod clock;
#[cfg(any(feature = "prometheus-client", feature = "metrics"))]
mod exposition;
mod heartbeat;
#[cfg(any(feature = "sqlx", feature = "deadpool-postgres"))]
mod postgres;
mod registry;
mod report;
#[cfg(feature = "runtime")]
mod runtime;
mod spec;
#[cfg(feature = "runtime")]
mod stall;
mod status;
mod sync;

#[doc(hidden)]
#[cfg(feature = "runtime")]
#[path = "private.rs"]
pub mod __private;

#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub use crate::builtin::{LagCheck, TcpCheck};
pub use crate::check::{
    Check, FnCheck, HealthCheck, IntoReport, SharedState, check_fn, dependency_fn,
};
pub use crate::clock::{Clock, ManualClock, Timestamp};
#[cfg(any(feature = "prometheus-client", feature = "metrics"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "prometheus-client", feature = "metrics")))
)]
pub use crate::exposition::InvalidPrefix;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use crate::exposition::facade::MetricsEmitter;
#[cfg(feature = "prometheus-client")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus-client")))]
pub use crate::exposition::prometheus::PrometheusCollector;
pub use crate::heartbeat::{Heartbeat, StartupGate};
#[cfg(any(feature = "sqlx", feature = "deadpool-postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlx", feature = "deadpool-postgres"))))]
pub use crate::postgres::PgCheck;
pub use crate::registry::{
    Aggregate, CheckHandle, CheckMetrics, CheckSnapshot, CheckView, DURATION_BUCKETS, Phase,
    Registry, RegistryBuilder, RunResult, Subscription,
};
pub use crate::report::{Observed, Report};
#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub use crate::runtime::{
    BlockingCheck, MAX_AGE_SLACK, Resolver, Runner, Schedule, blocking_dependency_fn, blocking_fn,
};
pub use crate::spec::{CheckKind, CheckSpec, MAX_NAME_LEN, Probes, RegistryError, validate_name};
#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub use crate::stall::{RuntimeLag, RuntimeStall};
pub use crate::status::{Outcome, Probe, Status};

/// Derives [`HealthCheck`](trait@HealthCheck) for a state struct: see the `health-derive`
/// crate.
#[cfg(feature = "derive")]
#[cfg_attr(docsrs, doc(cfg(feature = "derive")))]
pub use health_derive::HealthCheck;

// The README's examples, compiled and run as doctests. They use the runner, so only with
// feature `runtime` (`cargo test -p health-core --features runtime --doc`).
#[cfg(all(doctest, feature = "runtime"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
