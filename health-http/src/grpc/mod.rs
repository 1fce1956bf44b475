//! gRPC health: `grpc.health.v1.Health` (Check, List, Watch) answered from the same
//! [`Registry`] as the HTTP probes (feature `grpc`).
//!
//! # Names
//!
//! | `service` | status |
//! |---|---|
//! | `""` | the server as a whole: liveness, and `NOT_SERVING` from the start of shutdown |
//! | `liveness` `readiness` `startup` | that probe, as `/livez` `/readyz` `/startupz` answer |
//! | a check's name | that check, as `/<probe>/<check>` answers |
//! | an alias ([`GrpcHealthBuilder::alias`]) | the probe it names, e.g. `shop.v1.Orders` → readiness |
//!
//! A passing answer (pass or warn) is `SERVING`, a failing one `NOT_SERVING`. A kubelet
//! `grpc` probe without `service` sends `""`, so `""` is safe for liveness: it never
//! fails for a dependency outage, only when liveness fails or the process shuts down.
//! For Kubernetes, point `livenessProbe` at `""` (or `liveness`), `readinessProbe` at
//! `readiness` and `startupProbe` at `startup`.
//!
//! # Methods
//!
//! - **Check** reads the registry's atomics, as an HTTP probe does; an unknown name
//!   fails with `NOT_FOUND`.
//! - **List** returns every name above with its status; more than 100 names fail with
//!   `RESOURCE_EXHAUSTED`, the protocol's limit.
//! - **Watch** sends the status at once, then a message each time it changes, never the
//!   same status twice in a row. It is latest-only: the server queues nothing per
//!   watcher, and a status is read when the connection can take the next message, so a
//!   client that stops reading gets, when it resumes, the statuses its own flow-control
//!   window already held and then the newest. An unknown name gets `SERVICE_UNKNOWN` and
//!   the call stays open. At most [`max_watches`](GrpcHealthBuilder::max_watches) watches
//!   are open at once; past that, `RESOURCE_EXHAUSTED`. When the registry is stopped
//!   ([`Registry::stop`]), every watch sends `NOT_SERVING` (unless that was its last
//!   message) and ends, so open watches never hold a graceful shutdown open.
//!
//! Changes reach watchers through one task per service, woken by the registry and
//! re-reading once a second besides (staleness is judged when read, never announced):
//! 10,000 watchers cost no task and no registry subscription each.
//!
//! # Serving
//!
//! [`GrpcHealth`] is a tower `Service` and a tonic `NamedService`, so it mounts in a
//! tonic server next to the application's own services (see its example). It answers
//! only gRPC: a request that is not a `POST` gets 405, a content type other than
//! `application/grpc` (or `application/grpc+proto`) gets 415. In an axum application
//! served over HTTP/2, route it by path,
//! `Router::route_service("/grpc.health.v1.Health/{*rest}", health)`, rather than merging
//! tonic's `Routes`: those bring a fallback of their own (gRPC `UNIMPLEMENTED`), and axum
//! refuses to merge two routers that both have one. On [`serve`](crate::serve)'s port,
//! [`Serve::grpc`](crate::Serve::grpc) does it all: HTTP/1.1 probes and h2c gRPC on one
//! listener.
//!
//! # Example
//!
//! ```
//! use health_core::{CheckSpec, Probe, Registry};
//! use health_http::grpc::GrpcHealth;
//! use health_http::grpc::pb::HealthCheckRequest;
//! use health_http::grpc::pb::health_check_response::ServingStatus;
//! use health_http::grpc::pb::health_client::HealthClient;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut builder = Registry::builder();
//! let db = builder.push(CheckSpec::new("db").readiness())?;
//! let registry = builder.build();
//! let health = GrpcHealth::builder(registry).alias("shop.v1.Orders", Probe::Readiness).build()?;
//!
//! // Next to the application's own services, in tonic's server.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(
//!     tonic::transport::Server::builder()
//!         .add_service(health)
//!         .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
//! );
//!
//! let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?.connect().await?;
//! let mut client = HealthClient::new(channel);
//! let orders = || HealthCheckRequest { service: "shop.v1.Orders".into() };
//! assert_eq!(client.check(orders()).await?.into_inner().status(), ServingStatus::NotServing);
//! db.healthy();
//! assert_eq!(client.check(orders()).await?.into_inner().status(), ServingStatus::Serving);
//! # Ok(()) }
//! ```

mod codec;
mod names;
pub(crate) mod port;
/// The protocol's messages, tonic server and tonic client, generated from
/// `health-http/proto/health.proto` by `health-codegen` and committed, so building this
/// crate needs no `protoc`.
#[rustfmt::skip]
#[allow(
    missing_docs,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    reason = "generated code"
)]
#[path = "proto.rs"]
pub mod pb;
mod watch;

