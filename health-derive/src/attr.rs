//! Parsing of `#[health(...)]` attributes, and of the values they hold (durations, names).
//!
//! Simple checks happen here, while a value is parsed: a key at the wrong level, a
//! duplicate key, a literal of the wrong type, a bad duration, a zero threshold. Checks
//! that involve more than one key or field live in `valid.rs` (serde's rule). Every error
//! is recorded and parsing goes on, so the user sees all of them at once.

use std::time::Duration;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprLit, ExprPath, Lit, LitStr, Path, Token};

/// Errors collected across attributes and fields, reported together.
#[derive(Clone, Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Where an attribute sits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Struct,
    Field,
    /// Inside a struct-level `check(...)`: a check of the whole state.
    Check,
}

/// Where a key may be written: a set of levels.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Allowed(u8);

impl Allowed {
    const STRUCT: Allowed = Allowed(0b001);
    const FIELD: Allowed = Allowed(0b010);
    const CHECK: Allowed = Allowed(0b100);
    /// The keys of one check: on a field, or in a struct-level `check(...)`.
    const CHECKS: Allowed = Allowed(0b110);
    /// The timing keys: struct defaults, and overrides on each check.
    const ALL: Allowed = Allowed(0b111);

    fn admits(self, level: Level) -> bool {
        let bit = match level {
            Level::Struct => Allowed::STRUCT.0,
            Level::Field => Allowed::FIELD.0,
            Level::Check => Allowed::CHECK.0,
        };
        self.0 & bit != 0
    }

    /// Where the key belongs, for "not expected here" messages.
    fn place(self) -> &'static str {
        match self {
            Allowed::STRUCT => "the struct",
            Allowed::FIELD => "a field",
            Allowed::CHECK => "a #[health(check(...))]",
            _ => "a field or a #[health(check(...))]",
        }
    }
}

/// What follows a key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Flag,
    Duration,
    Bool,
    Int,
    Str,
    Path,
    /// `key(...)`: nested keys.
    List,
}

/// Every key, with where it goes and what it takes: one table, so the unknown-key
/// suggestion and the wrong-level message cannot drift from the parser.
const KEYS: &[(&str, Allowed, Shape)] = &[
    ("readiness", Allowed::CHECKS, Shape::Flag),
    ("liveness", Allowed::CHECKS, Shape::Flag),
    ("startup", Allowed::CHECKS, Shape::Flag),
    ("name", Allowed::CHECKS, Shape::Str),
    ("critical", Allowed::CHECKS, Shape::Bool),
    ("timeout", Allowed::ALL, Shape::Duration),
    ("interval", Allowed::ALL, Shape::Duration),
    ("initial_delay", Allowed::ALL, Shape::Duration),
    ("jitter", Allowed::ALL, Shape::Duration),
    ("failure_threshold", Allowed::ALL, Shape::Int),
    ("success_threshold", Allowed::ALL, Shape::Int),
    ("max_age", Allowed::CHECKS, Shape::Duration),
    ("max_silence", Allowed::FIELD, Shape::Duration),
    ("with", Allowed::CHECKS, Shape::Path),
    ("kind", Allowed::CHECKS, Shape::Str),
    ("each", Allowed::FIELD, Shape::Flag),
    ("flatten", Allowed::FIELD, Shape::Flag),
    ("allow_dependency", Allowed::CHECKS, Shape::Flag),
    ("prefix", Allowed::STRUCT, Shape::Str),
    ("crate", Allowed::STRUCT, Shape::Path),
    ("check", Allowed::STRUCT, Shape::List),
];

/// The attribute syntax of a key, for messages: `#[health(readiness)]`,
/// `#[health(timeout = ...)]`.
fn syntax(key: &str, shape: Shape) -> String {
    match shape {
        Shape::Flag => format!("#[health({key})]"),
        Shape::List => format!("#[health({key}(...))]"),
        _ => format!("#[health({key} = ...)]"),
    }
}

