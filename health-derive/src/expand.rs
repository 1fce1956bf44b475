//! Code generation: `impl HealthCheck` and `impl __private::Names`, plus the compile-time
//! assertions that need the field types (the restart-storm guard, heartbeat keys,
//! duplicate names across `flatten`). Generation itself cannot fail.
//!
//! Hygiene: every path is absolute through the crate path (`::health_core`, or the
//! struct's `crate = ...`), std items through its `__private` re-exports, so a user's own
//! `Result`, `Option`, `Send` or `core` in scope changes nothing; locals and parameters
//! use `Span::mixed_site()`; everything sits in a `const _: () = { ... };` so no item
//! reaches the caller's module.

use std::collections::HashSet;
use std::time::Duration;

use proc_macro2::{Ident, Literal, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{DeriveInput, ExprPath, GenericParam, Generics, Path, Type, WhereClause, parse_quote};

use crate::ast::{Field, Input, name_literal_span};
use crate::attr::{Attrs, Kind, Setting};
use crate::fallback;

/// The derive's entry point: the impls, or the errors plus a stub impl.
pub(crate) fn derive(node: &DeriveInput) -> TokenStream {
    match try_expand(node) {
        Ok(expanded) => expanded,
        Err(error) => fallback::expand(node, &error),
    }
}

fn try_expand(node: &DeriveInput) -> syn::Result<TokenStream> {
    let input = Input::from_syn(node)?;
    input.validate()?;
    Ok(impl_struct(&input))
}

/// The path of health-core in generated code: `crate = ...`, else `::health_core`.
pub(crate) fn crate_path(path: Option<&Path>) -> TokenStream {
    path.map_or_else(|| quote!(::health_core), ToTokens::to_token_stream)
}

/// The name generated code gives health-core: `use <crate path> as __health_core;`
/// opens the generated block. One `use` means one place to resolve the path (an
/// unresolved `crate = ...` is one error, on it), and lets every other path start with an
/// identifier that can carry the span of the user's token an error should point at.
const ALIAS: &str = "__health_core";

/// The alias, spanned at `span`, a token of the user's: the start of a path whose errors
/// should point there (an expression's location starts at its first token). Its context
/// is the user's, which sees the `use` in the generated block as the call site does.
fn krate_at(span: Span) -> TokenStream {
    Ident::new(ALIAS, span).into_token_stream()
}

/// The generated fn's parameters and locals.
///
/// Mixed-site, so the user's tokens (a `with` path, a field type) cannot see them. That
/// does not stop a binding from resolving to a `const` item of the caller's module
/// (patterns resolve items at the call site), hence the `__health_` prefix as well.
struct Locals {
    root: Ident,
    project: Ident,
    prefix: Ident,
    builder: Ident,
    spec: Ident,
    schedule: Ident,
    target: Ident,
    state: Ident,
    key: Ident,
    name: Ident,
}

impl Locals {
    fn new() -> Locals {
        let local = |name: &str| Ident::new(&format!("__health_{name}"), Span::mixed_site());
        Locals {
            root: local("root"),
            project: local("project"),
            prefix: local("prefix"),
            builder: local("builder"),
            spec: local("spec"),
            schedule: local("schedule"),
            target: local("target"),
            state: local("state"),
            key: local("key"),
            name: local("name"),
        }
    }

    fn names(&self) -> [&Ident; 4] {
        [&self.root, &self.project, &self.prefix, &self.builder]
    }
}

/// A compile-time assertion on a field type: an item `const` when the type is concrete
/// (checked by `cargo check`), an inline `const` block in the generated fn when it names
/// a type parameter (checked when the impl is instantiated).
struct Assertion {
    tokens: TokenStream,
    generic: bool,
}

/// What generation needs everywhere: the input, the crate path, the locals.
struct Context<'a> {
    input: &'a Input<'a>,
    krate: TokenStream,
    locals: Locals,
}

/// What one check reaches and how it is named, once `each` is resolved.
struct Target {
    /// An expression of type `String` (or `&str`): the check's full name, or for a
    /// flattened field the prefix of its checks without the trailing `.`.
    name: TokenStream,
    /// An expression: the projection from the root to the value checked.
    projection: TokenStream,
    /// The type of the value checked (the field's, or an element's).
    ty: TokenStream,
}

