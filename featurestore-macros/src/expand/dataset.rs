//! `#[dataset]`: the struct with its docs, `impl Dataset`, the typed row,
//! the column-name constants, the spanned type assertions, and the const
//! checks of what only the joined feature sets' specs know (their keys and
//! output column names).

use featurestore_core::{snake_case, TIMESTAMP_COLUMN};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Ident, LitStr};

use super::docs;
use super::row::{Row, RowField};
use super::tokens::{
    column_check, fill_value, option, replace_ident, respan, runtime, source_column_type, window,
};
use crate::attr::path_string;
use crate::check::{const_name, SPEC_CONST};
use crate::model::{self, Dataset, Join};
use crate::sql;

pub fn expand(set: &Dataset<'_>) -> TokenStream {
    let rt = runtime();
    let ident = &set.item.ident;
    let vis = &set.item.vis;
    let row = format_ident!("{}Row", ident);

    let mut item = set.item.clone();
    for line in docs::dataset(set, &row.to_string()) {
        item.attrs.push(syn::parse_quote!(#[doc = #line]));
    }

    let spine_alias = spine_alias(set);
    let spine = &set.spine;
    let join_aliases = set.joins.iter().enumerate().map(|(i, join)| {
        let alias = join_alias(set, i, Span::call_site());
        let path = &join.path;
        quote! {
            #[doc(hidden)]
            type #alias = #path;
        }
    });
    let markers = set.joins.iter().enumerate().map(|(i, join)| {
        let marker = marker(set, i, join)?;
        let prefix = &join.prefix;
        let doc = format!(
            " The prefix `{prefix}` of the columns of `{}` in `{row}`.",
            path_string(&join.path)
        );
        Some((
            quote! {
                #[doc = #doc]
                #[doc(hidden)]
                #[derive(Debug)]
                #vis struct #marker;
            },
            quote! {
                #[automatically_derived]
                impl #rt::__private::PrefixMarker for #marker {
                    const PREFIX: &'static str = #prefix;
                }
            },
        ))
    });
    let (markers, marker_impls): (Vec<_>, Vec<_>) = markers.flatten().unzip();

    let spec = spec(set);
    let (fields, params) = row_fields(set);
    let (row_struct, row_impls) = Row {
        vis,
        ident: &row,
        doc: docs::dataset_row(set),
        fields,
        params,
    }
    .expand();
    let constants = constants(set);
    let checks = checks(set);
    let mut const_checks = const_checks(set);
    const_checks.extend(column_checks(set));
    let row_type = row_type(set, &row);
    quote! {
        #item

        // Generated code names the spine and each feature set through these
        // aliases only, so a path that does not resolve is one error, under
        // the path.
        #[doc(hidden)]
        type #spine_alias = #spine;
        #(#join_aliases)*

        #(#markers)*

        #row_struct

        const _: () = {
            #[automatically_derived]
            impl #rt::Dataset for #ident {
                const SPEC: #rt::spec::DatasetSpec = #spec;
                type Row = #row_type;
            }

            #row_impls

            #(#marker_impls)*

            #[allow(non_upper_case_globals)]
            impl #ident {
                #(#constants)*
            }

            #[allow(dead_code, clippy::all)]
            fn __check() {
                #(#checks)*
            }

            #(#const_checks)*
        };
    }
}

/// The alias of the spine type: `__AwesomeDatasetSpine`.
fn spine_alias(set: &Dataset<'_>) -> Ident {
    format_ident!("__{}Spine", set.item.ident, span = Span::call_site())
}

/// The alias of the `i`-th feature set: `__AwesomeDatasetJoin0`.
fn join_alias(set: &Dataset<'_>, i: usize, span: Span) -> Ident {
    format_ident!("__{}Join{}", set.item.ident, i, span = span)
}

/// The marker type of a prefixed join: `__AwesomeDatasetPrefix0`.
fn marker(set: &Dataset<'_>, i: usize, join: &Join) -> Option<Ident> {
    (!join.prefix.is_empty()).then(|| format_ident!("__{}Prefix{}", set.item.ident, i))
}