/// One key as written: its value and the tokens to point at.
pub(crate) struct Setting<T> {
    pub(crate) value: T,
    /// The key's path, for errors about the key itself.
    pub(crate) key: Path,
    /// `key = value` (or the key alone), for errors about the whole setting.
    pub(crate) tokens: TokenStream,
}

/// The timing keys, allowed on the struct (defaults) and on fields (overrides).
#[derive(Default)]
pub(crate) struct Timing {
    pub(crate) timeout: Option<Setting<Duration>>,
    pub(crate) interval: Option<Setting<Duration>>,
    pub(crate) initial_delay: Option<Setting<Duration>>,
    pub(crate) jitter: Option<Setting<Duration>>,
    pub(crate) failure_threshold: Option<Setting<u32>>,
    pub(crate) success_threshold: Option<Setting<u32>>,
}

impl Timing {
    /// The field-level keys written, for errors that name each of them.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &Path> {
        let durations = [
            &self.timeout,
            &self.interval,
            &self.initial_delay,
            &self.jitter,
        ]
        .into_iter()
        .flatten()
        .map(|setting| &setting.key);
        let thresholds = [&self.failure_threshold, &self.success_threshold]
            .into_iter()
            .flatten()
            .map(|setting| &setting.key);
        durations.chain(thresholds)
    }
}

/// What a `with` check watches: `kind = "dependency"` (the default) or `"internal"`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Dependency,
    Internal,
}

/// The keys of the `#[health(...)]` attributes on one struct or field, or of one
/// struct-level `check(...)`.
#[derive(Default)]
pub(crate) struct Attrs {
    /// The first `#[health]` attribute (or the `check(...)`), for errors about it as a
    /// whole.
    pub(crate) original: Option<TokenStream>,
    pub(crate) readiness: Option<Setting<()>>,
    pub(crate) liveness: Option<Setting<()>>,
    pub(crate) startup: Option<Setting<()>>,
    pub(crate) name: Option<Setting<String>>,
    pub(crate) critical: Option<Setting<bool>>,
    pub(crate) timing: Timing,
    pub(crate) max_age: Option<Setting<Duration>>,
    pub(crate) max_silence: Option<Setting<Duration>>,
    pub(crate) with: Option<Setting<ExprPath>>,
    pub(crate) kind: Option<Setting<Kind>>,
    pub(crate) each: Option<Setting<()>>,
    pub(crate) flatten: Option<Setting<()>>,
    pub(crate) allow_dependency: Option<Setting<()>>,
    pub(crate) prefix: Option<Setting<String>>,
    pub(crate) krate: Option<Setting<Path>>,
    /// The struct-level `check(...)` entries, in order.
    pub(crate) checks: Vec<Attrs>,
    /// Some key of these attributes had an error: later checks skip this item, so one
    /// mistake is reported once, not again as the things it broke.
    pub(crate) failed: bool,
}

impl Attrs {
    /// Parses every `#[health(...)]` attribute in `attrs`, recording errors in `errors`.
    pub(crate) fn from_syn(attrs: &[Attribute], level: Level, errors: &mut Errors) -> Self {
        let mut parsed = Attrs::default();
        let mut local = Errors::default();
        for attr in attrs.iter().filter(|attr| attr.path().is_ident("health")) {
            parsed
                .original
                .get_or_insert_with(|| attr.to_token_stream());
            let result = attr.parse_nested_meta(|meta| parsed.parse_key(&meta, level, &mut local));
            if let Err(error) = result {
                local.push(error);
            }
        }
        parsed.failed = !local.is_empty();
        if let Err(error) = local.finish() {
            errors.push(error);
        }
        parsed
    }

