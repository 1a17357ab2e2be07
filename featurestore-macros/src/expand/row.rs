//! Typed row structs: a feature set's row and features, a dataset's row.
//!
//! Every use of a field whose type names a column the source lacks is an
//! error of its own, so derives would repeat one mistake once per generated
//! line. The impls are written here instead, each use of a field spanned at
//! the token that declared its type (the `entity` literal for keys): rustc
//! then sees the same error at the same place and reports it once. serde's
//! derive goes on a generic twin of the row, which names no field type.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::{Ident, Visibility};

use super::tokens::{respan, runtime};

/// A field of a row struct.
pub struct RowField {
    pub name: Ident,
    pub ty: TokenStream,
    pub doc: String,
    /// Where errors about its type belong.
    pub span: Span,
    /// `#[serde(flatten)]`: the field's own fields are columns of the row.
    pub flatten: bool,
}

/// A row struct.
pub struct Row<'a> {
    pub vis: &'a Visibility,
    pub ident: &'a Ident,
    pub doc: String,
    pub fields: Vec<RowField>,
    /// Type parameters with their defaults, which fields may name.
    pub params: Vec<(Ident, TokenStream)>,
}

impl Row<'_> {
    /// The struct, and its trait impls (to go in a `const _` block).
    pub fn expand(&self) -> (TokenStream, TokenStream) {
        let rt = runtime();
        let (vis, row, doc) = (self.vis, self.ident, &self.doc);
        let fields = &self.fields;
        let names: Vec<&Ident> = fields.iter().map(|f| &f.name).collect();
        let types = fields.iter().map(|f| &f.ty);
        let field_docs = fields.iter().map(|f| &f.doc);
        let params: Vec<&Ident> = self.params.iter().map(|(p, _)| p).collect();
        let defaults = self.params.iter().map(|(p, default)| quote!(#p = #default));
        let declared = if params.is_empty() {
            quote!(#row)
        } else {
            quote!(#row<#(#defaults),*>)
        };
        let this = if params.is_empty() {
            quote!(#row)
        } else {
            quote!(#row<#(#params),*>)
        };
        let bounded = |bound: TokenStream| {
            let params = params.iter().map(|p| quote!(#p: #bound));
            quote!(#(#params),*)
        };
        let debug_bounds = bounded(quote!(::core::fmt::Debug));
        let clone_bounds = bounded(quote!(::core::clone::Clone));
        let eq_bounds = bounded(quote!(::core::cmp::PartialEq));
        // Hidden from the docs' lists: the declaration's page lists these
        // columns and their types; a row's own page would add one page of
        // trait impls per declaration and show a key's type as the type
        // system's path to it. Links to it from the declaration's page
        // render as its name.
        let row_struct = quote! {
            #[doc = #doc]
            #[doc(hidden)]
            #[allow(non_snake_case)]
            #vis struct #declared {
                #(
                    #[doc = #field_docs]
                    pub #names: #types,
                )*
            }
        };

        let field = |f: &RowField, expr: TokenStream| respan(expr, f.span);
        let row_name = row.to_string();
        let debug_fields = fields.iter().map(|f| {
            let name = &f.name;
            let label = name.unraw().to_string();
            let access = field(f, quote!(&self.#name));
            quote!(.field(#label, #access))
        });
        let clones = fields.iter().map(|f| {
            let name = &f.name;
            field(f, quote!(#name: ::core::clone::Clone::clone(&self.#name)))
        });
        let eqs = fields.iter().map(|f| {
            let name = &f.name;
            field(f, quote!(self.#name == other.#name))
        });
        let eq = if fields.is_empty() {
            quote!(true)
        } else {
            quote!(#(#eqs)&&*)
        };
        let serde = quote!(#rt::__private::serde);
        let ser_bounds = bounded(quote!(#serde::Serialize));
        let de_bounds = bounded(quote!(#serde::Deserialize<'de>));
        let serde_crate = "::featurestore_runtime::__private::serde";
        let twin: Vec<Ident> = (0..fields.len())
            .map(|i| format_ident!("__T{}", i))
            .collect();
        let flatten = fields
            .iter()
            .map(|f| f.flatten.then(|| quote!(#[serde(flatten)])));
        let inferred = twin.iter().map(|_| quote!(_));
        let borrows = fields.iter().map(|f| {
            let name = &f.name;
            field(f, quote!(#name: &self.#name))
        });
        let moves = fields.iter().map(|f| {
            let name = &f.name;
            field(f, quote!(#name: __row.#name))
        });
        let impls = quote! {
            const _: () = {
                #[automatically_derived]
                impl<#debug_bounds> ::core::fmt::Debug for #this {
                    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        f.debug_struct(#row_name) #(#debug_fields)* .finish()
                    }
                }

                #[automatically_derived]
                impl<#clone_bounds> ::core::clone::Clone for #this {
                    fn clone(&self) -> Self {
                        Self { #(#clones,)* }
                    }
                }

                #[automatically_derived]
                impl<#eq_bounds> ::core::cmp::PartialEq for #this {
                    fn eq(&self, other: &Self) -> bool {
                        #eq
                    }
                }

                #[derive(#serde::Serialize, #serde::Deserialize)]
                #[serde(crate = #serde_crate, rename = #row_name)]
                #[allow(non_snake_case)]
                struct __Row<#(#twin),*> {
                    #(#flatten #names: #twin,)*
                }

                #[automatically_derived]
                impl<#ser_bounds> #serde::Serialize for #this {
                    fn serialize<__S: #serde::Serializer>(
                        &self,
                        serializer: __S,
                    ) -> ::core::result::Result<__S::Ok, __S::Error> {
                        #serde::Serialize::serialize(&__Row { #(#borrows,)* }, serializer)
                    }
                }

                #[automatically_derived]
                impl<'de, #de_bounds> #serde::Deserialize<'de> for #this {
                    fn deserialize<__D: #serde::Deserializer<'de>>(
                        deserializer: __D,
                    ) -> ::core::result::Result<Self, __D::Error> {
                        let __row: __Row<#(#inferred),*> =
                            #serde::Deserialize::deserialize(deserializer)?;
                        ::core::result::Result::Ok(Self { #(#moves,)* })
                    }
                }
            };
        };
        (row_struct, impls)
    }
}
