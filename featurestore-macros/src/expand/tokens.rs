//! Token helpers of every expansion: the runtime's path, respanning, and
//! the `spec` literals the expansions share.

use featurestore_core::{Aggregation, Window, WindowUnit};
use proc_macro2::{Group, Literal, Span, TokenStream, TokenTree};
use quote::{format_ident, quote};
use syn::spanned::Spanned;

use crate::model::{Column, FillValue};

/// `::featurestore_runtime`.
pub fn runtime() -> TokenStream {
    quote!(::featurestore_runtime)
}

/// `tokens` with every span set to `span`, so that rustc reports an error
/// in code built from tokens of several places under one user token.
pub fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Group(group) => {
                let mut out = Group::new(group.delimiter(), respan(group.stream(), span));
                out.set_span(span);
                TokenTree::Group(out)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

/// The declared type of the column `name` of a source, looked up by rustc
/// in the source's spec (`spec`, a constant expression): every token at
/// `span` but those of `spec`, so a source that is no source is one error
/// under its path.
pub fn source_column_type(spec: &TokenStream, name: &str, span: Span) -> TokenStream {
    let rt = runtime();
    let ty = respan(
        quote! {
            <#rt::__private::Col<{ #rt::__private::column_code(&SPEC, #name) }>
                as #rt::__private::ColumnOf>::Type
        },
        span,
    );
    replace_spec(ty, spec)
}

/// A const check that the source of `spec` has the column `name`: the
/// error, under `span`, names the column, the closest one the source has
/// and all of them. `place` says where in `span` the name is, when the
/// token is a SQL string: `" (in `filter`)"`.
pub fn column_check(
    spec: &TokenStream,
    source: &str,
    name: &str,
    place: &str,
    span: Span,
) -> TokenStream {
    let rt = runtime();
    let check = respan(
        quote! {
            const _: () = if let ::core::option::Option::Some(message) =
                #rt::__private::unknown_column(&SPEC, #source, #name, #place)
            {
                ::core::panic!("{}", message.as_str())
            };
        },
        span,
    );
    replace_spec(check, spec)
}

/// `tokens` with the identifier `SPEC` standing for `spec`: so that code
/// respanned at a user's token names a spec with the spans of its own.
pub fn replace_spec(tokens: TokenStream, spec: &TokenStream) -> TokenStream {
    replace_ident(tokens, "SPEC", spec)
}

/// `tokens` with every identifier `name` replaced by `with`.
pub fn replace_ident(tokens: TokenStream, name: &str, with: &TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .flat_map(|tree| match tree {
            TokenTree::Ident(ident) if ident == name => with.clone(),
            TokenTree::Group(group) => {
                let mut out =
                    Group::new(group.delimiter(), replace_ident(group.stream(), name, with));
                out.set_span(group.span());
                TokenTree::Group(out).into()
            }
            other => other.into(),
        })
        .collect()
}

/// `Some("...")` or `None`.
pub fn option(value: Option<&String>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

/// A `spec::Window` literal.
pub fn window(w: Window) -> TokenStream {
    let rt = runtime();
    let amount = Literal::u32_unsuffixed(w.amount);
    let unit = format_ident!(
        "{}",
        match w.unit {
            WindowUnit::Minutes => "Minutes",
            WindowUnit::Hours => "Hours",
            WindowUnit::Days => "Days",
            WindowUnit::Weeks => "Weeks",
        }
    );
    quote! {
        #rt::spec::Window {
            amount: #amount,
            unit: #rt::spec::WindowUnit::#unit,
        }
    }
}

/// The variant of `spec::Aggregation` (and of `spec::PivotAggregation`,
/// whose variants are a few of its) without its argument.
pub fn variant(aggregation: Aggregation) -> &'static str {
    match aggregation {
        Aggregation::Count => "Count",
        Aggregation::Sum => "Sum",
        Aggregation::Avg => "Avg",
        Aggregation::Min => "Min",
        Aggregation::Max => "Max",
        Aggregation::StddevPop => "StddevPop",
        Aggregation::CountDistinct => "CountDistinct",
        Aggregation::ApproxCountDistinct => "ApproxCountDistinct",
        Aggregation::VarPop => "VarPop",
        Aggregation::StddevSamp => "StddevSamp",
        Aggregation::VarSamp => "VarSamp",
        Aggregation::First => "First",
        Aggregation::Last => "Last",
        Aggregation::FirstIgnoreNulls => "FirstIgnoreNulls",
        Aggregation::LastIgnoreNulls => "LastIgnoreNulls",
        Aggregation::Mode => "Mode",
        Aggregation::MostFrequentSet => "MostFrequentSet",
        Aggregation::Value => "Value",
        Aggregation::Lag(_) => "Lag",
        Aggregation::Lead(_) => "Lead",
        Aggregation::Percentile(_) => "Percentile",
        Aggregation::Mean => "Mean",
        Aggregation::Stddev => "Stddev",
        Aggregation::Variance => "Variance",
        Aggregation::Median => "Median",
        Aggregation::PercentileApprox(_) => "PercentileApprox",
        Aggregation::ApproxPercentile(_) => "ApproxPercentile",
        Aggregation::Product => "Product",
        Aggregation::Skewness => "Skewness",
        Aggregation::Kurtosis => "Kurtosis",
        Aggregation::SumDistinct => "SumDistinct",
        Aggregation::CollectList => "CollectList",
        Aggregation::CollectSet => "CollectSet",
        Aggregation::CountIf => "CountIf",
        Aggregation::BoolAnd => "BoolAnd",
        Aggregation::BoolOr => "BoolOr",
        Aggregation::MaxBy(_) => "MaxBy",
        Aggregation::MinBy(_) => "MinBy",
    }
}

