//! `#[derive(HealthCheck)]`: annotate the fields of the state struct a service already has,
//! and they become its liveness, readiness and startup checks, validated at compile time.
//!
//! Use it through `health-core` with the `derive` and `runtime` features, as
//! `health_core::HealthCheck`; this crate is its implementation.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use health_core::{Check, HealthCheck, Heartbeat, Outcome, Probe, Report, Runner, StartupGate};
//!
//! /// One of our own types: it implements the check trait.
//! struct Cache {
//!     hit_rate: f64,
//! }
//!
//! impl Check for Cache {
//!     async fn check(&self) -> Report {
//!         if self.hit_rate > 0.5 { Report::healthy() } else { Report::degraded("cold cache") }
//!     }
//! }
//!
//! /// A foreign type (a connection pool, say): checked through an async fn.
//! struct Pool {
//!     url: String,
//! }
//!
//! async fn ping_db(pool: &Pool) -> Result<(), String> {
//!     # let _ = &pool.url;
//!     Ok(()) // `SELECT 1` in a real service
//! }
//!
//! #[derive(HealthCheck)]
//! struct Queues {
//!     #[health(liveness, max_silence = "1m")]
//!     consumer: Heartbeat,
//! }
//!
//! #[derive(HealthCheck)]
//! #[health(timeout = "1s", interval = "10s")] // defaults for the checks the runner runs
//! struct AppState {
//!     #[health(readiness, timeout = "500ms", with = ping_db)]
//!     db: Pool,
//!     #[health(readiness, critical = false)]
//!     cache: Cache,
//!     #[health(liveness, max_silence = "30s")]
//!     worker: Heartbeat,
//!     #[health(startup)]
//!     migrations: StartupGate,
//!     #[health(flatten)]
//!     queues: Queues, // its checks are named `queues.…`
//!     config: String, // no attribute: not a check
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), health_core::RegistryError> {
//! let state = Arc::new(AppState {
//!     db: Pool { url: "postgres://db".into() },
//!     cache: Cache { hit_rate: 0.9 },
//!     worker: Heartbeat::new(),
//!     migrations: StartupGate::new(),
//!     queues: Queues { consumer: Heartbeat::new() },
//!     config: String::new(),
//! });
//! let (registry, _runner) = Runner::spawn(&state)?; // `_runner` runs `db` and `cache`
//!
//! let names: Vec<&str> = registry.checks().map(|check| check.name()).collect();
//! assert_eq!(names, ["db", "cache", "worker", "migrations", "queues.consumer"]);
//!
//! assert_eq!(registry.probe(Probe::Startup), Outcome::Fail);
//! state.migrations.done(); // the service keeps using its fields
//! state.worker.beat();
//! # tokio::time::sleep(std::time::Duration::from_secs(1)).await; // first runs, within their jitter (virtual time)
//! assert_eq!(registry.probe(Probe::Startup), Outcome::Pass);
//! assert_eq!(registry.probe(Probe::Readiness), Outcome::Pass);
//! assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
//! # assert!(state.config.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! One call wires the state in: `health_core::Runner::spawn(&state)`, or
//! `RegistryBuilder::register(&state)` then `spawn` to choose the clock or
//! register more. `state` is an `Arc<AppState>`, or an `AppState: Clone` whose fields
//! share their data (`Arc`s, pools, clients: the shape axum's `State` takes); the
//! registry keeps a clone while the runner runs, never a second wrapping.
//!
//! # Field attributes
//!
//! Only fields with `#[health(...)]` become checks. Keys, in any order, in one attribute or
//! several:
//!
//! | key | meaning |
//! |---|---|
//! | `readiness`, `liveness`, `startup` | the probes the check belongs to: one or more |
//! | `name = "db"` | the check's name; the field's name by default |
//! | `critical = false` | a failure only warns (the probe still passes) |
//! | `interval = "10s"` | time between two runs |
//! | `timeout = "1s"` | deadline of one run; below the interval (default: 1 s, or half the interval) |
//! | `initial_delay = "5s"` | wait before the first run |
//! | `jitter = "2s"` | extra wait of up to this before each run, per replica; below the interval (default: a tenth of it) |
//! | `failure_threshold = 3` | consecutive failures before the check turns Unhealthy |
//! | `success_threshold = 2` | consecutive passes before it comes back |
//! | `max_age = "30s"` | a result older than this fails; at least `max(interval, initial_delay) + jitter + timeout` (the default adds 1 s) |
//! | `max_silence = "30s"` | for a `Heartbeat`, `RuntimeStall` or `RuntimeLag`: how long it may stay silent (required) |
//! | `with = ping_db` | check the field through `async fn ping_db(&FieldType) -> impl IntoReport` |
//! | `with = Self::ping` | a method of the state: `async fn ping(&self, &FieldType)`, for a check that needs other fields too |
//! | `kind = "internal"` | a `with` check watches the process itself, not a dependency (`"dependency"`, the default) |
//! | `each` | the field holds several checks: one per element, named `field.0` or `field.key` (see below) |
//! | `flatten` | the field is a struct deriving `HealthCheck`: its checks join, named `field.check` |
//! | `allow_dependency` | accept a dependency check on liveness (see below) |
//!
//! # Struct attributes
//!
//! `#[health(...)]` on the struct sets defaults for the timing keys (`interval`, `timeout`,
//! `initial_delay`, `jitter`, `failure_threshold`, `success_threshold`) that a field's own
//! keys override, and `prefix = "api"`, which names every check `api.<name>`.
//! Unset keys take the runner's defaults (`Schedule::default`: every 10 s, 1 s
//! timeout).
//!
//! `check(name = "billing", readiness, with = Self::ping_billing)` adds a check of the
//! whole state, for one no field stands for (a client and a URL together). Its function
//! receives `&Self`; `name` and `with` are required, and the check keys of a field apply
//! (probes, `critical`, timing keys, `max_age`, `kind`, `allow_dependency`). Write one
//! `check(...)` per check; they are registered first, in the order written.
//!
//! `crate = path` names health-core as your crate sees it, for a renamed dependency
//! (`health = { package = "health-core", ... }`, then `crate = health`) or a framework's
//! re-export (`crate = my_framework::health`). Every path the derive generates goes
//! through it.
//!
//! # Collections: `each`
//!
//! A field holding several checks of one type is one check per element, each with its own
//! status, `?exclude` name and JSON entry. `each` is written rather than inferred from the
//! type: one field turning into several checks should show where it is declared.
//!
//! | field type | check names |
//! |---|---|
//! | `Vec<T>`, `[T; N]`, `Box<[T]>`, `Arc<[T]>`, `Arc<Vec<T>>` | `field.0`, `field.1`, … |
//! | `BTreeMap<K, T>`, `HashMap<K, T>` with `K: AsRef<str>` (`String`, `&'static str`) | `field.<key>`, in key order |
//!
//! The elements are anything a field can be (checks, heartbeats, gates), checked `with` a
//! function (`with = ping` gets `&T`, `with = Self::ping` gets `&self, &T`), or
//! `flatten`ed structs (`field.0.check`). The probes, timing keys and `max_age` written on
//! the field apply to every element. A map's keys must be valid name segments: one that
//! is not (`"Billing"`, `""`) fails registration with `RegistryError::InvalidName`
//! naming the full check name. The field's name is a segment, so it holds no `.`, and no
//! other check may be named inside it (`upstreams.billing` next to
//! `#[health(each)] upstreams`).
//!
//! ```
//! use std::collections::BTreeMap;
//! use health_core::{HealthCheck, Heartbeat, Outcome, Probe, Runner, TcpCheck};
//!
//! /// A stand-in for an HTTP client (reqwest's, say).
//! struct Client;
//!
//! impl Client {
//!     async fn get(&self, url: &str) -> Result<(), String> {
//!         if url.starts_with("http://") { Ok(()) } else { Err(format!("bad url {url}")) }
//!     }
//! }
//!
//! #[derive(HealthCheck)]
//! #[health(check(name = "billing", readiness, with = Self::ping_billing))]
//! struct AppState {
//!     client: Client,
//!     billing_url: String,
//!     #[health(readiness, each, with = Self::ping)]
//!     upstreams: BTreeMap<String, String>, // upstreams.search, upstreams.ads
//!     #[health(readiness, each)]
//!     shards: Vec<TcpCheck>,               // shards.0, shards.1
//!     #[health(liveness, each, max_silence = "30s")]
//!     workers: Vec<Heartbeat>,             // workers.0, …
//! }
//!
//! impl AppState {
//!     async fn ping_billing(&self) -> Result<(), String> {
//!         self.client.get(&self.billing_url).await
//!     }
//!
//!     async fn ping(&self, url: &str) -> Result<(), String> {
//!         self.client.get(url).await
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), health_core::RegistryError> {
//! let state = std::sync::Arc::new(AppState {
//!     client: Client,
//!     billing_url: "http://billing/healthz".into(),
//!     upstreams: [("search", "http://search/"), ("ads", "http://ads/")]
//!         .into_iter()
//!         .map(|(name, url)| (name.to_owned(), url.to_owned()))
//!         .collect(),
//!     shards: vec![TcpCheck::new("10.0.0.1:5432"), TcpCheck::new("10.0.0.2:5432")],
//!     workers: vec![Heartbeat::new(), Heartbeat::new()],
//! });
//! let (registry, _runner) = Runner::spawn(&state)?;
//! let names: Vec<&str> = registry.checks().map(|check| check.name()).collect();
//! assert_eq!(
//!     names,
//!     ["billing", "upstreams.ads", "upstreams.search", "shards.0", "shards.1", "workers.0", "workers.1"]
//! );
//! assert_eq!(registry.probe(Probe::Liveness), Outcome::Pass);
//! # Ok(())
//! # }
//! ```
//!
//! # Field types
//!
//! - Anything that implements `Check`, also through `Arc<T>`: run by the runner, kind
//!   (internal or dependency) from `Check::KIND`. The built-in `TcpCheck` is a dependency.
//! - `Heartbeat`, `RuntimeStall` and `RuntimeLag` (`max_silence` required), and
//!   `StartupGate`: judged when a probe reads them, never run; timing keys do not apply.
//! - Any other type with `with = path`: `path(&field).await` is run as a *dependency*
//!   check (`kind = "internal"` says otherwise); its output is anything `IntoReport`
//!   (`Result<_, impl Display>`, `bool`, `Report`, `Status`). A path that starts with
//!   `Self::` or the struct's own name is a method of the state:
//!   `Self::ping(&state, &field).await`.
//! - A collection of any of these, with `each`.
//! - A struct deriving `HealthCheck`, with `flatten`.
//!
//! # Names and durations
//!
//! Check names follow `validate_name` (the rules of the `health-rules` crate, which the
//! registry applies too): 1 to 63 bytes of `a-z`, `0-9`, `_`, `.`, `-`, prefix included,
//! no empty segment (no leading, trailing or doubled `.`), and neither `startup` nor
//! `shutdown`, which readiness' output uses for its lifecycle lines (a `prefix`, or the
//! segment of a `flatten` or `each` field, may be one: `startup.db`). A field whose name
//! does not fit (`Db`, `café`, `startup`) needs a `name`; so does a tuple-struct field.
//!
//! Durations are strings: a whole number and one of the units `ms`, `s`, `m`, `h`
//! (`"500ms"`, `"2s"`, `"1m"`, `"1h"`). Fractions are refused rather than rounded:
//! write `"1500ms"`, not `"1.5s"`.
//!
//! # Compile-time checks
//!
//! Every mistake is a compile error on the offending tokens, and all of them are reported
//! at once; the type still gets a (never called) `HealthCheck` impl, so code that uses it
//! raises no further errors. The derive refuses:
//!
//! - an unknown key (with the closest known one suggested), a key on the wrong item, a
//!   duplicate key, a value of the wrong type;
//! - a field with no probe, a tuple-struct field without `name`, an invalid or duplicate
//!   check name, also across `flatten` (a check named `queues.depth` next to a flattened
//!   `queues` that has `depth`);
//! - an invalid duration (`"5x"`), one longer than the clock counts (584 years), a zero
//!   `interval`, `timeout`, `max_age` or `max_silence`, a threshold of 0, a `timeout` or
//!   `jitter` not below its `interval`, a `max_age` shorter than the longest gap a live
//!   runner may leave between two results (it would read stale while healthy);
//! - a `with` value that is not a path to an async fn taking `&FieldType` (or `&self,
//!   &FieldType` for a method of the state, `&Self` in a struct-level `check(...)`; the
//!   error points at the path); a `kind` that is not `"dependency"` or `"internal"`, or on
//!   a check without `with`;
//! - `each` on a type that is not a collection (or whose elements are not checks), a
//!   dotted `each` name, a check named inside an `each` field's names;
//! - a `check(...)` without `name` or `with`, or with a key that only fits a field
//!   (`each`, `flatten`, `max_silence`); `crate` given as a string or on a field;
//! - a `Heartbeat`, `RuntimeStall` or `RuntimeLag` without `max_silence`, `max_silence`
//!   on anything else, `max_age` or timing keys on any of them or on a `StartupGate`
//!   (each message names the field's type);
//! - an enum or a union, lifetime parameters;
//! - **the restart-storm guard**: a dependency check (a field or element whose type's
//!   `Check::KIND` is `Dependency`, or a `with` check not marked `kind = "internal"`) on
//!   `liveness`. A dependency outage would fail liveness in every replica at once and the
//!   kubelet would restart them all. Move it to `readiness`, or write `allow_dependency`
//!   if a restart really is the cure (not with `kind = "internal"`, which needs none).
//!
//! Checks that need the field's type (the guard, heartbeat keys, names across `flatten`)
//! are const evaluations; for a field whose type names a type parameter they run when the
//! impl is instantiated (`cargo build`, not `cargo check`).
//!
//! # Generated code
//!
//! One `impl HealthCheck` (and a hidden `impl __private::Names`) inside `const _: () =
//! { ... };`: no item reaches the caller's module. Paths go through one `use
//! ::health_core as __health_core;` (or the `crate = ...` path) in that block, so a
//! user's own `Result`, `Option` or `core` changes nothing. Generic
//! structs work: the impl requires `Self: Send + Sync + 'static` and each annotated field
//! type to be a check (or, flattened, a `HealthCheck`). Nothing runs at probe time: the
//! impl only registers checks when the registry is built.
//!

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod ast;
mod attr;
mod expand;
mod fallback;
mod valid;

/// Derives `health_core::HealthCheck`; see the [crate docs](crate) for the attributes.
#[proc_macro_derive(HealthCheck, attributes(health))]
pub fn derive_health_check(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive(&input).into()
}
