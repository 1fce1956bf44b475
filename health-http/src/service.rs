//! The service: answers a request from the registry, through `route` and `render`.

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use health_core::{Probe, Registry};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;

use crate::render::{HEALTH_JSON, Listing, TEXT, method_not_allowed, prepared, respond};
use crate::route::{Query, Route, wants_health_json};

/// Serves a [`Registry`]'s probes over HTTP with Kubernetes conventions; see the
/// [crate docs](crate#routes) for the routes and formats.
///
/// Cheap to clone (one `Arc`). It implements hyper's `Service` for a request with any
/// body (the body is never read) and, with the `tower` feature, tower's, so it mounts in
/// an axum `Router` with `route_service` or `nest_service`. It never fails: the error type
/// is [`Infallible`] and the future is ready at once, as a probe read is synchronous.
///
/// # Examples
///
/// ```
/// use health_core::{CheckSpec, Registry};
/// use health_http::HealthService;
/// use http::{Request, StatusCode};
/// use hyper::service::Service as _;
///
/// let mut builder = Registry::builder();
/// let db = builder.push(CheckSpec::new("db").readiness())?;
/// let service = HealthService::new(builder.build());
///
/// # #[tokio::main(flavor = "current_thread")] async fn main_(service: HealthService, db: health_core::CheckHandle) {
/// db.unhealthy("connection refused");
/// let response = service.call(Request::get("/readyz?verbose").body(()).unwrap()).await.unwrap();
/// assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
/// # }
/// # main_(service, db);
/// # Ok::<(), health_core::RegistryError>(())
/// ```
#[derive(Clone)]
pub struct HealthService {
    inner: Arc<Inner>,
    /// The connection's peer, set by [`serve`](crate::serve) on its per-connection clone
    /// and shown to a details predicate.
    peer: Option<SocketAddr>,
}

#[derive(Clone)]
struct Inner {
    registry: Registry,
    details: Details,
    /// Served at `/metrics` (see `metrics.rs`).
    #[cfg(feature = "prometheus")]
    metrics: Option<Arc<prometheus_client::registry::Registry>>,
}

type Predicate = dyn Fn(&Parts) -> bool + Send + Sync;

#[derive(Clone)]
enum Details {
    Withheld,
    Shown,
    When(Arc<Predicate>),
}

impl HealthService {
    /// Creates a service for `registry`, with failure reasons withheld.
    ///
    /// # Examples
    ///
    /// ```
    /// let service = health_http::HealthService::new(health_core::Registry::builder().build());
    /// assert!(service.registry().is_empty());
    /// ```
    #[must_use]
    pub fn new(registry: Registry) -> HealthService {
        HealthService {
            inner: Arc::new(Inner {
                registry,
                details: Details::Withheld,
                #[cfg(feature = "prometheus")]
                metrics: None,
            }),
            peer: None,
        }
    }

    /// Shows failure reasons (`?verbose` lines, `output` in health+json) to every
    /// client if `shown`, or to none (the default).
    ///
    /// Reasons are error strings from dependencies (host names, user names, versions):
    /// keep them withheld on a port anyone else can reach.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = health_core::Registry::builder().build();
    /// let service = health_http::HealthService::new(registry).details(true);
    /// # let _ = service;
    /// ```
    #[must_use]
    pub fn details(mut self, shown: bool) -> HealthService {
        Arc::make_mut(&mut self.inner).details = if shown {
            Details::Shown
        } else {
            Details::Withheld
        };
        self
    }

    /// Shows failure reasons to the requests for which `predicate` returns `true`, such
    /// as those carrying a secret token.
    ///
    /// The predicate runs only for answers that can carry reasons (`?verbose`, one
    /// check, health+json), never for a plain probe. Under [`serve`](crate::serve) the
    /// parts carry the peer's [`SocketAddr`] as an extension; under axum, use its
    /// `ConnectInfo`.
    ///
    /// **Do not trust the peer's address.** In a service mesh the sidecar proxy
    /// delivers every inbound connection from loopback (Istio uses `127.0.0.6`), and
    /// behind a load balancer or a port-forward the address is the proxy's: "loopback
    /// only" then means "everyone". Prefer a token header compared in constant time (as
    /// below, or the example service's `--details-token`), or an explicit switch.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = std::env::var("HEALTH_DETAILS_TOKEN").unwrap_or_default();
    /// let registry = health_core::Registry::builder().build();
    /// let service = health_http::HealthService::new(registry).details_when(move |parts| {
    ///     !token.is_empty()
    ///         && parts.headers.get("x-health-token").is_some_and(|sent| {
    ///             // Constant time: how long the comparison takes reveals nothing.
    ///             let (sent, token) = (sent.as_bytes(), token.as_bytes());
    ///             sent.len() == token.len()
    ///                 && sent.iter().zip(token).fold(0, |diff, (a, b)| diff | (a ^ b)) == 0
    ///         })
    /// });
    /// # let _ = service;
    /// ```
    #[must_use]
    pub fn details_when<F>(mut self, predicate: F) -> HealthService
    where
        F: Fn(&Parts) -> bool + Send + Sync + 'static,
    {
        Arc::make_mut(&mut self.inner).details = Details::When(Arc::new(predicate));
        self
    }

