//! Code generation: `impl HealthCheck` and `impl __private::Names`, plus the compile-time
//! assertions that need the field types (the restart-storm guard, heartbeat keys,
//! duplicate names across `flatten`). Generation itself cannot fail.
//!
//! Hygiene: every path is absolute through `::health_core` (std items through its
//! `__private` re-exports, so a user's own `Result`, `Option`, `Send` or `core` in scope
//! changes nothing); locals and parameters use `Span::mixed_site()`; everything sits in a
//! `const _: () = { ... };` so no item reaches the caller's module.

use std::collections::HashSet;
use std::time::Duration;

use proc_macro2::{Ident, Literal, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{DeriveInput, GenericParam, Generics, Type, WhereClause, parse_quote};

use crate::ast::{Field, Input};
use crate::attr::Setting;
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
    state: Ident,
    spec: Ident,
    schedule: Ident,
    field: Ident,
}

impl Locals {
    fn new() -> Locals {
        let local = |name: &str| Ident::new(&format!("__health_{name}"), Span::mixed_site());
        Locals {
            root: local("root"),
            project: local("project"),
            prefix: local("prefix"),
            builder: local("builder"),
            state: local("state"),
            spec: local("spec"),
            schedule: local("schedule"),
            field: local("field"),
        }
    }
}

/// A compile-time assertion on a field type: an item `const` when the type is concrete
/// (checked by `cargo check`), an inline `const` block in the generated fn when it names
/// a type parameter (checked when the impl is instantiated).
struct Assertion {
    tokens: TokenStream,
    generic: bool,
}

