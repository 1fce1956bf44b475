//! The axum kit (feature `axum`): the standard router merged into an application's, one
//! probe at any path, and the drain future, in process and in virtual time.
//!
//! The feature is on in `cargo test -p health-http`: health-http dev-depends on itself
//! with it.

#![cfg(feature = "axum")]

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use health_core::{CheckSpec, Outcome, Phase, Probe, Registry, StartupGate};
use health_http::HealthService;
use health_http::axum::{drain, router};
use http::{Request, StatusCode, header};
use tower::ServiceExt as _;

#[derive(Clone)]
struct AppState {
    greeting: &'static str,
}

async fn send(app: &Router, method: &str, uri: &str) -> (StatusCode, http::HeaderMap, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::ACCEPT, "text/plain")
        .body(Body::empty())
        .unwrap();
    common::send(app, request).await
}

async fn get_text(app: &Router, uri: &str) -> (StatusCode, String) {
    let (status, _, body) = send(app, "GET", uri).await;
    (status, body)
}

/// A registry with a readiness check `db`, a startup gate `warmup` and a liveness check
/// `loop`.
fn registry() -> (Registry, health_core::CheckHandle, StartupGate) {
    let warmup = StartupGate::new();
    let mut builder = Registry::builder();
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    builder
        .gate(CheckSpec::new("warmup").startup(), &warmup)
        .unwrap();
    builder
        .push(CheckSpec::new("loop").liveness())
        .unwrap()
        .healthy();
    (builder.build(), db, warmup)
}

#[tokio::test]
async fn the_router_serves_the_standard_paths_next_to_the_apps_routes() {
    let (registry, db, warmup) = registry();
    let health = HealthService::new(registry).details(true);
    let app: Router = Router::new()
        .route(
            "/",
            get(|State(state): State<AppState>| async move { state.greeting }),
        )
        .merge(router(&health))
        .nest("/internal", router(&health))
        .fallback(|| async { (StatusCode::NOT_FOUND, "the app's own 404") })
        .with_state(AppState { greeting: "hello" });

    assert_eq!(get_text(&app, "/").await, (StatusCode::OK, "hello".into()));
    assert_eq!(get_text(&app, "/livez").await.0, StatusCode::OK);
    assert_eq!(get_text(&app, "/healthz").await.0, StatusCode::OK);
    assert_eq!(
        get_text(&app, "/startupz").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    warmup.done();
    db.unhealthy("connection refused");
    assert_eq!(
        get_text(&app, "/readyz?verbose").await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "[-]db failed: connection refused\n[+]shutdown ok\nreadyz check failed\n".into()
        )
    );
    assert_eq!(
        get_text(&app, "/readyz/db").await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "[-]db failed: connection refused\n".into()
        )
    );
    assert_eq!(get_text(&app, "/startupz/warmup").await.0, StatusCode::OK);
    assert_eq!(get_text(&app, "/livez/loop").await.0, StatusCode::OK);
    assert_eq!(
        get_text(&app, "/readyz/loop").await,
        (StatusCode::NOT_FOUND, "not found\n".into()),
        "not a readiness member: the probes' own 404"
    );
    db.healthy();
    assert_eq!(
        get_text(&app, "/internal/readyz").await,
        (StatusCode::OK, "ok".into()),
        "nested: the prefix is stripped"
    );
    assert_eq!(
        get_text(&app, "/internal/readyz/db").await.0,
        StatusCode::OK
    );

    // Paths the probes do not own reach the application's fallback.
    for path in ["/nope", "/readyz/", "/internal", "/readyz/db/extra"] {
        assert_eq!(
            get_text(&app, path).await,
            (StatusCode::NOT_FOUND, "the app's own 404".into()),
            "{path}"
        );
    }
    let (status, headers, _) = send(&app, "POST", "/readyz").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::ALLOW], "GET, HEAD");
}

#[tokio::test]
async fn a_probe_service_answers_at_any_path() {
    let (registry, db, warmup) = registry();
    warmup.done();
    let health = HealthService::new(registry);
    let app: Router = Router::new()
        .route_service("/ready", health.probe(Probe::Readiness))
        .route_service("/health/live", health.probe(Probe::Liveness));

    db.unhealthy("connection refused");
    assert_eq!(
        get_text(&app, "/ready").await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "readyz check failed\n".into()
        )
    );
    assert_eq!(
        get_text(&app, "/ready?verbose").await.1,
        "[-]db failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n",
        "the standard path's answer, reasons withheld by default"
    );
    assert_eq!(
        get_text(&app, "/ready?exclude=db").await,
        (StatusCode::OK, "ok".into())
    );
    let request = Request::get("/ready")
        .header(header::ACCEPT, "application/health+json")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/health+json"
    );
    let (status, headers, body) = send(&app, "HEAD", "/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::CONTENT_LENGTH], "20");
    assert!(body.is_empty());
    assert_eq!(
        send(&app, "DELETE", "/ready").await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        get_text(&app, "/health/live").await,
        (StatusCode::OK, "ok".into())
    );
    assert_eq!(get_text(&app, "/ready/db").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(start_paused = true)]
async fn drain_fails_readiness_at_the_signal_and_completes_after_the_delay() {
    let (registry, db, warmup) = registry();
    warmup.done();
    db.healthy();
    let (signal, signalled) = tokio::sync::oneshot::channel::<()>();
    let drained = tokio::spawn(drain(registry.clone(), Duration::from_secs(5), async {
        signalled.await.ok();
    }));

    tokio::time::sleep(Duration::from_mins(1)).await;
    assert_eq!(
        registry.phase(),
        Phase::Serving,
        "nothing before the signal"
    );
    assert!(!drained.is_finished());

    signal.send(()).unwrap();
    tokio::task::yield_now().await;
    assert_eq!(registry.phase(), Phase::Draining);
    assert_eq!(registry.probe(Probe::Readiness), Outcome::Fail);
    assert_eq!(
        registry.probe(Probe::Liveness),
        Outcome::Pass,
        "a drain never fails liveness"
    );
    tokio::time::sleep(Duration::from_millis(4_999)).await;
    assert!(!drained.is_finished(), "still serving for the drain delay");
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert!(drained.is_finished());
    drained.await.unwrap();
}