    /// Returns the registry served.
    ///
    /// # Examples
    ///
    /// ```
    /// let service = health_http::HealthService::new(health_core::Registry::builder().build());
    /// service.registry().begin_shutdown();
    /// ```
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    #[cfg(feature = "prometheus")]
    pub(crate) fn set_metrics(&mut self, metrics: Arc<prometheus_client::registry::Registry>) {
        Arc::make_mut(&mut self.inner).metrics = Some(metrics);
    }

    #[cfg(feature = "prometheus")]
    pub(crate) fn served_metrics(&self) -> Option<&prometheus_client::registry::Registry> {
        self.inner.metrics.as_deref()
    }

    pub(crate) fn with_peer(&self, peer: SocketAddr) -> HealthService {
        HealthService {
            inner: Arc::clone(&self.inner),
            peer: Some(peer),
        }
    }

    fn shows_details(&self, parts: &mut Parts) -> bool {
        match &self.inner.details {
            Details::Withheld => false,
            Details::Shown => true,
            Details::When(predicate) => {
                // Inserted here, not per request in `serve`: an extension costs an
                // allocation, and the plain probe path never gets here.
                if let Some(peer) = self.peer {
                    parts.extensions.insert(peer);
                }
                predicate(parts)
            }
        }
    }

    fn answer(&self, parts: &mut Parts) -> Response<Full<Bytes>> {
        let Some(route) = Route::parse(parts.uri.path()) else {
            let head = parts.method == Method::HEAD;
            // Not a probe: the probe paths never get here.
            #[cfg(feature = "prometheus")]
            if let Some(response) = self.answer_metrics(parts, head) {
                return response;
            }
            return respond(StatusCode::NOT_FOUND, TEXT, "not found\n".into(), head);
        };
        // Owned: the details predicate may add the peer to `parts`. Only a check's own
        // path allocates; the plain probe path stays allocation-free.
        let check = route.check.map(str::to_owned);
        self.answer_at(parts, route.endpoint, route.probe, check.as_deref())
    }

    /// Answers `endpoint` (naming itself in text answers) for `probe`, or for its member
    /// `check`, whatever the request's path: the route is already decided.
    pub(crate) fn answer_at(
        &self,
        parts: &mut Parts,
        endpoint: &'static str,
        probe: Probe,
        check: Option<&str>,
    ) -> Response<Full<Bytes>> {
        let head = parts.method == Method::HEAD;
        if !head && parts.method != Method::GET {
            return method_not_allowed();
        }
        let json = wants_health_json(&parts.headers);
        let query = parts.uri.query().map(Query::parse).unwrap_or_default();
        if check.is_none() && !json && !query.verbose && query.exclude.is_empty() {
            // The hot path: one O(1) probe read and a prepared body, nothing formatted.
            let passing = self.inner.registry.probe(probe).is_passing();
            return prepared(endpoint, passing, head);
        }
        let details = self.shows_details(parts);
        let registry = &self.inner.registry;
        let listing = match check {
            None => Listing::aggregate(registry, probe, &query.exclude, details),
            Some(name) => match registry.check(name).filter(|c| c.probes().contains(probe)) {
                Some(check) => Listing::single(registry, probe, check, details),
                None => {
                    return respond(StatusCode::NOT_FOUND, TEXT, "not found\n".into(), head);
                }
            },
        };
        let status = if listing.verdict.is_passing() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        if json {
            return respond(status, HEALTH_JSON, listing.json().into(), head);
        }
        let body = match (check, listing.verdict.is_passing(), query.verbose) {
            (None, passing, true) => listing.text(endpoint, passing),
            (None, passing, false) => return prepared(endpoint, passing, head),
            (Some(_), true, false) => return prepared(endpoint, true, head),
            (Some(_), _, _) => listing.lines(),
        };
        respond(status, TEXT, body.into(), head)
    }
}

impl fmt::Debug for HealthService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let details = match self.inner.details {
            Details::Withheld => "withheld",
            Details::Shown => "shown",
            Details::When(_) => "predicate",
        };
        f.debug_struct("HealthService")
            .field("registry", &self.inner.registry)
            .field("details", &details)
            .finish_non_exhaustive()
    }
}

impl<B> hyper::service::Service<Request<B>> for HealthService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn call(&self, request: Request<B>) -> Self::Future {
        // The body is dropped unread: no route takes one.
        let (mut parts, _body) = request.into_parts();
        ready(Ok(self.answer(&mut parts)))
    }
}

#[cfg(feature = "tower")]
impl<B> tower_service::Service<Request<B>> for HealthService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        hyper::service::Service::call(self, request)
    }
}

#[cfg(test)]
mod tests;