use std::convert::Infallible;
use std::fmt;
use std::future::ready;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use bytes::Bytes;
use health_core::{Probe, Registry};
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};
use tonic::codegen::{Body, BoxFuture, StdError};
use tonic::server::NamedService;
use tonic::{Request, Response, Status};

pub use self::names::NameError;
use self::names::Names;
use self::pb::health_server::{Health, HealthServer, SERVICE_NAME};
use self::pb::{HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse};
use self::watch::{WatchStream, Watchers};
use crate::render::{TEXT, respond};

/// The protocol's bound on List: more names than this fail with `RESOURCE_EXHAUSTED`.
const MAX_LIST: usize = 100;

/// The largest request message accepted: a request is one name.
const MAX_REQUEST: usize = 4 * 1024;

/// The default bound on open watches.
const MAX_WATCHES: usize = 10_000;

/// Serves `grpc.health.v1.Health` for a [`Registry`]; see the [module docs](self) for the
/// names and methods.
///
/// Cheap to clone (two `Arc`s). A tower `Service` for any request body and a tonic
/// `NamedService`, so `tonic::transport::Server::builder().add_service(health)` mounts it
/// next to the application's own services; it never fails (`Infallible`).
///
/// # Examples
///
/// ```
/// let registry = health_core::Registry::builder().build();
/// let health = health_http::grpc::GrpcHealth::new(registry)?;
/// # let _ = health;
/// # Ok::<(), health_http::grpc::NameError>(())
/// ```
#[derive(Clone)]
pub struct GrpcHealth {
    server: HealthServer<Shared>,
    shared: Arc<Shared>,
}

/// What every clone of a [`GrpcHealth`] and its watch task share.
pub(crate) struct Shared {
    registry: Registry,
    names: Names,
    watchers: Watchers,
    /// This value's own `Arc`, for the watch task, which must not keep it alive.
    me: Weak<Shared>,
}

impl GrpcHealth {
    /// Creates the service for `registry`, with no aliases and the default bound on
    /// watches.
    ///
    /// # Errors
    ///
    /// [`NameError::Ambiguous`] if a check is named `liveness`, `readiness` or
    /// `startup`.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{CheckSpec, Registry};
    /// use health_http::grpc::GrpcHealth;
    ///
    /// let mut builder = Registry::builder();
    /// builder.push(CheckSpec::new("readiness").liveness())?;
    /// let err = GrpcHealth::new(builder.build()).unwrap_err();
    /// assert!(err.to_string().contains("the readiness probe and a check"));
    /// # Ok::<(), health_core::RegistryError>(())
    /// ```
    pub fn new(registry: Registry) -> Result<GrpcHealth, NameError> {
        GrpcHealth::builder(registry).build()
    }

    /// Returns a builder for aliases and the watch bound.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{Probe, Registry};
    ///
    /// let health = health_http::grpc::GrpcHealth::builder(Registry::builder().build())
    ///     .alias("shop.v1.Orders", Probe::Readiness)
    ///     .max_watches(1_000)
    ///     .build()?;
    /// # let _ = health;
    /// # Ok::<(), health_http::grpc::NameError>(())
    /// ```
    pub fn builder(registry: Registry) -> GrpcHealthBuilder {
        GrpcHealthBuilder {
            registry,
            aliases: Vec::new(),
            max_watches: MAX_WATCHES,
        }
    }

    /// Returns the registry served.
    ///
    /// # Examples
    ///
    /// ```
    /// let health = health_http::grpc::GrpcHealth::new(health_core::Registry::builder().build())?;
    /// assert!(health.registry().is_empty());
    /// # Ok::<(), health_http::grpc::NameError>(())
    /// ```
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.shared.registry
    }

    /// Returns the number of Watch calls open now.
    ///
    /// # Examples
    ///
    /// ```
    /// let health = health_http::grpc::GrpcHealth::new(health_core::Registry::builder().build())?;
    /// assert_eq!(health.open_watches(), 0);
    /// # Ok::<(), health_http::grpc::NameError>(())
    /// ```
    #[must_use]
    pub fn open_watches(&self) -> usize {
        self.shared.watchers.open()
    }
}

impl fmt::Debug for GrpcHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcHealth")
            .field("registry", &self.shared.registry)
            .field("names", &self.shared.names.iter().len())
            .field("open_watches", &self.open_watches())
            .field("max_watches", &self.shared.watchers.max())
            .finish_non_exhaustive()
    }
}

/// Configures a [`GrpcHealth`]; see [`GrpcHealth::builder`].
///
/// # Examples
///
/// ```
/// use health_core::{Probe, Registry};
///
/// let builder = health_http::grpc::GrpcHealth::builder(Registry::builder().build());
/// let health = builder.alias("shop.v1.Orders", Probe::Readiness).build()?;
/// # let _ = health;
/// # Ok::<(), health_http::grpc::NameError>(())
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until built"]
pub struct GrpcHealthBuilder {
    registry: Registry,
    aliases: Vec<(String, Probe)>,
    max_watches: usize,
}

