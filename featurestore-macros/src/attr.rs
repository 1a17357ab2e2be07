//! Stage 1: the raw attributes, each value kept with its tokens (for spans).
//! Only the shape of each value is checked here; its meaning is `model.rs`'s.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, ExprLit, ExprUnary, Fields, Ident, Item, ItemStruct, Lit, LitStr, Meta, Path,
    Token, Type, UnOp,
};

use crate::ctxt::Errors;
use crate::symbol::{self, Symbol};

/// The arguments of `#[source(...)]`.
pub struct SourceAttr {
    pub path: Option<LitStr>,
    pub format: Option<LitStr>,
    pub query: Option<LitStr>,
    pub inputs: Option<Inputs>,
    pub name: Option<LitStr>,
    pub description: Option<LitStr>,
    pub on_bad_rows: Option<LitStr>,
    /// Pre-processing steps, in declaration order.
    pub preprocess: Vec<crate::preprocess::RawStep>,
    /// The keys written, valid or not: a key with a bad value is not also
    /// reported missing.
    pub written: Vec<Symbol>,
    /// The whole argument list, to point at when a key is missing.
    pub args: TokenStream,
}

/// `inputs(A, B)`.
pub struct Inputs {
    pub keyword: Path,
    pub paths: Vec<Path>,
}

/// The arguments of `#[feature_set(...)]`.
pub struct FeatureSetAttr {
    pub entity: Option<LitStr>,
    pub window: Option<LitStr>,
    pub slide: Option<LitStr>,
    pub source: Option<Path>,
    pub timestamp: Option<Ident>,
    pub filter: Option<LitStr>,
    pub query: Option<LitStr>,
    pub fill_null: Option<FillLit>,
    pub pivot: Option<PivotAttr>,
    pub distinct: Option<DistinctAttr>,
    pub pre_hooks: Vec<Path>,
    pub post_hooks: Vec<Path>,
    pub name: Option<LitStr>,
    pub description: Option<LitStr>,
    /// The keys written, valid or not: a key with a bad value is not also
    /// reported missing.
    pub written: Vec<Symbol>,
    /// The whole argument list, to point at when a key is missing.
    pub args: TokenStream,
}

/// `distinct(order_id, keep = last)`.
pub struct DistinctAttr {
    pub subset: Vec<Ident>,
    /// `first` or `last`, not checked yet.
    pub keep: Option<Ident>,
}

/// `pivot(method, ["pix", "card"])`.
pub struct PivotAttr {
    pub keyword: Path,
    pub column: Ident,
    pub values: Vec<Lit>,
}

/// The arguments of `#[dataset(...)]`.
pub struct DatasetAttr {
    pub spine: Option<Path>,
    pub key: Option<KeyArg>,
    pub timestamp: Option<Ident>,
    pub features: Option<Features>,
    pub fill_null: Option<FillLit>,
    pub filter: Option<LitStr>,
    pub query: Option<LitStr>,
    pub keep: Option<Keep>,
    pub name: Option<LitStr>,
    pub description: Option<LitStr>,
    /// The keys written, valid or not: a key with a bad value is not also
    /// reported missing.
    pub written: Vec<Symbol>,
    /// The whole argument list, to point at when a key is missing.
    pub args: TokenStream,
}

/// `key = cpf`, or several columns: `key = "cpf,merchant_id"`.
pub enum KeyArg {
    Column(Ident),
    List(LitStr),
}

/// `features(UserOrders, UserChargebacks(ttl = "30d"))`.
pub struct Features {
    pub keyword: Path,
    pub joins: Vec<JoinAttr>,
}

/// One entry of `features(...)`: a feature set and its options.
pub struct JoinAttr {
    pub path: Path,
    pub ttl: Option<LitStr>,
    pub prefix: Option<LitStr>,
}

/// `keep(order_id, cpf)`.
pub struct Keep {
    pub keyword: Path,
    pub columns: Vec<Ident>,
}

/// `fill_null = <literal>`, possibly negative.
pub struct FillLit {
    pub negative: bool,
    pub lit: Lit,
}

/// A named-field struct the macro was put on.
pub struct Container<'a> {
    pub item: &'a ItemStruct,
    pub fields: Vec<Field<'a>>,
}

/// One named field.
pub struct Field<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
    /// The field's doc comment, lines trimmed and joined with `\n`.
    pub doc: String,
    /// `#[feature(...)]`, if the field has one.
    pub feature: Option<FeatureAttr>,
}

