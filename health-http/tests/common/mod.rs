//! A raw HTTP/1 client over blocking sockets, and a server on `127.0.0.1:0`.
//!
//! The client is blocking on purpose: run in `spawn_blocking`, it keeps a paused tokio
//! clock from auto-advancing while it talks (tokio's documented way to do I/O under
//! paused time), so timers in the server fire only when a test sleeps. Every socket read
//! is bounded by a real-time timeout, so a broken server fails a test instead of hanging it.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different part

#[cfg(feature = "grpc")]
pub mod grpc;

use std::convert::Infallible;
use std::future::IntoFuture as _;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use health_core::{CheckHandle, CheckSpec, Registry};
use health_http::{HealthService, ProbeServer, Serve, serve};
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

/// The bound on any one socket read, in real time.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A registry with one readiness check, `db`, healthy; and its handle.
pub fn registry_with_db() -> (Registry, CheckHandle) {
    let mut builder = Registry::builder();
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    db.healthy();
    (builder.build(), db)
}

/// No drain delay: for tests that shut a server down and need not probe the drain.
pub fn zero_drain(serve: Serve) -> Serve {
    serve.drain_delay(Duration::ZERO)
}

/// A running `serve` and the means to stop it.
pub struct Server {
    pub addr: SocketAddr,
    pub registry: Registry,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<()>,
}

/// Serves `registry` on a fresh loopback port, configured by `configure`.
pub async fn start(registry: Registry, configure: impl FnOnce(Serve) -> Serve) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = configure(serve(listener, HealthService::new(registry.clone())))
        .with_graceful_shutdown(async {
            stopped.await.ok();
        });
    Server {
        addr,
        registry,
        stop: Some(stop),
        task: tokio::spawn(server.into_future()),
    }
}

/// Serves `service` on a fresh loopback port on the probe server's own thread
/// (`Serve::spawn`), configured by `configure`.
pub fn spawn_dedicated<F>(
    service: HealthService,
    configure: impl FnOnce(Serve) -> Serve<F>,
) -> ProbeServer
where
    F: Future<Output = ()> + Send + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    configure(serve(listener, service)).spawn().unwrap()
}

/// A server, not ours, that answers every request with `status` and keeps each
/// request's headers: the far end of an `HttpCheck`.
pub async fn recording(status: StatusCode) -> (SocketAddr, Arc<Mutex<Vec<HeaderMap>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let recorded = Arc::clone(&recorded);
            let service = service_fn(move |request: http::Request<_>| {
                recorded.lock().unwrap().push(request.headers().clone());
                let mut response = http::Response::new(Full::new(Bytes::from_static(b"x")));
                *response.status_mut() = status;
                async move { Ok::<_, Infallible>(response) }
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    (addr, seen)
}

/// Sends `request` to the axum application `app` in process; returns its answer's
/// status, headers and body (as text).
pub async fn send(app: &Router, request: http::Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

/// Runs a blocking client script off the runtime, freezing a paused clock meanwhile.
pub async fn blocking<T: Send + 'static>(script: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(script).await.unwrap()
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    stream
}

/// One parsed response.
#[derive(Debug)]
pub struct Response {
    pub version: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response; `head` says the request was HEAD (no body follows).
pub fn read_response(stream: &mut TcpStream, head: bool) -> Response {
    let mut raw = Vec::new();
    let mut byte = [0; 1];
    // Byte by byte up to the blank line, so nothing of a pipelined next answer is eaten.
    while !raw.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("reading a response head");
        assert_eq!(
            n,
            1,
            "connection closed mid-head after {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.push(byte[0]);
    }
    let text = String::from_utf8(raw).unwrap();
    let mut lines = text.split("\r\n");
    let mut status_line = lines.next().unwrap().splitn(3, ' ');
    let version = status_line.next().unwrap().to_owned();
    let status = status_line.next().unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let mut response = Response {
        version,
        status,
        headers,
        body: String::new(),
    };
    let length: usize = response
        .header("content-length")
        .map_or(0, |v| v.parse().unwrap());
    if !head {
        let mut body = vec![0; length];
        stream
            .read_exact(&mut body)
            .expect("reading a response body");
        response.body = String::from_utf8(body).unwrap();
    }
    response
}

/// Returns `true` once the peer has closed (EOF or reset), within the read timeout.
pub fn is_closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false, // timed out: still open
        }
    }
}

/// Sends `request` on a new connection and reads one response.
pub fn request(addr: SocketAddr, request: &str) -> Response {
    let mut stream = connect(addr);
    stream.write_all(request.as_bytes()).unwrap();
    read_response(&mut stream, request.starts_with("HEAD "))
}

/// GET `path` on a new connection that closes after the answer.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n"),
    )
}

/// What a server made of raw bytes: the status of its first answer, or a closed
/// connection without one.
#[derive(Debug, PartialEq, Eq)]
pub enum Reaction {
    Status(u16),
    Closed,
}

/// Sends `bytes` on a new connection (then half-closes it if `then_eof`) and returns the
/// server's reaction.
pub fn react(addr: SocketAddr, bytes: &[u8], then_eof: bool) -> Reaction {
    let mut stream = connect(addr);
    // The server may close before reading everything (a too-large head): a failed
    // write is a reaction too.
    if stream.write_all(bytes).is_err() {
        return Reaction::Closed;
    }
    if then_eof {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut raw = Vec::new();
    let mut buf = [0; 1024];
    while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == ErrorKind::ConnectionReset => break,
            Err(err) => panic!("no reaction within {READ_TIMEOUT:?}: {err}"),
        }
    }
    let text = String::from_utf8_lossy(&raw);
    match text.split(' ').nth(1).and_then(|code| code.parse().ok()) {
        Some(code) if text.starts_with("HTTP/1.") => Reaction::Status(code),
        _ => Reaction::Closed,
    }
}
