//! Rules that involve more than one key or field: probes, timing (timeout and jitter
//! against the interval, `max_age` against the longest gap between runs), names
//! (validity and duplicates), `flatten`, `each` and `with` combinations, the
//! restart-storm guard for `with`, the keys a struct-level `check(...)` needs.
//!
//! A field (or `check(...)`) whose attributes already failed to parse is skipped, so that
//! one typo is reported once and not again as, say, a missing probe.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use proc_macro2::TokenStream;
use quote::ToTokens as _;
use syn::Path;

use crate::ast::{Field, Input, name_literal};
use crate::attr::{Attrs, Errors, Kind, Setting, Timing};
use health_rules::{
    DEFAULT_INTERVAL, MAX_NAME_LEN, default_jitter, default_timeout, format_duration, longest_gap,
};

impl Input<'_> {
    /// Checks the whole input; returns every parse and validation error, combined.
    pub(crate) fn validate(&self) -> syn::Result<()> {
        let mut errors = self.errors.clone();
        if !self.attrs.failed {
            check_timing(&self.attrs.timing, None, None, &mut errors);
        }
        for check in self.attrs.checks.iter().filter(|check| !check.failed) {
            check_state_check(check, &mut errors);
            self.check_check(check, &mut errors);
        }
        for field in self.fields.iter().filter(|field| !field.attrs.failed) {
            if field.attrs.flatten.is_some() {
                check_flatten(field, &mut errors);
            } else {
                self.check_check(&field.attrs, &mut errors);
            }
        }
        self.check_names(&mut errors);
        errors.finish()
    }

    /// The rules for one check, on a field or in a struct-level `check(...)`.
    fn check_check(&self, attrs: &Attrs, errors: &mut Errors) {
        if !attrs.has_probe() {
            errors.spanned(
                &attrs.original,
                "no probe: add `readiness`, `liveness` or `startup` to #[health(...)]",
            );
        }
        let kind = attrs.kind.as_ref().map(|kind| kind.value);
        if let (Some(kind), None) = (&attrs.kind, &attrs.with) {
            errors.spanned(
                &kind.key,
                "`kind` is for `with` checks: a check type states its kind with `Check::KIND`",
            );
        }
        if let (Some(liveness), Some(_), None) =
            (&attrs.liveness, &attrs.with, &attrs.allow_dependency)
            && kind != Some(Kind::Internal)
        {
            errors.spanned(
                &liveness.key,
                "a `with` check watches a dependency unless it says `kind = \"internal\"`, and a dependency on liveness restarts every pod when it fails: move it to `readiness`, write `kind = \"internal\"` if it checks the process itself, or `allow_dependency` if restarting is really the cure",
            );
        }
        if let (Some(allow), None) = (&attrs.allow_dependency, &attrs.liveness) {
            errors.spanned(
                &allow.key,
                "`allow_dependency` only matters on a `liveness` check",
            );
        } else if let (Some(allow), Some(Kind::Internal)) = (&attrs.allow_dependency, kind) {
            errors.spanned(
                &allow.key,
                "`allow_dependency` is for dependency checks, and this one is `kind = \"internal\"`: remove one of them",
            );
        }
        if let (Some(_), Some(silence)) = (&attrs.with, &attrs.max_silence) {
            errors.spanned(
                &silence.key,
                "`max_silence` is for fields judged by their silence (`Heartbeat`, `RuntimeStall`, `RuntimeLag`), which take no `with`: use `max_age` for how old a result may get",
            );
        } else if let (Some(_), Some(silence)) = (&attrs.max_age, &attrs.max_silence) {
            errors.spanned(
                &silence.key,
                "`max_age` and `max_silence` are the same limit: write `max_silence` on a `Heartbeat`, `RuntimeStall` or `RuntimeLag`, `max_age` on other checks",
            );
        }
        if !self.attrs.failed {
            // A heartbeat's staleness is its `max_silence`; `max_age` there is an error
            // of its own, above.
            let max_age = attrs
                .max_age
                .as_ref()
                .filter(|_| attrs.max_silence.is_none());
            check_timing(&attrs.timing, Some(&self.attrs.timing), max_age, errors);
        }
    }

    /// The names written, of the struct's checks then its fields, each valid on its own;
    /// the others are reported.
    fn names(&self, errors: &mut Errors) -> Vec<Named> {
        let mut names = Vec::new();
        for check in self.attrs.checks.iter().filter(|check| !check.failed) {
            if let Some(name) = &check.name {
                names.push(Named {
                    name: name.value.clone(),
                    tokens: name_literal(name),
                    segment: None,
                });
            }
        }
        for field in self.fields.iter().filter(|field| !field.attrs.failed) {
            let Some(name) = field.name() else {
                errors.spanned(
                    &field.original.ty,
                    "a tuple-struct field needs a check name: #[health(name = \"...\")]",
                );
                continue;
            };
            // A segment's syntax here; the reserved names are checked on the full name below.
            if field.attrs.name.is_none()
                && let Some(problem) = health_rules::syntax_problem(&name)
            {
                errors.spanned(
                    &field.original.ident,
                    format_args!(
                        "field name `{name}` is not a valid check name ({problem}): give one with #[health(name = \"...\")]"
                    ),
                );
                continue;
            }
            let segment = match (&field.attrs.flatten, &field.attrs.each) {
                (_, Some(_)) => Some(Segment::Each),
                (Some(_), None) => Some(Segment::Flatten),
                (None, None) => None,
            };
            if let Some(segment) = segment
                && name.contains('.')
            {
                let message = match segment {
                    Segment::Each => format!(
                        "an `each` field's name is one segment, without `.`: its elements would be named `{name}.<key>`"
                    ),
                    Segment::Flatten => format!(
                        "a flattened field's name is one segment, without `.`: {name:?} would mix with the nested names"
                    ),
                };
                errors.spanned(field.name_tokens(), message);
                continue;
            }
            names.push(Named {
                name,
                tokens: field.name_tokens(),
                segment,
            });
        }
        names
    }

    /// Names: valid for health-core, within the length limit once prefixed, unique among
    /// the struct's checks and segments (flattened and `each` fields), and outside the
    /// namespace of an `each` field's elements.
    fn check_names(&self, errors: &mut Errors) {
        let names = self.names(errors);
        let prefix = self.attrs.prefix.as_ref().map(|prefix| &prefix.value);
        let mut checks = HashSet::new();
        let mut segments = HashSet::new();
        let mut each = Vec::new();
        for named in &names {
            let full = match prefix {
                Some(prefix) => format!("{prefix}.{}", named.name),
                None => named.name.clone(),
            };
            // A segment's checks are at least `segment.x` long.
            let shortest = if named.segment.is_some() {
                full.len() + 2
            } else {
                full.len()
            };
            if shortest > MAX_NAME_LEN {
                errors.spanned(
                    &named.tokens,
                    format_args!("check name {full:?} is longer than 63 bytes once prefixed"),
                );
                continue;
            }
            if named.segment.is_none()
                && let Some(problem) = health_rules::name_problem(&full)
            {
                errors.spanned(
                    &named.tokens,
                    format_args!(
                        "check name {full:?} {problem}: give another with #[health(name = \"...\")]"
                    ),
                );
                continue;
            }
            let (seen, what) = match named.segment {
                None => (&mut checks, "check name"),
                Some(Segment::Flatten) => (&mut segments, "flattened field name"),
                Some(Segment::Each) => (&mut segments, "`each` field name"),
            };
            if !seen.insert(named.name.as_str()) {
                errors.spanned(&named.tokens, format_args!("duplicate {what} {full:?}"));
            } else if named.segment == Some(Segment::Each) {
                each.push(named.name.as_str());
            }
        }
        for named in names.iter().filter(|named| named.segment.is_none()) {
            let inside = each.iter().find(|segment| {
                named
                    .name
                    .strip_prefix(**segment)
                    .is_some_and(|rest| rest.starts_with('.'))
            });
            if let Some(segment) = inside {
                errors.spanned(
                    &named.tokens,
                    format_args!(
                        "check name {:?} is inside `{segment}.`, where the elements of the `each` field `{segment}` are named: rename one of them",
                        named.name
                    ),
                );
            }
        }
    }
}