/// `#[feature(count(order_id), ..., filter = "...")]`.
pub struct FeatureAttr {
    pub functions: Vec<RawFunction>,
    pub filter: Option<LitStr>,
    pub plain: PlainAttr,
    /// `over = "2m"`: a fixed (time) window of a window function.
    pub over: Option<LitStr>,
    /// `rows = 2`: a row window of a window function.
    pub rows: Option<syn::LitInt>,
}

/// The keys of a plain feature: `column = x`, `sql = "..."`, `function = f`.
#[derive(Default)]
pub struct PlainAttr {
    pub column: Option<Ident>,
    pub sql: Option<LitStr>,
    pub function: Option<Path>,
}

impl PlainAttr {
    pub fn is_empty(&self) -> bool {
        self.column.is_none() && self.sql.is_none() && self.function.is_none()
    }
}

/// `count(order_id)`, `percentile(amount, 0.5)`: the function name and the
/// arguments after the column are not checked yet.
pub struct RawFunction {
    pub name: Ident,
    pub column: Ident,
    /// The arguments after the column.
    pub args: Vec<Expr>,
}

const FEATURE_EXAMPLE: &str = "`#[feature(count(order_id))]`";
const FEATURES_EXAMPLE: &str = "`features(UserOrders, UserChargebacks(ttl = \"30d\"))`";
const KEEP_EXAMPLE: &str = "`keep(order_id, order_timestamp, cpf)`";

impl SourceAttr {
    pub fn parse(args: TokenStream, errors: &mut Errors) -> syn::Result<SourceAttr> {
        let metas = parse_metas(args.clone())?;
        let mut attr = SourceAttr {
            path: None,
            format: None,
            query: None,
            inputs: None,
            name: None,
            description: None,
            on_bad_rows: None,
            preprocess: Vec::new(),
            written: Vec::new(),
            args,
        };
        let mut seen = Seen::default();
        for meta in &metas {
            // Steps may repeat: they run in the order written.
            if crate::preprocess::is_step(meta) {
                attr.preprocess
                    .extend(crate::preprocess::parse_step(meta, errors));
                continue;
            }
            let Some(key) = key_of(meta, "`#[source]`", symbol::SOURCE_KEYS, &mut seen, errors)
            else {
                continue;
            };
            let slot = match key {
                symbol::PATH => &mut attr.path,
                symbol::FORMAT => &mut attr.format,
                symbol::QUERY => &mut attr.query,
                symbol::NAME => &mut attr.name,
                symbol::DESCRIPTION => &mut attr.description,
                symbol::ON_BAD_ROWS => &mut attr.on_bad_rows,
                _ => {
                    attr.inputs = inputs(meta, errors);
                    continue;
                }
            };
            *slot = lit_str(meta, key, errors);
        }
        attr.written = seen.written();
        Ok(attr)
    }
}

impl FeatureSetAttr {
    pub fn parse(args: TokenStream, errors: &mut Errors) -> syn::Result<FeatureSetAttr> {
        let metas = parse_metas(args.clone())?;
        let mut attr = FeatureSetAttr {
            entity: None,
            window: None,
            slide: None,
            source: None,
            timestamp: None,
            filter: None,
            query: None,
            fill_null: None,
            pivot: None,
            distinct: None,
            pre_hooks: Vec::new(),
            post_hooks: Vec::new(),
            name: None,
            description: None,
            written: Vec::new(),
            args,
        };
        let mut seen = Seen::default();
        for meta in &metas {
            let Some(key) = key_of(
                meta,
                "`#[feature_set]`",
                symbol::FEATURE_SET_KEYS,
                &mut seen,
                errors,
            ) else {
                continue;
            };
            let slot = match key {
                symbol::ENTITY => &mut attr.entity,
                symbol::WINDOW => &mut attr.window,
                symbol::SLIDE => &mut attr.slide,
                symbol::FILTER => &mut attr.filter,
                symbol::QUERY => &mut attr.query,
                symbol::NAME => &mut attr.name,
                symbol::DESCRIPTION => &mut attr.description,
                symbol::SOURCE => {
                    attr.source = type_path(meta, key, errors);
                    continue;
                }
                symbol::TIMESTAMP => {
                    attr.timestamp = column_ident(meta, key, errors);
                    continue;
                }
                symbol::PIVOT => {
                    attr.pivot = pivot(meta, errors);
                    continue;
                }
                symbol::DISTINCT => {
                    attr.distinct = distinct(meta, errors);
                    continue;
                }
                symbol::PRE_HOOKS => {
                    attr.pre_hooks = hooks(meta, key, errors);
                    continue;
                }
                symbol::POST_HOOKS => {
                    attr.post_hooks = hooks(meta, key, errors);
                    continue;
                }
                _ => {
                    attr.fill_null = fill_lit(meta, errors);
                    continue;
                }
            };
            *slot = lit_str(meta, key, errors);
        }
        attr.written = seen.written();
        Ok(attr)
    }
}

