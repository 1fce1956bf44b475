//! `HealthService` inside an axum `Router`: `route_service`, `nest_service`, HEAD, 405,
//! and a details predicate on axum's `ConnectInfo`, in process and over loopback.

#![cfg(feature = "tower")]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use health_core::{CheckSpec, Registry};
use health_http::HealthService;
use http::{Request, StatusCode, header};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::send;

fn app(registry: &Registry) -> Router {
    let health = HealthService::new(registry.clone()).details_when(|parts| {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback())
    });
    Router::new()
        .route("/", get(|| async { "app" }))
        .route_service("/livez", health.clone())
        .nest_service("/health", health)
}

fn request(method: &str, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn routes_work_inside_a_router() {
    let mut builder = Registry::builder();
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    let registry = builder.build();
    let app = app(&registry);
    db.healthy();

    assert_eq!(send(&app, request("GET", "/")).await.2, "app");
    assert_eq!(send(&app, request("GET", "/livez")).await.2, "ok");
    let (status, headers, body) = send(&app, request("GET", "/health/readyz?verbose")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "[+]db ok\n[+]shutdown ok\nreadyz check passed\n");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");

    db.unhealthy("connection refused");
    let (status, _, body) = send(&app, request("GET", "/health/readyz/db")).await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "[-]db failed: reason withheld\n"
        )
    );

    let (status, headers, body) = send(&app, request("HEAD", "/health/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::CONTENT_LENGTH], "20");
    assert!(body.is_empty());

    let (status, headers, _) = send(&app, request("DELETE", "/health/livez")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::ALLOW], "GET, HEAD");
    assert_eq!(
        send(&app, request("GET", "/health/nope")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn axum_serve_shows_reasons_to_loopback_peers() {
    let mut builder = Registry::builder();
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    let registry = builder.build();
    db.unhealthy("connection refused");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(
            listener,
            app(&registry).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            stopped.await.ok();
        })
        .into_future(),
    );

    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(
                b"GET /health/readyz?verbose HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n",
            )
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    };
    let answer = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.ends_with(
            "\r\n\r\n[-]db failed: connection refused\n[+]shutdown ok\nreadyz check failed\n"
        ),
        "{answer}"
    );

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
