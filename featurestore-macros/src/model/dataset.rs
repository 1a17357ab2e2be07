//! What `#[dataset]` declares: a spine of events, its keys and time, and
//! the feature sets joined onto it.

use featurestore_core::{snake_case, window, Window, TIMESTAMP_COLUMN};
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Ident, ItemStruct, LitStr, Path};

use super::declaration::{check_sql, description, fill, keys, name, unraw, valid_name, Fill, Key};
use crate::attr::{self, DatasetAttr, KeyArg};
use crate::ctxt::Errors;
use crate::symbol::{self, Symbol};

/// What `#[dataset]` declares.
pub struct Dataset<'a> {
    pub item: &'a ItemStruct,
    pub name: String,
    pub description: String,
    /// `description = "..."`, which the generated docs add to the struct's.
    pub description_key: Option<String>,
    pub spine: Path,
    pub keys: Vec<Key>,
    pub timestamp: Ident,
    /// In declaration order; not empty.
    pub joins: Vec<Join>,
    pub fill: Option<Fill>,
    pub filter: Option<String>,
    /// The `filter` literal.
    pub filter_span: Option<Span>,
    pub query: Option<String>,
    /// The spine columns of `keep(...)`, or `None` to keep them all.
    pub keep: Option<Vec<Ident>>,
}

/// A feature set joined onto the spine.
pub struct Join {
    pub path: Path,
    pub ttl: Option<Window>,
    /// Prepended to every joined column name; empty without `prefix`.
    pub prefix: String,
    /// `key = merchant_id`: the spine columns matched, in order, to the
    /// feature set's entity keys; `None` for the dataset's `key`, which must
    /// then name the same columns as the entity.
    pub keys: Option<Vec<Key>>,
}

impl Dataset<'_> {
    /// The spine columns a join matches to its feature set's keys: its own
    /// `key`, or the dataset's.
    pub fn join_keys<'k>(&'k self, join: &'k Join) -> &'k [Key] {
        join.keys.as_deref().unwrap_or(&self.keys)
    }

    /// The output name of a kept spine column: the timestamp column is
    /// output as `timestamp`.
    pub fn output_name(&self, column: &Ident) -> String {
        if column.unraw() == self.timestamp.unraw() {
            TIMESTAMP_COLUMN.to_string()
        } else {
            unraw(column)
        }
    }
}

impl Join {
    /// The name of the join's field in the dataset's row: the feature set
    /// in snake case, after the prefix: `user_orders`, `o_user_orders`.
    pub fn field_name(&self) -> String {
        let last = self
            .path
            .segments
            .last()
            .map(|s| s.ident.unraw().to_string())
            .unwrap_or_default();
        format!("{}{}", self.prefix, snake_case(&last))
    }
}

/// Validates `#[dataset(...)]` on `item`.
pub fn dataset<'a>(
    attr: &DatasetAttr,
    item: &'a ItemStruct,
    errors: &mut Errors,
) -> Option<Dataset<'a>> {
    let missing = |key: Symbol, what: &str, example: &str| {
        attr::args_error(
            &attr.args,
            format!("missing `{key}`: {what}, e.g. `{key} = {example}`"),
        )
    };
    if attr.spine.is_none() && !attr.written.contains(&symbol::SPINE) {
        errors.push(missing(
            symbol::SPINE,
            "the `#[source]` struct whose events are the dataset's rows",
            "OrderEvents",
        ));
    }
    let keys = match &attr.key {
        Some(key) => key_arg(key, errors),
        None if attr.written.contains(&symbol::KEY) => None,
        None => {
            errors.push(missing(
                symbol::KEY,
                "the spine column(s) matched to each feature set's entity keys",
                "cpf",
            ));
            None
        }
    };
    if attr.timestamp.is_none() && !attr.written.contains(&symbol::TIMESTAMP) {
        errors.push(missing(
            symbol::TIMESTAMP,
            "the spine column holding each event's time, which features are taken as of",
            "order_timestamp",
        ));
    }
    let joins = match &attr.features {
        Some(features) if features.joins.is_empty() => {
            errors.spanned(
                &features.keyword,
                "`features` is empty: list the feature sets to join, e.g. \
                 `features(UserOrders, UserChargebacks)`",
            );
            Vec::new()
        }
        Some(features) => features
            .joins
            .iter()
            .map(|join| Join {
                path: join.path.clone(),
                ttl: join.ttl.as_ref().and_then(|lit| {
                    window::parse_duration(&lit.value(), symbol::TTL.0)
                        .map_err(|message| errors.at(lit.span(), message))
                        .ok()
                }),
                prefix: join
                    .prefix
                    .as_ref()
                    .map(|lit| prefix(lit, errors))
                    .unwrap_or_default(),
                keys: join.key.as_ref().and_then(|key| key_arg(key, errors)),
            })
            .collect(),
        None if attr.written.contains(&symbol::FEATURES) => Vec::new(),
        None => {
            errors.push(attr::args_error(
                &attr.args,
                "missing `features`: the feature sets to join onto the spine, e.g. \
                 `features(UserOrders, UserChargebacks)`"
                    .to_string(),
            ));
            Vec::new()
        }
    };
    let keep = attr.keep.as_ref().map(|keep| {
        if keep.columns.is_empty() {
            errors.spanned(
                &keep.keyword,
                "`keep` is empty: list the spine columns to keep (at least the keys), or \
                 remove `keep` to keep them all",
            );
        }
        keep.columns.clone()
    });
    check_sql(attr.filter.as_ref(), attr.query.as_ref(), errors);
    let fill = attr.fill_null.as_ref().and_then(|lit| fill(lit, errors));
    let name = name(attr.name.as_ref(), &item.ident, errors);
    let (description, description_key) = description(attr.description.as_ref(), item);
    if joins.is_empty() {
        return None;
    }
    Some(Dataset {
        item,
        name,
        description,
        description_key,
        spine: attr.spine.clone()?,
        keys: keys?,
        timestamp: attr.timestamp.clone()?,
        joins,
        fill,
        filter: attr.filter.as_ref().map(LitStr::value),
        filter_span: attr.filter.as_ref().map(LitStr::span),
        query: attr.query.as_ref().map(LitStr::value),
        keep,
    })
}

/// `key = cpf` or `key = "cpf,merchant_id"`: spine columns.
fn key_arg(key: &KeyArg, errors: &mut Errors) -> Option<Vec<Key>> {
    match key {
        KeyArg::Column(ident) => Some(vec![Key {
            name: unraw(ident),
            ident: ident.clone(),
        }]),
        KeyArg::List(lit) => keys(lit, symbol::KEY, "spine", errors).map(|(_, keys)| keys),
    }
}

/// `prefix = "o_"`: the start of a column name.
fn prefix(lit: &LitStr, errors: &mut Errors) -> String {
    let value = lit.value();
    if value.is_empty() {
        errors.at(
            lit.span(),
            "`prefix` is empty: remove it, or give the start of every joined column's name, \
             e.g. `prefix = \"o_\"`",
        );
    } else if !valid_name(&value) {
        errors.at(
            lit.span(),
            format!(
                "`prefix = \"{value}\"` cannot start a column name: use ASCII letters, digits \
                 and `_`, not starting with a digit"
            ),
        );
    }
    value
}
