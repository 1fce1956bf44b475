//! Request parsing: the probe path and the query parameters that matter.

use std::borrow::Cow;

use health_core::Probe;
use http::header::{self, HeaderMap};

/// A probe path: `/<endpoint>` or `/<endpoint>/<check>`.
pub(crate) struct Route<'a> {
    /// As requested: `healthz` answers for liveness but names itself in the last line.
    pub(crate) endpoint: &'static str,
    pub(crate) probe: Probe,
    pub(crate) check: Option<&'a str>,
}

impl<'a> Route<'a> {
    pub(crate) fn parse(path: &'a str) -> Option<Route<'a>> {
        let path = path.strip_prefix('/')?;
        let (endpoint, check) = match path.split_once('/') {
            Some((endpoint, check)) => (endpoint, Some(check)),
            None => (path, None),
        };
        let probe = match endpoint {
            // Liveness, not readiness: charts point `livenessProbe` at `/healthz`, and
            // readiness there would restart pods for every dependency outage and drain.
            "healthz" => Probe::Liveness,
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
pub(crate) struct Query {
    pub(crate) verbose: bool,
    /// Sorted and deduplicated: the API server keeps them in a set and lists the
    /// unmatched ones sorted.
    pub(crate) exclude: Vec<String>,
}

impl Query {
    pub(crate) fn parse(query: &str) -> Query {
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

pub(crate) fn wants_health_json(headers: &HeaderMap) -> bool {
    const MEDIA_TYPE: &[u8] = b"application/health+json";
    headers.get_all(header::ACCEPT).iter().any(|value| {
        value
            .as_bytes()
            .windows(MEDIA_TYPE.len())
            .any(|window| window.eq_ignore_ascii_case(MEDIA_TYPE))
    })
}