/// `pre_hooks(dedup, crate::hooks::clean)`: paths of functions.
fn hooks(meta: &Meta, key: Symbol, errors: &mut Errors) -> Vec<Path> {
    let example = format!("`{key}(drop_test_users, crate::hooks::clean)`");
    let Meta::List(list) = meta else {
        errors.spanned(
            meta,
            format!(
                "`{key}` lists functions `fn(LazyFrame) -> PolarsResult<LazyFrame>`: {example}"
            ),
        );
        return Vec::new();
    };
    match list.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated) {
        Ok(paths) => {
            if paths.is_empty() {
                errors.spanned(
                    &list.path,
                    format!("`{key}` is empty: list functions, as in {example}, or remove it"),
                );
            }
            paths.into_iter().collect()
        }
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected paths of functions, as in {example}"),
            ));
            Vec::new()
        }
    }
}

/// `distinct(order_id, keep = last)`.
fn distinct(meta: &Meta, errors: &mut Errors) -> Option<DistinctAttr> {
    let example = "`distinct(order_id, keep = last)`";
    let Meta::List(list) = meta else {
        errors.spanned(
            meta,
            format!("`distinct` lists the columns that make events duplicates: {example}"),
        );
        return None;
    };
    let metas = match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
        Ok(metas) => metas,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected columns, then optionally `keep`, as in {example}"),
            ));
            return None;
        }
    };
    let mut attr = DistinctAttr {
        subset: Vec::new(),
        keep: None,
    };
    for meta in metas {
        match &meta {
            Meta::Path(p) if p.get_ident().is_some() => {
                attr.subset.extend(p.get_ident().cloned());
            }
            Meta::NameValue(nv) if nv.path == symbol::KEEP => match &nv.value {
                Expr::Path(p) if p.path.get_ident().is_some() => {
                    attr.keep = p.path.get_ident().cloned();
                }
                other => errors.spanned(
                    other,
                    "`keep` is `first` or `last`, without quotes: `keep = last`",
                ),
            },
            other => errors.spanned(
                other,
                format!("expected a column of the source or `keep = first|last`, as in {example}"),
            ),
        }
    }
    if attr.subset.is_empty() {
        errors.spanned(
            &list.path,
            format!("`distinct` needs at least one column, as in {example}"),
        );
    }
    Some(attr)
}

/// `pivot(method, ["pix", "card"])`.
fn pivot(meta: &Meta, errors: &mut Errors) -> Option<PivotAttr> {
    let example = "`pivot(method, [\"pix\", \"card\"])`";
    let Meta::List(list) = meta else {
        errors.spanned(
            meta,
            format!("`pivot` takes a column and its values: {example}"),
        );
        return None;
    };
    let args = match list.parse_args_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
        Ok(args) => args,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected a column and its values, as in {example}"),
            ));
            return None;
        }
    };
    let mut args = args.into_iter();
    let column = match args.next() {
        Some(Expr::Path(p)) if p.qself.is_none() && p.path.get_ident().is_some() => {
            p.path.get_ident().cloned()
        }
        Some(other) => {
            errors.spanned(
                &other,
                format!("the first argument of `pivot` is a column of the source, as in {example}"),
            );
            None
        }
        None => {
            errors.spanned(
                &list.path,
                format!("`pivot` needs a column and its values: {example}"),
            );
            return None;
        }
    };
    let values = match args.next() {
        Some(Expr::Array(array)) => {
            let mut values = Vec::new();
            for element in &array.elems {
                match element {
                    Expr::Lit(ExprLit {
                        lit: lit @ (Lit::Str(_) | Lit::Int(_) | Lit::Bool(_)),
                        ..
                    }) => values.push(lit.clone()),
                    other => errors.spanned(
                        other,
                        "a pivot value is a string, integer or boolean literal",
                    ),
                }
            }
            if array.elems.is_empty() {
                errors.spanned(
                    &array,
                    format!("`pivot` needs at least one value, as in {example}"),
                );
            }
            values
        }
        Some(other) => {
            errors.spanned(
                &other,
                format!(
                    "the values of `pivot` are a list of literals in brackets, as in {example}"
                ),
            );
            return None;
        }
        None => {
            errors.spanned(
                &list.path,
                format!("`pivot` needs the values to pivot on after the column: {example}"),
            );
            return None;
        }
    };
    if let Some(extra) = args.next() {
        errors.spanned(
            &extra,
            format!("`pivot` takes a column and one list of values, as in {example}"),
        );
    }
    Some(PivotAttr {
        keyword: list.path.clone(),
        column: column?,
        values,
    })
}

