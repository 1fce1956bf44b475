//! The rules the `health` crates share: what a check name may be, how durations are
//! written, and the runner's schedule defaults and limits.
//!
//! `health-derive` applies them at compile time and `health-core` when a registry is
//! built, so both refuse the same names and print durations the same way. A proc-macro
//! crate cannot export functions, so the rules live here, in a crate without dependencies
//! that both depend on.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use health_rules::{format_duration, name_problem, parse_duration};
//!
//! assert_eq!(name_problem("queue.orders-v2"), None);
//! assert_eq!(name_problem("queue..orders"), Some("must not contain an empty segment (\"..\")"));
//! assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
//! assert_eq!(format_duration(Duration::from_millis(6_140)), "6.1s");
//! ```
//!
//! # Items
//!
//! **Names:** [`name_problem`], [`syntax_problem`], [`MAX_NAME_LEN`], [`RESERVED_NAMES`].
//!
//! **Durations:** [`parse_duration`], [`format_duration`], [`DurationError`].
//!
//! **Schedules:** [`DEFAULT_INTERVAL`], [`default_timeout`], [`default_jitter`],
//! [`longest_gap`], [`MAX_DURATION`].

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

use std::fmt;
use std::time::Duration;

/// The longest check name: a DNS label's limit, so names fit in paths and metric labels.
///
/// # Examples
///
/// ```
/// assert!(health_rules::name_problem(&"a".repeat(health_rules::MAX_NAME_LEN)).is_none());
/// ```
pub const MAX_NAME_LEN: usize = 63;

/// Names no check may take: readiness reports its lifecycle (start-up latch, shutdown) in
/// verbose and JSON output as lines with these names, which a check must never shadow.
///
/// # Examples
///
/// ```
/// assert!(health_rules::name_problem(health_rules::RESERVED_NAMES[0]).is_some());
/// ```
pub const RESERVED_NAMES: [&str; 2] = ["startup", "shutdown"];

/// Returns what is wrong with a check name, or `None` if it is valid.
///
/// A name is 1 to [`MAX_NAME_LEN`] bytes of `a-z`, `0-9`, `_`, `.` and `-`, made of
/// `.`-separated segments none of which is empty (no leading, trailing or doubled `.`),
/// and is not one of the [`RESERVED_NAMES`].
///
/// # Examples
///
/// ```
/// use health_rules::name_problem;
///
/// assert_eq!(name_problem("db"), None);
/// assert_eq!(name_problem("DB"), Some("may only contain a-z, 0-9, '_', '.' and '-'"));
/// assert!(name_problem("shutdown").unwrap().contains("reserved"));
/// ```
#[must_use]
pub fn name_problem(name: &str) -> Option<&'static str> {
    syntax_problem(name).or_else(|| {
        RESERVED_NAMES
            .contains(&name)
            .then_some("is reserved for readiness' lifecycle lines (startup, shutdown)")
    })
}

/// Returns what is wrong with `text` as a name or part of one, leaving out the reserved
/// names: for a prefix such as the derive's `prefix = "startup"`, which is only ever
/// joined to other segments (`startup.db`).
///
/// # Examples
///
/// ```
/// use health_rules::syntax_problem;
///
/// assert_eq!(syntax_problem("startup"), None);
/// assert_eq!(syntax_problem("api."), Some("must not end with '.'"));
/// ```
#[must_use]
pub fn syntax_problem(text: &str) -> Option<&'static str> {
    if text.is_empty() {
        Some("must not be empty")
    } else if text.len() > MAX_NAME_LEN {
        Some("must be at most 63 bytes")
    } else if !text
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-'))
    {
        Some("may only contain a-z, 0-9, '_', '.' and '-'")
    } else if text.starts_with('.') {
        Some("must not start with '.'")
    } else if text.ends_with('.') {
        Some("must not end with '.'")
    } else if text.contains("..") {
        Some("must not contain an empty segment (\"..\")")
    } else {
        None
    }
}

/// The forms [`parse_duration`] accepts, for its messages.
const FORMS: &str = "a whole number and a unit: \"500ms\", \"2s\", \"1m\" or \"1h\"";