    /// Parses one key of an attribute at `level` (and, for `check(...)`, its keys).
    fn parse_key(
        &mut self,
        meta: &ParseNestedMeta<'_>,
        level: Level,
        errors: &mut Errors,
    ) -> syn::Result<()> {
        if meta.path.is_ident("check") && meta.input.peek(syn::token::Paren) {
            if level != Level::Struct {
                let _: proc_macro2::TokenTree = meta.input.parse()?;
                self.set(&meta.path, None, level, errors); // "belongs on the struct"
                return Ok(());
            }
            let path = &meta.path;
            let group: proc_macro2::TokenTree = meta.input.fork().parse()?;
            let mut check = Attrs {
                original: Some(quote!(#path #group)),
                ..Attrs::default()
            };
            let mut local = Errors::default();
            let result =
                meta.parse_nested_meta(|inner| check.parse_key(&inner, Level::Check, &mut local));
            if let Err(error) = result {
                local.push(error);
            }
            check.failed = !local.is_empty();
            if let Err(error) = local.finish() {
                errors.push(error);
            }
            self.checks.push(check);
            return Ok(());
        }
        match value_of(meta, errors)? {
            Value::Absent => self.set(&meta.path, None, level, errors),
            Value::Given(value) => self.set(&meta.path, Some(&value), level, errors),
            Value::Invalid => {}
        }
        Ok(())
    }

    /// Records one `key` (and its value) at `level`.
    fn set(&mut self, key: &Path, value: Option<&Expr>, level: Level, errors: &mut Errors) {
        let Some(ident) = key.get_ident() else {
            errors.spanned(
                key,
                format_args!("unknown health attribute `{}`", key.to_token_stream()),
            );
            return;
        };
        let name = ident.to_string();
        let Some(&(_, allowed, shape)) = KEYS.iter().find(|(known, ..)| *known == name) else {
            errors.spanned(key, unknown_key(&name, level));
            return;
        };
        if !allowed.admits(level) {
            let here = match level {
                Level::Check => " in #[health(check(...))]",
                Level::Struct | Level::Field => " here",
            };
            errors.spanned(
                key,
                format_args!(
                    "not expected{here}; {} belongs on {}",
                    syntax(&name, shape),
                    allowed.place(),
                ),
            );
            return;
        }
        let tokens = match value {
            Some(value) => quote!(#key = #value),
            None => key.to_token_stream(),
        };
        if shape == Shape::Flag && value.is_some() {
            errors.spanned(
                &tokens,
                format_args!("`{name}` takes no value: write {}", syntax(&name, shape)),
            );
            return;
        }
        if shape == Shape::List {
            errors.spanned(
                &tokens,
                format_args!(
                    "expected a list: #[health({name}(name = \"billing\", readiness, with = Self::ping_billing))]"
                ),
            );
            return;
        }
        if shape != Shape::Flag && value.is_none() {
            errors.spanned(
                key,
                format_args!("expected a value: {}", example(&name, shape)),
            );
            return;
        }
        let at = Place {
            key,
            tokens: &tokens,
            name: &name,
            shape,
        };
        let duration = |slot: &mut Option<Setting<Duration>>| {
            parse_duration_key(value, &name, shape).and_then(|v| at.store(slot, v))
        };
        let result = match name.as_str() {
            "readiness" => at.store(&mut self.readiness, ()),
            "liveness" => at.store(&mut self.liveness, ()),
            "startup" => at.store(&mut self.startup, ()),
            "flatten" => at.store(&mut self.flatten, ()),
            "each" => at.store(&mut self.each, ()),
            "kind" => parse_kind(value, &name, shape).and_then(|v| at.store(&mut self.kind, v)),
            "crate" => parse_crate(value).and_then(|v| at.store(&mut self.krate, v)),
            "allow_dependency" => at.store(&mut self.allow_dependency, ()),
            "name" => parse_name(value, &name, shape).and_then(|v| at.store(&mut self.name, v)),
            "prefix" => {
                parse_prefix(value, &name, shape).and_then(|v| at.store(&mut self.prefix, v))
            }
            "critical" => {
                parse_bool(value, &name, shape).and_then(|v| at.store(&mut self.critical, v))
            }
            "with" => parse_with(value).and_then(|v| at.store(&mut self.with, v)),
            "failure_threshold" => parse_threshold(value, &name, shape)
                .and_then(|v| at.store(&mut self.timing.failure_threshold, v)),
            "success_threshold" => parse_threshold(value, &name, shape)
                .and_then(|v| at.store(&mut self.timing.success_threshold, v)),
            "timeout" => duration(&mut self.timing.timeout),
            "interval" => duration(&mut self.timing.interval),
            "initial_delay" => duration(&mut self.timing.initial_delay),
            "jitter" => duration(&mut self.timing.jitter),
            "max_age" => duration(&mut self.max_age),
            "max_silence" => duration(&mut self.max_silence),
            _ => unreachable!("`{name}` is in KEYS without an arm here"),
        };
        if let Err(error) = result {
            errors.push(error);
        }
    }

    /// Returns `true` if any probe key is written.
    pub(crate) fn has_probe(&self) -> bool {
        self.readiness.is_some() || self.liveness.is_some() || self.startup.is_some()
    }
}

/// What follows a key.
enum Value {
    /// Nothing: a flag, or a key missing its value (or, for `check`, its list).
    Absent,
    /// `= expr`.
    Given(Expr),
    /// A parenthesised list, which no key takes; its error is already recorded.
    Invalid,
}

/// Reads what follows a key.
///
/// The value is parsed as any expression, whatever the key, so that a value of the wrong
/// type is still consumed and the rest of the attribute parses: the error is then about
/// the value alone.
fn value_of(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Value> {
    if meta.input.peek(Token![=]) {
        return meta.value()?.parse().map(Value::Given);
    }
    if meta.input.peek(syn::token::Paren) {
        let group: proc_macro2::TokenTree = meta.input.parse()?;
        let path = &meta.path;
        errors.spanned(
            quote!(#path #group),
            "expected `key` or `key = value`, not a list",
        );
        return Ok(Value::Invalid);
    }
    Ok(Value::Absent)
}

/// Where a key was written, for storing its value.
struct Place<'k> {
    key: &'k Path,
    tokens: &'k TokenStream,
    name: &'k str,
    shape: Shape,
}

impl Place<'_> {
    /// Stores `value` unless the key was already given; the second copy is flagged.
    fn store<T>(&self, slot: &mut Option<Setting<T>>, value: T) -> syn::Result<()> {
        if slot.is_some() {
            return Err(syn::Error::new_spanned(
                self.key,
                format_args!("duplicate {} attribute", syntax(self.name, self.shape)),
            ));
        }
        *slot = Some(Setting {
            value,
            key: self.key.clone(),
            tokens: self.tokens.clone(),
        });
        Ok(())
    }
}

/// An example of the right form of a key, for "expected" messages.
fn example(name: &str, shape: Shape) -> String {
    match shape {
        Shape::Flag => format!("#[health({name})]"),
        Shape::Duration => format!("#[health({name} = \"500ms\")]"),
        Shape::Bool => format!("#[health({name} = false)]"),
        Shape::Int => format!("#[health({name} = 3)]"),
        Shape::Str if name == "kind" => format!("#[health({name} = \"internal\")]"),
        Shape::Str => format!("#[health({name} = \"db\")]"),
        Shape::Path if name == "crate" => format!("#[health({name} = my_crate::health)]"),
        Shape::Path => format!("#[health({name} = ping_db)]"),
        Shape::List => format!("#[health({name}(...))]"),
    }
}

fn lit_str<'v>(value: Option<&'v Expr>, name: &str, shape: Shape) -> syn::Result<&'v LitStr> {
    match value {
        Some(Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        })) => Ok(lit),
        other => Err(syn::Error::new_spanned(
            other,
            format_args!("expected a string: {}", example(name, shape)),
        )),
    }
}