impl DatasetAttr {
    pub fn parse(args: TokenStream, errors: &mut Errors) -> syn::Result<DatasetAttr> {
        let metas = parse_metas(args.clone())?;
        let mut attr = DatasetAttr {
            spine: None,
            key: None,
            timestamp: None,
            features: None,
            fill_null: None,
            filter: None,
            query: None,
            keep: None,
            name: None,
            description: None,
            written: Vec::new(),
            args,
        };
        let mut seen = Seen::default();
        for meta in &metas {
            let Some(key) = key_of(
                meta,
                "`#[dataset]`",
                symbol::DATASET_KEYS,
                &mut seen,
                errors,
            ) else {
                continue;
            };
            let slot = match key {
                symbol::FILTER => &mut attr.filter,
                symbol::QUERY => &mut attr.query,
                symbol::NAME => &mut attr.name,
                symbol::DESCRIPTION => &mut attr.description,
                symbol::SPINE => {
                    attr.spine = type_path(meta, key, errors);
                    continue;
                }
                symbol::KEY => {
                    attr.key = key_arg(meta, errors);
                    continue;
                }
                symbol::TIMESTAMP => {
                    attr.timestamp = column_ident(meta, key, errors);
                    continue;
                }
                symbol::FEATURES => {
                    attr.features = features(meta, errors);
                    continue;
                }
                symbol::KEEP => {
                    attr.keep = keep(meta, errors);
                    continue;
                }
                _ => {
                    attr.fill_null = fill_lit(meta, errors);
                    continue;
                }
            };
            *slot = lit_str(meta, key, errors);
        }
        attr.written = seen.written();
        Ok(attr)
    }
}

pub(crate) fn parse_metas(args: TokenStream) -> syn::Result<Punctuated<Meta, Token![,]>> {
    Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)
}

/// Keys seen so far, to report duplicates, and the keys that unknown keys
/// look like misspellings of.
#[derive(Default)]
pub(crate) struct Seen(Vec<Symbol>, Vec<Symbol>);

impl Seen {
    /// The keys written, valid or not (a misspelled key counts as the one
    /// it looks like): none of them is also reported missing.
    pub(crate) fn written(self) -> Vec<Symbol> {
        let Seen(mut keys, misspelled) = self;
        keys.extend(misspelled);
        keys
    }
}

/// The known key `meta` sets, or `None` (with an error) for an unknown or
/// repeated key. `context` is where the key is, for messages: `` `#[source]` ``.
pub(crate) fn key_of(
    meta: &Meta,
    context: &str,
    keys: &[Symbol],
    seen: &mut Seen,
    errors: &mut Errors,
) -> Option<Symbol> {
    let path = meta.path();
    let Some(key) = keys.iter().copied().find(|k| path == k) else {
        let written = path_string(path);
        let suggestion = did_you_mean(&written, keys);
        seen.1.extend(suggestion);
        let hint = suggestion
            .map(|k| format!("did you mean `{k}`? "))
            .unwrap_or_default();
        errors.spanned(
            path,
            format!(
                "unknown key `{written}` in {context}: {hint}the keys are {}",
                symbol::list(keys)
            ),
        );
        return None;
    };
    if seen.0.contains(&key) {
        errors.spanned(path, format!("duplicate `{key}`: set it once"));
        return None;
    }
    seen.0.push(key);
    Some(key)
}

/// The value of `key = value`, or an error saying what form is expected.
fn value<'m>(meta: &'m Meta, key: Symbol, example: &str, errors: &mut Errors) -> Option<&'m Expr> {
    match meta {
        Meta::NameValue(nv) => Some(&nv.value),
        _ => {
            errors.spanned(meta, format!("expected `{key} = {example}`"));
            None
        }
    }
}