/// A `spec::Aggregation` literal.
pub fn aggregation(aggregation: Aggregation) -> TokenStream {
    let rt = runtime();
    let variant = format_ident!("{}", variant(aggregation));
    match aggregation {
        Aggregation::Percentile(p)
        | Aggregation::PercentileApprox(p)
        | Aggregation::ApproxPercentile(p) => {
            let millionths = p.millionths;
            quote! {
                #rt::spec::Aggregation::#variant(#rt::spec::Percentage { millionths: #millionths })
            }
        }
        Aggregation::Lag(n) | Aggregation::Lead(n) => {
            quote!(#rt::spec::Aggregation::#variant(#n))
        }
        Aggregation::MaxBy(by) | Aggregation::MinBy(by) => {
            quote!(#rt::spec::Aggregation::#variant(#by))
        }
        _ => quote!(#rt::spec::Aggregation::#variant),
    }
}

/// A `spec::FillValue` literal.
pub fn fill_value(value: &FillValue) -> TokenStream {
    let rt = runtime();
    match value {
        FillValue::Int(v) => {
            let v = Literal::i64_suffixed(*v);
            quote!(#rt::spec::FillValue::Int(#v))
        }
        FillValue::Float(v) => {
            let v = Literal::f64_suffixed(*v);
            quote!(#rt::spec::FillValue::Float(#v))
        }
        FillValue::Bool(v) => quote!(#rt::spec::FillValue::Bool(#v)),
        FillValue::Str(v) => quote!(#rt::spec::FillValue::Str(#v)),
    }
}

pub fn column_spec(column: &Column<'_>) -> TokenStream {
    let rt = runtime();
    let ty = column.ty;
    let name = &column.name;
    let description = &column.description;
    let item = |item| {
        respan(
            quote!(<#ty as #rt::__private::ColumnType>::#item),
            ty.span(),
        )
    };
    // A column of times written as integers or text is a timestamp once read.
    let dtype = match column.time {
        Some(_) => quote!(#rt::spec::DataType::Timestamp),
        None => item(quote!(DTYPE)),
    };
    let nullable = item(quote!(NULLABLE));
    quote! {
        #rt::spec::ColumnSpec {
            name: #name,
            dtype: #dtype,
            nullable: #nullable,
            description: #description,
        }
    }
}