/// What the fields and checks contribute to the impls.
#[derive(Default)]
struct Parts {
    statements: Vec<TokenStream>,
    assertions: Vec<Assertion>,
    names: Vec<TokenStream>,
}

fn impl_struct(input: &Input<'_>) -> TokenStream {
    let context = Context {
        input,
        krate: Ident::new(ALIAS, Span::call_site()).into_token_stream(),
        locals: Locals::new(),
    };
    let krate_alias = &context.krate;
    // Spanned at `crate = path` when written: an unresolved path is reported there.
    let use_krate = if let Some(path) = &input.attrs.krate {
        let span = path.value.span();
        let (path, alias) = (&path.value, krate_at(span));
        quote_spanned!(span=> use #path as #alias;)
    } else {
        quote!(use ::health_core as #krate_alias;)
    };
    let krate = &context.krate;
    let node = input.original;
    let ident = call_site_ident(&node.ident);
    let params = generic_params(&node.generics);
    let (impl_generics, ty_generics, _) = node.generics.split_for_impl();
    // One where clause for both impls: `Names: HealthCheck`.
    let mut check_where = where_clause(&node.generics);
    if !params.is_empty() {
        check_where.predicates.push(parse_quote!(
            Self: #krate::__private::Send + #krate::__private::Sync + 'static
        ));
    }
    let mut parts = Parts::default();
    for check in &input.attrs.checks {
        let name = check.name.as_ref().map(|name| name.value.clone());
        let full = context.full_name(name.unwrap_or_default());
        parts
            .names
            .push(quote!(#krate::__private::Name::Check(#full)));
        parts.statements.push(context.state_check(check, &full));
    }
    for field in &input.fields {
        context.field_parts(field, &params, &mut check_where, &mut parts);
    }
    let Parts {
        statements,
        mut assertions,
        names,
    } = parts;
    assertions.extend(context.clash_assertions(&params));

    let items = assertions.iter().filter(|a| !a.generic).map(|a| {
        let tokens = &a.tokens;
        quote!(const _: () = #tokens;)
    });
    let inline = assertions.iter().filter(|a| a.generic).map(|a| {
        let tokens = &a.tokens;
        quote!(const { #tokens };)
    });
    let signature = signature(krate, &context.locals.names());
    quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, unused_qualifications, clippy::absolute_paths)]
        const _: () = {
            #use_krate

            #(#items)*

            #[automatically_derived]
            #[allow(unused_qualifications)]
            impl #impl_generics #krate::HealthCheck for #ident #ty_generics #check_where {
                #[allow(unused_variables)]
                #signature {
                    #(#inline)*
                    #(#statements)*
                    #krate::__private::Result::Ok(())
                }
            }

            #[automatically_derived]
            impl #impl_generics #krate::__private::Names for #ident #ty_generics #check_where {
                const NAMES: &'static [#krate::__private::Name] = &[#(#names),*];
            }
        };
    }
}

/// `fn register_fields` up to its body, with the given parameter names (or `_`).
pub(crate) fn signature(krate: &TokenStream, params: &[impl ToTokens; 4]) -> TokenStream {
    let [root, project, prefix, builder] = params;
    quote! {
        fn register_fields<__HealthRoot, __HealthProject>(
            #root: &#krate::__private::Arc<__HealthRoot>,
            #project: __HealthProject,
            #prefix: &#krate::__private::str,
            #builder: &mut #krate::RegistryBuilder,
        ) -> #krate::__private::Result<(), #krate::RegistryError>
        where
            __HealthRoot: #krate::__private::Send + #krate::__private::Sync + 'static,
            __HealthProject: #krate::__private::Fn(&__HealthRoot) -> &Self
                + #krate::__private::Clone
                + #krate::__private::Send
                + #krate::__private::Sync
                + 'static
    }
}

impl Context<'_> {
    /// A check's full name within the struct: `prefix.name` or `name`.
    fn full_name(&self, name: String) -> String {
        match &self.input.attrs.prefix {
            Some(prefix) => format!("{}.{name}", prefix.value),
            None => name,
        }
    }

    /// One annotated field's statements, assertions, names and where-clause bounds.
    fn field_parts(
        &self,
        field: &Field<'_>,
        params: &HashSet<String>,
        check_where: &mut WhereClause,
        parts: &mut Parts,
    ) {
        let krate = &self.krate;
        let ty = field.ty;
        let generic = mentions(ty, params);
        let full = self.full_name(field.name().unwrap_or_default());
        let each = field.attrs.each.is_some();
        let value_ty = if each {
            if generic {
                check_where
                    .predicates
                    .push(parse_quote!(#ty: #krate::__private::Each));
            }
            let krate = krate_at(ty.span());
            quote_spanned!(ty.span()=> <#ty as #krate::__private::Each>::Element)
        } else {
            quote!(#ty)
        };
        let bound = if field.attrs.flatten.is_some() {
            Some(quote!(Names))
        } else if field.attrs.with.is_none() {
            Some(quote!(Field))
        } else {
            None
        };
        if let (true, Some(bound)) = (generic, bound) {
            check_where
                .predicates
                .push(parse_quote!(#value_ty: #krate::__private::#bound));
        }
        parts.names.push(if each {
            quote!(#krate::__private::Name::Each(#full))
        } else if field.attrs.flatten.is_some() {
            let krate = krate_at(ty.span());
            quote_spanned!(ty.span()=>
                #krate::__private::Name::Flatten(#full, <#ty as #krate::__private::Names>::NAMES)
            )
        } else {
            quote!(#krate::__private::Name::Check(#full))
        });
        if field.attrs.flatten.is_none() && field.attrs.with.is_none() {
            parts
                .assertions
                .extend(Self::field_assertions(field, &value_ty, generic));
        }
        parts.statements.push(self.field(field, &full, value_ty));
    }

    /// A struct-level `check(name = ..., with = path, ...)`: `path(&state)`.
    fn state_check(&self, check: &Attrs, full: &str) -> TokenStream {
        let Context { krate, locals, .. } = self;
        let Locals {
            prefix, project, ..
        } = locals;
        let target = Target {
            name: quote!(#krate::__private::join(#prefix, #full)),
            projection: quote!(#krate::__private::Clone::clone(&#project)),
            ty: quote!(Self),
        };
        match &check.with {
            Some(with) => self.with_check(check, &target, with, false),
            // Refused by validation; nothing to generate.
            None => TokenStream::new(),
        }
    }

    /// An annotated field: one check, a flattened struct, or with `each` one of those
    /// per element.
    fn field(&self, field: &Field<'_>, full: &str, value_ty: TokenStream) -> TokenStream {
        let Context { krate, locals, .. } = self;
        let Locals {
            root,
            prefix,
            target: target_local,
            key,
            name,
            ..
        } = locals;
        let projection = self.projection(field);
        if field.attrs.each.is_none() {
            let target = Target {
                name: quote!(#krate::__private::join(#prefix, #full)),
                projection,
                ty: value_ty,
            };
            return self.one(field, &target);
        }
        let ty = field.ty;
        let each = {
            let krate = krate_at(ty.span());
            quote_spanned!(ty.span()=> <#ty as #krate::__private::Each>)
        };
        let target = Target {
            name: quote!(#name),
            projection: {
                let krate = krate_at(ty.span());
                quote_spanned! {ty.span()=>
                    #each::project(#krate::__private::Clone::clone(&#target_local), #key)
                }
            },
            ty: value_ty,
        };
        let body = self.one(field, &target);
        // Spanned at the type, as every use of `T: Each`: see `Each::elements`.
        let elements = quote_spanned! {ty.span()=>
            for (#key, #name) in #each::elements(#target_local(#root), #prefix, #full)? {
                #body
            }
        };
        quote! {
            {
                let #target_local = #projection;
                #elements
            }
        }
    }

    /// One check (or flattened struct) reaching `target`.
    fn one(&self, field: &Field<'_>, target: &Target) -> TokenStream {
        if field.attrs.flatten.is_some() {
            self.flatten(target)
        } else if let Some(with) = &field.attrs.with {
            self.with_check(&field.attrs, target, with, true)
        } else {
            self.field_check(&field.attrs, target)
        }
    }

    /// The projection from the root to this field: the struct's projection, then the field.
    fn projection(&self, field: &Field<'_>) -> TokenStream {
        let Context { krate, locals, .. } = self;
        let Locals { project, state, .. } = locals;
        let member = &field.member;
        quote! {
            #krate::__private::project(
                #krate::__private::Clone::clone(&#project),
                |#state: &Self| &#state.#member,
            )
        }
    }

    /// `CheckSpec::new(name)` with the check's probes, criticality and max age.
    fn spec(&self, attrs: &Attrs, name: &TokenStream) -> TokenStream {
        let krate = &self.krate;
        let probes = [
            (&attrs.liveness, quote!(liveness)),
            (&attrs.readiness, quote!(readiness)),
            (&attrs.startup, quote!(startup)),
        ]
        .into_iter()
        .filter(|(setting, _)| setting.is_some())
        .map(|(_, method)| quote!(.#method()));
        let critical = attrs.critical.as_ref().map(|critical| {
            let value = critical.value;
            quote!(.critical(#value))
        });
        let max_age = attrs
            .max_age
            .as_ref()
            .or(attrs.max_silence.as_ref())
            .map(|max_age| {
                let max_age = self.duration(max_age.value);
                quote!(.max_age(#max_age))
            });
        quote! {
            #krate::CheckSpec::new(#name) #(#probes)* #critical #max_age
        }
    }

    /// The check's `Schedule`: its own timing keys over the struct's defaults over the
    /// runner's defaults.
    fn schedule(&self, attrs: &Attrs) -> TokenStream {
        fn pick<'s, T>(
            own: Option<&'s Setting<T>>,
            default: Option<&'s Setting<T>>,
        ) -> Option<&'s T> {
            own.or(default).map(|setting| &setting.value)
        }
        let krate = &self.krate;
        let own = &attrs.timing;
        let defaults = &self.input.attrs.timing;
        let mut schedule =
            if let Some(&interval) = pick(own.interval.as_ref(), defaults.interval.as_ref()) {
                let interval = self.duration(interval);
                quote!(#krate::Schedule::every(#interval))
            } else {
                quote!(<#krate::Schedule as #krate::__private::Default>::default())
            };
        let durations = [
            (
                quote!(timeout),
                pick(own.timeout.as_ref(), defaults.timeout.as_ref()),
            ),
            (
                quote!(initial_delay),
                pick(own.initial_delay.as_ref(), defaults.initial_delay.as_ref()),
            ),
            (
                quote!(jitter),
                pick(own.jitter.as_ref(), defaults.jitter.as_ref()),
            ),
        ];
        for (method, value) in durations {
            if let Some(&value) = value {
                let value = self.duration(value);
                schedule.extend(quote!(.#method(#value)));
            }
        }
        let thresholds = [
            (
                quote!(failure_threshold),
                pick(
                    own.failure_threshold.as_ref(),
                    defaults.failure_threshold.as_ref(),
                ),
            ),
            (
                quote!(success_threshold),
                pick(
                    own.success_threshold.as_ref(),
                    defaults.success_threshold.as_ref(),
                ),
            ),
        ];
        for (method, value) in thresholds {
            if let Some(&value) = value {
                let value = Literal::u32_unsuffixed(value);
                schedule.extend(quote!(.#method(#value)));
            }
        }
        schedule
    }

    fn duration(&self, duration: Duration) -> TokenStream {
        let krate = &self.krate;
        let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        let millis = Literal::u64_unsuffixed(millis);
        quote!(#krate::__private::Duration::from_millis(#millis))
    }

    /// A value whose type is a check (or a heartbeat, or a gate).
    fn field_check(&self, attrs: &Attrs, target: &Target) -> TokenStream {
        let locals = &self.locals;
        let Locals {
            root,
            builder,
            spec: spec_local,
            schedule: schedule_local,
            ..
        } = locals;
        let Target {
            name,
            projection,
            ty,
        } = target;
        let spec = self.spec(attrs, name);
        let schedule = self.schedule(attrs);
        let at = krate_at(ty.span());
        let register = quote_spanned! {ty.span()=>
            <#ty as #at::__private::Field>::register
        };
        quote! {
            {
                let #spec_local = #spec;
                let #schedule_local = #schedule;
                #register(#root, #projection, #spec_local, #schedule_local, #builder)?;
            }
        }
    }

    /// A `with = path` check: `path(&value).await`, or for a method of the state
    /// (`Self::method`, on a field) `Self::method(&state, &value).await`. A dependency
    /// unless `kind = "internal"`.
    fn with_check(
        &self,
        attrs: &Attrs,
        target: &Target,
        with: &Setting<ExprPath>,
        on_field: bool,
    ) -> TokenStream {
        let Context { krate, locals, .. } = self;
        let Locals {
            root,
            project,
            builder,
            spec: spec_local,
            schedule: schedule_local,
            target: target_local,
            state: state_local,
            ..
        } = locals;
        let path = &with.value;
        // The call's arguments, located at the path (keeping mixed-site hygiene): a
        // function taking the wrong type is then reported on the path, not on the derive.
        let at_path = |ident: &Ident| {
            let mut ident = ident.clone();
            ident.set_span(ident.span().located_at(path.span()));
            ident
        };
        let (root_at, target_at, state_at) =
            (at_path(root), at_path(target_local), at_path(state_local));
        let method = on_field && self.is_state_method(path);
        let (state_let, state_clone, arguments) = if method {
            (
                quote!(let #state_local = #krate::__private::Clone::clone(&#project);),
                quote!(let #state_local = #krate::__private::Clone::clone(&#state_local);),
                quote!(#state_at(&*#root_at), #target_at(&*#root_at)),
            )
        } else {
            (
                TokenStream::new(),
                TokenStream::new(),
                quote!(#target_at(&*#root_at)),
            )
        };
        let (kind, make) = match attrs.kind.as_ref().map(|kind| kind.value) {
            Some(Kind::Internal) => (quote!(Internal), "check_fn"),
            Some(Kind::Dependency) | None => (quote!(Dependency), "dependency_fn"),
        };
        let make = Ident::new(make, path.span());
        let spec = self.spec(attrs, &target.name);
        let schedule = self.schedule(attrs);
        let projection = &target.projection;
        // Spanned at the path: a function of the wrong shape is reported there.
        let at = krate_at(path.span());
        let call = quote_spanned! {path.span()=>
            #at::#make(move || {
                let #root = #krate::__private::Arc::clone(&#root);
                let #target_local = #krate::__private::Clone::clone(&#target_local);
                #state_clone
                async move { #path(#arguments).await }
            })
        };
        quote! {
            {
                let #spec_local = #spec.kind(#krate::CheckKind::#kind);
                let #schedule_local = #schedule;
                let #target_local = #projection;
                #state_let
                let #root = #krate::__private::Arc::clone(#root);
                #builder.schedule(#spec_local, #schedule_local, #call)?;
            }
        }
    }

    /// Returns `true` if `path` names a method of the state: `Self::...` or
    /// `StructName::...`. Such a function receives the state before the field.
    fn is_state_method(&self, path: &ExprPath) -> bool {
        path.qself.is_none()
            && path.path.leading_colon.is_none()
            && path.path.segments.len() > 1
            && path.path.segments.first().is_some_and(|first| {
                first.ident == "Self" || first.ident == self.input.original.ident
            })
    }

    /// A `flatten` value: the nested struct registers its own checks under `name.`.
    fn flatten(&self, target: &Target) -> TokenStream {
        let Context { krate, locals, .. } = self;
        let Locals { root, builder, .. } = locals;
        let Target {
            name,
            projection,
            ty,
        } = target;
        let at = krate_at(ty.span());
        let call = quote_spanned! {ty.span()=>
            <#ty as #at::__private::Names>::flatten
        };
        quote! {
            #call(#root, #projection, &#krate::__private::nested(&#name, ""), #builder)?;
        }
    }

    /// The assertions that need the checked value's type: the restart-storm guard and
    /// the rules for heartbeats, gates and timing keys.
    fn field_assertions(
        field: &Field<'_>,
        value_ty: &TokenStream,
        generic: bool,
    ) -> Vec<Assertion> {
        let attrs = &field.attrs;
        let ty = field.ty;
        // `<T as Field>::X` spanned at the type: if `T` is not a `Field`, each use fails
        // with the same error there, and rustc reports it once.
        let at = krate_at(ty.span());
        let kind = quote_spanned!(ty.span()=> <#value_ty as #at::__private::Field>::KIND);
        let judged = quote_spanned!(ty.span()=> <#value_ty as #at::__private::Field>::JUDGED);
        let assert = |span: Span, function: &str, value: &TokenStream| {
            let function = Ident::new(function, span);
            let krate = krate_at(span);
            Assertion {
                tokens: quote_spanned!(span=> #krate::__private::#function(#value)),
                generic,
            }
        };
        let mut assertions = Vec::new();
        if attrs.liveness.is_some() && attrs.allow_dependency.is_none() {
            assertions.push(assert(ty.span(), "assert_not_dependency", &kind));
        }
        match &attrs.max_silence {
            Some(silence) => {
                assertions.push(assert(silence.key.span(), "assert_max_silence", &judged));
            }
            None => assertions.push(assert(ty.span(), "assert_without_max_silence", &judged)),
        }
        if let Some(max_age) = &attrs.max_age {
            assertions.push(assert(max_age.key.span(), "assert_max_age", &judged));
        }
        if let Some(key) = attrs.timing.keys().next() {
            assertions.push(assert(key.span(), "assert_scheduled", &judged));
        }
        assertions
    }

    /// A check named `segment.rest` next to a flattened field `segment`: the nested
    /// struct must not register `rest` too. Only its derive knows, so the check is a
    /// const evaluation over its `Names`. (Names inside an `each` field's segment are
    /// refused by validation.)
    fn clash_assertions(&self, params: &HashSet<String>) -> Vec<Assertion> {
        let input = self.input;
        let mut assertions = Vec::new();
        let flattened: Vec<(&Field<'_>, String)> = input
            .fields
            .iter()
            .filter(|field| field.attrs.flatten.is_some() && field.attrs.each.is_none())
            .filter_map(|field| Some((field, field.name()?)))
            .collect();
        let fields = input
            .fields
            .iter()
            .filter(|field| !field.is_segment())
            .filter_map(|field| Some((field.name()?, field.name_span())));
        let checks = input.attrs.checks.iter().filter_map(|check| {
            let name = check.name.as_ref()?;
            Some((name.value.clone(), name_literal_span(name)))
        });
        for (name, span) in checks.chain(fields) {
            for (nested, segment) in &flattened {
                let Some(rest) = name
                    .strip_prefix(segment.as_str())
                    .and_then(|rest| rest.strip_prefix('.'))
                else {
                    continue;
                };
                let ty = nested.ty;
                let message = format!(
                    "duplicate check name `{name}`: the flattened field `{segment}` has a check `{rest}` too"
                );
                let krate = krate_at(span);
                assertions.push(Assertion {
                    tokens: quote_spanned! {span=>
                        #krate::__private::assert_unique(
                            <#ty as #krate::__private::Names>::NAMES, #rest, #message,
                        )
                    },
                    generic: mentions(ty, params),
                });
            }
        }
        assertions
    }
}

/// The struct's where clause, or an empty one to add to.
fn where_clause(generics: &Generics) -> WhereClause {
    generics
        .where_clause
        .clone()
        .unwrap_or_else(|| WhereClause {
            where_token: syn::token::Where::default(),
            predicates: syn::punctuated::Punctuated::new(),
        })
}

/// The names of the type and const parameters.
fn generic_params(generics: &Generics) -> HashSet<String> {
    generics
        .params
        .iter()
        .filter_map(|param| match param {
            GenericParam::Type(param) => Some(param.ident.to_string()),
            GenericParam::Const(param) => Some(param.ident.to_string()),
            GenericParam::Lifetime(_) => None,
        })
        .collect()
}

/// Returns `true` if `ty` names one of `params` (or, harmlessly, an item spelled alike).
fn mentions(ty: &Type, params: &HashSet<String>) -> bool {
    fn walk(tokens: TokenStream, params: &HashSet<String>) -> bool {
        tokens.into_iter().any(|token| match token {
            TokenTree::Ident(ident) => params.contains(&ident.to_string()),
            TokenTree::Group(group) => walk(group.stream(), params),
            TokenTree::Punct(_) | TokenTree::Literal(_) => false,
        })
    }
    !params.is_empty() && walk(ty.to_token_stream(), params)
}

/// The type's name, resolved at the call site (thiserror's `call_site_ident`).
pub(crate) fn call_site_ident(ident: &Ident) -> Ident {
    let mut ident = ident.clone();
    ident.set_span(ident.span().resolved_at(Span::call_site()));
    ident
}