pub(crate) fn lit_str(meta: &Meta, key: Symbol, errors: &mut Errors) -> Option<LitStr> {
    let example = "\"...\"";
    match value(meta, key, example, errors)? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.clone()),
        other => {
            errors.spanned(
                other,
                format!("`{key}` takes a string literal: `{key} = {example}`"),
            );
            None
        }
    }
}

fn type_path(meta: &Meta, key: Symbol, errors: &mut Errors) -> Option<Path> {
    match value(meta, key, "OrderEvents", errors)? {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() && plain_path(&p.path) => {
            Some(p.path.clone())
        }
        other => {
            errors.spanned(
                other,
                format!(
                    "`{key}` takes the path of a `#[source]` struct, e.g. `{key} = OrderEvents`"
                ),
            );
            None
        }
    }
}

fn column_ident(meta: &Meta, key: Symbol, errors: &mut Errors) -> Option<Ident> {
    let example = "order_timestamp";
    match value(meta, key, example, errors)? {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => {
            if let Some(ident) = p.path.get_ident() {
                return Some(ident.clone());
            }
            errors.spanned(
                p,
                format!("`{key}` takes a column name of the source, e.g. `{key} = {example}`"),
            );
            None
        }
        other => {
            errors.spanned(
                other,
                format!(
                    "`{key}` takes a column name of the source, without quotes: `{key} = {example}`"
                ),
            );
            None
        }
    }
}

fn fill_lit(meta: &Meta, errors: &mut Errors) -> Option<FillLit> {
    let key = symbol::FILL_NULL;
    let expr = value(meta, key, "0", errors)?;
    let (negative, lit) = match expr {
        Expr::Lit(ExprLit { lit, .. }) => (false, Some(lit)),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr: operand,
            ..
        }) => match &**operand {
            Expr::Lit(ExprLit {
                lit: lit @ (Lit::Int(_) | Lit::Float(_)),
                ..
            }) => (true, Some(lit)),
            _ => (true, None),
        },
        _ => (false, None),
    };
    match lit {
        Some(lit @ (Lit::Int(_) | Lit::Float(_) | Lit::Bool(_) | Lit::Str(_))) => Some(FillLit {
            negative,
            lit: lit.clone(),
        }),
        _ => {
            errors.spanned(
                expr,
                "`fill_null` takes an integer, float, boolean or string literal, e.g. `fill_null = 0`",
            );
            None
        }
    }
}

fn key_arg(meta: &Meta, errors: &mut Errors) -> Option<KeyArg> {
    let key = symbol::KEY;
    let message = "`key` takes a column of the spine, `key = cpf`, or several in a string, \
                   `key = \"cpf,merchant_id\"`";
    match value(meta, key, "cpf", errors)? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(KeyArg::List(s.clone())),
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => match p.path.get_ident() {
            Some(ident) => Some(KeyArg::Column(ident.clone())),
            None => {
                errors.spanned(p, message);
                None
            }
        },
        other => {
            errors.spanned(other, message);
            None
        }
    }
}

fn features(meta: &Meta, errors: &mut Errors) -> Option<Features> {
    let Meta::List(list) = meta else {
        errors.spanned(
            meta,
            format!("`features` lists the feature sets to join: {FEATURES_EXAMPLE}"),
        );
        return None;
    };
    let metas = match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
        Ok(metas) => metas,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected feature sets, as in {FEATURES_EXAMPLE}"),
            ));
            return None;
        }
    };
    let mut joins = Vec::new();
    for meta in metas {
        let (path, options) = match meta {
            Meta::Path(path) => (path, None),
            Meta::List(options) => (options.path.clone(), Some(options)),
            Meta::NameValue(nv) => {
                errors.spanned(
                    &nv,
                    format!(
                        "expected a feature set, as in {FEATURES_EXAMPLE}: options go in \
                         parentheses after it"
                    ),
                );
                continue;
            }
        };
        let mut join = JoinAttr {
            path,
            ttl: None,
            prefix: None,
        };
        if let Some(options) = options {
            join_options(&options, &mut join, errors);
        }
        joins.push(join);
    }
    Some(Features {
        keyword: list.path.clone(),
        joins,
    })
}