fn parse_name(value: Option<&Expr>, name: &str, shape: Shape) -> syn::Result<String> {
    let lit = lit_str(value, name, shape)?;
    let text = lit.value();
    // A segment's syntax: the reserved names are checked on the full, prefixed name.
    match health_rules::syntax_problem(&text) {
        Some(problem) => Err(syn::Error::new_spanned(
            lit,
            format_args!("invalid check name {text:?}: {problem}"),
        )),
        None => Ok(text),
    }
}

fn parse_prefix(value: Option<&Expr>, name: &str, shape: Shape) -> syn::Result<String> {
    let lit = lit_str(value, name, shape)?;
    let text = lit.value();
    if let Some(bare) = text.strip_suffix('.') {
        return Err(syn::Error::new_spanned(
            lit,
            format_args!("the prefix is joined to names with a `.`: write \"{bare}\""),
        ));
    }
    // A prefix never stands alone, so it may be a reserved name (`startup.db` is fine).
    if let Some(problem) = health_rules::syntax_problem(&text) {
        return Err(syn::Error::new_spanned(
            lit,
            format_args!("invalid prefix {text:?}: {problem}"),
        ));
    }
    Ok(text)
}

fn parse_bool(value: Option<&Expr>, name: &str, shape: Shape) -> syn::Result<bool> {
    match value {
        Some(Expr::Lit(ExprLit {
            lit: Lit::Bool(lit),
            ..
        })) => Ok(lit.value),
        other => Err(syn::Error::new_spanned(
            other,
            format_args!("expected `true` or `false`: {}", example(name, shape)),
        )),
    }
}

