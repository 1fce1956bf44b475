//! Rules that involve more than one key or field: probes, timeouts against intervals,
//! names (validity and duplicates), `flatten` and `with` combinations, the restart-storm
//! guard for `with`.
//!
//! A field whose attributes already failed to parse is skipped, so that one typo is
//! reported once and not again as, say, a missing probe.

use std::collections::HashSet;
use std::time::Duration;

use syn::Path;

use crate::ast::{Field, Input};
use crate::attr::{Errors, Setting, Timing};
use health_rules::{MAX_NAME_LEN, format_duration};

/// The runner's interval when none is written (`Schedule::default()`).
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

impl Input<'_> {
    /// Checks the whole input; returns every parse and validation error, combined.
    pub(crate) fn validate(&self) -> syn::Result<()> {
        let mut errors = self.errors.clone();
        if !self.attrs.failed {
            check_timing(&self.attrs.timing, None, &mut errors);
        }
        for field in self.fields.iter().filter(|field| !field.attrs.failed) {
            if field.attrs.flatten.is_some() {
                check_flatten(field, &mut errors);
            } else {
                self.check_check(field, &mut errors);
            }
        }
        self.check_names(&mut errors);
        errors.finish()
    }

    fn check_check(&self, field: &Field<'_>, errors: &mut Errors) {
        let attrs = &field.attrs;
        if !attrs.has_probe() {
            errors.spanned(
                attrs.original,
                "no probe: add `readiness`, `liveness` or `startup` to #[health(...)]",
            );
        }
        if let (Some(liveness), Some(_), None) =
            (&attrs.liveness, &attrs.with, &attrs.allow_dependency)
        {
            errors.spanned(
                &liveness.key,
                "a `with` check watches a dependency, and a dependency on liveness restarts every pod when it fails: move it to `readiness`, or write `allow_dependency` if restarting is really the cure",
            );
        }
        if let (Some(allow), None) = (&attrs.allow_dependency, &attrs.liveness) {
            errors.spanned(
                &allow.key,
                "`allow_dependency` only matters on a `liveness` check",
            );
        }
        if let (Some(_), Some(silence)) = (&attrs.with, &attrs.max_silence) {
            errors.spanned(
                &silence.key,
                "`max_silence` is for `Heartbeat` fields: use `max_age` for how old a result may get",
            );
        } else if let (Some(_), Some(silence)) = (&attrs.max_age, &attrs.max_silence) {
            errors.spanned(
                &silence.key,
                "`max_age` and `max_silence` are the same limit: write `max_silence` on a heartbeat, `max_age` on other checks",
            );
        }
        if !self.attrs.failed {
            check_timing(&attrs.timing, Some(&self.attrs.timing), errors);
        }
    }

    /// Names: valid for health-core, within the length limit once prefixed, and unique
    /// among the struct's checks and flattened fields.
    fn check_names(&self, errors: &mut Errors) {
        let prefix = self.attrs.prefix.as_ref().map(|prefix| &prefix.value);
        let mut checks = HashSet::new();
        let mut segments = HashSet::new();
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
            let flatten = field.attrs.flatten.is_some();
            if flatten && name.contains('.') {
                errors.spanned(
                    field.name_tokens(),
                    format_args!(
                        "a flattened field's name is one segment, without `.`: {name:?} would mix with the nested names"
                    ),
                );
                continue;
            }
            let full = match prefix {
                Some(prefix) => format!("{prefix}.{name}"),
                None => name.clone(),
            };
            // A flattened field's checks are at least `segment.x` long.
            let shortest = if flatten { full.len() + 2 } else { full.len() };
            if shortest > MAX_NAME_LEN {
                errors.spanned(
                    field.name_tokens(),
                    format_args!("check name {full:?} is longer than 63 bytes once prefixed"),
                );
                continue;
            }
            if !flatten && let Some(problem) = health_rules::name_problem(&full) {
                errors.spanned(
                    field.name_tokens(),
                    format_args!(
                        "check name {full:?} {problem}: give another with #[health(name = \"...\")]"
                    ),
                );
                continue;
            }
            let seen = if flatten { &mut segments } else { &mut checks };
            if !seen.insert(name) {
                let what = if flatten {
                    "flattened field name"
                } else {
                    "check name"
                };
                errors.spanned(
                    field.name_tokens(),
                    format_args!("duplicate {what} {full:?}"),
                );
            }
        }
    }
}

/// A flattened field takes its checks' settings from the nested struct: only `name` (its
/// segment) may be written.
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
        key(attrs.allow_dependency.as_ref()),
    ];
    for key in keys.into_iter().flatten().chain(attrs.timing.keys()) {
        errors.spanned(
            key,
            format_args!(
                "not expected with #[health(flatten)]: the nested struct's own #[health(...)] attributes configure its checks; `{}` cannot apply here",
                quote::ToTokens::to_token_stream(key)
            ),
        );
    }
}

fn key<T>(setting: Option<&Setting<T>>) -> Option<&Path> {
    setting.map(|setting| &setting.key)
}

/// Checks that the timeout stays below the interval, for a field (with the struct's
/// defaults under it) or, with `defaults` `None`, for the struct's defaults alone.
///
/// Only an explicit timeout can break the rule: without one, the runner's timeout is
/// 1 s capped at the interval. The error points at the most specific setting involved.
fn check_timing<'t>(timing: &'t Timing, defaults: Option<&Timing>, errors: &mut Errors) {
    if defaults.is_some() && timing.timeout.is_none() && timing.interval.is_none() {
        // Nothing of the field's own: the struct-level check covers it.
        return;
    }
    let pick = |own: &'t Option<Setting<Duration>>,
                fallback: fn(&Timing) -> &Option<Setting<Duration>>| {
        own.as_ref()
            .map(|setting| (setting.value, Some(&setting.tokens)))
            .or_else(|| {
                defaults
                    .and_then(|defaults| fallback(defaults).as_ref())
                    .map(|setting| (setting.value, None))
            })
    };
    let Some((timeout, own_timeout)) = pick(&timing.timeout, |t| &t.timeout) else {
        return;
    };
    let (interval, own_interval, implicit) = match pick(&timing.interval, |t| &t.interval) {
        Some((interval, own)) => (interval, own, ""),
        None => (DEFAULT_INTERVAL, None, " (the default)"),
    };
    if timeout < interval {
        return;
    }
    let Some(at) = own_timeout.or(own_interval) else {
        return;
    };
    errors.spanned(
        at,
        format_args!(
            "timeout {} must be below the interval {}{implicit}: a run may not outlast its period",
            format_duration(timeout),
            format_duration(interval),
        ),
    );
}
