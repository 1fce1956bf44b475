//! What the derive emits when the input has errors: the errors, plus stub impls, so that
//! code using the type as a `HealthCheck` (or flattening it) raises no secondary errors
//! (thiserror's `invalid-input-impl-anyway`).

use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, parse_quote};

use crate::attr::{Attrs, Errors, Level};
use crate::expand::{call_site_ident, crate_path, signature};

pub(crate) fn expand(node: &DeriveInput, error: &syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    // The stub names health-core too: through `crate = ...` if that much parses. The
    // attributes' errors are already in `error`.
    let attrs = Attrs::from_syn(&node.attrs, Level::Struct, &mut Errors::default());
    let krate = crate_path(attrs.krate.map(|krate| krate.value).as_ref());
    // No alias as in the impls: the stub has no errors of its own to point anywhere.
    let ident = call_site_ident(&node.ident);
    let (impl_generics, ty_generics, _) = node.generics.split_for_impl();
    let mut where_clause = node.generics.where_clause.clone();
    if !node.generics.params.is_empty() {
        where_clause
            .get_or_insert_with(|| parse_quote!(where))
            .predicates
            .push(parse_quote!(
                Self: #krate::__private::Send + #krate::__private::Sync + 'static
            ));
    }
    let underscore = quote!(_);
    let signature = signature(
        &krate,
        &[&underscore, &underscore, &underscore, &underscore],
    );
    quote! {
        #error

        #[doc(hidden)]
        #[allow(non_upper_case_globals, unused_qualifications, clippy::absolute_paths)]
        const _: () = {
            #[automatically_derived]
            #[allow(unused_qualifications)]
            impl #impl_generics #krate::HealthCheck for #ident #ty_generics #where_clause {
                #signature {
                    #krate::__private::unreachable!()
                }
            }

            #[automatically_derived]
            impl #impl_generics #krate::__private::Names for #ident #ty_generics #where_clause {
                const NAMES: &'static [#krate::__private::Name] = &[];
            }
        };
    }
}
