//! `/metrics`: the service's `prometheus-client` registry, served beside the probes
//! (feature `prometheus`).

use std::sync::Arc;

use bytes::Bytes;
use http::header::HeaderValue;
use http::request::Parts;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry as Metrics;

use crate::render::{TEXT, method_not_allowed, respond};
use crate::service::HealthService;

/// What `prometheus_client::encoding::text::encode` writes: OpenMetrics text 1.0.0, the
/// content type Prometheus asks for first.
const OPENMETRICS: HeaderValue =
    HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8");

impl HealthService {
    /// Serves `metrics`, encoded as OpenMetrics text, at `GET /metrics` (and `HEAD`).
    ///
    /// Register a [`health_core::PrometheusCollector`] in it to expose the checks'
    /// statuses, runs, durations and transitions, beside the service's own metrics. The
    /// probe routes are unchanged, and with [`Serve::spawn`](crate::Serve::spawn) the
    /// scrape is answered on the probe server's own thread too. Without this call,
    /// `/metrics` is 404 like any other path.
    ///
    /// A collector that fails to encode makes the answer a 500 (a bug in that collector,
    /// logged); no request can cause one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use health_core::{PrometheusCollector, Registry};
    /// use health_http::HealthService;
    /// use http::{Request, StatusCode};
    /// use hyper::service::Service as _;
    ///
    /// let registry = Registry::builder().build();
    /// let mut metrics = prometheus_client::registry::Registry::default();
    /// metrics.register_collector(Box::new(PrometheusCollector::new(&registry)));
    /// let service = HealthService::new(registry).metrics(Arc::new(metrics));
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main_(service: HealthService) {
    /// let response = service.call(Request::get("/metrics").body(()).unwrap()).await.unwrap();
    /// assert_eq!(response.status(), StatusCode::OK);
    /// # }
    /// # main_(service);
    /// ```
    #[must_use]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn metrics(mut self, metrics: Arc<Metrics>) -> HealthService {
        self.set_metrics(metrics);
        self
    }

    /// Answers `/metrics` if it is served; `None` for any other path.
    pub(crate) fn answer_metrics(
        &self,
        parts: &Parts,
        head: bool,
    ) -> Option<Response<Full<Bytes>>> {
        if parts.uri.path() != "/metrics" {
            return None;
        }
        let metrics = self.served_metrics()?;
        if !head && parts.method != Method::GET {
            return Some(method_not_allowed());
        }
        let mut text = String::new();
        if encode(&mut text, metrics).is_err() {
            tracing::warn!(target: "health", "a metrics collector failed to encode; /metrics answered 500");
            return Some(respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                TEXT,
                "metrics encoding failed\n".into(),
                head,
            ));
        }
        Some(respond(StatusCode::OK, OPENMETRICS, text.into(), head))
    }
}