/// Parses a duration written as a whole number and a unit: `"500ms"`, `"2s"`, `"1m"` or
/// `"1h"`.
///
/// Fractions are refused rather than rounded (`"1.5s"` asks for `"1500ms"`): a duration
/// that reads exactly is worth more than the saved keystrokes.
///
/// # Errors
///
/// A [`DurationError`] whose message names the text and what is wrong with it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_rules::parse_duration;
///
/// assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
/// let error = parse_duration("5x").unwrap_err();
/// assert_eq!(error.to_string(), "invalid duration \"5x\": unknown unit `x`; expected ms, s, m or h");
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let error = |problem| {
        Err(DurationError {
            text: text.to_owned(),
            problem,
        })
    };
    if number.is_empty() {
        return error(Problem::NoNumber);
    }
    if unit.starts_with('.') {
        return error(Problem::Fraction);
    }
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "" => return error(Problem::MissingUnit),
        _ => return error(Problem::UnknownUnit(unit.to_owned())),
    };
    match number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(millis_per_unit))
    {
        Some(millis) => Ok(Duration::from_millis(millis)),
        None => error(Problem::TooLarge),
    }
}

/// Why [`parse_duration`] refused a text.
///
/// # Examples
///
/// ```
/// let error = health_rules::parse_duration("1.5s").unwrap_err();
/// assert!(error.to_string().contains("\"1500ms\""));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationError {
    text: String,
    problem: Problem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Problem {
    NoNumber,
    Fraction,
    MissingUnit,
    UnknownUnit(String),
    TooLarge,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = &self.text;
        write!(f, "invalid duration {text:?}: ")?;
        match &self.problem {
            Problem::NoNumber => write!(f, "expected {FORMS}"),
            Problem::Fraction => {
                f.write_str("use a whole number of a smaller unit, like \"1500ms\" for 1.5s")
            }
            Problem::MissingUnit => write!(f, "missing unit; expected {FORMS}"),
            Problem::UnknownUnit(unit) => {
                write!(f, "unknown unit `{unit}`; expected ms, s, m or h")
            }
            Problem::TooLarge => f.write_str("too large"),
        }
    }
}

impl std::error::Error for DurationError {}

/// Formats a duration for people: in the largest unit that states it exactly when it is a
/// whole number of seconds (`2h`, `1m`, `90s`), with one decimal above a second otherwise
/// (`6.1s`), in whole milliseconds below a second (`500ms`), and in microseconds or
/// nanoseconds below that.
///
/// Every duration [`parse_duration`] accepts in whole seconds, minutes or hours, or below
/// a second, formats back to a text it accepts; `1500ms` reads `1.5s`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_rules::format_duration;
///
/// assert_eq!(format_duration(Duration::from_secs(90)), "90s");
/// assert_eq!(format_duration(Duration::from_secs(3_600)), "1h");
/// assert_eq!(format_duration(Duration::from_millis(30_004)), "30.0s");
/// assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
/// ```
#[must_use]
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    if duration.is_zero() {
        "0s".to_owned()
    } else if secs >= 1 && duration.subsec_nanos() == 0 {
        match secs {
            s if s % 3_600 == 0 => format!("{}h", s / 3_600),
            s if s % 60 == 0 => format!("{}m", s / 60),
            s => format!("{s}s"),
        }
    } else if secs >= 1 {
        format!("{:.1}s", duration.as_secs_f64())
    } else if duration.as_millis() >= 1 {
        format!("{}ms", duration.as_millis())
    } else if duration.as_micros() >= 1 {
        format!("{}µs", duration.as_micros())
    } else {
        format!("{}ns", duration.as_nanos())
    }
}

/// The longest duration a setting may be: the registry's clock counts nanoseconds in a
/// `u64` (about 584 years), so no sum or deadline built from settings within it overflows.
///
/// # Examples
///
/// ```
/// assert_eq!(health_rules::MAX_DURATION.as_nanos(), u128::from(u64::MAX));
/// ```
pub const MAX_DURATION: Duration = Duration::from_nanos(u64::MAX);

/// The runner's interval when none is given: the kubelet's default probe period.
///
/// # Examples
///
/// ```
/// assert_eq!(health_rules::DEFAULT_INTERVAL, std::time::Duration::from_secs(10));
/// ```
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// The runner's timeout for `interval` when none is given: 1 s (the kubelet's default
/// probe timeout), or half the interval if that is shorter, so a run never outlasts its
/// period.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_rules::default_timeout;
///
/// assert_eq!(default_timeout(Duration::from_secs(10)), Duration::from_secs(1));
/// assert_eq!(default_timeout(Duration::from_millis(200)), Duration::from_millis(100));
/// ```
#[must_use]
pub fn default_timeout(interval: Duration) -> Duration {
    (interval / 2).min(Duration::from_secs(1))
}

/// The runner's jitter for `interval` when none is given: a tenth of it, so replicas
/// started together do not run their checks in lock-step.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(health_rules::default_jitter(Duration::from_secs(2)), Duration::from_millis(200));
/// ```
#[must_use]
pub fn default_jitter(interval: Duration) -> Duration {
    interval / 10
}