/// A name as written, for the name rules.
struct Named {
    name: String,
    tokens: TokenStream,
    segment: Option<Segment>,
}

/// A field whose name prefixes other names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Segment {
    Flatten,
    Each,
}

/// A struct-level `check(...)` has no field to take a name or a check from.
fn check_state_check(check: &Attrs, errors: &mut Errors) {
    if check.name.is_none() {
        errors.spanned(
            &check.original,
            "a #[health(check(...))] needs a name: check(name = \"billing\", ...)",
        );
    }
    if check.with.is_none() {
        errors.spanned(
            &check.original,
            "a #[health(check(...))] needs `with`: the async fn that checks the state, as in check(with = Self::ping_billing, ...)",
        );
    }
}

/// A flattened field takes its checks' settings from the nested struct: only `name` (its
/// segment) and `each` may be written.
fn check_flatten(field: &Field<'_>, errors: &mut Errors) {
    let attrs = &field.attrs;
    let keys = [
        key(attrs.readiness.as_ref()),
        key(attrs.liveness.as_ref()),
        key(attrs.startup.as_ref()),
        key(attrs.critical.as_ref()),
        key(attrs.max_age.as_ref()),
        key(attrs.max_silence.as_ref()),
        key(attrs.with.as_ref()),
        key(attrs.kind.as_ref()),
        key(attrs.allow_dependency.as_ref()),
    ];
    for key in keys.into_iter().flatten().chain(attrs.timing.keys()) {
        errors.spanned(
            key,
            format_args!(
                "not expected with #[health(flatten)]: the nested struct's own #[health(...)] attributes configure its checks; `{}` cannot apply here",
                key.to_token_stream()
            ),
        );
    }
}