fn impl_struct(input: &Input<'_>) -> TokenStream {
    let node = input.original;
    let ident = call_site_ident(&node.ident);
    let params = generic_params(&node.generics);
    let (impl_generics, ty_generics, _) = node.generics.split_for_impl();
    // One where clause for both impls: `Names: HealthCheck`.
    let mut check_where = where_clause(&node.generics);
    if !params.is_empty() {
        check_where.predicates.push(parse_quote!(
            Self: ::health_core::__private::Send + ::health_core::__private::Sync + 'static
        ));
    }
    let locals = Locals::new();
    let prefix = input.attrs.prefix.as_ref().map(|prefix| &prefix.value);
    let mut statements = Vec::new();
    let mut assertions = Vec::new();
    let mut names = Vec::new();
    for field in &input.fields {
        let ty = field.ty;
        let generic = mentions(ty, &params);
        let name = field.name().unwrap_or_default();
        let full = match prefix {
            Some(prefix) => format!("{prefix}.{name}"),
            None => name,
        };
        if field.attrs.flatten.is_some() {
            if generic {
                check_where
                    .predicates
                    .push(parse_quote!(#ty: ::health_core::__private::Names));
            }
            names.push(quote_spanned!(ty.span()=>
                ::health_core::__private::Name::Flatten(#full, <#ty as ::health_core::__private::Names>::NAMES)
            ));
            statements.push(flatten(field, &full, &locals));
        } else {
            names.push(quote!(::health_core::__private::Name::Check(#full)));
            if let Some(with) = &field.attrs.with {
                statements.push(with_check(input, field, &full, with, &locals));
            } else {
                if generic {
                    check_where
                        .predicates
                        .push(parse_quote!(#ty: ::health_core::__private::Field));
                }
                assertions.extend(field_assertions(field, generic));
                statements.push(field_check(input, field, &full, &locals));
            }
        }
    }
    assertions.extend(clash_assertions(input, &params));

    let items = assertions.iter().filter(|a| !a.generic).map(|a| {
        let tokens = &a.tokens;
        quote!(const _: () = #tokens;)
    });
    let inline = assertions.iter().filter(|a| a.generic).map(|a| {
        let tokens = &a.tokens;
        quote!(const { #tokens };)
    });
    let signature = signature(&locals.names());
    quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, unused_qualifications, clippy::absolute_paths)]
        const _: () = {
            #(#items)*

            #[automatically_derived]
            #[allow(unused_qualifications)]
            impl #impl_generics ::health_core::HealthCheck for #ident #ty_generics #check_where {
                #[allow(unused_variables)]
                #signature {
                    #(#inline)*
                    #(#statements)*
                    ::health_core::__private::Result::Ok(())
                }
            }

            #[automatically_derived]
            impl #impl_generics ::health_core::__private::Names for #ident #ty_generics #check_where {
                const NAMES: &'static [::health_core::__private::Name] = &[#(#names),*];
            }
        };
    }
}

impl Locals {
    fn names(&self) -> [&Ident; 4] {
        [&self.root, &self.project, &self.prefix, &self.builder]
    }
}

/// `fn register_fields` up to its body, with the given parameter names (or `_`).
pub(crate) fn signature(params: &[impl ToTokens; 4]) -> TokenStream {
    let [root, project, prefix, builder] = params;
    quote! {
        fn register_fields<__HealthRoot, __HealthProject>(
            #root: &::health_core::__private::Arc<__HealthRoot>,
            #project: __HealthProject,
            #prefix: &::health_core::__private::str,
            #builder: &mut ::health_core::RegistryBuilder,
        ) -> ::health_core::__private::Result<(), ::health_core::RegistryError>
        where
            __HealthRoot: ::health_core::__private::Send + ::health_core::__private::Sync + 'static,
            __HealthProject: ::health_core::__private::Fn(&__HealthRoot) -> &Self
                + ::health_core::__private::Clone
                + ::health_core::__private::Send
                + ::health_core::__private::Sync
                + 'static
    }
}

/// The projection from the root to this field: the struct's projection, then the field.
fn projection(field: &Field<'_>, locals: &Locals) -> TokenStream {
    let Locals { project, state, .. } = locals;
    let member = &field.member;
    quote! {
        ::health_core::__private::project(
            ::health_core::__private::Clone::clone(&#project),
            |#state: &Self| &#state.#member,
        )
    }
}

/// `CheckSpec::new(prefix + name)` with the field's probes, criticality and max age.
fn spec(field: &Field<'_>, full: &str, locals: &Locals) -> TokenStream {
    let attrs = &field.attrs;
    let prefix = &locals.prefix;
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
            let max_age = duration(max_age.value);
            quote!(.max_age(#max_age))
        });
    quote! {
        ::health_core::CheckSpec::new(::health_core::__private::join(#prefix, #full))
            #(#probes)* #critical #max_age
    }
}

/// The field's `Schedule`: its own timing keys over the struct's defaults over the
/// runner's defaults.
fn schedule(input: &Input<'_>, field: &Field<'_>) -> TokenStream {
    fn pick<'s, T>(own: Option<&'s Setting<T>>, default: Option<&'s Setting<T>>) -> Option<&'s T> {
        own.or(default).map(|setting| &setting.value)
    }
    let own = &field.attrs.timing;
    let defaults = &input.attrs.timing;
    let mut schedule =
        if let Some(&interval) = pick(own.interval.as_ref(), defaults.interval.as_ref()) {
            let interval = duration(interval);
            quote!(::health_core::Schedule::every(#interval))
        } else {
            quote!(<::health_core::Schedule as ::health_core::__private::Default>::default())
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
            let value = duration(value);
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

fn duration(duration: Duration) -> TokenStream {
    let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    let millis = Literal::u64_unsuffixed(millis);
    quote!(::health_core::__private::Duration::from_millis(#millis))
}

/// A field whose type is a check (or a heartbeat, or a gate).
fn field_check(input: &Input<'_>, field: &Field<'_>, full: &str, locals: &Locals) -> TokenStream {
    let Locals {
        root,
        builder,
        spec: spec_local,
        schedule: schedule_local,
        ..
    } = locals;
    let ty = field.ty;
    let spec = spec(field, full, locals);
    let schedule = schedule(input, field);
    let projection = projection(field, locals);
    let register = quote_spanned! {ty.span()=>
        <#ty as ::health_core::__private::Field>::register
    };
    quote! {
        {
            let #spec_local = #spec;
            let #schedule_local = #schedule;
            #register(#root, #projection, #spec_local, #schedule_local, #builder)?;
        }
    }
}

/// A `with = path` field: a dependency check that calls `path(&field).await`.
fn with_check(
    input: &Input<'_>,
    field: &Field<'_>,
    full: &str,
    with: &Setting<syn::ExprPath>,
    locals: &Locals,
) -> TokenStream {
    let Locals {
        root,
        builder,
        spec: spec_local,
        schedule: schedule_local,
        field: field_local,
        ..
    } = locals;
    let path = &with.value;
    // The call's argument, located at the path (keeping mixed-site hygiene): a function
    // taking the wrong type is then reported on the path, not on the derive.
    let at_path = |ident: &Ident| {
        let mut ident = ident.clone();
        ident.set_span(ident.span().located_at(path.span()));
        ident
    };
    let (root_at, field_at) = (at_path(root), at_path(field_local));
    let spec = spec(field, full, locals);
    let schedule = schedule(input, field);
    let projection = projection(field, locals);
    // Spanned at the path: a function of the wrong shape is reported there.
    let call = quote_spanned! {path.span()=>
        ::health_core::dependency_fn(move || {
            let #root = ::health_core::__private::Arc::clone(&#root);
            let #field_local = ::health_core::__private::Clone::clone(&#field_local);
            async move { #path(#field_at(&*#root_at)).await }
        })
    };
    quote! {
        {
            let #spec_local = #spec.kind(::health_core::CheckKind::Dependency);
            let #schedule_local = #schedule;
            let #field_local = #projection;
            let #root = ::health_core::__private::Arc::clone(#root);
            #builder.schedule(#spec_local, #schedule_local, #call)?;
        }
    }
}

/// A `flatten` field: the nested struct registers its own checks under `full.`.
fn flatten(field: &Field<'_>, full: &str, locals: &Locals) -> TokenStream {
    let Locals {
        root,
        prefix,
        builder,
        ..
    } = locals;
    let ty = field.ty;
    let projection = projection(field, locals);
    let call = quote_spanned! {ty.span()=>
        <#ty as ::health_core::__private::Names>::flatten
    };
    quote! {
        #call(#root, #projection, &::health_core::__private::nested(#prefix, #full), #builder)?;
    }
}

/// The assertions that need the field's type: the restart-storm guard and the rules
/// for heartbeats, gates and timing keys.
fn field_assertions(field: &Field<'_>, generic: bool) -> Vec<Assertion> {
    let attrs = &field.attrs;
    let ty = field.ty;
    // `<T as Field>::X` spanned at the type: if `T` is not a `Field`, each use fails
    // with the same error there, and rustc reports it once.
    let kind = quote_spanned!(ty.span()=> <#ty as ::health_core::__private::Field>::KIND);
    let judged = quote_spanned!(ty.span()=> <#ty as ::health_core::__private::Field>::JUDGED);
    let assert = |span: Span, function: &str, value: &TokenStream| {
        let function = Ident::new(function, span);
        Assertion {
            tokens: quote_spanned!(span=> ::health_core::__private::#function(#value)),
            generic,
        }
    };
    let mut assertions = Vec::new();
    if attrs.liveness.is_some() && attrs.allow_dependency.is_none() {
        assertions.push(assert(ty.span(), "assert_not_dependency", &kind));
    }
    match &attrs.max_silence {
        Some(silence) => assertions.push(assert(silence.key.span(), "assert_heartbeat", &judged)),
        None => assertions.push(assert(ty.span(), "assert_not_heartbeat", &judged)),
    }
    if let Some(max_age) = &attrs.max_age {
        assertions.push(assert(max_age.key.span(), "assert_max_age", &judged));
    }
    if let Some(key) = attrs.timing.keys().next() {
        assertions.push(assert(key.span(), "assert_scheduled", &judged));
    }
    assertions
}

/// A check named `segment.rest` next to a flattened field `segment`: the nested struct
/// must not register `rest` too. Only its derive knows, so the check is a const
/// evaluation over its `Names`.
fn clash_assertions(input: &Input<'_>, params: &HashSet<String>) -> Vec<Assertion> {
    let mut assertions = Vec::new();
    let flattened: Vec<(&Field<'_>, String)> = input
        .fields
        .iter()
        .filter(|field| field.attrs.flatten.is_some())
        .filter_map(|field| Some((field, field.name()?)))
        .collect();
    for check in input.fields.iter().filter(|f| f.attrs.flatten.is_none()) {
        let Some(name) = check.name() else { continue };
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
            let span = check.name_span();
            assertions.push(Assertion {
                tokens: quote_spanned! {span=>
                    ::health_core::__private::assert_unique(
                        <#ty as ::health_core::__private::Names>::NAMES, #rest, #message,
                    )
                },
                generic: mentions(ty, params),
            });
        }
    }
    assertions
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