/// `ttl = "30d", prefix = "o_"` in `UserOrders(...)`.
fn join_options(list: &syn::MetaList, join: &mut JoinAttr, errors: &mut Errors) {
    let name = path_string(&join.path);
    let example = format!("`{name}(ttl = \"30d\", prefix = \"o_\")`");
    let options = match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
        Ok(options) => options,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected options of the join, as in {example}"),
            ));
            return;
        }
    };
    let context = format!("`{name}(...)`");
    let mut seen = Seen::default();
    for option in &options {
        let Some(key) = key_of(option, &context, symbol::JOIN_KEYS, &mut seen, errors) else {
            continue;
        };
        let value = lit_str(option, key, errors);
        match key {
            symbol::TTL => join.ttl = value,
            _ => join.prefix = value,
        }
    }
}

fn keep(meta: &Meta, errors: &mut Errors) -> Option<Keep> {
    let Meta::List(list) = meta else {
        errors.spanned(
            meta,
            format!("`keep` lists the spine columns to keep, in output order: {KEEP_EXAMPLE}"),
        );
        return None;
    };
    match list.parse_args_with(Punctuated::<Ident, Token![,]>::parse_terminated) {
        Ok(columns) => Some(Keep {
            keyword: list.path.clone(),
            columns: columns.into_iter().collect(),
        }),
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected column names of the spine, as in {KEEP_EXAMPLE}"),
            ));
            None
        }
    }
}

fn inputs(meta: &Meta, errors: &mut Errors) -> Option<Inputs> {
    let example = "`inputs(OrderEvents, Users)`";
    let Meta::List(list) = meta else {
        errors.spanned(
            meta,
            format!("`inputs` lists the sources the query reads: {example}"),
        );
        return None;
    };
    match list.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated) {
        Ok(paths) => {
            let mut ok = Vec::new();
            for path in paths {
                if plain_path(&path) {
                    ok.push(path);
                } else {
                    errors.spanned(
                        &path,
                        format!("expected the path of a `#[source]` struct, as in {example}"),
                    );
                }
            }
            Some(Inputs {
                keyword: list.path.clone(),
                paths: ok,
            })
        }
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected paths of `#[source]` structs, as in {example}"),
            ));
            None
        }
    }
}

/// A path without generic arguments: `OrderEvents`, `crate::sources::Users`.
fn plain_path(path: &Path) -> bool {
    path.segments
        .iter()
        .all(|s| matches!(s.arguments, syn::PathArguments::None))
}

/// The path as written, without spaces: `crate::sources::Users`.
pub fn path_string(path: &Path) -> String {
    let mut out = String::new();
    if path.leading_colon.is_some() {
        out.push_str("::");
    }
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    out.push_str(&segments.join("::"));
    out
}

/// The closest known word to a misspelled one, if any is close.
pub fn did_you_mean<K: Copy + Into<&'static str>>(written: &str, known: &[K]) -> Option<K> {
    known
        .iter()
        .copied()
        .map(|k| (edit_distance(written, k.into()), k))
        .filter(|(d, k)| *d <= 2 || (written.len() >= 3 && (*k).into().starts_with(written)))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The struct the macro is on, or an error saying what it is instead:
/// `` "{expected}, not an enum{enum_hint}" ``.
fn struct_of<'a>(
    item: &'a Item,
    macro_name: &str,
    expected: &str,
    enum_hint: &str,
    errors: &mut Errors,
) -> Option<&'a ItemStruct> {
    let item = match item {
        Item::Struct(item) => item,
        Item::Enum(e) => {
            let (keyword, ident) = (&e.enum_token, &e.ident);
            errors.spanned(
                quote!(#keyword #ident),
                format!("{expected}, not an enum{enum_hint}"),
            );
            return None;
        }
        Item::Union(u) => {
            let (keyword, ident) = (&u.union_token, &u.ident);
            errors.spanned(quote!(#keyword #ident), format!("{expected}, not a union"));
            return None;
        }
        Item::Fn(f) => {
            let (keyword, ident) = (&f.sig.fn_token, &f.sig.ident);
            errors.spanned(
                quote!(#keyword #ident),
                format!("{expected}, not a function"),
            );
            return None;
        }
        other => {
            errors.at(other.span(), expected);
            return None;
        }
    };
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        errors.spanned(
            &item.generics,
            format!("`#[{macro_name}]` does not support generic structs"),
        );
    }
    Some(item)
}

/// The struct the macro is on, if it is one with named fields.
pub fn container<'a>(
    item: &'a Item,
    macro_name: &str,
    what: &str,
    errors: &mut Errors,
) -> Option<Container<'a>> {
    let item = struct_of(
        item,
        macro_name,
        &format!("`#[{macro_name}]` goes on a struct with named fields"),
        &format!(": each field is {what}"),
        errors,
    )?;
    let named = match &item.fields {
        Fields::Named(named) => named,
        Fields::Unnamed(fields) => {
            errors.spanned(
                fields,
                format!(
                    "`#[{macro_name}]` needs named fields, not a tuple struct: each field is {what}"
                ),
            );
            return None;
        }
        Fields::Unit => {
            errors.at(
                item.ident.span(),
                format!("`#[{macro_name}]` needs a struct with named fields: each field is {what}"),
            );
            return None;
        }
    };
    if named.named.is_empty() {
        errors.at(
            item.ident.span(),
            format!("`{}` has no fields: each field is {what}", item.ident),
        );
    }
    let fields = named
        .named
        .iter()
        .filter_map(|field| {
            Some(Field {
                ident: field.ident.as_ref()?,
                ty: &field.ty,
                doc: docs(&field.attrs),
                feature: None,
            })
        })
        .collect();
    Some(Container { item, fields })
}