/// `<__AwesomeDatasetSpine as Source>::SPEC`, at the `spine` path.
fn spine_spec(set: &Dataset<'_>) -> TokenStream {
    let rt = runtime();
    let spine = spine_alias(set);
    respan(quote!(<#spine as #rt::Source>::SPEC), set.spine.span())
}

/// `<__AwesomeDatasetJoin0 as FeatureSet>::#item`, at the feature set's
/// path: a path that is no feature set is then one error wherever it is used.
fn join_item(set: &Dataset<'_>, i: usize, item: TokenStream) -> TokenStream {
    let rt = runtime();
    let alias = join_alias(set, i, Span::call_site());
    respan(
        quote!(<#alias as #rt::FeatureSet>::#item),
        set.joins[i].path.span(),
    )
}

/// `<Spine as Source>::SPEC`, at the `spine` path.
fn spine_spec_at_path(set: &Dataset<'_>) -> TokenStream {
    let rt = runtime();
    let span = set.spine.span();
    let mut spine = spine_alias(set);
    spine.set_span(span);
    quote_spanned!(span=> <#spine as #rt::Source>::SPEC)
}

/// The declared type of the spine's column `name`, every token at `span`
/// (see [`source_column_type`]).
fn column_type(set: &Dataset<'_>, name: &str, span: Span) -> TokenStream {
    source_column_type(&spine_spec_at_path(set), name, span)
}

/// The const checks that every spine column named is the spine's.
fn column_checks(set: &Dataset<'_>) -> Vec<TokenStream> {
    let spec = spine_spec_at_path(set);
    let spine = path_string(&set.spine);
    let mut refs: Vec<(String, Span, &str)> = Vec::new();
    for key in set
        .keys
        .iter()
        .chain(set.joins.iter().flat_map(|j| j.keys.iter().flatten()))
    {
        refs.push((key.name.clone(), key.ident.span(), ""));
    }
    refs.push((model::unraw(&set.timestamp), set.timestamp.span(), ""));
    for column in set.keep.iter().flatten() {
        refs.push((model::unraw(column), column.span(), ""));
    }
    if let (Some(filter), Some(span), None) = (&set.filter, set.filter_span, &set.query) {
        for column in sql::columns(filter) {
            refs.push((column, span, " (in `filter`)"));
        }
    }
    refs.into_iter()
        .map(|(name, span, place)| column_check(&spec, &spine, &name, place, span))
        .collect()
}

/// `<#ty as ColumnType>::#item`, every token but `ty`'s at `span`.
fn column_item(ty: TokenStream, item: TokenStream, span: Span) -> TokenStream {
    let rt = runtime();
    let outer = respan(quote!(<TYPE as #rt::__private::ColumnType>::#item), span);
    replace_ident(outer, "TYPE", &ty)
}

fn spec(set: &Dataset<'_>) -> TokenStream {
    let rt = runtime();
    let name = &set.name;
    let description = &set.description;
    let spine = spine_spec(set);
    let spine = quote!(&#spine);
    let filter = option(set.filter.as_ref());
    let query = option(set.query.as_ref());
    let keys = set.keys.iter().map(|k| &k.name);
    let timestamp = model::unraw(&set.timestamp);
    let joins = set.joins.iter().enumerate().map(|(i, join)| {
        let feature_set = join_item(set, i, quote!(SPEC));
        let ttl = match join.ttl {
            Some(w) => {
                let w = window(w);
                quote!(::core::option::Option::Some(#w))
            }
            None => quote!(::core::option::Option::None),
        };
        let prefix = &join.prefix;
        let keys = set.join_keys(join).iter().map(|k| &k.name);
        quote! {
            #rt::spec::JoinSpec {
                feature_set: &#feature_set,
                ttl: #ttl,
                prefix: #prefix,
                keys: &[#(#keys),*],
            }
        }
    });
    let fill = match &set.fill {
        Some(fill) => {
            let value = fill_value(&fill.value);
            quote!(::core::option::Option::Some(#value))
        }
        None => quote!(::core::option::Option::None),
    };
    let spine_columns = match &set.keep {
        Some(keep) => {
            let columns = keep.iter().map(|column| {
                let span = column.span();
                let source_name = model::unraw(column);
                let output = set.output_name(column);
                let ty = column_type(set, &source_name, span);
                let dtype = column_item(ty.clone(), quote!(DTYPE), span);
                let nullable = column_item(ty, quote!(NULLABLE), span);
                let origin = if output == TIMESTAMP_COLUMN && source_name == timestamp {
                    quote!(Timestamp)
                } else {
                    quote!(Spine)
                };
                quote! {
                    #rt::spec::DatasetColumn {
                        name: #output,
                        dtype: #dtype,
                        nullable: #nullable,
                        origin: #rt::spec::ColumnOrigin::#origin { column: #source_name },
                    }
                }
            });
            quote!(&[#(#columns),*])
        }
        None => {
            let spine_spec = spine_spec(set);
            let count = respan(quote!({ #spine_spec.columns.len() }), set.spine.span());
            quote!(&#rt::__private::spine_columns::<#count>(&#spine_spec, #timestamp))
        }
    };
    quote! {
        #rt::spec::DatasetSpec {
            name: #name,
            description: #description,
            spine: #spine,
            filter: #filter,
            query: #query,
            keys: &[#(#keys),*],
            timestamp: #timestamp,
            joins: &[#(#joins),*],
            fill_null: #fill,
            spine_columns: #spine_columns,
        }
    }
}

/// The kept spine columns (without `keep`: the keys and `timestamp`, the
/// only columns the macro knows), then a flattened field per join.
///
/// An unprefixed join's field has a type parameter of the row, which
/// defaults to the feature set's `Features`: `user_orders:
/// UserOrdersFeatures` with `UserOrdersFeatures = <UserOrders as
/// FeatureSet>::Features`. A type that is no feature set is then one error
/// under its name; as the type of the row's last field it would also be one
/// in every place rustc needs the row to be `Sized`. (A prefixed join's
/// `Prefixed` is `Sized` whatever it wraps.)
fn row_fields(set: &Dataset<'_>) -> (Vec<RowField>, Vec<(Ident, TokenStream)>) {
    let rt = runtime();
    let spine = path_string(&set.spine);
    let mut fields = Vec::new();
    let mut spine_field = |name: &str, column: &str, span: Span, doc: String| {
        if let Some(name) = model::ident(name, Span::call_site()) {
            fields.push(RowField {
                name,
                ty: column_type(set, column, span),
                doc,
                span,
                flatten: false,
            });
        }
    };
    match &set.keep {
        Some(keep) => {
            for column in keep {
                let name = model::unraw(column);
                let output = set.output_name(column);
                let doc = docs::spine_column_description(set, &spine, &name, &output);
                spine_field(&output, &name, column.span(), doc);
            }
        }
        None => {
            for key in &set.keys {
                let doc = docs::spine_column_description(set, &spine, &key.name, &key.name);
                spine_field(&key.name, &key.name, key.ident.span(), doc);
            }
            let timestamp = model::unraw(&set.timestamp);
            let doc = docs::spine_column_description(set, &spine, &timestamp, TIMESTAMP_COLUMN);
            spine_field(TIMESTAMP_COLUMN, &timestamp, set.timestamp.span(), doc);
        }
    }
    let mut params = Vec::new();
    for (i, join) in set.joins.iter().enumerate() {
        let field_name = join.field_name();
        let Some(name) = model::ident(&field_name, Span::call_site()) else {
            continue;
        };
        let span = join.path.span();
        let features = join_item(set, i, quote!(Features));
        let ty = match marker(set, i, join) {
            Some(marker) => respan(quote!(#rt::__private::Prefixed<#features, #marker>), span),
            None => {
                let param = row_param(&field_name, span);
                params.push((param.clone(), features));
                quote!(#param)
            }
        };
        fields.push(RowField {
            name,
            ty,
            doc: docs::join_description(join),
            span,
            flatten: true,
        });
    }
    (fields, params)
}

/// The row's type parameter for an unprefixed join: `UserOrdersFeatures`.
fn row_param(field_name: &str, span: Span) -> Ident {
    format_ident!("{}Features", camel_case(field_name), span = span)
}

/// `AwesomeDatasetRow<<UserOrders as FeatureSet>::Features, ...>`: the row
/// with its parameters' defaults, each at its feature set's path. rustc
/// reports a type that is no feature set under the whole type too: under
/// the feature set's path if there is only one (the same error as the
/// others, so reported once), else under the struct's name.
fn row_type(set: &Dataset<'_>, row: &Ident) -> TokenStream {
    let joins: Vec<usize> = (0..set.joins.len())
        .filter(|&i| set.joins[i].prefix.is_empty())
        .collect();
    let args = joins.iter().map(|&i| join_item(set, i, quote!(Features)));
    match joins.as_slice() {
        [] => quote!(#row),
        [i] => respan(quote!(#row<#(#args),*>), set.joins[*i].path.span()),
        _ => {
            let span = set.item.ident.span();
            let (open, close) = (quote_spanned!(span=> <), quote_spanned!(span=> >));
            quote!(#row #open #(#args),* #close)
        }
    }
}

/// `recent_user_orders` → `RecentUserOrders`.
fn camel_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// `pub const ORDER_ID: &'static str = "order_id";` for every kept spine
/// column (without `keep`: the keys and `timestamp`).
fn constants(set: &Dataset<'_>) -> Vec<TokenStream> {
    let columns: Vec<(String, String)> = match &set.keep {
        Some(keep) => keep
            .iter()
            .map(|c| (set.output_name(c), model::unraw(c)))
            .collect(),
        None => set
            .keys
            .iter()
            .map(|k| (k.name.clone(), k.name.clone()))
            .chain([(TIMESTAMP_COLUMN.to_string(), model::unraw(&set.timestamp))])
            .collect(),
    };
    columns
        .into_iter()
        .filter_map(|(name, column)| {
            let constant = const_name(&name);
            if constant == SPEC_CONST {
                return None;
            }
            let constant = model::ident(&constant, Span::call_site())?;
            let doc = if name == column {
                format!(" Name of the column `{name}`, the spine's.")
            } else {
                format!(" Name of the column `{name}`: the spine's `{column}`.")
            };
            Some(quote! {
                #[doc = #doc]
                pub const #constant: &'static str = #name;
            })
        })
        .collect()
}

/// Type assertions, each spanned at the user's token it is about.
fn checks(set: &Dataset<'_>) -> Vec<TokenStream> {
    let rt = runtime();
    let mut checks = Vec::new();
    let span = set.timestamp.span();
    let ty = column_type(set, &model::unraw(&set.timestamp), span);
    // The column's type keeps its spans (the spine's at the `spine` path).
    let assert = respan(quote!(#rt::__private::assert_timestamp), span);
    checks.push(quote!(#assert::<#ty>();));
    for (i, join) in set.joins.iter().enumerate() {
        let span = join.path.span();
        let row = join_item(set, i, quote!(Row));
        for (k, key) in set.join_keys(join).iter().enumerate() {
            let key_span = key.ident.span();
            let spine_key = column_item(
                column_type(set, &key.name, key_span),
                quote!(Inner),
                key_span,
            );
            let key_at = respan(quote!(<#row as #rt::__private::KeyAt<#k>>::Type), span);
            let assert = respan(quote!(#rt::__private::assert_same_key), span);
            checks.push(quote!(#assert::<#key_at, #spine_key>();));
        }
    }
    checks
}

/// Checks that need the joined feature sets' specs, evaluated by rustc as
/// constants: each panics with a message naming the user's tokens, under
/// the feature set it is about.
fn const_checks(set: &Dataset<'_>) -> Vec<TokenStream> {
    let rt = runtime();
    let ident = &set.item.ident;
    let spine_columns = quote!(<#ident as #rt::Dataset>::SPEC.spine_columns);
    let mut checks = Vec::new();
    let check = |span: Span, condition: TokenStream, message: String| {
        // A literal without braces, so that `panic!` takes it as is.
        let message = LitStr::new(&message.replace('{', "{{").replace('}', "}}"), span);
        respan(
            quote! {
                const _: () = if #condition {
                    ::core::panic!(#message)
                };
            },
            span,
        )
    };
    if set.keep.is_none() {
        let spine = path_string(&set.spine);
        checks.push(check(
            set.spine.span(),
            quote!(!#rt::__private::columns_unique(#spine_columns)),
            format!(
                "`{spine}` has a column named `{TIMESTAMP_COLUMN}` besides `{}`, which the \
                 dataset outputs under that name: list the columns to keep in `keep(...)`, \
                 with only one of them",
                set.timestamp
            ),
        ));
    }
    for (i, join) in set.joins.iter().enumerate() {
        let span = join.path.span();
        let path = path_string(&join.path);
        let spec = join_item(set, i, quote!(SPEC));
        let prefix = &join.prefix;
        let suggestion = suggest_prefix(join);
        let join_keys = set.join_keys(join);
        let keys = join_keys.len();
        let (listed, example) = match join.keys {
            Some(_) => (
                format!("its `key` in `features(...)` lists ({keys})"),
                format!("`{path}(key = \"cpf,merchant_id\")`"),
            ),
            None => (
                format!("the dataset's `key` lists ({keys})"),
                format!("`{path}(key = \"cpf,merchant_id\")` in `features(...)`"),
            ),
        };
        checks.push(check(
            span,
            quote!(#rt::__private::key_count(&#spec) > #keys),
            format!(
                "`{path}` has more entity keys than {listed}: name a spine column for each \
                 of its keys, in the order of its `entity`, e.g. {example}"
            ),
        ));
        if join.keys.is_none() {
            for (k, key) in join_keys.iter().enumerate() {
                checks.push(key_name_check(set, i, k, &key.name));
            }
        }
        let what = if prefix.is_empty() {
            format!("an output column of `{path}`")
        } else {
            format!("an output column of `{path}`, prefixed `{prefix}`,")
        };
        let spine_columns_hint = if set.keep.is_some() {
            ", or leave the spine column out of `keep`"
        } else {
            ", or list the spine columns to keep in `keep(...)`"
        };
        checks.push(check(
            span,
            quote!(#rt::__private::collides_with(&#spec, #prefix, #spine_columns)),
            format!(
                "{what} has the name of a spine column of the dataset: {suggestion}\
                 {spine_columns_hint}"
            ),
        ));
        for (j, other) in set.joins.iter().enumerate().take(i) {
            let other_spec = join_item(set, j, quote!(SPEC));
            let other_prefix = &other.prefix;
            let other_path = path_string(&other.path);
            let same = if other_path == path {
                format!("`{path}` joined twice outputs")
            } else {
                format!("`{other_path}` and `{path}` both output")
            };
            checks.push(check(
                span,
                quote! {
                    #rt::__private::outputs_collide(&#other_spec, #other_prefix, &#spec, #prefix)
                },
                format!("{same} a column of the same name: {suggestion}"),
            ));
        }
    }
    checks
}

/// Without a `key` of its own, a join matches the dataset's `key` columns
/// to the feature set's entity keys by name: a feature set of another
/// entity would otherwise be joined on a column holding other keys, and
/// match nothing. The message names the feature set's key, known only to
/// rustc, so it is assembled in const context.
fn key_name_check(set: &Dataset<'_>, i: usize, k: usize, spine_key: &str) -> TokenStream {
    let rt = runtime();
    let join = &set.joins[i];
    let span = join.path.span();
    let path = path_string(&join.path);
    let spec = join_item(set, i, quote!(SPEC));
    let key_name = quote!(#rt::__private::key_name(&#spec, #k));
    let parts: Vec<TokenStream> = if set.keys.len() == 1 {
        vec![
            format!("`{path}` is keyed by `").into_token_stream(),
            key_name.clone(),
            format!(
                "`, but the dataset's `key` joins it on the spine column `{spine_key}`: name \
                 the spine column holding its key, e.g. `{path}(key = "
            )
            .into_token_stream(),
            key_name.clone(),
            ")` in `features(...)`".into_token_stream(),
        ]
    } else {
        vec![
            format!("the entity key number {} of `{path}` is `", k + 1).into_token_stream(),
            key_name.clone(),
            format!(
                "`, but the dataset's `key` joins it on the spine column `{spine_key}`: name \
                 the spine columns holding its keys, in the order of its `entity`, e.g. \
                 `{path}(key = \"cpf,merchant_id\")` in `features(...)`"
            )
            .into_token_stream(),
        ]
    };
    respan(
        quote! {
            const _: () = if #k < #rt::__private::key_count(&#spec)
                && !#rt::__private::str_eq(#key_name, #spine_key)
            {
                ::core::panic!("{}", #rt::__private::ConstMessage::concat(&[#(#parts),*]).as_str())
            };
        },
        span,
    )
}

/// "give the join a prefix: `UserOrders(prefix = "user_orders_")`".
fn suggest_prefix(join: &Join) -> String {
    let path = path_string(&join.path);
    let last = join
        .path
        .segments
        .last()
        .map(|s| snake_case(&s.ident.to_string()))
        .unwrap_or_default();
    if join.prefix.is_empty() {
        format!("give the join a prefix, e.g. `{path}(prefix = \"{last}_\")`")
    } else {
        format!(
            "give the join another prefix than `{}`, e.g. `{path}(prefix = \"{last}_\")`",
            join.prefix
        )
    }
}
