//! The service: routing, the prepared plain answers, and the verbose and health+json
//! formats.

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt::{self, Write as _};
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use health_core::{CheckView, Outcome, Phase, Probe, Registry, Timestamp};
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;

const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const HEALTH_JSON: HeaderValue = HeaderValue::from_static("application/health+json");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
const GET_HEAD: HeaderValue = HeaderValue::from_static("GET, HEAD");

/// What a reason becomes when details are not shown (the API server's words).
const WITHHELD: &str = "reason withheld";

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
            }),
            peer: None,
        }
    }

    /// Shows failure reasons (`?verbose` lines, `output` in health+json) to every
    /// client if `shown`, or to none (the default).
    ///
    /// Reasons are error strings from dependencies: keep them withheld on a port the
    /// public can reach.
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

    /// Shows failure reasons to the requests for which `predicate` returns `true`, e.g.
    /// loopback peers or a header token.
    ///
    /// The predicate runs only for answers that can carry reasons (`?verbose`, one
    /// check, health+json), never for a plain probe. Under [`serve`](crate::serve) the
    /// parts carry the peer's [`SocketAddr`] as an extension; under axum, use its
    /// `ConnectInfo`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::SocketAddr;
    ///
    /// let registry = health_core::Registry::builder().build();
    /// let service = health_http::HealthService::new(registry).details_when(|parts| {
    ///     parts.extensions.get::<SocketAddr>().is_some_and(|peer| peer.ip().is_loopback())
    ///         || parts.headers.get("x-health-token").is_some_and(|token| token == "s3cret")
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
        let head = parts.method == Method::HEAD;
        let Some(route) = Route::parse(parts.uri.path()) else {
            return respond(StatusCode::NOT_FOUND, TEXT, "not found\n".into(), head);
        };
        if !head && parts.method != Method::GET {
            let mut response = respond(
                StatusCode::METHOD_NOT_ALLOWED,
                TEXT,
                "method not allowed\n".into(),
                false,
            );
            response.headers_mut().insert(header::ALLOW, GET_HEAD);
            return response;
        }
        let json = wants_health_json(&parts.headers);
        let query = parts.uri.query().map(Query::parse).unwrap_or_default();
        if route.check.is_none() && !json && !query.verbose && query.exclude.is_empty() {
            // The hot path: one O(1) probe read and a prepared body, nothing formatted.
            let passing = self.inner.registry.probe(route.probe).is_passing();
            return prepared(route.endpoint, passing, head);
        }
        // Owned from here: the details predicate may add the peer to `parts`.
        let (endpoint, probe, check) =
            (route.endpoint, route.probe, route.check.map(str::to_owned));
        let details = self.shows_details(parts);
        let registry = &self.inner.registry;
        let listing = match &check {
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
        let body = match (&check, listing.verdict.is_passing(), query.verbose) {
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

/// A probe path: `/<endpoint>` or `/<endpoint>/<check>`.
struct Route<'a> {
    /// As requested: `healthz` answers for readiness but names itself in the last line.
    endpoint: &'static str,
    probe: Probe,
    check: Option<&'a str>,
}

impl<'a> Route<'a> {
    fn parse(path: &'a str) -> Option<Route<'a>> {
        let path = path.strip_prefix('/')?;
        let (endpoint, check) = match path.split_once('/') {
            Some((endpoint, check)) => (endpoint, Some(check)),
            None => (path, None),
        };
        let probe = match endpoint {
            "healthz" => Probe::Readiness,
            other => Probe::from_path(other)?,
        };
        let endpoint = if endpoint == "healthz" {
            "healthz"
        } else {
            probe.path()
        };
        Some(Route {
            endpoint,
            probe,
            check,
        })
    }
}

/// The query parameters that matter, parsed as Go's `url.Query()` does (the API server's
/// reference): pairs split on `&`, percent-decoded, `+` as space, undecodable pairs
/// skipped; `verbose` counts when present with any value.
#[derive(Default)]
struct Query {
    verbose: bool,
    /// Sorted and deduplicated: the API server keeps them in a set and lists the
    /// unmatched ones sorted.
    exclude: Vec<String>,
}

impl Query {
    fn parse(query: &str) -> Query {
        let mut parsed = Query::default();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match decode(key).as_deref() {
                Some("verbose") => parsed.verbose = true,
                Some("exclude") => parsed.exclude.extend(decode(value).map(Cow::into_owned)),
                _ => {}
            }
        }
        parsed.exclude.sort_unstable();
        parsed.exclude.dedup();
        parsed
    }
}

fn decode(component: &str) -> Option<Cow<'_, str>> {
    if !component.contains(['%', '+']) {
        return Some(Cow::Borrowed(component));
    }
    let mut bytes = component.bytes();
    let mut decoded = Vec::with_capacity(component.len());
    while let Some(byte) = bytes.next() {
        decoded.push(match byte {
            b'+' => b' ',
            b'%' => {
                let high = char::from(bytes.next()?).to_digit(16)?;
                let low = char::from(bytes.next()?).to_digit(16)?;
                u8::try_from((high << 4) | low).ok()?
            }
            byte => byte,
        });
    }
    Some(Cow::Owned(String::from_utf8_lossy(&decoded).into_owned()))
}

