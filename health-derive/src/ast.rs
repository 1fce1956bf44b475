//! The typed view of the input: a struct and its annotated fields, borrowing from syn.
//!
//! Shapes the derive cannot handle (enums, unions, lifetime parameters) are refused here;
//! attribute errors are collected in [`Input::errors`] so validation can add its own and
//! report them all together.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ext::IdentExt as _;
use syn::spanned::Spanned as _;
use syn::{Data, DeriveInput, GenericParam, Member, Type};

use crate::attr::{Attrs, Errors, Level, Setting};

/// A struct deriving `HealthCheck`.
pub(crate) struct Input<'a> {
    pub(crate) original: &'a DeriveInput,
    /// The struct's keys; its `check(...)` entries are in `attrs.checks`.
    pub(crate) attrs: Attrs,
    /// The fields with a `#[health]` attribute; the others are not checks.
    pub(crate) fields: Vec<Field<'a>>,
    /// The attribute errors found while parsing.
    pub(crate) errors: Errors,
}

/// An annotated field.
pub(crate) struct Field<'a> {
    pub(crate) original: &'a syn::Field,
    pub(crate) attrs: Attrs,
    pub(crate) member: Member,
    pub(crate) ty: &'a Type,
}

impl<'a> Input<'a> {
    pub(crate) fn from_syn(node: &'a DeriveInput) -> syn::Result<Self> {
        let ident = &node.ident;
        let data = match &node.data {
            Data::Struct(data) => data,
            Data::Enum(data) => {
                let token = data.enum_token;
                return Err(syn::Error::new_spanned(
                    quote!(#token #ident),
                    "enums are not supported: #[derive(HealthCheck)] turns the fields of a struct into checks",
                ));
            }
            Data::Union(data) => {
                let token = data.union_token;
                return Err(syn::Error::new_spanned(
                    quote!(#token #ident),
                    "unions are not supported: #[derive(HealthCheck)] turns the fields of a struct into checks",
                ));
            }
        };
        let mut errors = Errors::default();
        for param in &node.generics.params {
            if let GenericParam::Lifetime(lifetime) = param {
                errors.spanned(
                    lifetime,
                    "lifetime parameters are not supported: the registry keeps the state for as long as it runs (`HealthCheck: 'static`)",
                );
            }
        }
        errors.finish()?;
        let mut errors = Errors::default();
        let attrs = Attrs::from_syn(&node.attrs, Level::Struct, &mut errors);
        let fields = data
            .fields
            .iter()
            .enumerate()
            .filter(|(_, field)| {
                field
                    .attrs
                    .iter()
                    .any(|attr| attr.path().is_ident("health"))
            })
            .map(|(index, field)| Field {
                original: field,
                attrs: Attrs::from_syn(&field.attrs, Level::Field, &mut errors),
                member: field
                    .ident
                    .clone()
                    .map_or_else(|| Member::Unnamed(syn::Index::from(index)), Member::Named),
                ty: &field.ty,
            })
            .collect();
        Ok(Input {
            original: node,
            attrs,
            fields,
            errors,
        })
    }
}

/// The literal of a `name = "..."` setting: what errors about the name point at.
pub(crate) fn name_literal(name: &Setting<String>) -> TokenStream {
    name.tokens.clone().into_iter().last().into_iter().collect()
}

/// Where a `name = "..."` setting spells the name: its literal.
pub(crate) fn name_literal_span(name: &Setting<String>) -> Span {
    name_literal(name)
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |token| token.span())
}

impl Field<'_> {
    /// The field's check name (or flatten segment) before the struct's prefix: its
    /// `name`, else its identifier; `None` for a tuple-struct field without `name`.
    pub(crate) fn name(&self) -> Option<String> {
        match (&self.attrs.name, &self.original.ident) {
            (Some(name), _) => Some(name.value.clone()),
            (None, Some(ident)) => Some(ident.unraw().to_string()),
            (None, None) => None,
        }
    }

    /// Where the field's name is spelled: the `name` literal if written, else the
    /// identifier (else the type).
    pub(crate) fn name_span(&self) -> Span {
        match (&self.attrs.name, &self.original.ident) {
            (Some(name), _) => name_literal_span(name),
            (None, Some(ident)) => ident.span(),
            (None, None) => self.ty.span(),
        }
    }

    /// Returns `true` if the field's name is a segment of other names (`flatten`,
    /// `each`) rather than a check's.
    pub(crate) fn is_segment(&self) -> bool {
        self.attrs.flatten.is_some() || self.attrs.each.is_some()
    }

    /// The tokens that spell the field's name, for errors about it: the `name = "..."`
    /// literal if written, else the identifier (else the type, for a tuple field).
    pub(crate) fn name_tokens(&self) -> TokenStream {
        match (&self.attrs.name, &self.original.ident) {
            (Some(name), _) => name_literal(name),
            (None, Some(ident)) => quote!(#ident),
            (None, None) => {
                let ty = self.ty;
                quote!(#ty)
            }
        }
    }
}