fn key<T>(setting: Option<&Setting<T>>) -> Option<&Path> {
    setting.map(|setting| &setting.key)
}

/// A timing setting as it applies: written at the level being checked, inherited from
/// the struct, or the runner's default.
#[derive(Clone, Copy)]
struct Applied<'t> {
    name: &'static str,
    value: Duration,
    /// The setting's tokens, if written at the level being checked.
    own: Option<&'t TokenStream>,
    /// The runner's default, written nowhere.
    default: bool,
}

impl fmt::Display for Applied<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let default = if self.default { "default " } else { "" };
        write!(f, "{default}{} {}", self.name, format_duration(self.value))
    }
}

/// Checks the timing of a field (with the struct's settings under its own, and the
/// runner's defaults under those) or, with `defaults` `None`, of the struct's settings
/// alone: the timeout and the jitter below the interval, and a field's `max_age` at
/// least the longest gap a live runner may leave between two results. These are the
/// rules `RegistryBuilder::schedule` applies at run time, with the same defaults.
///
/// An error points at the most specific setting involved that is written at this level;
/// a rule broken only by inherited settings is reported where they are written.
fn check_timing<'t>(
    timing: &'t Timing,
    defaults: Option<&'t Timing>,
    max_age: Option<&'t Setting<Duration>>,
    errors: &mut Errors,
) {
    let pick = |name: &'static str,
                own: &'t Option<Setting<Duration>>,
                inherited: fn(&Timing) -> &Option<Setting<Duration>>,
                default: Duration| {
        let applied = |value, own| Applied {
            name,
            value,
            own,
            default: false,
        };
        own.as_ref()
            .map(|setting| applied(setting.value, Some(&setting.tokens)))
            .or_else(|| {
                defaults
                    .and_then(|defaults| inherited(defaults).as_ref())
                    .map(|setting| applied(setting.value, None))
            })
            .unwrap_or(Applied {
                name,
                value: default,
                own: None,
                default: true,
            })
    };
    let interval = pick(
        "interval",
        &timing.interval,
        |t| &t.interval,
        DEFAULT_INTERVAL,
    );
    let timeout = pick(
        "timeout",
        &timing.timeout,
        |t| &t.timeout,
        default_timeout(interval.value),
    );
    let jitter = pick(
        "jitter",
        &timing.jitter,
        |t| &t.jitter,
        default_jitter(interval.value),
    );
    let delay = pick(
        "initial_delay",
        &timing.initial_delay,
        |t| &t.initial_delay,
        Duration::ZERO,
    );
    below(
        timeout,
        interval,
        "a run may not outlast its period",
        errors,
    );
    below(
        jitter,
        interval,
        "each run waits the interval plus up to the jitter",
        errors,
    );
    let Some(max_age) = max_age else {
        return;
    };
    let longest = if delay.value > interval.value {
        delay
    } else {
        interval
    };
    let gap = longest_gap(interval.value, delay.value, jitter.value, timeout.value);
    if max_age.value < gap {
        errors.spanned(
            &max_age.tokens,
            format_args!(
                "max_age {} is shorter than the {} a live runner may leave between two results ({longest} + {jitter} + {timeout}): it would read stale while healthy",
                format_duration(max_age.value),
                format_duration(gap),
            ),
        );
    }
}

/// Reports `value` not below `limit`, at whichever of the two is written here.
fn below(value: Applied<'_>, limit: Applied<'_>, why: &str, errors: &mut Errors) {
    if value.value < limit.value {
        return;
    }
    if let Some(at) = value.own.or(limit.own) {
        errors.spanned(at, format_args!("{value} must be below the {limit}: {why}"));
    }
}