fn wants_health_json(headers: &HeaderMap) -> bool {
    const MEDIA_TYPE: &[u8] = b"application/health+json";
    headers.get_all(header::ACCEPT).iter().any(|value| {
        value
            .as_bytes()
            .windows(MEDIA_TYPE.len())
            .any(|window| window.eq_ignore_ascii_case(MEDIA_TYPE))
    })
}

/// Returns the prepared plain answer: `ok`, or the verdict line on failure. The bodies
/// and their lengths are static, so nothing is formatted or copied.
fn prepared(endpoint: &'static str, passing: bool, head: bool) -> Response<Full<Bytes>> {
    let (body, length) = match (passing, endpoint) {
        (true, _) => ("ok", "2"),
        (false, "livez") => ("livez check failed\n", "19"),
        (false, "readyz") => ("readyz check failed\n", "20"),
        (false, "startupz") => ("startupz check failed\n", "22"),
        (false, _) => ("healthz check failed\n", "21"),
    };
    let status = if passing {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from_static(body.as_bytes())
    };
    with_headers(status, TEXT, HeaderValue::from_static(length), body)
}

fn respond(
    status: StatusCode,
    content_type: HeaderValue,
    body: Bytes,
    head: bool,
) -> Response<Full<Bytes>> {
    let length = HeaderValue::from(body.len());
    // HEAD: the same headers, Content-Length included, and no body.
    let body = if head { Bytes::new() } else { body };
    with_headers(status, content_type, length, body)
}

fn with_headers(
    status: StatusCode,
    content_type: HeaderValue,
    length: HeaderValue,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.reserve(5);
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, length);
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    response
}

/// One line of a verbose answer: a check, or a lifecycle gate of readiness.
struct Line<'a> {
    name: &'a str,
    /// `None` if excluded.
    outcome: Option<Outcome>,
    component_type: &'static str,
    /// Present only when details are shown and the line does not pass.
    reason: Option<Cow<'a, str>>,
    time: Option<SystemTime>,
    observed: Option<(f64, String)>,
}

impl<'a> Line<'a> {
    fn check(
        registry: &Registry,
        now: Timestamp,
        probe: Probe,
        check: CheckView<'a>,
        details: bool,
    ) -> Line<'a> {
        let snapshot = check.snapshot_at(now);
        let outcome = Outcome::of(snapshot.status(), check.is_critical(), probe);
        let reason = (details && outcome != Outcome::Pass).then(|| {
            Cow::Owned(
                snapshot
                    .reason()
                    .unwrap_or(snapshot.status().as_str())
                    .to_owned(),
            )
        });
        Line {
            name: check.name(),
            outcome: Some(outcome),
            component_type: check.kind().component_type(),
            reason,
            time: snapshot
                .updated()
                .map(|updated| registry.clock().to_system_time(updated)),
            observed: snapshot
                .report()
                .observed()
                .map(|observed| (observed.value(), observed.unit().to_owned())),
        }
    }

    fn gate(name: &'a str, passing: bool, reason: &'static str, details: bool) -> Line<'a> {
        Line {
            name,
            outcome: Some(if passing {
                Outcome::Pass
            } else {
                Outcome::Fail
            }),
            component_type: "system",
            reason: (details && !passing).then_some(Cow::Borrowed(reason)),
            time: None,
            observed: None,
        }
    }

    fn excluded(name: &'a str) -> Line<'a> {
        Line {
            outcome: None,
            ..Line::gate(name, true, "", false)
        }
    }

    fn write_text(&self, out: &mut String) {
        let reason = self.reason.as_deref().unwrap_or(WITHHELD);
        // Reasons come from dependencies: one line per check, whatever they contain.
        let reason = reason.replace(char::is_control, " ");
        let _ = match self.outcome {
            None => writeln!(out, "[+]{} excluded: ok", self.name),
            Some(Outcome::Pass) => writeln!(out, "[+]{} ok", self.name),
            Some(Outcome::Warn) => writeln!(out, "[+]{} warn: {reason}", self.name),
            Some(Outcome::Fail) => writeln!(out, "[-]{} failed: {reason}", self.name),
        };
    }
}

