//! The built-in HTTP check for the runner.

use std::fmt;
use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use health_core::{Check, CheckKind, Report, Resolver};
use http::uri::Scheme;
use http::{HeaderValue, Request, StatusCode, Uri, header};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

/// GETs an `http://` URL: Healthy on a 2xx or 3xx answer (redirects are not followed, as
/// the kubelet counts them a success), Unhealthy otherwise, with the response time in ms.
///
/// Its own timeout (default 1 s, the kubelet's) bounds resolving the host, connecting and
/// the answer's head, so a server that accepts and never answers is Unhealthy "timed out
/// after 1s". The host is resolved by the check's [`Resolver`]: on a thread of its own,
/// one lookup at a time, so a DNS outage cannot pile up stuck lookups. Only `http://` is
/// supported (no TLS); any other URL reports Unhealthy on every run. A
/// [`Dependency`](CheckKind::Dependency): it belongs on readiness.
///
/// Credentials in the URL (`http://user:password@host/`) are sent as HTTP Basic
/// authentication, as curl sends them, and never shown: not in the `Host` header, not in
/// a reason, not in `Debug`.
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
#[derive(Clone)]
pub struct HttpCheck {
    uri: Uri,
    /// The URL without its credentials: what reasons and `Debug` show.
    shown: String,
    /// `host[:port]` as written, without credentials: the `Host` header.
    host: Option<String>,
    /// `Basic …` from the URL's credentials; sensitive, never shown.
    authorization: Option<HeaderValue>,
    timeout: Duration,
    resolver: Resolver,
}

impl HttpCheck {
    /// Creates a check of `uri` with a 1 s timeout and the system resolver.
    ///
    /// # Examples
    ///
    /// ```
    /// let check = health_http::HttpCheck::new(http::Uri::from_static("http://127.0.0.1:8080/livez"));
    /// assert_eq!(check.uri().path(), "/livez");
    /// ```
    #[must_use]
    pub fn new(uri: Uri) -> HttpCheck {
        let (userinfo, host) = match uri.authority() {
            Some(authority) => match authority.as_str().rsplit_once('@') {
                Some((userinfo, host)) => (Some(userinfo), Some(host.to_owned())),
                None => (None, Some(authority.as_str().to_owned())),
            },
            None => (None, None),
        };
        let shown = match (uri.scheme(), &host) {
            (Some(scheme), Some(host)) => {
                let path = uri.path_and_query().map_or("", |path| path.as_str());
                format!("{scheme}://{host}{path}")
            }
            // No authority, so no credentials to hide.
            _ => uri.to_string(),
        };
        let authorization = userinfo.and_then(basic_authorization);
        HttpCheck {
            uri,
            shown,
            host,
            authorization,
            timeout: Duration::from_secs(1),
            resolver: Resolver::system(),
        }
    }

    /// Sets the timeout for resolving, connecting and receiving the answer's head.
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

    /// Sets the resolver of the URL's host (default: [`Resolver::system`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use health_core::Resolver;
    ///
    /// let pinned = Resolver::from_fn(|_, port| Ok(vec![SocketAddr::from(([10, 0, 0, 7], port))]));
    /// let check = health_http::HttpCheck::new(http::Uri::from_static("http://billing/readyz"))
    ///     .resolver(pinned);
    /// # let _ = check;
    /// ```
    #[must_use]
    pub fn resolver(mut self, resolver: Resolver) -> HttpCheck {
        self.resolver = resolver;
        self
    }

    /// Returns the URL checked, as given: with its credentials, if it has any.
    ///
    /// # Examples
    ///
    /// See [`HttpCheck::new`].
    #[must_use]
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    async fn get(&self) -> Result<StatusCode, String> {
        let unsupported = || format!("unsupported URL {} (only http:// is supported)", self.shown);
        if self.uri.scheme() != Some(&Scheme::HTTP) {
            return Err(unsupported());
        }
        let (Some(authority), Some(host_header)) = (self.uri.authority(), &self.host) else {
            return Err(unsupported());
        };
        let port = authority.port_u16().unwrap_or(80);
        let stream = self
            .resolver
            .connect(authority.host(), port)
            .await
            .map_err(|err| format!("connect to {host_header}: {err}"))?;
        let failed = |err: hyper::Error| format!("GET {}: {err}", self.shown);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(failed)?;
        let path = self.uri.path_and_query().map_or("/", |path| path.as_str());
        let mut request = Request::get(path)
            .header(header::HOST, host_header.as_str())
            .header(header::USER_AGENT, "health-http")
            .header(header::CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(|err| format!("GET {}: {err}", self.shown))?;
        if let Some(authorization) = &self.authorization {
            request
                .headers_mut()
                .insert(header::AUTHORIZATION, authorization.clone());
        }
        // The connection is driven here, not in a spawned task: when a timeout drops this
        // future, the socket closes with it instead of waiting on a silent server forever.
        let mut exchange = pin!(sender.send_request(request));
        let mut connection = pin!(connection);
        let response = tokio::select! {
            biased;
            response = &mut exchange => response,
            ended = &mut connection => {
                ended.map_err(failed)?;
                // Closed cleanly: the answer, if any, is already waiting.
                exchange.await
            }
        };
        response.map(|response| response.status()).map_err(failed)
    }
}

impl fmt::Debug for HttpCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCheck")
            .field("uri", &self.shown)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
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
            Ok(Ok(status)) => Report::unhealthy(format!("GET {}: {status}", self.shown)),
            Ok(Err(reason)) => Report::unhealthy(reason),
            Err(_) => Report::timed_out(self.timeout),
        };
        report.with_duration(elapsed)
    }
}

/// The `Authorization` value for a URL's `user:password` (percent-encoded, as URLs carry
/// it): `Basic` and the base64 of the decoded pair (RFC 7617), marked sensitive so that
/// hyper never logs it. A user without a password gets an empty one, as curl sends it.
fn basic_authorization(userinfo: &str) -> Option<HeaderValue> {
    let mut pair = percent_decode(userinfo);
    if !pair.contains(&b':') {
        pair.push(b':');
    }
    let mut value = HeaderValue::try_from(format!("Basic {}", base64(&pair))).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Decodes `%XX` escapes; anything else, a malformed escape included, is kept as written.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = bytes
            .get(index + 1..index + 3)
            .filter(|_| bytes[index] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            decoded.push(byte);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    decoded
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let word = chunk.iter().enumerate().fold(0_u32, |word, (at, &byte)| {
            word | u32::from(byte) << (16 - 8 * at)
        });
        for sextet in 0..4 {
            if sextet <= chunk.len() {
                let index = (word >> (18 - 6 * sextet)) & 0x3f;
                encoded.push(char::from(ALPHABET[index as usize]));
            } else {
                encoded.push('=');
            }
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::{base64, basic_authorization, percent_decode};

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain:?}");
        }
    }

    #[test]
    fn credentials_are_decoded_then_encoded() {
        // RFC 7617's example.
        let value = basic_authorization("Aladdin:open%20sesame").unwrap();
        assert_eq!(value, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert!(value.is_sensitive());
        assert_eq!(basic_authorization("user").unwrap(), "Basic dXNlcjo=");
        assert_eq!(percent_decode("a%40b%zz%4"), b"a@b%zz%4");
    }
}