fn parse_threshold(value: Option<&Expr>, name: &str, shape: Shape) -> syn::Result<u32> {
    let Some(Expr::Lit(ExprLit {
        lit: Lit::Int(lit), ..
    })) = value
    else {
        return Err(syn::Error::new_spanned(
            value,
            format_args!("expected an integer: {}", example(name, shape)),
        ));
    };
    match lit.base10_parse::<u32>()? {
        0 => Err(syn::Error::new_spanned(
            lit,
            format_args!(
                "`{name}` must be at least 1: it counts consecutive results, and 1 means \"at once\""
            ),
        )),
        threshold => Ok(threshold),
    }
}

fn parse_with(value: Option<&Expr>) -> syn::Result<ExprPath> {
    match value {
        Some(Expr::Path(path)) => Ok(path.clone()),
        Some(Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        })) => Err(syn::Error::new_spanned(
            lit,
            format_args!(
                "expected a path to an async fn, not a string: #[health(with = {})]",
                lit.value()
            ),
        )),
        other => Err(syn::Error::new_spanned(
            other,
            "expected a path to an async fn: #[health(with = ping_db)] or #[health(with = Self::ping_db)]",
        )),
    }
}

fn parse_kind(value: Option<&Expr>, name: &str, shape: Shape) -> syn::Result<Kind> {
    let lit = lit_str(value, name, shape)?;
    match lit.value().as_str() {
        "dependency" => Ok(Kind::Dependency),
        "internal" => Ok(Kind::Internal),
        other => Err(syn::Error::new_spanned(
            lit,
            format_args!(
                "unknown kind {other:?}: expected \"dependency\" (an external system; the default for `with`) or \"internal\" (the process itself)"
            ),
        )),
    }
}

fn parse_crate(value: Option<&Expr>) -> syn::Result<Path> {
    match value {
        Some(Expr::Path(path)) if path.qself.is_none() => Ok(path.path.clone()),
        Some(Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        })) => Err(syn::Error::new_spanned(
            lit,
            format_args!(
                "expected a path, not a string: #[health(crate = {})]",
                lit.value()
            ),
        )),
        other => Err(syn::Error::new_spanned(
            other,
            "expected the path of health-core as your crate names it: #[health(crate = my_crate::health)]",
        )),
    }
}