/// A formatted answer's content: the lines and the verdict they add up to.
struct Listing<'a> {
    lines: Vec<Line<'a>>,
    unmatched: Vec<&'a str>,
    verdict: Outcome,
}

impl<'a> Listing<'a> {
    fn aggregate(
        registry: &'a Registry,
        probe: Probe,
        exclude: &'a [String],
        details: bool,
    ) -> Listing<'a> {
        // Latches startup if it passes now, as a plain probe read would.
        let started = registry.is_started();
        let now = registry.now();
        let mut matched = vec![false; exclude.len()];
        let mut lines: Vec<Line<'a>> = registry
            .members(probe)
            .map(
                |check| match exclude.binary_search_by(|e| e.as_str().cmp(check.name())) {
                    Ok(index) => {
                        matched[index] = true;
                        Line::excluded(check.name())
                    }
                    Err(_) => Line::check(registry, now, probe, check, details),
                },
            )
            .collect();
        if probe == Probe::Readiness {
            // The API server's readiness lists its `shutdown` check always; it has no
            // start-up check, so ours appears only while it fails, keeping the output
            // byte for byte the same once started.
            if !started {
                lines.push(Line::gate(
                    "startup",
                    false,
                    "startup probe has not passed",
                    details,
                ));
            }
            let draining = registry.phase() >= Phase::Draining;
            lines.push(Line::gate(
                "shutdown",
                !draining,
                "process is shutting down",
                details,
            ));
        }
        let mut verdict = lines
            .iter()
            .filter_map(|line| line.outcome)
            .fold(Outcome::Pass, Outcome::max);
        if probe == Probe::Startup && started {
            verdict = Outcome::Pass; // latched: the members no longer matter
        }
        let unmatched = exclude
            .iter()
            .zip(matched)
            .filter(|(_, matched)| !matched)
            .map(|(name, _)| name.as_str())
            .collect();
        Listing {
            lines,
            unmatched,
            verdict,
        }
    }

    fn single(
        registry: &Registry,
        probe: Probe,
        check: CheckView<'a>,
        details: bool,
    ) -> Listing<'a> {
        let line = Line::check(registry, registry.now(), probe, check, details);
        Listing {
            verdict: line.outcome.unwrap_or(Outcome::Pass),
            lines: vec![line],
            unmatched: Vec::new(),
        }
    }

    /// The lines and the API server's warning about exclusions that matched nothing.
    fn lines(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            line.write_text(&mut out);
        }
        if let Some(warning) = self.warning() {
            out.push_str(&warning);
            out.push('\n');
        }
        out
    }

    fn warning(&self) -> Option<String> {
        if self.unmatched.is_empty() {
            return None;
        }
        // Go's `%q`; Rust's `{:?}` agrees with it on any printable name.
        let quoted: Vec<String> = self
            .unmatched
            .iter()
            .map(|name| format!("{name:?}"))
            .collect();
        Some(format!(
            "warn: some health checks cannot be excluded: no matches for {}",
            quoted.join(",")
        ))
    }

    fn text(&self, endpoint: &str, passing: bool) -> String {
        let mut out = self.lines();
        let verdict = if passing { "passed" } else { "failed" };
        let _ = writeln!(out, "{endpoint} check {verdict}");
        out
    }

    /// IETF health+json: `status`, a `checks` map of one-element arrays, and `notes` for
    /// exclusions that matched nothing. Excluded checks are left out.
    fn json(&self) -> String {
        let mut out = format!("{{\"status\":\"{}\",\"checks\":{{", self.verdict.as_str());
        let mut first = true;
        for line in &self.lines {
            let Some(outcome) = line.outcome else {
                continue;
            };
            if !std::mem::take(&mut first) {
                out.push(',');
            }
            json_string(&mut out, line.name);
            let _ = write!(
                out,
                ":[{{\"componentType\":\"{}\",\"status\":\"{}\"",
                line.component_type,
                outcome.as_str()
            );
            if let Some(time) = line.time {
                let _ = write!(out, ",\"time\":\"{}\"", Rfc3339(time));
            }
            if let Some((value, unit)) = &line.observed {
                // JSON has no NaN or infinity.
                if value.is_finite() {
                    let _ = write!(out, ",\"observedValue\":{value},\"observedUnit\":");
                    json_string(&mut out, unit);
                }
            }
            if let Some(reason) = &line.reason {
                out.push_str(",\"output\":");
                json_string(&mut out, reason);
            }
            out.push_str("}]");
        }
        out.push('}');
        if let Some(warning) = self.warning() {
            out.push_str(",\"notes\":[");
            json_string(&mut out, warning.trim_start_matches("warn: "));
            out.push(']');
        }
        out.push('}');
        out
    }
}