impl GrpcHealthBuilder {
    /// Makes `name` answer for `probe`, e.g. a gRPC service's full name for readiness, so
    /// clients that health-check per service (`healthCheckConfig.serviceName`) follow
    /// whether this server should get traffic.
    ///
    /// # Examples
    ///
    /// See [`GrpcHealthBuilder`].
    pub fn alias(mut self, name: impl Into<String>, probe: Probe) -> GrpcHealthBuilder {
        self.aliases.push((name.into(), probe));
        self
    }

    /// Sets the most Watch calls open at once (default 10,000); past it, Watch fails
    /// with `RESOURCE_EXHAUSTED`. Each open watch holds its HTTP/2 stream and a few
    /// hundred bytes of its own.
    ///
    /// # Examples
    ///
    /// See [`GrpcHealth::builder`].
    pub fn max_watches(mut self, watches: usize) -> GrpcHealthBuilder {
        self.max_watches = watches;
        self
    }

    /// Builds the service.
    ///
    /// # Errors
    ///
    /// [`NameError::Ambiguous`] if two things would answer to one name: a check named
    /// like a probe, an alias equal to `""`, a probe's name, a check's name or another
    /// alias.
    ///
    /// # Examples
    ///
    /// ```
    /// use health_core::{Probe, Registry};
    /// use health_http::grpc::GrpcHealth;
    ///
    /// let err = GrpcHealth::builder(Registry::builder().build())
    ///     .alias("shop.v1.Orders", Probe::Readiness)
    ///     .alias("shop.v1.Orders", Probe::Liveness)
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "gRPC health name \"shop.v1.Orders\" is ambiguous: \
    ///      it names an alias of the readiness probe and an alias of the liveness probe",
    /// );
    /// ```
    pub fn build(self) -> Result<GrpcHealth, NameError> {
        let names = Names::new(&self.registry, &self.aliases)?;
        let watchers = Watchers::new(names.targets().len(), self.max_watches);
        let shared = Arc::new_cyclic(|me| Shared {
            registry: self.registry,
            names,
            watchers,
            me: Weak::clone(me),
        });
        let server =
            HealthServer::from_arc(Arc::clone(&shared)).max_decoding_message_size(MAX_REQUEST);
        Ok(GrpcHealth { server, shared })
    }
}

#[tonic::async_trait]
impl Health for Shared {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let name = &request.get_ref().service;
        let Some(index) = self.names.get(name) else {
            return Err(Status::not_found(format!("unknown service {name:?}")));
        };
        let status = self.names.targets()[index].status(&self.registry);
        Ok(Response::new(HealthCheckResponse {
            status: status as i32,
        }))
    }

    async fn list(
        &self,
        _request: Request<HealthListRequest>,
    ) -> Result<Response<HealthListResponse>, Status> {
        let names = self.names.iter();
        if names.len() > MAX_LIST {
            return Err(Status::resource_exhausted(format!(
                "{} services, more than List's limit of {MAX_LIST}",
                names.len()
            )));
        }
        // One read per target, shared by its aliases.
        let statuses: Vec<i32> = self
            .names
            .targets()
            .iter()
            .map(|target| target.status(&self.registry) as i32)
            .collect();
        let statuses = names
            .map(|(name, index)| {
                let status = statuses[index];
                (name.to_owned(), HealthCheckResponse { status })
            })
            .collect();
        Ok(Response::new(HealthListResponse { statuses }))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let index = self.names.get(&request.get_ref().service);
        self.open_watch(index).map(Response::new)
    }
}

impl<B> tower_service::Service<http::Request<B>> for GrpcHealth
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        match refusal(&request) {
            Some(response) => Box::pin(ready(Ok(response))),
            None => self.server.call(request),
        }
    }
}

impl NamedService for GrpcHealth {
    const NAME: &'static str = SERVICE_NAME;
}

/// The HTTP answer to a request that is not gRPC, if it is not: gRPC says a server
/// should answer a wrong content type with 415, so that an HTTP/2 client that is not a
/// gRPC client cannot read a gRPC error (HTTP 200) as success.
fn refusal<B>(request: &http::Request<B>) -> Option<http::Response<tonic::body::Body>> {
    if request.method() != Method::POST {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "gRPC calls are POST\n");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Some(response);
    }
    // `application/grpc`, `application/grpc+proto`, `application/grpc;…`; not gRPC-Web
    // (`application/grpc-web…`), whose framing differs.
    let grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.as_bytes().strip_prefix(b"application/grpc"))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(b"+") || rest.starts_with(b";"));
    if !grpc {
        return Some(plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected content-type application/grpc\n",
        ));
    }
    None
}

/// A plain-text answer, with the headers of every other answer of this crate.
fn plain(status: StatusCode, body: &'static str) -> http::Response<tonic::body::Body> {
    respond(status, TEXT, Bytes::from_static(body.as_bytes()), false).map(tonic::body::Body::new)
}
