//! The HTTP servers `http_probe` compares, each serving on a listener the caller bound.
//!
//! - [`serve_floor`]: bare hyper answering `ok` without reading anything, the floor every
//!   other server is compared with.
//! - [`serve_floor_with_headers`]: the floor, with the response headers health-http sends:
//!   what the bigger answer costs, apart from reading any state.
//! - [`serve_axum_rwlock`]: axum answering `/readyz` from an `RwLock<HashMap>` (the usual
//!   hand-written Rust endpoint).
//! - [`serve_checks_on_request`]: runs two checks on every request (the common Go pattern).
//! - [`serve_hyper`]: the accept loop the floor and the checks-on-request server share. Any
//!   hyper service plugs in here, which is where health-http's service goes, so that it is
//!   measured with exactly the floor's connection handling.
//!
//! All of them answer `200 ok` while ready and `503 fail` otherwise, and run until their task is
//! dropped or accepting fails.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//!
//! use health_benches::{load::Load, peers};
//! use tokio::net::TcpListener;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = tokio::spawn(peers::serve_floor(listener));
//!
//! let load = Load { connections: 1, warmup: Duration::ZERO, window: Duration::from_millis(20) };
//! let report = load.run(addr, "/readyz").await?;
//! println!("{} requests", report.requests());
//! server.abort();
//! # Ok(())
//! # }
//! ```

use std::convert::Infallible;
use std::error::Error as StdError;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Incoming};
use hyper::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, X_CONTENT_TYPE_OPTIONS,
};
use hyper::server::conn::http1;
use hyper::service::{Service, service_fn};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::rwlock_hashmap::RwLockHashMap;
use crate::{Contender, Outcome, Status, worst};

/// Serves `service` over HTTP/1.1 on every connection accepted from `listener`.
///
/// This is hyper's own server loop: accept, wrap the stream in [`TokioIo`], spawn one
/// connection task. It is the slot for health-http: pass its hyper service here to measure it
/// with the floor's exact connection handling, so the difference in the table is the service.
///
/// # Errors
///
/// Returns the error of a failed `accept`. Errors on a single connection (a client that goes
/// away mid-request) end that connection only.
pub async fn serve_hyper<S, B>(listener: TcpListener, service: S) -> io::Result<()>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    loop {
        let (stream, _) = listener.accept().await?;
        let service = service.clone();
        tokio::spawn(async move {
            // A connection error is the client's business: the load client reports its own.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Serves `ok` to every request without reading any state: the floor.
///
/// # Errors
///
/// As [`serve_hyper`].
pub async fn serve_floor(listener: TcpListener) -> io::Result<()> {
    serve_hyper(
        listener,
        service_fn(|_: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        }),
    )
    .await
}

/// Serves `ok` to every request without reading any state, with the headers health-http
/// puts on a plain probe answer: `Content-Type: text/plain; charset=utf-8`,
/// `Content-Length: 2`, `Cache-Control: no-store`, `X-Content-Type-Options: nosniff`.
///
/// The difference from [`serve_floor`] is the cost of the three that hyper does not add
/// itself, ~100 bytes per answer: hyper encoding them and the client parsing them. The difference from health-http's service on
/// [`serve_hyper`] is then the service itself (routing and the probe read).
///
/// # Errors
///
/// As [`serve_hyper`].
pub async fn serve_floor_with_headers(listener: TcpListener) -> io::Result<()> {
    const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
    const LENGTH: HeaderValue = HeaderValue::from_static("2");
    const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
    const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
    serve_hyper(
        listener,
        service_fn(|_: Request<Incoming>| async {
            let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, TEXT);
            headers.insert(CONTENT_LENGTH, LENGTH);
            headers.insert(CACHE_CONTROL, NO_STORE);
            headers.insert(X_CONTENT_TYPE_OPTIONS, NOSNIFF);
            Ok::<_, Infallible>(response)
        }),
    )
    .await
}

/// Serves `GET /readyz` with axum, aggregating `checks` under their read lock per request.
///
/// Idiomatic axum: a `Router` with shared state and `axum::serve`, nothing tuned.
///
/// # Errors
///
/// As `axum::serve`: only a failed `accept` that axum does not retry.
pub async fn serve_axum_rwlock(
    listener: TcpListener,
    checks: Arc<RwLockHashMap>,
) -> io::Result<()> {
    async fn readyz(State(checks): State<Arc<RwLockHashMap>>) -> (StatusCode, &'static str) {
        verdict(checks.aggregate())
    }
    // `/livez`: the process answers, which is all such a service checks for liveness.
    let app = Router::new()
        .route("/readyz", get(readyz))
        .route("/livez", get(|| async { "ok" }))
        .with_state(checks);
    axum::serve(listener, app).await
}

/// How long a check may take before it counts as failed, as Go code sets with
/// `context.WithTimeout` around each check.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// Serves every request by running two checks there and then: the common Go pattern.
///
/// Each check is awaited in turn under its own [`CHECK_TIMEOUT`], as in a Go handler calling
/// `CheckDB(ctx)` then `CheckQueue(ctx)`. The checks only suspend once each, where a real one
/// makes a round trip to its dependency, so this row is a lower bound for the pattern: what it
/// shows is the cost of evaluating per request, not of the dependencies.
///
/// # Errors
///
/// As [`serve_hyper`].
pub async fn serve_checks_on_request(listener: TcpListener) -> io::Result<()> {
    // Stand-ins for pings that find their dependency healthy. A real ping suspends at least
    // once waiting for the reply; `yield_now` is that one suspension without the I/O.
    async fn check_database() -> Status {
        tokio::task::yield_now().await;
        Status::Pass
    }
    async fn check_queue() -> Status {
        tokio::task::yield_now().await;
        Status::Pass
    }
    async fn readyz(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        let database = tokio::time::timeout(CHECK_TIMEOUT, check_database())
            .await
            .unwrap_or(Status::Fail);
        let queue = tokio::time::timeout(CHECK_TIMEOUT, check_queue())
            .await
            .unwrap_or(Status::Fail);
        let (code, body) = verdict(worst(&[database, queue]));
        let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *response.status_mut() = code;
        Ok(response)
    }
    serve_hyper(listener, service_fn(readyz)).await
}

/// Maps an aggregate to the probe's answer: ready unless a check fails (`Warn` is ready).
fn verdict(outcome: Outcome) -> (StatusCode, &'static str) {
    match outcome {
        Status::Pass | Status::Warn => (StatusCode::OK, "ok"),
        Status::Fail => (StatusCode::SERVICE_UNAVAILABLE, "fail"),
    }
}
