//! Answers: the prepared plain bodies, and the verbose text and health+json formats.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use health_core::{CheckSnapshot, CheckView, Observed, Outcome, Phase, Probe, Registry, Timestamp};
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;

pub(crate) const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
pub(crate) const HEALTH_JSON: HeaderValue = HeaderValue::from_static("application/health+json");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
const GET_HEAD: HeaderValue = HeaderValue::from_static("GET, HEAD");

/// What a reason becomes when details are not shown (the API server's words).
const WITHHELD: &str = "reason withheld";

/// Returns the prepared plain answer: `ok`, or the verdict line on failure. The bodies
/// and their lengths are static, so nothing is formatted or copied.
pub(crate) fn prepared(endpoint: &'static str, passing: bool, head: bool) -> Response<Full<Bytes>> {
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

/// The answer to any method but GET and HEAD, the only two a probe or `/metrics` takes.
pub(crate) fn method_not_allowed() -> Response<Full<Bytes>> {
    let body = Bytes::from_static(b"method not allowed\n");
    let mut response = respond(StatusCode::METHOD_NOT_ALLOWED, TEXT, body, false);
    response.headers_mut().insert(header::ALLOW, GET_HEAD);
    response
}

pub(crate) fn respond(
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
    /// A check's snapshot, for its report's observed value and measurements in
    /// health+json (read there, not copied for text answers); `None` for a gate or an
    /// excluded check.
    snapshot: Option<CheckSnapshot>,
    /// A lifecycle gate of readiness (`startup`, `shutdown`), not a check.
    gate: bool,
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
            snapshot: Some(snapshot),
            gate: false,
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
            snapshot: None,
            gate: true,
        }
    }

    fn excluded(name: &'a str) -> Line<'a> {
        Line {
            outcome: None,
            gate: false,
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
pub(crate) struct Listing<'a> {
    lines: Vec<Line<'a>>,
    unmatched: Vec<&'a str>,
    pub(crate) verdict: Outcome,
}

impl<'a> Listing<'a> {
    pub(crate) fn aggregate(
        registry: &'a Registry,
        probe: Probe,
        exclude: &'a [String],
        details: bool,
    ) -> Listing<'a> {
        let now = registry.now();
        let excluded = |name: &str| exclude.binary_search_by(|e| e.as_str().cmp(name)).is_ok();
        // The verdict is health-core's, from the same read a plain probe makes (it
        // latches startup too): the lines below only say why, so the plain answer,
        // `?verbose` and health+json cannot disagree about pass or fail.
        let verdict = if exclude.is_empty() {
            registry.probe_at(probe, now)
        } else {
            registry.probe_excluding(probe, now, excluded)
        };
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
            // byte for byte the same once started. Read after the verdict, whose read
            // latches startup if its members pass.
            if !registry.is_started() {
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

    pub(crate) fn single(
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
    pub(crate) fn lines(&self) -> String {
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

    pub(crate) fn text(&self, endpoint: &str, passing: bool) -> String {
        let mut out = self.lines();
        let verdict = if passing { "passed" } else { "failed" };
        let _ = writeln!(out, "{endpoint} check {verdict}");
        out
    }

    /// IETF health+json: `status`, a `checks` map of one-element arrays, and `notes` for
    /// exclusions that matched nothing. Excluded checks are left out.
    ///
    /// A lifecycle gate named like a member (`shutdown`, `startup`; health-core's name
    /// rules should make that impossible) joins that member's array instead of
    /// repeating its key: the format allows several entries per key, JSON parsers
    /// differ on repeated keys.
    pub(crate) fn json(&self) -> String {
        let mut out = format!("{{\"status\":\"{}\",\"checks\":{{", self.verdict.as_str());
        let shown = || self.lines.iter().filter(|line| line.outcome.is_some());
        // Members' names are unique (the registry's rule): only a gate can repeat one.
        let joins_member =
            |gate: &Line<'_>| shown().any(|member| !member.gate && member.name == gate.name);
        // The gates are at most two, so joining them stays linear in the lines.
        let gates: Vec<&Line<'_>> = shown().filter(|line| line.gate).collect();
        let mut first = true;
        for line in shown().filter(|line| !(line.gate && joins_member(line))) {
            if !std::mem::take(&mut first) {
                out.push(',');
            }
            json_string(&mut out, line.name);
            out.push_str(":[");
            line.write_json(&mut out);
            if !line.gate {
                for gate in gates.iter().filter(|gate| gate.name == line.name) {
                    out.push(',');
                    gate.write_json(&mut out);
                }
            }
            out.push(']');
            // Named measurements are entries of their own, keyed
            // `componentName:measurementName` as in the draft's examples, with the
            // check's status and time so that each entry reads alone.
            let measurements = line.snapshot.iter().flat_map(|s| s.report().measurements());
            for (name, observed) in measurements {
                out.push(',');
                json_string(&mut out, &format!("{}:{name}", line.name));
                out.push_str(":[");
                line.write_entry(&mut out, Some(observed), None);
                out.push(']');
            }
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

impl Line<'_> {
    /// One entry of a `checks` array.
    fn write_json(&self, out: &mut String) {
        let observed = self
            .snapshot
            .as_ref()
            .and_then(|snapshot| snapshot.report().observed());
        self.write_entry(out, observed, self.reason.as_deref());
    }

    /// An entry with this line's status and time, and `observed` and `reason`.
    fn write_entry(&self, out: &mut String, observed: Option<&Observed>, reason: Option<&str>) {
        let outcome = self.outcome.unwrap_or(Outcome::Pass);
        let _ = write!(
            out,
            "{{\"componentType\":\"{}\",\"status\":\"{}\"",
            self.component_type,
            outcome.as_str()
        );
        if let Some(time) = self.time {
            let _ = write!(out, ",\"time\":\"{}\"", Rfc3339(time));
        }
        // JSON has no NaN or infinity.
        if let Some(observed) = observed.filter(|observed| observed.value().is_finite()) {
            let _ = write!(
                out,
                ",\"observedValue\":{},\"observedUnit\":",
                observed.value()
            );
            json_string(out, observed.unit());
        }
        if let Some(reason) = reason {
            out.push_str(",\"output\":");
            json_string(out, reason);
        }
        out.push('}');
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
    use std::time::{Duration, UNIX_EPOCH};

    use health_core::Outcome;

    use super::{Line, Listing, Rfc3339};

    /// health-core reserves the gates' names, but the renderer does not rely on it: a
    /// repeated key would be read differently by different JSON parsers.
    #[test]
    fn a_gate_named_like_a_member_joins_its_array_instead_of_repeating_the_key() {
        for gate in ["startup", "shutdown"] {
            let refused = health_core::Registry::builder()
                .push(health_core::CheckSpec::new(gate).readiness())
                .is_err();
            assert!(refused, "health-core reserves {gate:?}");
        }
        let member = |name, outcome| Line {
            name,
            outcome,
            component_type: "component",
            reason: None,
            time: None,
            snapshot: None,
            gate: false,
        };
        let listing = Listing {
            lines: vec![
                member("shutdown", Some(Outcome::Pass)),
                member("startup", None), // excluded: the gate keeps its own key
                Line::gate("startup", true, "", true),
                Line::gate("shutdown", false, "process is shutting down", true),
            ],
            unmatched: Vec::new(),
            verdict: Outcome::Fail,
        };
        assert_eq!(
            listing.json(),
            r#"{"status":"fail","checks":{"shutdown":[{"componentType":"component","status":"pass"},{"componentType":"system","status":"fail","output":"process is shutting down"}],"startup":[{"componentType":"system","status":"pass"}]}}"#
        );
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
}
