//! `/metrics` (feature `prometheus`): the service's `prometheus-client` registry as
//! OpenMetrics text, beside unchanged probe routes, on `serve` and on the dedicated
//! probe server.

#![cfg(feature = "prometheus")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{blocking, get, spawn_dedicated, zero_drain};
use health_core::{CheckSpec, PrometheusCollector, Registry};
use health_http::{HealthService, serve};
use http::{Request, StatusCode};
use hyper::service::Service as _;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn service() -> (HealthService, health_core::CheckHandle) {
    let mut builder = Registry::builder();
    let db = builder.push(CheckSpec::new("db").readiness()).unwrap();
    let registry = builder.build();
    let mut metrics = prometheus_client::registry::Registry::default();
    metrics.register_collector(Box::new(PrometheusCollector::new(&registry)));
    (HealthService::new(registry).metrics(Arc::new(metrics)), db)
}

async fn call(service: &HealthService, method: &str, uri: &str) -> http::Response<String> {
    let request = Request::builder().method(method).uri(uri).body(()).unwrap();
    let response = service.call(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = http_body_util::BodyExt::collect(body)
        .await
        .unwrap()
        .to_bytes();
    http::Response::from_parts(parts, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn metrics_are_served_as_openmetrics_and_follow_the_checks() {
    let (service, db) = service();
    let before = call(&service, "GET", "/metrics").await;
    assert_eq!(before.status(), StatusCode::OK);
    assert_eq!(before.headers()["content-type"], OPENMETRICS);
    assert_eq!(before.headers()["cache-control"], "no-store");
    assert!(before.body().ends_with("# EOF\n"), "{}", before.body());
    assert!(
        before
            .body()
            .contains(r#"health_check_status{check="db",state="unknown"} 1"#)
    );
    assert!(
        before
            .body()
            .contains(r#"health_probe_status{probe="readiness"} 0"#)
    );

    db.healthy();
    let after = call(&service, "GET", "/metrics?ignored=1").await;
    assert!(
        after.body().contains(
            r#"health_check_transitions_total{check="db",from="unknown",to="healthy"} 1"#
        ),
        "{}",
        after.body()
    );
    assert!(
        after
            .body()
            .contains(r#"health_probe_status{probe="readiness"} 1"#)
    );
    // The probes are what they were.
    let readyz = call(&service, "GET", "/readyz").await;
    assert_eq!(
        (readyz.status(), readyz.body().as_str()),
        (StatusCode::OK, "ok")
    );
}

#[tokio::test]
async fn head_has_the_headers_and_other_methods_are_refused() {
    let (service, _db) = service();
    let get = call(&service, "GET", "/metrics").await;
    let head = call(&service, "HEAD", "/metrics").await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.body(), "");
    assert_eq!(head.headers()["content-type"], OPENMETRICS);
    assert_eq!(
        head.headers()["content-length"],
        get.body().len().to_string().as_str()
    );
    let post = call(&service, "POST", "/metrics").await;
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
}

#[tokio::test]
async fn without_a_registry_metrics_is_not_found() {
    let bare = HealthService::new(Registry::builder().build());
    assert_eq!(
        call(&bare, "GET", "/metrics").await.status(),
        StatusCode::NOT_FOUND
    );
    let (service, _db) = service();
    assert_eq!(
        call(&service, "GET", "/metrics/extra").await.status(),
        StatusCode::NOT_FOUND,
        "only /metrics itself"
    );
}

#[tokio::test]
async fn metrics_are_served_over_tcp_and_by_the_dedicated_probe_server() {
    let (service, db) = service();
    db.healthy();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = tokio::spawn(std::future::IntoFuture::into_future(
        serve(listener, service.clone()).drain_delay(Duration::ZERO),
    ));
    let answer = blocking(move || get(addr, "/metrics")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some(OPENMETRICS));
    assert!(
        answer
            .body
            .contains(r#"health_probe_status{probe="liveness"} 1"#)
    );
    served.abort();

    let probes = spawn_dedicated(service, zero_drain);
    let addr = probes.local_addr();
    let answer = blocking(move || get(addr, "/metrics")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer
            .body
            .contains(r#"health_check_status{check="db",state="healthy"} 1"#)
    );
    blocking(move || probes.shutdown()).await;
}

/// A collector with a bug: it fails every scrape.
#[derive(Debug)]
struct Broken;

impl prometheus_client::collector::Collector for Broken {
    fn encode(
        &self,
        _: prometheus_client::encoding::DescriptorEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        Err(std::fmt::Error)
    }
}

#[tokio::test]
async fn a_failing_collector_is_a_500_and_the_probes_keep_answering() {
    let mut metrics = prometheus_client::registry::Registry::default();
    metrics.register_collector(Box::new(Broken));
    let service = HealthService::new(Registry::builder().build()).metrics(Arc::new(metrics));
    let scrape = call(&service, "GET", "/metrics").await;
    assert_eq!(scrape.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(scrape.body(), "metrics encoding failed\n");
    assert_eq!(
        call(&service, "GET", "/livez").await.status(),
        StatusCode::OK
    );
}

/// The axum kit's standard router routes `/metrics` to a service that serves metrics,
/// and only then.
#[cfg(feature = "axum")]
#[tokio::test]
async fn the_axum_router_includes_metrics_when_served() {
    async fn status(app: axum::Router, uri: &str) -> StatusCode {
        let request = Request::get(uri).body(axum::body::Body::empty()).unwrap();
        common::send(&app, request).await.0
    }

    let (service, _db) = service();
    let app = axum::Router::new().nest("/internal", health_http::axum::router(&service));
    assert_eq!(
        status(app.clone(), "/internal/metrics").await,
        StatusCode::OK
    );
    assert_eq!(status(app, "/internal/livez").await, StatusCode::OK);
    let bare = HealthService::new(Registry::builder().build());
    let app: axum::Router = health_http::axum::router(&bare);
    assert_eq!(status(app, "/metrics").await, StatusCode::NOT_FOUND);
}