fn json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// RFC 3339 in UTC with milliseconds: `2018-01-17T03:36:48.000Z`.
struct Rfc3339(SystemTime);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let since_epoch = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        let seconds = since_epoch.as_secs();
        let (days, time_of_day) = (seconds / 86_400, seconds % 86_400);
        // Howard Hinnant's `civil_from_days`, for days since 1970-01-01 (never negative here).
        let z = days + 719_468;
        let era = z / 146_097;
        let day_of_era = z % 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let shifted_month = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
        let month = if shifted_month < 10 {
            shifted_month + 3
        } else {
            shifted_month - 9
        };
        let year = year_of_era + era * 400 + u64::from(month <= 2);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            time_of_day / 3_600,
            time_of_day / 60 % 60,
            time_of_day % 60,
            since_epoch.subsec_millis()
        )
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use health_core::{CheckHandle, CheckKind, CheckSpec, Report, StartupGate, Status};
    use hyper::body::Body as _;
    use hyper::service::Service as _;

    use super::*;

    /// `db` (a dependency) and `cache` (non-critical) on readiness, `loop` on liveness.
    fn fixture() -> (HealthService, CheckHandle, CheckHandle, CheckHandle) {
        let mut builder = Registry::builder();
        let db = builder
            .push(CheckSpec::new("db").readiness().kind(CheckKind::Dependency))
            .unwrap();
        let cache = builder
            .push(CheckSpec::new("cache").readiness().critical(false))
            .unwrap();
        let worker = builder.push(CheckSpec::new("loop").liveness()).unwrap();
        db.healthy();
        cache.healthy();
        worker.healthy();
        (HealthService::new(builder.build()), db, cache, worker)
    }

    fn request(method: Method, uri: &str) -> Request<()> {
        Request::builder().method(method).uri(uri).body(()).unwrap()
    }

    fn call(service: &HealthService, request: Request<()>) -> Response<Full<Bytes>> {
        service.call(request).into_inner().unwrap()
    }

    /// The body's one frame, as the connection would get it (no copy on the way).
    fn body_bytes(response: &mut Response<Full<Bytes>>) -> Bytes {
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(response.body_mut()).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap(),
            Poll::Ready(None) => Bytes::new(),
            other => panic!("a Full body is ready at once: {other:?}"),
        }
    }

    fn get(service: &HealthService, uri: &str) -> (StatusCode, String) {
        let mut response = call(service, request(Method::GET, uri));
        let body = body_bytes(&mut response);
        (response.status(), String::from_utf8(body.to_vec()).unwrap())
    }

    fn get_json(service: &HealthService, uri: &str) -> (StatusCode, String) {
        let request = Request::get(uri)
            .header(
                header::ACCEPT,
                "application/json, application/health+json;q=0.9",
            )
            .body(())
            .unwrap();
        let mut response = call(service, request);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/health+json"
        );
        let body = body_bytes(&mut response);
        (response.status(), String::from_utf8(body.to_vec()).unwrap())
    }

    #[test]
    fn plain_probes_answer_ok_on_pass_and_warn_and_the_verdict_on_fail() {
        let (service, db, cache, _) = fixture();
        for path in ["/livez", "/readyz", "/startupz", "/healthz"] {
            assert_eq!(
                get(&service, path),
                (StatusCode::OK, "ok".to_owned()),
                "{path}"
            );
        }
        cache.unhealthy("evicted"); // non-critical: warn, still passing
        assert_eq!(get(&service, "/readyz"), (StatusCode::OK, "ok".to_owned()));
        db.unhealthy("connection refused");
        let failed = (
            StatusCode::SERVICE_UNAVAILABLE,
            "readyz check failed\n".to_owned(),
        );
        assert_eq!(get(&service, "/readyz"), failed);
        let failed = (
            StatusCode::SERVICE_UNAVAILABLE,
            "healthz check failed\n".to_owned(),
        );
        assert_eq!(get(&service, "/healthz"), failed);
        assert_eq!(get(&service, "/livez"), (StatusCode::OK, "ok".to_owned()));
    }

    #[test]
    fn liveness_and_startup_fail_with_their_own_names() {
        let gate = StartupGate::new();
        let mut builder = Registry::builder();
        let worker = builder.push(CheckSpec::new("loop").liveness()).unwrap();
        builder
            .gate(CheckSpec::new("warmup").startup(), &gate)
            .unwrap();
        let service = HealthService::new(builder.build());
        worker.unhealthy("wedged");
        let failed = (
            StatusCode::SERVICE_UNAVAILABLE,
            "livez check failed\n".to_owned(),
        );
        assert_eq!(get(&service, "/livez"), failed);
        let failed = (
            StatusCode::SERVICE_UNAVAILABLE,
            "startupz check failed\n".to_owned(),
        );
        assert_eq!(get(&service, "/startupz"), failed);
        gate.done();
        assert_eq!(
            get(&service, "/startupz"),
            (StatusCode::OK, "ok".to_owned())
        );
    }

    #[test]
    fn plain_bodies_are_prepared_statics_never_copied() {
        let (service, db, ..) = fixture();
        let (other, ..) = fixture();
        let mut first = call(&service, request(Method::GET, "/readyz"));
        let mut second = call(&other, request(Method::GET, "/livez"));
        // Same bytes at the same address: both point into the binary, not at a copy.
        assert_eq!(
            body_bytes(&mut first).as_ptr(),
            body_bytes(&mut second).as_ptr()
        );
        db.unhealthy("down");
        let mut first = call(&service, request(Method::GET, "/readyz"));
        let mut second = call(&service, request(Method::GET, "/readyz"));
        assert_eq!(
            body_bytes(&mut first).as_ptr(),
            body_bytes(&mut second).as_ptr()
        );
    }

    #[test]
    fn every_answer_carries_the_headers_and_its_length() {
        let (service, db, ..) = fixture();
        let check = |service: &HealthService, request: Request<()>| {
            let uri = request.uri().to_string();
            let mut response = call(service, request);
            let headers = response.headers().clone();
            assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{uri}");
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{uri}");
            assert!(headers.contains_key(header::CONTENT_TYPE), "{uri}");
            let length = body_bytes(&mut response).len().to_string();
            assert_eq!(headers[header::CONTENT_LENGTH], length.as_str(), "{uri}");
        };
        for failing in [false, true] {
            if failing {
                db.unhealthy("down");
            }
            for uri in [
                "/livez",
                "/readyz",
                "/startupz",
                "/healthz",
                "/readyz?verbose",
                "/readyz/db",
                "/readyz/db?verbose",
                "/readyz?exclude=db",
                "/nope",
                "/readyz/nope",
            ] {
                check(&service, request(Method::GET, uri));
                let json = Request::get(uri)
                    .header(header::ACCEPT, "application/health+json")
                    .body(())
                    .unwrap();
                check(&service, json);
            }
            check(&service, request(Method::POST, "/readyz"));
        }
    }

    #[test]
    fn head_answers_the_get_headers_without_a_body() {
        let (service, db, ..) = fixture();
        db.unhealthy("down");
        for uri in ["/readyz", "/readyz?verbose", "/readyz/db", "/nope"] {
            let mut get = call(&service, request(Method::GET, uri));
            let mut head = call(&service, request(Method::HEAD, uri));
            assert_eq!(head.status(), get.status(), "{uri}");
            assert_eq!(head.headers(), get.headers(), "{uri}");
            assert!(!body_bytes(&mut get).is_empty(), "{uri}");
            assert!(body_bytes(&mut head).is_empty(), "{uri}");
            assert!(head.body().is_end_stream());
        }
    }

    #[test]
    fn other_methods_are_405_with_allow() {
        let (service, ..) = fixture();
        for method in [
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
            Method::PATCH,
        ] {
            let response = call(&service, request(method.clone(), "/readyz"));
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method}"
            );
            assert_eq!(response.headers()[header::ALLOW], "GET, HEAD");
        }
        let custom = Method::from_bytes(b"BREW").unwrap();
        let response = call(&service, request(custom, "/livez/loop"));
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn unknown_paths_and_non_members_are_404() {
        let (service, ..) = fixture();
        for uri in [
            "/",
            "/livezz",
            "/livez/",
            "/readyz/",
            "/readyz/nope",
            "/livez/db",
            "/readyz/db/x",
            "/readyz/../livez",
            "/READYZ",
            "//readyz",
            "/metrics",
        ] {
            assert_eq!(
                get(&service, uri),
                (StatusCode::NOT_FOUND, "not found\n".to_owned()),
                "{uri}"
            );
        }
    }

    #[test]
    fn one_check_answers_ok_or_its_line() {
        let (service, db, cache, _) = fixture();
        assert_eq!(
            get(&service, "/readyz/db"),
            (StatusCode::OK, "ok".to_owned())
        );
        assert_eq!(
            get(&service, "/healthz/db"),
            (StatusCode::OK, "ok".to_owned())
        );
        assert_eq!(
            get(&service, "/readyz/db?verbose"),
            (StatusCode::OK, "[+]db ok\n".to_owned())
        );
        assert_eq!(
            get(&service, "/livez/loop"),
            (StatusCode::OK, "ok".to_owned())
        );
        db.unhealthy("connection refused");
        let line = (
            StatusCode::SERVICE_UNAVAILABLE,
            "[-]db failed: reason withheld\n".to_owned(),
        );
        assert_eq!(get(&service, "/readyz/db"), line);
        cache.degraded("hit rate 40%");
        let warn = (
            StatusCode::OK,
            "[+]cache warn: reason withheld\n".to_owned(),
        );
        assert_eq!(get(&service, "/readyz/cache?verbose"), warn);
        assert_eq!(
            get(&service, "/readyz/cache"),
            (StatusCode::OK, "ok".to_owned())
        );
    }

    /// The documented case (crate docs, "Routes"): the API server's `/readyz?verbose`
    /// while shutting down, as quoted in karmada-io/karmada#6277, byte for byte.
    #[test]
    fn verbose_readyz_matches_the_api_server_while_draining() {
        let mut builder = Registry::builder();
        let checks: Vec<_> = ["ping", "log", "etcd"]
            .map(|name| builder.push(CheckSpec::new(name).readiness()).unwrap())
            .into_iter()
            .collect();
        let service = HealthService::new(builder.build());
        checks.iter().for_each(CheckHandle::healthy);
        assert_eq!(
            get(&service, "/readyz?verbose"),
            (
                StatusCode::OK,
                "[+]ping ok\n[+]log ok\n[+]etcd ok\n[+]shutdown ok\nreadyz check passed\n"
                    .to_owned()
            )
        );
        service.registry().begin_shutdown();
        let expected = "[+]ping ok\n[+]log ok\n[+]etcd ok\n[-]shutdown failed: reason withheld\nreadyz check failed\n";
        assert_eq!(
            get(&service, "/readyz?verbose"),
            (StatusCode::SERVICE_UNAVAILABLE, expected.to_owned())
        );
        // The kubernetes.io example of `?verbose&exclude=etcd`, with our endpoint name.
        let (_, excluded) = get(&service, "/readyz?verbose&exclude=etcd");
        assert!(
            excluded.starts_with("[+]ping ok\n[+]log ok\n[+]etcd excluded: ok\n"),
            "{excluded}"
        );
    }

    #[test]
    fn verbose_lists_members_in_order_with_exclusions_and_a_warning() {
        let (service, db, cache, _) = fixture();
        db.unhealthy("connection refused");
        cache.degraded("hit rate 40%");
        let (status, body) = get(
            &service,
            "/readyz?verbose&exclude=zz&exclude=db&exclude=a%22b&exclude=zz&exclude=%zz",
        );
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            "[+]db excluded: ok\n[+]cache warn: reason withheld\n[+]shutdown ok\n\
             warn: some health checks cannot be excluded: no matches for \"a\\\"b\",\"zz\"\n\
             readyz check passed\n"
        );
        // `verbose` counts with any value; exclusions without `verbose` still decide.
        assert_eq!(
            get(&service, "/readyz?verbose=false").1.lines().last(),
            Some("readyz check failed")
        );
        assert_eq!(
            get(&service, "/readyz?exclude=db"),
            (StatusCode::OK, "ok".to_owned())
        );
        assert_eq!(
            get(&service, "/readyz?exclude=cache").0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        // Unrelated parameters (a cache buster) keep the plain answer.
        assert_eq!(get(&service, "/livez?_=1").1, "ok");
        // Percent-encoded keys and values decode as Go's url.Query does.
        assert_eq!(
            get(&service, "/readyz?%76erbose&exclude=d%62")
                .1
                .lines()
                .next(),
            Some("[+]db excluded: ok")
        );
    }

    #[test]
    fn readiness_shows_a_startup_line_while_starting() {
        let gate = StartupGate::new();
        let mut builder = Registry::builder();
        builder
            .gate(CheckSpec::new("warmup").startup(), &gate)
            .unwrap();
        let service = HealthService::new(builder.build());
        let expected = "[-]startup failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n";
        assert_eq!(
            get(&service, "/readyz?verbose"),
            (StatusCode::SERVICE_UNAVAILABLE, expected.to_owned())
        );
        assert_eq!(
            get(&service, "/startupz?verbose").1,
            "[-]warmup failed: reason withheld\nstartupz check failed\n"
        );
        gate.done();
        assert_eq!(
            get(&service, "/readyz?verbose").1,
            "[+]shutdown ok\nreadyz check passed\n"
        );
        // Liveness has no gates.
        assert_eq!(get(&service, "/livez?verbose").1, "livez check passed\n");
    }

    #[test]
    fn reasons_are_withheld_unless_opted_in() {
        let (service, db, ..) = fixture();
        db.unhealthy("password authentication failed for user \"app\"\nat db:5432");
        let withheld = get(&service, "/readyz?verbose").1;
        assert!(
            withheld.contains("[-]db failed: reason withheld\n"),
            "{withheld}"
        );
        assert!(!get_json(&service, "/readyz").1.contains("output"));

        let shown = service.clone().details(true);
        let body = get(&shown, "/readyz?verbose").1;
        // One line per check, whatever the reason contains.
        assert!(
            body.contains(
                "[-]db failed: password authentication failed for user \"app\" at db:5432\n"
            ),
            "{body}"
        );
        assert!(
            get_json(&shown, "/readyz").1.contains(
                r#""output":"password authentication failed for user \"app\"\nat db:5432""#
            )
        );
        shown.registry().begin_shutdown();
        assert!(
            get(&shown, "/readyz?verbose")
                .1
                .contains("[-]shutdown failed: process is shutting down\n")
        );

        let token = service
            .details_when(|parts| parts.headers.get("x-token").is_some_and(|t| t == "s3cret"));
        assert!(get(&token, "/readyz/db").1.contains("reason withheld"));
        let with_token = Request::get("/readyz/db")
            .header("x-token", "s3cret")
            .body(())
            .unwrap();
        let mut response = call(&token, with_token);
        assert!(
            String::from_utf8(body_bytes(&mut response).to_vec())
                .unwrap()
                .contains("password")
        );
    }

    #[test]
    fn the_predicate_sees_the_peer_and_never_runs_for_plain_probes() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (service, ..) = fixture();
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let service = service.details_when(move |parts| {
            seen.fetch_add(1, Ordering::Relaxed);
            parts
                .extensions
                .get::<SocketAddr>()
                .is_some_and(|peer| peer.ip().is_loopback())
        });
        let service = service.with_peer("127.0.0.1:4000".parse().unwrap());
        let _ = get(&service, "/readyz");
        assert_eq!(calls.load(Ordering::Relaxed), 0);
        let _ = get(&service, "/readyz?verbose");
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        let remote = service.with_peer("10.1.2.3:4000".parse().unwrap());
        let _ = get(&remote, "/readyz/db");
        assert_eq!(calls.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn health_json_has_status_checks_and_notes() {
        let mut builder = Registry::builder();
        let db = builder
            .push(CheckSpec::new("db").readiness().kind(CheckKind::Dependency))
            .unwrap();
        builder.push(CheckSpec::new("queue").readiness()).unwrap(); // never reported
        let service = HealthService::new(builder.build()).details(true);
        db.publish(Report::new(Status::Healthy).with_observed(4.5, "ms"));
        let (status, body) = get_json(&service, "/readyz?exclude=nope");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        // The time is the wall clock's: check its shape, then compare the rest exactly.
        let start = body.find(r#""time":""#).unwrap() + 8;
        let time = &body[start..start + 24];
        assert!(
            time.starts_with("20") && time.ends_with('Z') && time.as_bytes()[10] == b'T',
            "{time}"
        );
        let body = body.replace(time, "T");
        assert_eq!(
            body,
            r#"{"status":"fail","checks":{"db":[{"componentType":"datastore","status":"pass","time":"T","observedValue":4.5,"observedUnit":"ms"}],"queue":[{"componentType":"component","status":"fail","output":"unknown"}],"shutdown":[{"componentType":"system","status":"pass"}]},"notes":["some health checks cannot be excluded: no matches for \"nope\""]}"#
        );
        let (status, body) = get_json(&service, "/livez");
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, r#"{"status":"pass","checks":{}}"#)
        );
        let (_, one) = get_json(&service, "/readyz/queue");
        assert_eq!(
            one,
            r#"{"status":"fail","checks":{"queue":[{"componentType":"component","status":"fail","output":"unknown"}]}}"#
        );
    }

    #[test]
    fn ten_thousand_query_parameters_are_answered() {
        let (service, ..) = fixture();
        // Within the URI limit (64 KiB); `serve`'s 8 KiB head limit refuses far less.
        let query: Vec<String> = (0..10_000)
            .map(|i| match i % 10 {
                0 => format!("exclude=x{i}"),
                1 => "%zz".to_owned(),
                _ => "p".to_owned(),
            })
            .collect();
        let (status, body) = get(&service, &format!("/readyz?verbose&{}", query.join("&")));
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("no matches for \"x0\",\"x10\",\"x100\","));
    }

    #[test]
    fn rfc3339_formats_utc_with_milliseconds() {
        let at = |seconds: u64, millis: u64| {
            Rfc3339(UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_millis(millis))
                .to_string()
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(1_516_160_208, 0), "2018-01-17T03:36:48.000Z");
        assert_eq!(at(951_782_400, 7), "2000-02-29T00:00:00.007Z");
        assert_eq!(at(4_107_542_399, 999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn the_service_is_cheap_send_sync_and_clone() {
        fn assert_traits<T: Clone + Send + Sync + fmt::Debug + 'static>() {}
        assert_traits::<HealthService>();
        let (service, ..) = fixture();
        assert!(format!("{service:?}").contains("withheld"));
    }

    #[cfg(feature = "tower")]
    #[test]
    fn tower_service_answers_the_same() {
        let (mut service, ..) = fixture();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            tower_service::Service::<Request<()>>::poll_ready(&mut service, &mut cx).is_ready()
        );
        let response = tower_service::Service::call(&mut service, request(Method::GET, "/livez"))
            .into_inner()
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
