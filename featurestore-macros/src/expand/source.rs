//! `#[source]`: the struct with its docs, `impl Source`, one `HasColumn` per
//! column, and the column-name constants.

use featurestore_core::{EpochUnit, Format, OnBadRows};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::tokens::{column_spec, respan, runtime};
use super::{docs, preprocess};
use crate::attr::is_column;
use crate::check::{const_name, SPEC_CONST};
use crate::model::{self, Column, Derived, Source, SourceKind, TimeEncoding};

pub fn expand(source: &Source<'_>) -> TokenStream {
    let rt = runtime();
    let mut item = source.item.clone();
    for line in docs::source(source) {
        item.attrs.push(syn::parse_quote!(#[doc = #line]));
    }
    // The fields are a declaration, read by the macro: never reading them
    // at run time is the normal case, not dead code.
    item.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
    for field in item.fields.iter_mut() {
        field.attrs.retain(|a| !is_column(a));
    }
    let ident = &item.ident;
    let name = &source.name;
    let description = &source.description;
    let kind = kind(&source.kind);
    let on_bad_rows = format_ident!(
        "{}",
        match source.on_bad_rows {
            OnBadRows::Fail => "Fail",
            OnBadRows::Skip => "Skip",
            OnBadRows::Quarantine => "Quarantine",
        }
    );
    let fields: Vec<TokenStream> = source.columns.iter().map(column_spec).collect();
    // With pre-processing, feature sets see the columns after its last step:
    // the fields it keeps (as read: times are times) and the ones it makes.
    let (made, preprocess, checks): (Vec<Column<'_>>, _, _) = match &source.preprocess {
        Some(pre) => (
            pre.columns
                .iter()
                .filter(|c| !source.columns.iter().any(|f| f.name == c.name))
                .map(preprocess::column)
                .collect(),
            preprocess::spec(pre, &fields),
            preprocess::checks(pre),
        ),
        None => (
            Vec::new(),
            quote!(#rt::spec::Preprocessing::NONE),
            Vec::new(),
        ),
    };
    let rows: Vec<&Column<'_>> = match &source.preprocess {
        Some(pre) => pre
            .columns
            .iter()
            .filter_map(|c| {
                source
                    .columns
                    .iter()
                    .chain(&made)
                    .find(|f| f.name == c.name)
            })
            .collect(),
        None => source.columns.iter().collect(),
    };
    let columns = rows.iter().map(|c| column_spec(c));
    let has_columns = rows.iter().map(|c| has_column(ident, c));
    let named: Vec<&Column<'_>> = source.columns.iter().chain(&made).collect();
    let constants = constants(&named);
    let time_columns = source.columns.iter().filter_map(time_column);
    let derived = source.columns.iter().filter_map(derived_column);
    let derived_checks = derived_checks(source);
    quote! {
        #item

        const _: () = {
            #[automatically_derived]
            impl #rt::Source for #ident {
                const SPEC: #rt::spec::SourceSpec = #rt::spec::SourceSpec {
                    name: #name,
                    description: #description,
                    kind: #kind,
                    columns: &[#(#columns),*],
                    on_bad_rows: #rt::spec::OnBadRows::#on_bad_rows,
                    time_columns: &[#(#time_columns),*],
                    derived: &[#(#derived),*],
                    preprocess: #preprocess,
                };
            }

            #(#has_columns)*

            #derived_checks

            #[allow(non_upper_case_globals)]
            impl #ident {
                #(#constants)*
            }

            #[allow(dead_code, clippy::all)]
            fn __check() {
                #(#checks)*
            }
        };
    }
}

fn kind(kind: &SourceKind) -> TokenStream {
    let rt = runtime();
    match kind {
        SourceKind::File { path, format } => {
            let format = format_ident!(
                "{}",
                match format {
                    Format::Csv => "Csv",
                    Format::Parquet => "Parquet",
                    Format::NdJson => "NdJson",
                }
            );
            quote! {
                #rt::spec::SourceKind::File {
                    path: #path,
                    format: #rt::spec::Format::#format,
                }
            }
        }
        SourceKind::Query { sql, inputs } => {
            let inputs = inputs
                .iter()
                .map(|path| quote_spanned!(path.span()=> &<#path as #rt::Source>::SPEC));
            quote! {
                #rt::spec::SourceKind::Query {
                    sql: #sql,
                    inputs: &[#(#inputs),*],
                }
            }
        }
    }
}

/// `impl HasColumn<{hash}> for Source`; an unsupported field type is
/// reported by the `Type: ColumnType` bound, under the field's type.
pub fn has_column(source: &Ident, column: &Column<'_>) -> TokenStream {
    let rt = runtime();
    let ty = column.ty;
    let name = &column.name;
    // Feature sets see the column as read: a time. The projection also
    // reports a field of a type the encoding cannot read, under the type.
    let ty = match &column.time {
        Some(TimeEncoding::Epoch(_)) => {
            quote_spanned!(ty.span()=> <#ty as #rt::__private::EpochColumn>::Time)
        }
        Some(TimeEncoding::Format(_)) => {
            quote_spanned!(ty.span()=> <#ty as #rt::__private::FormattedColumn>::Time)
        }
        None => quote!(#ty),
    };
    quote_spanned! {column.ty.span()=>
        // Keeps rustc from listing every column's hash when a column is
        // missing, and rustdoc from listing the impls.
        #[diagnostic::do_not_recommend]
        #[doc(hidden)]
        #[automatically_derived]
        impl #rt::__private::HasColumn<{ #rt::__private::column_hash(#name) }> for #source {
            type Type = #ty;
        }
    }
}

/// `pub const ORDER_ID: &'static str = "order_id";` for every column.
pub fn constants(columns: &[&Column<'_>]) -> Vec<TokenStream> {
    columns
        .iter()
        .filter_map(|column| {
            let constant = const_name(&column.name);
            if constant == SPEC_CONST {
                return None;
            }
            let constant = model::ident(&constant, Span::call_site())?;
            let name = &column.name;
            let doc = format!(" Name of the `{name}` column.");
            Some(quote! {
                #[doc = #doc]
                pub const #constant: &'static str = #name;
            })
        })
        .collect()
}

/// `TimeColumn { column, encoding }` of a column declared with `#[column(...)]`.
fn time_column(column: &Column<'_>) -> Option<TokenStream> {
    let rt = runtime();
    let name = &column.name;
    let encoding = match column.time.as_ref()? {
        TimeEncoding::Epoch(unit) => {
            let variant = format_ident!(
                "{}",
                match unit {
                    EpochUnit::Seconds => "Seconds",
                    EpochUnit::Millis => "Millis",
                    EpochUnit::Micros => "Micros",
                }
            );
            quote!(#rt::spec::TimeEncoding::Epoch(#rt::spec::EpochUnit::#variant))
        }
        TimeEncoding::Format(mask) => quote!(#rt::spec::TimeEncoding::Format(#mask)),
    };
    Some(quote! {
        #rt::spec::TimeColumn {
            column: #name,
            encoding: #encoding,
        }
    })
}

/// `DerivedColumn { column, derivation }` of an `h3` or `stack` column.
fn derived_column(column: &Column<'_>) -> Option<TokenStream> {
    let rt = runtime();
    let name = &column.name;
    let derivation = match column.derived.as_ref()? {
        Derived::H3 {
            lat,
            lng,
            resolutions,
        } => {
            let (lat, lng) = (model::unraw(lat), model::unraw(lng));
            quote! {
                #rt::spec::Derivation::H3 {
                    lat: #lat,
                    lng: #lng,
                    resolutions: &[#(#resolutions),*],
                }
            }
        }
        Derived::Stack { columns } => {
            let columns = columns.iter().map(model::unraw);
            quote!(#rt::spec::Derivation::Stack { columns: &[#(#columns),*] })
        }
    };
    Some(quote! {
        #rt::spec::DerivedColumn {
            column: #name,
            derivation: #derivation,
        }
    })
}

/// Type assertions of computed columns, each at the token it is about:
/// coordinates are floats (at `lat = ...`), cells text (at the field's
/// type), stacked columns of the stack's type (at each column); and the
/// runtime computes H3 cells only with its `h3` feature (at `h3`).
fn derived_checks(source: &Source<'_>) -> TokenStream {
    let rt = runtime();
    let type_of = |ident: &Ident| {
        let name = model::unraw(ident);
        source.columns.iter().find(|c| c.name == name).map(|c| {
            let ty = c.ty;
            respan(quote!(#ty), ident.span())
        })
    };
    let mut checks = Vec::new();
    let mut needs_h3 = None;
    for column in &source.columns {
        let declared = column.ty;
        let declared = respan(quote!(#declared), column.ty.span());
        match &column.derived {
            Some(Derived::H3 { lat, lng, .. }) => {
                needs_h3 = needs_h3.or(column.derived_span);
                for input in [lat, lng] {
                    if let Some(ty) = type_of(input) {
                        checks.push(
                            quote_spanned!(input.span()=> #rt::__private::assert_degrees::<#ty>();),
                        );
                    }
                }
                checks.push(quote_spanned!(column.ty.span()=> #rt::__private::assert_cell_id::<#declared>();));
            }
            Some(Derived::Stack { columns }) => {
                for input in columns {
                    if let Some(ty) = type_of(input) {
                        checks.push(quote_spanned!(input.span()=> #rt::__private::assert_stack_of::<#declared, #ty>();));
                    }
                }
            }
            None => {}
        }
    }
    if checks.is_empty() {
        return TokenStream::new();
    }
    let h3 = needs_h3.map(|span| {
        quote_spanned! {span=>
            const _: () = ::core::assert!(
                #rt::__private::H3,
                "`h3` columns need the `h3` feature of featurestore-runtime: add \
                 `features = [\"h3\"]` to its dependency"
            );
        }
    });
    quote! {
        #h3
        #[allow(dead_code)]
        fn __derived_columns() {
            #(#checks)*
        }
    }
}