fn parse_duration_key(value: Option<&Expr>, name: &str, shape: Shape) -> syn::Result<Duration> {
    let lit = lit_str(value, name, shape).map_err(|_| {
        syn::Error::new_spanned(
            value,
            format_args!("expected a duration string: {}", example(name, shape)),
        )
    })?;
    let duration = parse_duration(lit)?;
    // The registry's clock counts nanoseconds in a u64: health-core refuses anything
    // longer when the check is registered, so say it here, at compile time.
    if duration > health_rules::MAX_DURATION {
        return Err(syn::Error::new_spanned(
            lit,
            format_args!("`{name}` is longer than the clock can count (584 years)"),
        ));
    }
    let must_be_positive = matches!(name, "timeout" | "interval" | "max_age" | "max_silence");
    if must_be_positive && duration.is_zero() {
        let why = match name {
            "interval" => "a check needs time between runs",
            "timeout" => "every run would time out",
            _ => "every result would be stale at once",
        };
        return Err(syn::Error::new_spanned(
            lit,
            format_args!("`{name}` must be above zero: {why}"),
        ));
    }
    Ok(duration)
}

/// Parses a duration literal by `health-rules`' `parse_duration`, spanning its error on
/// the literal.
pub(crate) fn parse_duration(lit: &LitStr) -> syn::Result<Duration> {
    health_rules::parse_duration(&lit.value()).map_err(|error| syn::Error::new_spanned(lit, error))
}

/// The message for an unknown key, with the closest known key allowed at `level`.
fn unknown_key(name: &str, level: Level) -> String {
    let closest = KEYS
        .iter()
        .filter(|(_, allowed, _)| allowed.admits(level))
        .map(|&(known, ..)| (edit_distance(name, known), known))
        .min();
    match closest {
        Some((distance, known)) if distance <= 2.max(name.len() / 3) => {
            format!("unknown health attribute `{name}`; did you mean `{known}`?")
        }
        _ => format!("unknown health attribute `{name}`"),
    }
}

/// Levenshtein distance, counting an adjacent swap as one edit (`timoeut`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use syn::parse::Parser as _;

    use super::{
        Attrs, Errors, KEYS, Level, Shape, edit_distance, example, parse_duration, unknown_key,
    };

    /// Every key has its arm in `Attrs::set` (a missing one would panic there), and the
    /// example its messages give parses without error.
    #[test]
    fn every_key_parses_its_own_example() {
        for &(name, allowed, shape) in KEYS {
            if shape == Shape::List {
                continue; // `check(...)`: its example elides the list.
            }
            let level = [Level::Field, Level::Struct, Level::Check]
                .into_iter()
                .find(|&level| allowed.admits(level))
                .expect("every key is admitted somewhere");
            let attrs = syn::Attribute::parse_outer
                .parse_str(&example(name, shape))
                .unwrap();
            let mut errors = Errors::default();
            let parsed = Attrs::from_syn(&attrs, level, &mut errors);
            assert!(errors.is_empty() && !parsed.failed, "{name}");
        }
    }

    #[test]
    fn duration_errors_keep_the_shared_message() {
        let lit = syn::LitStr::new("5x", proc_macro2::Span::call_site());
        let error = parse_duration(&lit).unwrap_err().to_string();
        assert_eq!(
            error,
            health_rules::parse_duration("5x").unwrap_err().to_string()
        );
    }

    #[test]
    fn unknown_keys_suggest_the_closest() {
        assert!(unknown_key("timout", Level::Field).ends_with("did you mean `timeout`?"));
        assert!(unknown_key("readyness", Level::Field).ends_with("did you mean `readiness`?"));
        assert!(unknown_key("intreval", Level::Struct).ends_with("did you mean `interval`?"));
        assert!(unknown_key("prefx", Level::Struct).ends_with("did you mean `prefix`?"));
        assert_eq!(
            unknown_key("colour", Level::Field),
            "unknown health attribute `colour`"
        );
        assert_eq!(edit_distance("timoeut", "timeout"), 1, "a swap is one edit");
    }
}
