//! `#[feature_set]`: the struct with its docs, `impl FeatureSet`, the typed
//! row and features, the column-name constants and the spanned type
//! assertions.

use featurestore_core::{Frame, Keep, NumberKind, TIMESTAMP_COLUMN};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Ident;

use super::docs;
use super::row::{Row, RowField};
use super::tokens::{
    aggregation, column_check, fill_value, option, replace_ident, replace_spec, respan, runtime,
    source_column_type, window,
};
use crate::attr::{is_feature, path_string};
use crate::check::{const_name, SPEC_CONST};
use crate::model::{self, FeatureSet, FillValue, Output};
use crate::sql;

pub fn expand(set: &FeatureSet<'_>) -> TokenStream {
    let rt = runtime();
    let outputs = set.outputs();
    let ident = &set.item.ident;
    let row = format_ident!("{}Row", ident);
    let features = format_ident!("{}Features", ident);

    let mut item = set.item.clone();
    strip_feature_attrs(&mut item);
    for line in docs::feature_set(set, &outputs, &row.to_string(), &features.to_string()) {
        item.attrs.push(syn::parse_quote!(#[doc = #line]));
    }
    // The fields are a declaration, read by the macro: never reading them
    // at run time is the normal case, not dead code.
    item.attrs.push(syn::parse_quote!(#[allow(dead_code)]));

    let spec = spec(set, &outputs);
    let (row_structs, row_impls) = row_structs(set, &outputs, &row, &features);
    let key_at = key_at(set, &row);
    let constants = constants(set, &outputs);
    let checks = checks(set);
    let truncations = truncations(set);
    let column_checks = column_checks(set);
    let source_alias = source_alias(set);
    let source = &set.source;
    quote! {
        #item

        // Generated code names the source through this alias only, so a
        // source path that does not resolve is one error, under the path.
        #[doc(hidden)]
        type #source_alias = #source;

        #row_structs

        const _: () = {
            #[automatically_derived]
            impl #rt::FeatureSet for #ident {
                const SPEC: #rt::spec::FeatureSetSpec = #spec;
                type Row = #row;
                type Features = #features;
            }

            #row_impls

            #(#key_at)*

            #[allow(non_upper_case_globals)]
            impl #ident {
                #(#constants)*
            }

            #[allow(dead_code, clippy::all)]
            fn __check() {
                #(#checks)*
            }

            #(#column_checks)*

            #(#truncations)*
        };
    }
}

/// `avg(amount)`, `percentile(amount, 0.5)`: a function as written.
fn as_written(function: &model::Function) -> String {
    match function.aggregation {
        featurestore_core::Aggregation::Percentile(p) => {
            format!("percentile({}, {})", function.column, p.value())
        }
        other => match &function.condition {
            Some(c) => format!("{}({:?})", other.name(), c.value()),
            None => format!("{}({})", other.name(), function.column),
        },
    }
}

/// Const checks that no integer feature silently truncates fractions: a
/// function returning fractions (or its float column's numbers) into an
/// integer field is an error under the field's type, unless the feature
/// says `truncate`. Evaluated by rustc, as the types are only known there;
/// the message names the function, which a trait bound's could not.
fn truncations(set: &FeatureSet<'_>) -> Vec<TokenStream> {
    let rt = runtime();
    let mut checks = Vec::new();
    for feature in set.features.iter().filter(|f| f.plain.is_none()) {
        if feature.truncate.is_some() {
            continue;
        }
        let ty = feature.ty;
        let span = ty.span();
        let declared = respan(quote!(<#ty as #rt::__private::FeatureType>::DTYPE), span);
        let written = quote!(#ty).to_string().replace(' ', "");
        let advice = format!(
            "declare `{}` as `f64` (or `f32`), or write `truncate` in its `#[feature(...)]` to \
             keep only the whole part, knowingly",
            feature.ident
        );
        // One error per feature: the first function that would be truncated.
        let mut fraction = None;
        let mut of_column = Vec::new();
        for function in &feature.functions {
            match function.aggregation.number_kind() {
                Some(NumberKind::Fraction) if fraction.is_none() => fraction = Some(function),
                Some(NumberKind::OfColumn) => of_column.push(function),
                _ => {}
            }
        }
        let (condition, message) = if let Some(function) = fraction {
            (
                quote!(#declared.is_integer()),
                format!(
                    "`{}` returns fractions, which the integer type `{written}` of `{}` \
                     would truncate: {advice}",
                    as_written(function),
                    feature.ident
                ),
            )
        } else if let Some(function) = of_column.first() {
            // The column's type, at the column: an unknown column is then
            // the same error as the one under it, reported once.
            let span = function.column.span();
            let column = column_type(set, &function.column_name(), span);
            let outer = respan(quote!(<TYPE as #rt::__private::ColumnType>::DTYPE), span);
            let column = replace_ident(outer, "TYPE", &column);
            (
                // Only a float column has fractions: min/max of a time is
                // refused by its own check.
                quote!(#declared.is_integer() && #column.is_numeric() && !#column.is_integer()),
                format!(
                    "`{}({})` returns numbers of its column, which has fractions, and the \
                     integer type `{written}` of `{}` would truncate them: {advice}",
                    function.aggregation.name(),
                    function.column,
                    feature.ident
                ),
            )
        } else {
            continue;
        };
        let message = syn::LitStr::new(&message.replace('{', "{{").replace('}', "}}"), span);
        checks.push(quote_spanned! {span=>
            const _: () = if #condition {
                ::core::panic!(#message)
            };
        });
    }
    checks
}

/// Removes `#[feature(...)]` from the fields: it is ours, not rustc's.
pub fn strip_feature_attrs(item: &mut syn::ItemStruct) {
    for field in item.fields.iter_mut() {
        field.attrs.retain(|a| !is_feature(a));
    }
}

/// The name of the alias of the source type: `__UserOrdersSource`.
fn source_alias(set: &FeatureSet<'_>) -> Ident {
    format_ident!("__{}Source", set.item.ident, span = Span::call_site())
}

/// `<Source as Source>::SPEC`, at the `source` path.
fn source_spec(set: &FeatureSet<'_>) -> TokenStream {
    let rt = runtime();
    let span = set.source.span();
    let mut source = source_alias(set);
    source.set_span(span);
    quote_spanned!(span=> <#source as #rt::Source>::SPEC)
}

/// The declared type of the source's column `name`, every token at `span`
/// (see [`source_column_type`]).
fn column_type(set: &FeatureSet<'_>, name: &str, span: Span) -> TokenStream {
    source_column_type(&source_spec(set), name, span)
}

/// Every source column the declaration names, with the token naming it and
/// where in that token it is (inside SQL): each must be a column of the
/// source, checked by rustc against the source's spec.
fn column_references(set: &FeatureSet<'_>) -> Vec<(String, Span, &'static str)> {
    let mut refs = Vec::new();
    for key in &set.keys {
        refs.push((key.name.clone(), set.entity_span, " (in `entity`)"));
    }
    refs.push((model::unraw(&set.timestamp), set.timestamp.span(), ""));
    for column in set.distinct.iter().flat_map(|d| &d.subset) {
        refs.push((model::unraw(column), column.span(), ""));
    }
    if let Some(pivot) = &set.pivot {
        refs.push((model::unraw(&pivot.column), pivot.column.span(), ""));
    }
    // A `query` may make columns of its own: only a `filter` is decided.
    if let (Some(filter), Some(span), None) = (&set.filter, set.filter_span, &set.query) {
        for column in sql::columns(filter) {
            refs.push((column, span, " (in `filter`)"));
        }
    }
    for feature in &set.features {
        match &feature.plain {
            Some(model::Plain::Column(column) | model::Plain::Function { column, .. }) => {
                refs.push((model::unraw(column), column.span(), ""));
            }
            Some(model::Plain::Sql { sql, span }) if set.query.is_none() => {
                for column in sql::columns(sql) {
                    refs.push((column, *span, " (in `sql`)"));
                }
            }
            Some(model::Plain::Sql { .. }) => {}
            None => {
                for function in &feature.functions {
                    if let Some(condition) = &function.condition {
                        if set.query.is_none() {
                            for column in sql::columns(&condition.value()) {
                                refs.push((column, condition.span(), " (in `count_if`)"));
                            }
                        }
                        continue;
                    }
                    refs.push((function.column_name(), function.column.span(), ""));
                    if let Some(by) = &function.by {
                        refs.push((model::unraw(by), by.span(), ""));
                    }
                }
            }
        }
        if let (Some(filter), Some(span), None) = (&feature.filter, feature.filter_span, &set.query)
        {
            for column in sql::columns(filter) {
                refs.push((column, span, " (in `filter`)"));
            }
        }
    }
    refs
}

/// The const checks that every column named is the source's, and that the
/// functions of a feature, all of columns the source has, take one column
/// (a misspelled one is reported as unknown, not as another column).
fn column_checks(set: &FeatureSet<'_>) -> Vec<TokenStream> {
    let rt = runtime();
    let spec = source_spec(set);
    let source = path_string(&set.source);
    let mut checks: Vec<TokenStream> = column_references(set)
        .into_iter()
        .map(|(name, span, place)| column_check(&spec, &source, &name, place, span))
        .collect();
    // A feature counting a SQL condition takes nothing else (checked with
    // the declaration).
    let of_columns = set
        .features
        .iter()
        .filter(|f| f.plain.is_none() && f.functions.iter().all(|f| f.condition.is_none()));
    for feature in of_columns {
        let Some(first) = feature.column() else {
            continue;
        };
        let first_name = model::unraw(first);
        for function in &feature.functions[1..] {
            let name = function.column_name();
            if name == first_name {
                continue;
            }
            let message = format!(
                "all aggregations of `{}` must take the same column: `{name}` here, \
                 `{first_name}` before; declare another field for `{name}`",
                feature.ident
            );
            let check = respan(
                quote! {
                    const _: () = if #rt::__private::has_column(&SPEC, #first_name)
                        && #rt::__private::has_column(&SPEC, #name)
                    {
                        ::core::panic!(#message)
                    };
                },
                function.column.span(),
            );
            checks.push(replace_spec(check, &spec));
        }
    }
    checks
}

/// `<Column as ColumnType>::#item` for a key column, at the `entity`
/// literal: an error about it is then the same wherever the type appears,
/// and rustc reports it once.
fn key_type(set: &FeatureSet<'_>, name: &str, item: TokenStream) -> TokenStream {
    let rt = runtime();
    let span = set.entity_span;
    let ty = column_type(set, name, span);
    let outer = respan(quote!(<TYPE as #rt::__private::ColumnType>::#item), span);
    replace_ident(outer, "TYPE", &ty)
}

/// `<T as FeatureType>::#item` at the field's type.
fn column_type_item(ty: &syn::Type, item: TokenStream) -> TokenStream {
    let rt = runtime();
    respan(
        quote!(<#ty as #rt::__private::FeatureType>::#item),
        ty.span(),
    )
}

fn spec(set: &FeatureSet<'_>, outputs: &[Output]) -> TokenStream {
    let rt = runtime();
    let name = &set.name;
    let description = &set.description;
    let source_span = set.source.span();
    let mut source = source_alias(set);
    source.set_span(source_span);
    let source_spec = quote_spanned!(source_span=> &<#source as #rt::Source>::SPEC);
    let keys = set.keys.iter().map(|key| {
        let dtype = key_type(set, &key.name, quote!(DTYPE));
        let key_name = &key.name;
        quote! {
            #rt::spec::ColumnSpec {
                name: #key_name,
                dtype: #dtype,
                nullable: false,
                description: "",
            }
        }
    });
    let timestamp = model::unraw(&set.timestamp);
    let filter = option(set.filter.as_ref());
    let query = option(set.query.as_ref());
    let windows = set.windows.iter().map(|w| window(*w));
    let slide = match set.slide {
        Some(slide) => window(slide),
        None => quote!(#rt::spec::Window::DAY),
    };
    let ttl = match set.ttl {
        Some(ttl) => {
            let ttl = window(ttl);
            quote!(::core::option::Option::Some(#ttl))
        }
        None => quote!(::core::option::Option::None),
    };
    let fill = match &set.fill {
        Some(fill) => {
            let value = fill_value(&fill.value);
            quote!(::core::option::Option::Some(#value))
        }
        None => quote!(::core::option::Option::None),
    };
    let features = set.features.iter().map(|feature| {
        let name = &feature.name;
        let column = match &feature.plain {
            Some(model::Plain::Sql { .. }) => String::new(),
            _ => feature
                .functions
                .first()
                .map(|f| f.column_name())
                .unwrap_or_default(),
        };
        let plain = match &feature.plain {
            None => quote!(::core::option::Option::None),
            Some(model::Plain::Column(_)) => {
                quote!(::core::option::Option::Some(#rt::spec::PlainSpec::Column))
            }
            Some(model::Plain::Sql { sql, .. }) => {
                quote!(::core::option::Option::Some(#rt::spec::PlainSpec::Sql(#sql)))
            }
            Some(model::Plain::Function { path, .. }) => {
                // A function of another signature fails to coerce: rustc's
                // error is under the path in the attribute.
                let name = path_string(path);
                let span = path.span();
                let run = respan(quote!(#path), span);
                quote_spanned! {span=>
                    ::core::option::Option::Some(#rt::spec::PlainSpec::Function(
                        #rt::spec::ExprFunction { name: #name, run: #run }
                    ))
                }
            }
        };
        let frame = match feature.frame {
            Some(Frame::Range(w)) => {
                let w = window(w);
                quote!(::core::option::Option::Some(#rt::spec::Frame::Range(#w)))
            }
            Some(Frame::Rows(n)) => {
                quote!(::core::option::Option::Some(#rt::spec::Frame::Rows(#n)))
            }
            None => quote!(::core::option::Option::None),
        };
        let aggregations: Vec<TokenStream> = if feature.plain.is_some() {
            Vec::new()
        } else {
            feature
                .functions
                .iter()
                .map(|f| aggregation(f.aggregation))
                .collect()
        };
        let dtype = column_type_item(feature.ty, quote!(DTYPE));
        let description = &feature.description;
        let filter = option(feature.filter.as_ref());
        let condition = feature.functions.iter().any(|f| f.condition.is_some());
        let feature_fill = match &feature.fill {
            Some(fill) => {
                let value = fill_value(&fill.value);
                quote!(::core::option::Option::Some(#value))
            }
            None => quote!(::core::option::Option::None),
        };
        quote! {
            #rt::spec::FeatureSpec {
                name: #name,
                column: #column,
                aggregations: &[#(#aggregations),*],
                dtype: #dtype,
                description: #description,
                plain: #plain,
                frame: #frame,
                condition: #condition,
                filter: #filter,
                fill_null: #feature_fill,
            }
        }
    });
    let outputs = outputs.iter().map(|output| {
        let feature = &set.features[output.feature];
        let nullable = feature.fill(set).is_none();
        let name = &output.name;
        let index = output.feature;
        let aggregation = aggregation(feature.functions[output.function].aggregation);
        let window = match output.window {
            Some(w) => {
                let w = window(w);
                quote!(::core::option::Option::Some(#w))
            }
            None => quote!(::core::option::Option::None),
        };
        let dtype = column_type_item(feature.ty, quote!(DTYPE));
        let pivot = match output.pivot {
            Some(i) => quote!(::core::option::Option::Some(#i)),
            None => quote!(::core::option::Option::None),
        };
        quote! {
            #rt::spec::OutputColumn {
                name: #name,
                feature: #index,
                aggregation: #aggregation,
                window: #window,
                dtype: #dtype,
                nullable: #nullable,
                pivot: #pivot,
            }
        }
    });
    let pivot = match &set.pivot {
        Some(pivot) => {
            let column = model::unraw(&pivot.column);
            let values = pivot.values.iter().map(|v| match &v.value {
                model::PivotLit::Int(i) => quote!(#rt::spec::PivotValue::Int(#i)),
                model::PivotLit::Bool(b) => quote!(#rt::spec::PivotValue::Bool(#b)),
                model::PivotLit::Str(s) => quote!(#rt::spec::PivotValue::Str(#s)),
            });
            quote! {
                ::core::option::Option::Some(#rt::spec::PivotSpec {
                    column: #column,
                    values: &[#(#values),*],
                })
            }
        }
        None => quote!(::core::option::Option::None),
    };
    // A function of another signature fails to coerce to `Hook`: rustc's
    // error is under the path in the attribute.
    let hook = |path: &syn::Path| {
        let name = path_string(path);
        let span = path.span();
        let run = respan(quote!(#path), span);
        quote_spanned! {span=>
            #rt::spec::HookSpec { name: #name, run: #run }
        }
    };
    let pre_hooks: Vec<TokenStream> = set.pre_hooks.iter().map(hook).collect();
    let post_hooks: Vec<TokenStream> = set.post_hooks.iter().map(hook).collect();
    let distinct = match &set.distinct {
        Some(d) => {
            let subset = d.subset.iter().map(model::unraw);
            let keep = match d.keep {
                Keep::Last => quote!(Last),
                Keep::First => quote!(First),
            };
            quote! {
                ::core::option::Option::Some(#rt::spec::DistinctSpec {
                    subset: &[#(#subset),*],
                    keep: #rt::spec::Keep::#keep,
                })
            }
        }
        None => quote!(::core::option::Option::None),
    };
    quote! {
        #rt::spec::FeatureSetSpec {
            name: #name,
            description: #description,
            keys: &[#(#keys),*],
            timestamp: #timestamp,
            source: #source_spec,
            filter: #filter,
            query: #query,
            windows: &[#(#windows),*],
            slide: #slide,
            ttl: #ttl,
            fill_null: #fill,
            features: &[#(#features),*],
            outputs: &[#(#outputs),*],
            pivot: #pivot,
            distinct: #distinct,
            pre_hooks: &[#(#pre_hooks),*],
            post_hooks: &[#(#post_hooks),*],
        }
    }
}

/// The row struct and the features struct, and their trait impls (to go in
/// the `const _` block).
fn row_structs(
    set: &FeatureSet<'_>,
    outputs: &[Output],
    row: &Ident,
    features: &Ident,
) -> (TokenStream, TokenStream) {
    let rt = runtime();
    let source = path_string(&set.source);
    let mut keys: Vec<RowField> = Vec::new();
    for key in &set.keys {
        keys.push(RowField {
            name: key.ident.clone(),
            ty: key_type(set, &key.name, quote!(Inner)),
            doc: docs::key_description(&source, &key.name),
            span: set.entity_span,
            flatten: false,
        });
    }
    keys.push(RowField {
        name: format_ident!("{}", TIMESTAMP_COLUMN),
        ty: quote!(#rt::__private::NaiveDateTime),
        doc: docs::timestamp_description(set),
        span: Span::call_site(),
        flatten: false,
    });
    let columns = || {
        outputs.iter().filter_map(|output| {
            let feature = &set.features[output.feature];
            let name = model::ident(&output.name, Span::call_site())?;
            let inner = column_type_item(feature.ty, quote!(Inner));
            let ty = if feature.fill(set).is_some() {
                inner
            } else {
                respan(quote!(::core::option::Option<#inner>), feature.ty.span())
            };
            Some(RowField {
                name,
                ty,
                doc: docs::output_description(set, output),
                span: feature.ty.span(),
                flatten: false,
            })
        })
    };
    let vis = &set.item.vis;
    let (row_struct, row_impls) = Row {
        vis,
        ident: row,
        doc: docs::row(set),
        fields: keys.into_iter().chain(columns()).collect(),
        params: Vec::new(),
    }
    .expand();
    let (features_struct, features_impls) = Row {
        vis,
        ident: features,
        doc: docs::features(set),
        fields: columns().collect(),
        params: Vec::new(),
    }
    .expand();
    (
        quote!(#row_struct #features_struct),
        quote!(#row_impls #features_impls),
    )
}

/// `impl KeyAt<I> for UserOrdersRow`: the type of each key, for datasets to
/// compare their spine's keys with.
fn key_at(set: &FeatureSet<'_>, row: &Ident) -> Vec<TokenStream> {
    let rt = runtime();
    set.keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let ty = key_type(set, &key.name, quote!(Inner));
            quote! {
                #[diagnostic::do_not_recommend]
                #[doc(hidden)]
                #[automatically_derived]
                impl #rt::__private::KeyAt<#i> for #row {
                    type Type = #ty;
                }
            }
        })
        .collect()
}

/// `pub const CPF: &'static str = "cpf";` for every output column.
fn constants(set: &FeatureSet<'_>, outputs: &[Output]) -> Vec<TokenStream> {
    let mut columns: Vec<(String, String)> = set
        .keys
        .iter()
        .map(|k| {
            (
                k.name.clone(),
                format!(" Name of the key column `{}`.", k.name),
            )
        })
        .collect();
    columns.push((
        TIMESTAMP_COLUMN.to_string(),
        format!(" Name of the `{TIMESTAMP_COLUMN}` column."),
    ));
    columns.extend(outputs.iter().map(|o| {
        (
            o.name.clone(),
            format!(
                " Name of the output column `{}`: {}",
                o.name,
                docs::output_description(set, o)
            ),
        )
    }));
    columns
        .into_iter()
        .filter_map(|(name, doc)| {
            let constant = const_name(&name);
            if constant == SPEC_CONST {
                return None;
            }
            let constant = model::ident(&constant, Span::call_site())?;
            Some(quote! {
                #[doc = #doc]
                pub const #constant: &'static str = #name;
            })
        })
        .collect()
}

/// Type assertions, each spanned at the user's token it is about, so rustc
/// reports a wrong or missing column there.
fn checks(set: &FeatureSet<'_>) -> Vec<TokenStream> {
    let rt = runtime();
    let mut checks = Vec::new();
    for key in &set.keys {
        let span = set.entity_span;
        let ty = column_type(set, &key.name, span);
        checks.push(quote_spanned!(span=> #rt::__private::assert_key::<#ty>();));
    }
    let span = set.timestamp.span();
    let ty = column_type(set, &model::unraw(&set.timestamp), span);
    checks.push(quote_spanned!(span=> #rt::__private::assert_timestamp::<#ty>();));
    for column in set.distinct.iter().flat_map(|d| &d.subset) {
        let span = column.span();
        let ty = column_type(set, &model::unraw(column), span);
        checks.push(quote_spanned!(span=> #rt::__private::assert_column::<#ty>();));
    }
    if let Some(pivot) = &set.pivot {
        let span = pivot.column.span();
        let ty = column_type(set, &model::unraw(&pivot.column), span);
        let mut kinds: Vec<TokenStream> = Vec::new();
        for value in &pivot.values {
            let kind = match value.value {
                model::PivotLit::Int(_) => quote!(i64),
                model::PivotLit::Bool(_) => quote!(bool),
                model::PivotLit::Str(_) => quote!(str),
            };
            if kinds.iter().any(|k| k.to_string() == kind.to_string()) {
                continue;
            }
            let kind = respan(kind.clone(), span);
            checks.push(quote_spanned!(span=> #rt::__private::assert_pivot_on::<#ty, #kind>();));
            kinds.push(kind);
        }
    }
    for feature in &set.features {
        match &feature.plain {
            Some(model::Plain::Column(column) | model::Plain::Function { column, .. }) => {
                let span = column.span();
                let ty = column_type(set, &model::unraw(column), span);
                checks.push(quote_spanned!(span=> #rt::__private::assert_column::<#ty>();));
            }
            Some(model::Plain::Sql { .. }) | None => {}
        }
        // A SQL condition's type is the engine's to check, at the run.
        let aggregated = feature
            .functions
            .iter()
            .filter(|f| feature.plain.is_none() && f.condition.is_none());
        for function in aggregated {
            let span = function.column.span();
            let ty = column_type(set, &function.column_name(), span);
            let assert = format_ident!(
                "{}",
                model::assertion(function.aggregation.accepts()),
                span = span
            );
            checks.push(quote_spanned!(span=> #rt::__private::#assert::<#ty>();));
            if let Some(by) = &function.by {
                // The ordering of `max_by`/`min_by` is compared.
                let span = by.span();
                let ty = column_type(set, &model::unraw(by), span);
                checks.push(quote_spanned!(span=> #rt::__private::assert_ordered::<#ty>();));
            }
        }
        let ty = feature.ty;
        let span = ty.span();
        let declared = respan(quote!(#ty), span);
        if feature.plain.is_none()
            && feature
                .functions
                .iter()
                .any(|f| f.aggregation.returns_a_number())
        {
            checks
                .push(quote_spanned!(span=> #rt::__private::assert_numeric_output::<#declared>();));
        }
        for function in feature.functions.iter().filter(|_| feature.plain.is_none()) {
            let assert = if function.aggregation.returns_a_value() {
                format_ident!("assert_value_of", span = span)
            } else if function.aggregation.returns_a_set() {
                format_ident!("assert_set_of", span = span)
            } else {
                continue;
            };
            let column = column_type(set, &function.column_name(), span);
            checks.push(quote_spanned! {span=>
                #rt::__private::#assert::<#declared, #column>();
            });
        }
        if let Some(fill) = feature.fill(set) {
            let span = fill.span;
            let assert = format_ident!(
                "{}",
                match fill.value {
                    FillValue::Int(_) => "assert_fill_int",
                    FillValue::Float(_) => "assert_fill_float",
                    FillValue::Bool(_) => "assert_fill_bool",
                    FillValue::Str(_) => "assert_fill_str",
                },
                span = span
            );
            let declared = respan(quote!(#ty), span);
            checks.push(quote_spanned! {span=>
                #rt::__private::#assert::<<#declared as #rt::__private::FeatureType>::Inner>();
            });
        }
    }
    checks
}