/// The longest a live runner may go between two results of a check: the first comes
/// `initial_delay` + at most `jitter` + at most `timeout` after registration, each next
/// one at most `interval` + `jitter` (a failing interval is shorter) after the previous
/// run's start, plus at most `timeout`. Capped at [`MAX_DURATION`]. A `max_age` below it
/// would read stale while the check is healthy.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use health_rules::longest_gap;
///
/// let secs = Duration::from_secs;
/// assert_eq!(longest_gap(secs(10), secs(0), secs(1), secs(1)), secs(12));
/// assert_eq!(longest_gap(secs(10), secs(30), secs(1), secs(1)), secs(32));
/// ```
#[must_use]
pub fn longest_gap(
    interval: Duration,
    initial_delay: Duration,
    jitter: Duration,
    timeout: Duration,
) -> Duration {
    interval
        .max(initial_delay)
        .saturating_add(jitter)
        .saturating_add(timeout)
        .min(MAX_DURATION)
}

// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{RESERVED_NAMES, format_duration, name_problem, parse_duration, syntax_problem};

    fn parsed(text: &str) -> Result<Duration, String> {
        parse_duration(text).map_err(|error| error.to_string())
    }

    #[test]
    fn valid_names_pass() {
        for name in [
            "db",
            "queue.orders-v2",
            "a_b",
            "0",
            "a.b.c",
            &"a".repeat(63),
        ] {
            assert_eq!(name_problem(name), None, "{name:?} is a valid name");
        }
    }

    #[test]
    fn every_broken_rule_is_named() {
        let cases = [
            ("", "must not be empty"),
            (&*"a".repeat(64), "at most 63 bytes"),
            ("DB", "may only contain"),
            ("db/primary", "may only contain"),
            ("caf\u{e9}", "may only contain"),
            (".", "must not start with '.'"),
            ("..", "must not start with '.'"),
            (".a", "must not start with '.'"),
            ("a.", "must not end with '.'"),
            ("a..b", "empty segment"),
            ("startup", "reserved"),
            ("shutdown", "reserved"),
        ];
        for (name, expected) in cases {
            let problem = name_problem(name).unwrap_or_else(|| panic!("{name:?} must be refused"));
            assert!(
                problem.contains(expected),
                "{name:?}: {problem:?} must say {expected:?}"
            );
        }
    }

    #[test]
    fn reserved_names_are_only_reserved_whole() {
        for reserved in RESERVED_NAMES {
            assert_eq!(
                syntax_problem(reserved),
                None,
                "a prefix may be {reserved:?}"
            );
            let joined = format!("{reserved}.db");
            assert_eq!(name_problem(&joined), None, "{joined:?} shadows nothing");
        }
    }

    #[test]
    fn durations_parse_in_every_unit() {
        assert_eq!(parsed("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parsed("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parsed("1m"), Ok(Duration::from_mins(1)));
        assert_eq!(parsed("1h"), Ok(Duration::from_hours(1)));
        assert_eq!(parsed("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        let cases = [
            ("5x", "unknown unit `x`"),
            ("5", "missing unit"),
            ("s", "expected a whole number"),
            ("", "expected a whole number"),
            ("1.5s", "\"1500ms\""),
            (" 5s", "expected a whole number"),
            ("99999999999999999999h", "too large"),
            ("9999999999999999h", "too large"),
        ];
        for (text, expected) in cases {
            let message = parsed(text).expect_err(text);
            assert!(
                message.starts_with(&format!("invalid duration {text:?}: ")),
                "{message} names the text"
            );
            assert!(
                message.contains(expected),
                "{message} must say {expected:?}"
            );
        }
    }

    #[test]
    fn whole_durations_format_as_written() {
        for text in ["500ms", "2s", "1m", "1h", "90s", "90m", "25h", "0s", "1ms"] {
            assert_eq!(format_duration(parsed(text).unwrap()), text);
        }
    }

    #[test]
    fn measured_durations_format_readably() {
        assert_eq!(format_duration(Duration::from_millis(1_500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(6_140)), "6.1s");
        assert_eq!(
            format_duration(Duration::from_nanos(30_000_000_001)),
            "30.0s"
        );
        assert_eq!(format_duration(Duration::from_micros(12_700)), "12ms");
        assert_eq!(format_duration(Duration::from_micros(500)), "500µs");
        assert_eq!(format_duration(Duration::from_nanos(7)), "7ns");
        assert_eq!(
            format_duration(Duration::MAX),
            format!("{:.1}s", Duration::MAX.as_secs_f64())
        );
    }
}
