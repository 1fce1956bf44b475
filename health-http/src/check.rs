//! The built-in HTTP check for the runner.

use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use health_core::{Check, CheckKind, Report};
use http::uri::Scheme;
use http::{Request, StatusCode, Uri, header};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// GETs an `http://` URL: Healthy on a 2xx or 3xx answer (redirects are not followed, as
/// the kubelet counts them a success), Unhealthy otherwise, with the response time in ms.
///
/// Its own timeout (default 1 s, the kubelet's) bounds connecting and the answer's head,
/// so a server that accepts and never answers is Unhealthy "timed out after 1s". Only
/// `http://` is supported (no TLS); any other URL reports Unhealthy on every run. A
/// [`Dependency`](CheckKind::Dependency): it belongs on readiness.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_core::{CheckSpec, Registry, Schedule};
/// use health_http::HttpCheck;
/// use http::Uri;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), health_core::RegistryError> {
/// let mut builder = Registry::builder();
/// builder.schedule(
///     CheckSpec::new("billing").readiness(),
///     Schedule::every(Duration::from_secs(10)),
///     HttpCheck::new(Uri::from_static("http://billing.internal:8080/readyz"))
///         .timeout(Duration::from_millis(500)),
/// )?;
/// let (registry, _runner) = builder.spawn();
/// # drop(registry); Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct HttpCheck {
    uri: Uri,
    timeout: Duration,
}

impl HttpCheck {
    /// Creates a check of `uri` with a 1 s timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// let check = health_http::HttpCheck::new(http::Uri::from_static("http://127.0.0.1:8080/livez"));
    /// assert_eq!(check.uri().path(), "/livez");
    /// ```
    #[must_use]
    pub fn new(uri: Uri) -> HttpCheck {
        HttpCheck {
            uri,
            timeout: Duration::from_secs(1),
        }
    }

    /// Sets the timeout for connecting and receiving the answer's head.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let check = health_http::HttpCheck::new(http::Uri::from_static("http://db:8080/"))
    ///     .timeout(Duration::from_millis(300));
    /// # let _ = check;
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> HttpCheck {
        self.timeout = timeout;
        self
    }

    /// Returns the URL checked.
    ///
    /// # Examples
    ///
    /// See [`HttpCheck::new`].
    #[must_use]
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    async fn get(&self) -> Result<StatusCode, String> {
        let unsupported = || format!("unsupported URL {} (only http:// is supported)", self.uri);
        if self.uri.scheme() != Some(&Scheme::HTTP) {
            return Err(unsupported());
        }
        let authority = self.uri.authority().ok_or_else(unsupported)?;
        // `host()` keeps an IPv6 literal's brackets, which the resolver does not take.
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(80);
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(|err| format!("connect to {authority}: {err}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|err| format!("GET {}: {err}", self.uri))?;
        let path = self.uri.path_and_query().map_or("/", |path| path.as_str());
        let request = Request::get(path)
            .header(header::HOST, authority.as_str())
            .header(header::USER_AGENT, "health-http")
            .header(header::CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(|err| format!("GET {}: {err}", self.uri))?;
        // The connection is driven here, not in a spawned task: when a timeout drops this
        // future, the socket closes with it instead of waiting on a silent server forever.
        let mut exchange = pin!(sender.send_request(request));
        let mut connection = pin!(connection);
        let response = tokio::select! {
            biased;
            response = &mut exchange => response,
            ended = &mut connection => {
                ended.map_err(|err| format!("GET {}: {err}", self.uri))?;
                // Closed cleanly: the answer, if any, is already waiting.
                exchange.await
            }
        };
        response
            .map(|response| response.status())
            .map_err(|err| format!("GET {}: {err}", self.uri))
    }
}

impl Check for HttpCheck {
    const KIND: CheckKind = CheckKind::Dependency;

    async fn check(&self) -> Report {
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.timeout, self.get()).await;
        let elapsed = started.elapsed();
        let report = match outcome {
            Ok(Ok(status)) if status.is_success() || status.is_redirection() => {
                Report::healthy().with_observed(elapsed.as_secs_f64() * 1_000.0, "ms")
            }
            Ok(Ok(status)) => Report::unhealthy(format!("GET {}: {status}", self.uri)),
            Ok(Err(reason)) => Report::unhealthy(reason),
            Err(_) => Report::timed_out(self.timeout),
        };
        report.with_duration(elapsed)
    }
}