/// The struct `#[dataset]` is on: a unit struct, or one without fields.
pub fn unit_struct<'a>(item: &'a Item, errors: &mut Errors) -> Option<&'a ItemStruct> {
    let why = ": its columns come from the spine and the joined feature sets";
    let item = struct_of(
        item,
        "dataset",
        "`#[dataset]` goes on a unit struct",
        why,
        errors,
    )?;
    if !item.fields.is_empty() {
        errors.spanned(
            &item.fields,
            format!(
                "`#[dataset]` goes on a unit struct, e.g. `pub struct {};`{why}, not from fields",
                item.ident
            ),
        );
    }
    Some(item)
}

impl Container<'_> {
    /// Reads the `#[feature(...)]` attribute of every field.
    pub fn parse_features(&mut self, errors: &mut Errors) {
        let Fields::Named(named) = &self.item.fields else {
            return;
        };
        for (field, syn_field) in self.fields.iter_mut().zip(&named.named) {
            for attr in syn_field.attrs.iter().filter(|a| is_feature(a)) {
                let parsed = feature_attr(attr, errors);
                if field.feature.is_some() {
                    errors.spanned(
                        attr,
                        "duplicate `#[feature]`: list every aggregation in one, \
                         e.g. `#[feature(avg(amount), max(amount))]`",
                    );
                } else {
                    field.feature = Some(parsed);
                }
            }
        }
    }
}

/// Whether `attr` is `#[feature(...)]`.
pub fn is_feature(attr: &Attribute) -> bool {
    attr.path() == symbol::FEATURE
}

fn feature_attr(attr: &Attribute, errors: &mut Errors) -> FeatureAttr {
    let mut functions = Vec::new();
    let Meta::List(list) = &attr.meta else {
        errors.spanned(
            attr,
            format!("`#[feature]` lists the feature's aggregations, e.g. {FEATURE_EXAMPLE}"),
        );
        return FeatureAttr {
            functions,
            filter: None,
            plain: PlainAttr::default(),
            over: None,
            rows: None,
        };
    };
    let metas = match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
        Ok(metas) => metas,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected aggregations such as {FEATURE_EXAMPLE}: {e}"),
            ));
            return FeatureAttr {
                functions,
                filter: None,
                plain: PlainAttr::default(),
                over: None,
                rows: None,
            };
        }
    };
    let mut filter = None;
    let mut plain = PlainAttr::default();
    let mut over = None;
    let mut rows = None;
    if metas.is_empty() {
        errors.spanned(
            attr,
            format!("`#[feature]` needs at least one aggregation, e.g. {FEATURE_EXAMPLE}"),
        );
    }
    for meta in metas {
        if let Meta::NameValue(nv) = &meta {
            let duplicate = |errors: &mut Errors, set: bool| {
                if set {
                    errors.spanned(
                        &nv.path,
                        format!("duplicate `{}`: set it once", path_string(&nv.path)),
                    );
                }
            };
            if nv.path == symbol::FILTER {
                duplicate(errors, filter.is_some());
                filter = lit_str(&meta, symbol::FILTER, errors);
            } else if nv.path == symbol::OVER {
                duplicate(errors, over.is_some());
                over = lit_str(&meta, symbol::OVER, errors);
            } else if nv.path == symbol::ROWS {
                duplicate(errors, rows.is_some());
                match &nv.value {
                    Expr::Lit(ExprLit {
                        lit: Lit::Int(n), ..
                    }) => rows = Some(n.clone()),
                    other => errors.spanned(
                        other,
                        "`rows` takes the number of events of a row window, e.g. `rows = 2`",
                    ),
                }
            } else if nv.path == symbol::SQL {
                duplicate(errors, plain.sql.is_some());
                plain.sql = lit_str(&meta, symbol::SQL, errors);
            } else if nv.path == symbol::COLUMN {
                duplicate(errors, plain.column.is_some());
                plain.column = column_ident(&meta, symbol::COLUMN, errors);
            } else if nv.path == symbol::FUNCTION {
                duplicate(errors, plain.function.is_some());
                match &nv.value {
                    Expr::Path(p) if p.qself.is_none() && plain_path(&p.path) => {
                        plain.function = Some(p.path.clone());
                    }
                    other => errors.spanned(
                        other,
                        "`function` takes the path of a function `fn(Expr) -> Expr`, e.g. \
                         `function = crate::features::normalize`",
                    ),
                }
            } else {
                errors.spanned(
                    &nv.path,
                    format!(
                        "unknown option `{}` in `#[feature]`: the options are `filter = \"...\"` \
                         (after aggregations), for a plain feature `column = x`, \
                         `sql = \"...\"` or `function = path, column = x`, and for window \
                         functions `over = \"2m\"` or `rows = 2`",
                        path_string(&nv.path)
                    ),
                );
            }
            continue;
        }
        let Some(name) = meta.path().get_ident().cloned() else {
            errors.spanned(
                meta.path(),
                format!(
                    "expected an aggregation such as `count(order_id)`, as in {FEATURE_EXAMPLE}"
                ),
            );
            continue;
        };
        let Meta::List(call) = meta else {
            errors.spanned(
                &meta,
                format!("`{name}` needs a column of the source, e.g. `{name}(order_id)`"),
            );
            continue;
        };
        let args = match Punctuated::<Expr, Token![,]>::parse_terminated.parse2(call.tokens.clone())
        {
            Ok(args) => args,
            Err(e) => {
                errors.push(syn::Error::new(
                    e.span(),
                    format!(
                        "`{name}` takes one column name of the source, e.g. `{name}(order_id)`"
                    ),
                ));
                continue;
            }
        };
        let mut args = args.into_iter();
        let Some(first) = args.next() else {
            errors.at(
                call.delimiter.span().join(),
                format!("`{name}` needs a column of the source, e.g. `{name}(order_id)`"),
            );
            continue;
        };
        let column = match &first {
            Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => p.path.get_ident().cloned(),
            _ => None,
        };
        let Some(column) = column else {
            errors.spanned(
                &first,
                format!(
                    "`{name}` takes a column name of the source first, e.g. `{name}(order_id)`"
                ),
            );
            continue;
        };
        functions.push(RawFunction {
            name,
            column,
            args: args.collect(),
        });
    }
    FeatureAttr {
        functions,
        filter,
        plain,
        over,
        rows,
    }
}

/// A doc comment: the `#[doc = "..."]` lines, trimmed and joined with `\n`,
/// without leading or trailing blank lines.
pub fn docs(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if attr.path() != symbol::DOC {
            continue;
        }
        if let Meta::NameValue(nv) = &attr.meta {
            if let Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
            {
                lines.extend(s.value().lines().map(|l| l.trim().to_string()));
            }
        }
    }
    let start = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |i| i + 1);
    lines[start..end].join("\n")
}

/// The span of the attribute's arguments, for "missing key" errors.
pub fn args_error(args: &TokenStream, message: String) -> syn::Error {
    if args.is_empty() {
        syn::Error::new(Span::call_site(), message)
    } else {
        syn::Error::new_spanned(args, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let keys = symbol::FEATURE_SET_KEYS;
        assert_eq!(did_you_mean("windows", keys), Some(symbol::WINDOW));
        assert_eq!(did_you_mean("entiy", keys), Some(symbol::ENTITY));
        assert_eq!(did_you_mean("fill", keys), Some(symbol::FILL_NULL));
        assert_eq!(did_you_mean("zzzzzzzz", keys), None);
        assert_eq!(
            did_you_mean("stddev", &featurestore_core::Aggregation::NAMES),
            Some("stddev_pop")
        );
    }

    #[test]
    fn doc_lines_are_trimmed() {
        let item: ItemStruct = syn::parse_quote! {
            ///
            /// First line.
            ///   Second line.
            ///
            struct S;
        };
        assert_eq!(docs(&item.attrs), "First line.\nSecond line.");
    }
}
