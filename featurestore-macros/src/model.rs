//! Stage 2: the validated model of a declaration. Every value here has been
//! checked on its own; checks between values are `check.rs`'s.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Ident, ItemStruct, Lit, LitStr, Path, Type};

use crate::attr::{self, Container, DatasetAttr, FeatureSetAttr, FillLit, KeyArg, SourceAttr};
use crate::ctxt::Errors;
use crate::derived;
use crate::keys;
use crate::sql;
use crate::symbol::{self, Symbol};
use featurestore_core::window::{self, Window};
use featurestore_core::{
    frame_output_name, is_plain, is_row_level, output_name, snake_case, Accepts, Aggregation,
    Format, Frame, Keep, OnBadRows, Percentage, TIMESTAMP_COLUMN,
};

/// What `#[source]` declares.
pub struct Source<'a> {
    pub item: &'a ItemStruct,
    pub name: String,
    pub description: String,
    /// `description = "..."`, which the generated docs add to the struct's.
    pub description_key: Option<String>,
    pub kind: SourceKind,
    /// The fields: the columns as read.
    pub columns: Vec<Column<'a>>,
    pub on_bad_rows: OnBadRows,
    /// Pre-processing steps, if any, and the columns after them.
    pub preprocess: Option<crate::preprocess::Preprocessing>,
}

pub enum SourceKind {
    File { path: String, format: Format },
    Query { sql: String, inputs: Vec<Path> },
}

/// A field of a source: one column.
pub struct Column<'a> {
    pub ident: &'a Ident,
    /// The column name: the field name without `r#`.
    pub name: String,
    pub ty: &'a Type,
    pub description: String,
    /// `#[column(epoch = "...")]` or `#[column(format = "...")]`: times
    /// written as integers or text, read as timestamps.
    pub time: Option<keys::TimeEncoding>,
    /// `#[column(h3(...))]` or `#[column(stack(...))]`: computed, not read.
    pub derived: Option<derived::Derived>,
    /// The `h3`/`stack` keyword.
    pub derived_span: Option<Span>,
}

/// What `#[feature_set]` declares.
pub struct FeatureSet<'a> {
    pub item: &'a ItemStruct,
    pub name: String,
    pub description: String,
    /// `description = "..."`, which the generated docs add to the struct's.
    pub description_key: Option<String>,
    pub keys: Vec<Key>,
    /// The `entity = "..."` literal.
    pub entity_span: Span,
    pub source: Path,
    pub timestamp: Ident,
    pub filter: Option<String>,
    pub query: Option<String>,
    pub windows: Vec<Window>,
    /// `slide = "1h"`; `None` slides daily.
    pub slide: Option<Window>,
    pub fill: Option<Fill>,
    pub features: Vec<Feature<'a>>,
    pub pivot: Option<Pivot>,
    pub distinct: Option<Distinct>,
    /// Functions on the events, then on the rows, in declaration order.
    pub pre_hooks: Vec<Path>,
    pub post_hooks: Vec<Path>,
}

/// `distinct(order_id, keep = last)`.
pub struct Distinct {
    pub subset: Vec<Ident>,
    pub keep: Keep,
}

/// `pivot(method, ["pix", "card"])`.
pub struct Pivot {
    pub column: Ident,
    pub values: Vec<PivotValue>,
}

/// One value of a pivot.
pub struct PivotValue {
    pub value: PivotLit,
    /// The value as its columns' names start: `pix` for `"pix"`.
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PivotLit {
    Int(i64),
    Bool(bool),
    Str(String),
}

/// A key column of a feature set or a dataset, a column of its source.
pub struct Key {
    pub name: String,
    /// The name as a Rust identifier, spanned at the token that named it
    /// (the `entity` or `key` literal, or the `key = cpf` identifier).
    pub ident: Ident,
}

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
}

impl Dataset<'_> {
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

/// `fill_null = ...`.
pub struct Fill {
    pub value: FillValue,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FillValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

/// A field of a feature set: one feature.
pub struct Feature<'a> {
    pub ident: &'a Ident,
    /// The field name without `r#`: the prefix of its output columns.
    pub name: String,
    pub ty: &'a Type,
    pub description: String,
    /// In declaration order; empty only if all were invalid.
    pub functions: Vec<Function>,
    /// `filter = "..."`: the rows whose values the feature aggregates.
    pub filter: Option<String>,
    /// How a plain feature computes its value; `None` if it aggregates.
    pub plain: Option<Plain>,
    /// `over = "2m"` or `rows = 2`: the functions are window functions.
    pub frame: Option<Frame>,
    /// Whether `over` or `rows` is written, valid or not.
    pub declares_frame: bool,
}

impl Feature<'_> {
    /// Whether the feature has a value per event: a plain value, window
    /// functions, or `lag`/`lead`.
    pub fn is_row_level(&self) -> bool {
        is_row_level(
            self.plain.is_some(),
            self.declares_frame,
            self.functions.iter().map(|f| f.aggregation),
        )
    }
}

/// A plain feature: a value of each event's row.
pub enum Plain {
    /// `column = amount`: the column, renamed and cast.
    Column(Ident),
    /// `sql = "amount * 2"`.
    Sql { sql: String, span: Span },
    /// `function = path, column = amount`: `path(col("amount"))`.
    Function { path: Path, column: Ident },
}

impl Plain {
    /// The token the feature's value comes from.
    pub fn span(&self) -> Span {
        match self {
            Plain::Column(c) => c.span(),
            Plain::Sql { span, .. } => *span,
            Plain::Function { path, .. } => syn::spanned::Spanned::span(path),
        }
    }
}

impl Feature<'_> {
    /// The source column the feature aggregates (that of its first function).
    pub fn column(&self) -> Option<&Ident> {
        self.functions.first().map(|f| &f.column)
    }
}

/// `count(order_id)`.
pub struct Function {
    pub aggregation: Aggregation,
    /// The function name, e.g. `count`.
    pub span: Span,
    /// The source column.
    pub column: Ident,
}

impl Function {
    pub fn column_name(&self) -> String {
        self.column.unraw().to_string()
    }
}

/// The `__private` function asserting that a column's type is one the
/// function accepts.
pub fn assertion(accepts: Accepts) -> &'static str {
    match accepts {
        Accepts::Countable => "assert_countable",
        Accepts::Numeric => "assert_numeric",
        Accepts::Ordered => "assert_ordered",
    }
}

/// One output column: a feature × one of its functions × one window.
pub struct Output {
    pub name: String,
    /// Index into [`FeatureSet::features`].
    pub feature: usize,
    /// Index into the feature's functions.
    pub function: usize,
    pub window: Option<Window>,
    /// Index into the pivot's values.
    pub pivot: Option<usize>,
}

impl FeatureSet<'_> {
    /// Whether the feature set is plain: one row per event.
    pub fn is_plain(&self) -> bool {
        is_plain(self.features.iter().map(Feature::is_row_level))
    }

    /// Output columns: (pivot values ×) features × functions × windows, in
    /// declaration order; a plain feature set's are its features.
    pub fn outputs(&self) -> Vec<Output> {
        if self.is_plain() {
            let mut outputs = Vec::new();
            for (f, feature) in self.features.iter().enumerate() {
                for (g, function) in feature.functions.iter().enumerate() {
                    let name = match (&feature.plain, feature.frame) {
                        (Some(_), _) => feature.name.clone(),
                        (None, Some(frame)) => {
                            frame_output_name(&feature.name, function.aggregation, frame)
                        }
                        (None, None) => {
                            format!("{}__{}", feature.name, function.aggregation.label())
                        }
                    };
                    outputs.push(Output {
                        name,
                        feature: f,
                        function: g,
                        window: None,
                        pivot: None,
                    });
                }
            }
            return outputs;
        }
        let windows: Vec<Option<Window>> = if self.windows.is_empty() {
            vec![None]
        } else {
            self.windows.iter().copied().map(Some).collect()
        };
        let pivots: Vec<Option<usize>> = match &self.pivot {
            Some(pivot) => (0..pivot.values.len()).map(Some).collect(),
            None => vec![None],
        };
        let mut outputs = Vec::new();
        for pivot in pivots {
            let prefix = match (pivot, &self.pivot) {
                (Some(i), Some(p)) => format!("{}_", p.values[i].text),
                _ => String::new(),
            };
            for (f, feature) in self.features.iter().enumerate() {
                for (g, function) in feature.functions.iter().enumerate() {
                    for window in &windows {
                        let name = output_name(&feature.name, function.aggregation, *window);
                        outputs.push(Output {
                            name: format!("{prefix}{name}"),
                            feature: f,
                            function: g,
                            window: *window,
                            pivot,
                        });
                    }
                }
            }
        }
        outputs
    }
}

/// `name` as a Rust identifier (raw if it is a keyword), or `None` if it
/// cannot be one.
pub fn ident(name: &str, span: Span) -> Option<Ident> {
    let mut ident = syn::parse_str::<Ident>(name)
        .or_else(|_| match name {
            "self" | "Self" | "super" | "crate" | "_" => Err(()),
            _ => syn::parse_str::<Ident>(&format!("r#{name}")).map_err(|_| ()),
        })
        .ok()?;
    ident.set_span(span);
    Some(ident)
}

/// An identifier's name without `r#`: the column it names.
pub fn unraw(ident: &Ident) -> String {
    ident.unraw().to_string()
}

/// A table name: ASCII letters, digits and `_`, not starting with a digit.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn name(key: Option<&LitStr>, ident: &Ident, errors: &mut Errors) -> String {
    match key {
        Some(lit) => {
            let name = lit.value();
            if !valid_name(&name) {
                errors.at(
                    lit.span(),
                    format!(
                        "`name = \"{name}\"` is not a valid table name: use ASCII letters, \
                         digits and `_`, not starting with a digit"
                    ),
                );
            }
            name
        }
        None => snake_case(&ident.unraw().to_string()),
    }
}

fn description(key: Option<&LitStr>, item: &ItemStruct) -> (String, Option<String>) {
    match key {
        Some(lit) => (lit.value(), Some(lit.value())),
        None => (attr::docs(&item.attrs), None),
    }
}

fn sql(lit: &LitStr, key: Symbol, check: fn(&str) -> Result<(), String>, errors: &mut Errors) {
    if let Err(message) = check(&lit.value()) {
        errors.at(lit.span(), format!("invalid SQL in `{key}`: {message}"));
    }
}

/// Validates `#[source(...)]` on `container`.
/// Checks the syntax of a declaration's `filter` and `query`.
fn check_sql(filter: Option<&LitStr>, query: Option<&LitStr>, errors: &mut Errors) {
    if let Some(filter) = filter {
        sql(filter, symbol::FILTER, sql::check_expr, errors);
    }
    if let Some(query) = query {
        sql(query, symbol::QUERY, sql::check_query, errors);
    }
}

pub fn source<'a>(
    attr: &SourceAttr,
    container: &Container<'a>,
    errors: &mut Errors,
) -> Option<Source<'a>> {
    let item = container.item;
    let kind = match (&attr.path, &attr.query) {
        (Some(path), None) => {
            if let Some(inputs) = &attr.inputs {
                errors.spanned(
                    &inputs.keyword,
                    "`inputs` goes with `query`: a source with a `path` reads no other sources",
                );
            }
            file_kind(path, attr.format.as_ref(), errors)
        }
        (None, Some(query)) => {
            if let Some(format) = &attr.format {
                errors.at(
                    format.span(),
                    "`format` goes with `path`: a source with a `query` reads no files",
                );
            }
            sql(query, symbol::QUERY, sql::check_query, errors);
            let inputs = match &attr.inputs {
                Some(inputs) if inputs.paths.is_empty() => {
                    errors.spanned(
                        &inputs.keyword,
                        "`inputs` is empty: list the sources the query reads, e.g. \
                         `inputs(OrderEvents, Users)`",
                    );
                    Vec::new()
                }
                Some(inputs) => inputs.paths.clone(),
                None => {
                    errors.at(
                        query.span(),
                        "`query` needs `inputs(...)`: the sources it reads, each registered \
                         as a table under its name, e.g. `inputs(OrderEvents, Users)`",
                    );
                    Vec::new()
                }
            };
            Some(SourceKind::Query {
                sql: query.value(),
                inputs,
            })
        }
        (Some(_), Some(query)) => {
            errors.at(
                query.span(),
                "`path` and `query` cannot both be set: a source either reads files \
                 (`path`) or runs a query over other sources (`query`)",
            );
            None
        }
        (None, None)
            if attr.written.contains(&symbol::PATH) || attr.written.contains(&symbol::QUERY) =>
        {
            None
        }
        (None, None) => {
            errors.push(attr::args_error(
                &attr.args,
                "missing `path` or `query`: where the rows come from, e.g. \
                 `#[source(path = \"data/orders.csv\")]` or \
                 `#[source(query = \"SELECT ...\", inputs(OrderEvents))]`"
                    .to_string(),
            ));
            None
        }
    };
    let on_bad_rows = on_bad_rows(attr, errors);
    let name = name(attr.name.as_ref(), &item.ident, errors);
    let (description, description_key) = description(attr.description.as_ref(), item);
    let columns = container
        .fields
        .iter()
        .map(|f| {
            let attrs = item
                .fields
                .iter()
                .find(|field| field.ident.as_ref() == Some(f.ident))
                .map_or(&[][..], |field| &field.attrs[..]);
            let column_attr = keys::column_attr(attrs, errors);
            Column {
                ident: f.ident,
                name: f.ident.unraw().to_string(),
                ty: f.ty,
                description: f.doc.clone(),
                time: keys::time_encoding(&column_attr, errors),
                derived: column_attr
                    .derived
                    .as_ref()
                    .and_then(|raw| derived::validate(raw, errors)),
                derived_span: column_attr
                    .derived
                    .as_ref()
                    .map(derived::RawDerived::keyword),
            }
        })
        .collect();
    let preprocess = (!attr.preprocess.is_empty()).then(|| {
        let fields = container
            .fields
            .iter()
            .map(|f| crate::preprocess::Col {
                ident: f.ident.clone(),
                name: f.ident.unraw().to_string(),
                ty: f.ty.clone(),
                description: f.doc.clone(),
            })
            .collect();
        crate::preprocess::check(&attr.preprocess, fields, errors)
    });
    Some(Source {
        item,
        name,
        description,
        description_key,
        kind: kind?,
        columns,
        on_bad_rows,
        preprocess,
    })
}

fn on_bad_rows(attr: &SourceAttr, errors: &mut Errors) -> OnBadRows {
    let Some(lit) = &attr.on_bad_rows else {
        return OnBadRows::default();
    };
    if attr.query.is_some() {
        errors.at(
            lit.span(),
            "`on_bad_rows` goes with `path`: a source with a `query` reads no files; \
             set it on the sources in `inputs`",
        );
    }
    OnBadRows::from_name(&lit.value()).unwrap_or_else(|| {
        errors.at(
            lit.span(),
            format!(
                "unknown `on_bad_rows` policy `{}`: the policies are {}",
                lit.value(),
                symbol::list(OnBadRows::ALL.map(OnBadRows::name))
            ),
        );
        OnBadRows::default()
    })
}

fn file_kind(path: &LitStr, format: Option<&LitStr>, errors: &mut Errors) -> Option<SourceKind> {
    let value = path.value();
    if value.trim().is_empty() {
        errors.at(
            path.span(),
            "`path` is empty: give the location of the files",
        );
        return None;
    }
    let format = match format {
        Some(lit) => {
            let Some(format) = Format::from_name(&lit.value()) else {
                errors.at(
                    lit.span(),
                    format!(
                        "unknown format `{}`: the formats are {}",
                        lit.value(),
                        symbol::list(Format::ALL.map(Format::name))
                    ),
                );
                return None;
            };
            format
        }
        None => {
            let Some(format) = Format::from_path(&value) else {
                errors.at(
                    path.span(),
                    format!(
                        "cannot tell the format of `{value}` from its extension \
                         (`.csv`, `.parquet`, `.ndjson`, `.jsonl`): add `format = \"csv\"`, \
                         `\"parquet\"` or `\"ndjson\"`"
                    ),
                );
                return None;
            };
            format
        }
    };
    Some(SourceKind::File {
        path: value,
        format,
    })
}

/// Validates `#[feature_set(...)]` on `container`.
pub fn feature_set<'a>(
    attr: &FeatureSetAttr,
    container: &Container<'a>,
    errors: &mut Errors,
) -> Option<FeatureSet<'a>> {
    let item = container.item;
    let missing = |key: Symbol, what: &str, example: &str| {
        attr::args_error(
            &attr.args,
            format!("missing `{key}`: {what}, e.g. `{key} = {example}`"),
        )
    };
    let entity = match &attr.entity {
        Some(lit) => keys(lit, symbol::ENTITY, "source", errors),
        None if attr.written.contains(&symbol::ENTITY) => None,
        None => {
            errors.push(missing(
                symbol::ENTITY,
                "the key column(s) of the source, comma-separated",
                "\"cpf\"",
            ));
            None
        }
    };
    if attr.source.is_none() && !attr.written.contains(&symbol::SOURCE) {
        errors.push(missing(
            symbol::SOURCE,
            "the `#[source]` struct the events come from",
            "OrderEvents",
        ));
    }
    if attr.timestamp.is_none() && !attr.written.contains(&symbol::TIMESTAMP) {
        errors.push(missing(
            symbol::TIMESTAMP,
            "the source column holding each event's time",
            "order_timestamp",
        ));
    }
    let windows = match &attr.window {
        Some(lit) => window::parse(&lit.value()).unwrap_or_else(|messages| {
            for message in messages {
                errors.at(lit.span(), message);
            }
            Vec::new()
        }),
        None => Vec::new(),
    };
    let slide = attr.slide.as_ref().and_then(|lit| {
        if attr.window.is_none() && !attr.written.contains(&symbol::WINDOW) {
            errors.at(
                lit.span(),
                "`slide` spaces the rows of rolling windows, and there is no `window`: declare \
                 the windows, e.g. `window = \"1h,6h,1d\"`, or remove `slide`",
            );
            return None;
        }
        window::parse_slide(&lit.value())
            .map_err(|message| errors.at(lit.span(), message))
            .ok()
    });
    // A bad slide is reported once, not again under every window.
    let slide_valid = attr.slide.is_none() || slide.is_some();
    if let Some(lit) = attr.window.as_ref().filter(|_| slide_valid) {
        for message in window::check_slide(&windows, slide) {
            errors.at(lit.span(), message);
        }
    }
    // `slide = "1d"` is the default slide, written out.
    let slide = slide.filter(|s| !s.is_day());
    check_sql(attr.filter.as_ref(), attr.query.as_ref(), errors);
    let fill = attr.fill_null.as_ref().and_then(|lit| fill(lit, errors));
    let name = name(attr.name.as_ref(), &item.ident, errors);
    let (description, description_key) = description(attr.description.as_ref(), item);
    let pivot = attr.pivot.as_ref().map(|p| pivot(p, errors));
    let distinct = attr.distinct.as_ref().map(|d| {
        let keep = match &d.keep {
            None => Keep::default(),
            Some(k) => Keep::from_name(&k.to_string()).unwrap_or_else(|| {
                errors.at(
                    k.span(),
                    format!(
                        "unknown `keep = {k}`: `distinct` keeps the `first` or the `last` event"
                    ),
                );
                Keep::default()
            }),
        };
        let mut subset: Vec<Ident> = Vec::new();
        for column in &d.subset {
            if subset.iter().any(|c| c.unraw() == column.unraw()) {
                errors.at(
                    column.span(),
                    format!("`{column}` is listed twice in `distinct`"),
                );
            } else {
                subset.push(column.clone());
            }
        }
        Distinct { subset, keep }
    });
    let features = container
        .fields
        .iter()
        .map(|field| {
            let filter = field.feature.as_ref().and_then(|f| f.filter.as_ref());
            if let Some(filter) = filter {
                sql(filter, symbol::FILTER, sql::check_expr, errors);
            }
            let filter_lit = filter;
            let filter = filter.map(LitStr::value);
            let plain = field
                .feature
                .as_ref()
                .and_then(|f| plain_feature(f, filter_lit, errors));
            let functions = match (&field.feature, &plain) {
                (Some(_), Some(plain)) => vec![Function {
                    aggregation: Aggregation::Value,
                    span: plain.span(),
                    column: match plain {
                        Plain::Column(c) | Plain::Function { column: c, .. } => c.clone(),
                        Plain::Sql { .. } => field.ident.clone(),
                    },
                }],
                (Some(feature), None) => functions(&feature.functions, errors),
                (None, _) => {
                    errors.at(
                        field.ident.span(),
                        format!(
                            "`{}` has no `#[feature(...)]`: every field of a feature set is a \
                             feature; declare its aggregations, e.g. `#[feature(count(order_id))]`",
                            field.ident
                        ),
                    );
                    Vec::new()
                }
            };
            let frame = field
                .feature
                .as_ref()
                .and_then(|f| frame(f, plain.is_some(), &functions, errors));
            Feature {
                ident: field.ident,
                name: field.ident.unraw().to_string(),
                ty: field.ty,
                description: field.doc.clone(),
                functions,
                filter,
                plain,
                frame,
                declares_frame: field
                    .feature
                    .as_ref()
                    .is_some_and(|f| f.over.is_some() || f.rows.is_some()),
            }
        })
        .collect::<Vec<Feature>>();
    for feature in features.iter().filter(|f| !f.is_row_level()) {
        for function in feature
            .functions
            .iter()
            .filter(|f| f.aggregation.is_shift())
        {
            errors.at(
                function.span,
                format!(
                    "`{}` is a window function of plain feature sets (one row per event): \
                     declare it on a field of its own, in a feature set without `window`",
                    function.aggregation.name()
                ),
            );
        }
    }
    let plain = features.iter().filter(|f| f.is_row_level()).count();
    // A feature whose every function was refused has its errors already.
    let aggregated = features
        .iter()
        .filter(|f| !f.is_row_level() && !f.functions.is_empty())
        .count();
    if plain > 0 && aggregated > 0 {
        if let (Some(p), Some(a)) = (
            features.iter().find(|f| f.is_row_level()),
            features
                .iter()
                .find(|f| !f.is_row_level() && !f.functions.is_empty()),
        ) {
            errors.at(
                p.ident.span(),
                format!(
                    "`{}` is a plain feature (one row per event) but `{}` aggregates: a feature \
                     set is either plain or aggregated; declare them in two feature sets",
                    p.ident, a.ident
                ),
            );
        }
    }
    if plain > 0 && aggregated == 0 {
        let why = "a plain feature set has one row per event";
        if let Some(window) = &attr.window {
            errors.at(window.span(), format!("{why}: remove `window`"));
        }
        if let Some(pivot) = &attr.pivot {
            errors.spanned(
                &pivot.keyword,
                format!("{why}: `pivot` goes with aggregations"),
            );
        }
        if attr.distinct.is_some() {
            errors.at(
                attr::args_error(&attr.args, String::new()).span(),
                format!("{why}: `distinct` goes with aggregations"),
            );
        }
    }
    let (entity_span, keys) = entity?;
    Some(FeatureSet {
        item,
        name,
        description,
        description_key,
        keys,
        entity_span,
        source: attr.source.clone()?,
        timestamp: attr.timestamp.clone()?,
        filter: attr.filter.as_ref().map(LitStr::value),
        query: attr.query.as_ref().map(LitStr::value),
        windows,
        slide,
        fill,
        features,
        pivot,
        distinct,
        pre_hooks: attr.pre_hooks.clone(),
        post_hooks: attr.post_hooks.clone(),
    })
}

fn pivot(attr: &attr::PivotAttr, errors: &mut Errors) -> Pivot {
    let mut values: Vec<PivotValue> = Vec::new();
    for lit in &attr.values {
        let (value, text) = match lit {
            Lit::Str(s) => (PivotLit::Str(s.value()), s.value()),
            Lit::Bool(b) => (PivotLit::Bool(b.value), b.value.to_string()),
            Lit::Int(i) => match i.base10_parse::<i64>() {
                Ok(v) => (PivotLit::Int(v), v.to_string()),
                Err(_) => {
                    errors.at(i.span(), "a pivot value does not fit in an `i64`");
                    continue;
                }
            },
            other => {
                errors.at(
                    other.span(),
                    "a pivot value is a string, integer or boolean literal",
                );
                continue;
            }
        };
        if values.iter().any(|v| v.value == value) {
            errors.at(
                lit.span(),
                format!("the pivot value `{text}` is listed twice"),
            );
            continue;
        }
        values.push(PivotValue {
            value,
            text,
            span: lit.span(),
        });
    }
    if attr.values.is_empty() {
        errors.spanned(&attr.keyword, "`pivot` needs at least one value");
    }
    Pivot {
        column: attr.column.clone(),
        values,
    }
}

/// The comma-separated columns of `key = "..."`, columns of `of`.
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
        Some(KeyArg::Column(ident)) => Some(vec![Key {
            name: unraw(ident),
            ident: ident.clone(),
        }]),
        Some(KeyArg::List(lit)) => keys(lit, symbol::KEY, "spine", errors).map(|(_, keys)| keys),
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
        query: attr.query.as_ref().map(LitStr::value),
        keep,
    })
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

fn keys(lit: &LitStr, key: Symbol, of: &str, errors: &mut Errors) -> Option<(Span, Vec<Key>)> {
    let value = lit.value();
    let span = lit.span();
    if value.trim().is_empty() {
        errors.at(
            span,
            format!("`{key}` is empty: name the key column(s) of the {of}, e.g. `{key} = \"cpf\"`"),
        );
        return None;
    }
    let mut keys = Vec::new();
    for name in value.split(',').map(str::trim) {
        if name.is_empty() {
            errors.at(
                span,
                format!(
                    "`{key}` has an empty item in `\"{value}\"`: separate key columns with \
                     single commas, e.g. `\"cpf,merchant_id\"`"
                ),
            );
            continue;
        }
        let Some(ident) = ident(name, span) else {
            errors.at(
                span,
                format!(
                    "`{name}` in `{key}` is not a column name: columns are field names of the {of}"
                ),
            );
            continue;
        };
        keys.push(Key {
            name: ident.unraw().to_string(),
            ident,
        });
    }
    Some((span, keys))
}

fn fill(fill: &FillLit, errors: &mut Errors) -> Option<Fill> {
    let sign = if fill.negative { "-" } else { "" };
    let value = match &fill.lit {
        Lit::Int(int) => match format!("{sign}{}", int.base10_digits()).parse::<i64>() {
            Ok(v) => FillValue::Int(v),
            Err(_) => {
                errors.at(int.span(), "`fill_null` does not fit in an `i64`");
                return None;
            }
        },
        Lit::Float(float) => match format!("{sign}{}", float.base10_digits()).parse::<f64>() {
            Ok(v) if v.is_finite() => FillValue::Float(v),
            _ => {
                errors.at(float.span(), "`fill_null` is not a finite `f64`");
                return None;
            }
        },
        Lit::Bool(b) => FillValue::Bool(b.value),
        Lit::Str(s) => FillValue::Str(s.value()),
        other => {
            errors.at(
                other.span(),
                "`fill_null` takes an integer, float, boolean or string literal",
            );
            return None;
        }
    };
    Some(Fill {
        value,
        span: fill.lit.span(),
    })
}

/// The frame of a feature's window functions, `over = "2m"` or `rows = 2`.
fn frame(
    feature: &attr::FeatureAttr,
    plain: bool,
    functions: &[Function],
    errors: &mut Errors,
) -> Option<Frame> {
    let frame = match (&feature.over, &feature.rows) {
        (None, None) => return None,
        (Some(_), Some(rows)) => {
            errors.at(
                rows.span(),
                "a window function has either a time window (`over`) or a row window (`rows`)",
            );
            return None;
        }
        (Some(over), None) => match window::parse_duration(&over.value(), symbol::OVER.0) {
            Ok(w) => Frame::Range(w),
            Err(message) => {
                errors.at(over.span(), message);
                return None;
            }
        },
        (None, Some(rows)) => match rows.base10_parse::<u32>() {
            Ok(n) if n >= 1 => Frame::Rows(n),
            _ => {
                errors.at(rows.span(), "`rows` is a number of events, at least 1");
                return None;
            }
        },
    };
    if plain {
        errors.at(
            feature
                .over
                .as_ref()
                .map(LitStr::span)
                .or(feature.rows.as_ref().map(syn::LitInt::span))
                .unwrap_or_else(Span::call_site),
            "`over` and `rows` frame window functions, not a plain value",
        );
        return None;
    }
    for function in functions.iter().filter(|f| !f.aggregation.in_frames()) {
        errors.at(
            function.span,
            format!(
                "`{}` is no window function: `over` and `rows` take `count`, `sum`, `avg`, \
                 `min`, `max`, `stddev_pop`, `var_pop`, `stddev_samp`, `var_samp` and \
                 `percentile`",
                function.aggregation.name()
            ),
        );
    }
    Some(frame)
}

/// The plain feature `#[feature(...)]` declares, if it declares one.
fn plain_feature(
    feature: &attr::FeatureAttr,
    filter: Option<&LitStr>,
    errors: &mut Errors,
) -> Option<Plain> {
    let p = &feature.plain;
    if p.is_empty() {
        return None;
    }
    if let Some(first) = feature.functions.first() {
        errors.at(
            first.name.span(),
            "a plain feature (`column`, `sql` or `function`) takes no aggregation: aggregate \
             in a feature set of its own",
        );
    }
    if let Some(filter) = filter {
        errors.at(
            filter.span(),
            "a plain feature has one row per event: filter the events with the feature set's \
             `filter`",
        );
    }
    match (&p.sql, &p.function, &p.column) {
        (Some(sql_lit), None, None) => {
            sql(sql_lit, symbol::SQL, sql::check_expr, errors);
            Some(Plain::Sql {
                sql: sql_lit.value(),
                span: sql_lit.span(),
            })
        }
        (Some(sql_lit), _, _) => {
            errors.at(
                sql_lit.span(),
                "`sql` computes the value from the row alone: remove `column` and `function`",
            );
            None
        }
        (None, Some(path), Some(column)) => Some(Plain::Function {
            path: path.clone(),
            column: column.clone(),
        }),
        (None, Some(path), None) => {
            errors.spanned(
                path,
                "`function` needs the column it receives: `function = path, column = amount`",
            );
            None
        }
        (None, None, Some(column)) => Some(Plain::Column(column.clone())),
        (None, None, None) => None,
    }
}

fn functions(raw: &[attr::RawFunction], errors: &mut Errors) -> Vec<Function> {
    raw.iter()
        .filter_map(|f| {
            let name = f.name.to_string();
            let Some(aggregation) = Aggregation::from_name(&name) else {
                let hint = attr::did_you_mean(&name, &Aggregation::NAMES)
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                errors.at(
                    f.name.span(),
                    format!(
                        "unknown aggregation `{}`: {hint}the aggregations are {}",
                        f.name,
                        symbol::list(Aggregation::NAMES)
                    ),
                );
                return None;
            };
            let aggregation = arguments(aggregation, f, errors)?;
            Some(Function {
                aggregation,
                span: f.name.span(),
                column: f.column.clone(),
            })
        })
        .collect()
}

/// Checks the arguments after the column: the percentage of `percentile`,
/// the optional error bound of `approx_count_distinct`, none for the rest.
fn arguments(
    aggregation: Aggregation,
    f: &attr::RawFunction,
    errors: &mut Errors,
) -> Option<Aggregation> {
    let name = &f.name;
    let column = &f.column;
    let mut args = f.args.iter();
    let first = args.next();
    let unexpected = match aggregation {
        Aggregation::Percentile(_)
        | Aggregation::ApproxCountDistinct
        | Aggregation::Lag(_)
        | Aggregation::Lead(_) => args.next(),
        _ => first,
    };
    if let Some(extra) = unexpected {
        let message = match extra {
            syn::Expr::Path(p) if p.path.get_ident().is_some() => format!(
                "`{name}` takes one column: to aggregate `{}` too, declare it on another field",
                p.path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
            _ => match aggregation {
                Aggregation::Percentile(_) => format!(
                    "`percentile` takes a column and a percentage: `percentile({column}, 0.5)`"
                ),
                Aggregation::ApproxCountDistinct => format!(
                    "`approx_count_distinct` takes a column and an optional relative error: \
                     `approx_count_distinct({column}, 0.05)`"
                ),
                Aggregation::Lag(_) | Aggregation::Lead(_) => format!(
                    "`{name}` takes a column and an optional number of events: `{name}({column}, 1)`"
                ),
                _ => format!("`{name}` takes only a column: `{name}({column})`"),
            },
        };
        errors.spanned(extra, message);
        return None;
    }
    match aggregation {
        Aggregation::Percentile(_) => {
            let Some(p) = first else {
                errors.at(
                    name.span(),
                    format!(
                        "`percentile` needs a percentage after the column, from 0 to 1: \
                         `percentile({column}, 0.5)`"
                    ),
                );
                return None;
            };
            let millionths = fraction(p).filter(|m| *m <= 1_000_000);
            match millionths {
                Some(millionths) => Some(Aggregation::Percentile(Percentage { millionths })),
                None => {
                    errors.spanned(
                        p,
                        "the percentage of `percentile` is a number from 0 to 1 with at most \
                         6 decimals, e.g. `0.5` or `0.999`",
                    );
                    None
                }
            }
        }
        Aggregation::ApproxCountDistinct => {
            if let Some(rsd) = first {
                if !fraction(rsd).is_some_and(|m| m > 0 && m < 1_000_000) {
                    errors.spanned(
                        rsd,
                        "the relative error of `approx_count_distinct` is a number between 0 \
                         and 1 with at most 6 decimals, e.g. `0.05` (the count is exact: \
                         its error is 0, within any bound)",
                    );
                    return None;
                }
            }
            Some(aggregation)
        }
        Aggregation::Lag(_) | Aggregation::Lead(_) => {
            let n = match first {
                None => 1,
                Some(syn::Expr::Lit(syn::ExprLit {
                    lit: Lit::Int(n), ..
                })) => match n.base10_parse::<u32>() {
                    Ok(n) if n >= 1 => n,
                    _ => {
                        errors.spanned(n, format!("`{name}` moves by at least 1 event"));
                        return None;
                    }
                },
                Some(other) => {
                    errors.spanned(
                        other,
                        format!("`{name}` takes a number of events after the column: `{name}({column}, 1)`"),
                    );
                    return None;
                }
            };
            Some(
                if aggregation.is_shift() && matches!(aggregation, Aggregation::Lag(_)) {
                    Aggregation::Lag(n)
                } else {
                    Aggregation::Lead(n)
                },
            )
        }
        other => Some(other),
    }
}

/// A non-negative decimal literal (`0.5`, `1`), in millionths, if it has at
/// most 6 decimals.
fn fraction(expr: &syn::Expr) -> Option<u32> {
    let syn::Expr::Lit(syn::ExprLit { lit, .. }) = expr else {
        return None;
    };
    let digits = match lit {
        Lit::Float(f) if f.suffix().is_empty() => f.base10_digits().to_string(),
        Lit::Int(i) if i.suffix().is_empty() => i.base10_digits().to_string(),
        _ => return None,
    };
    if digits.contains(['e', 'E']) {
        return None;
    }
    let (whole, decimals) = digits.split_once('.').unwrap_or((&digits, ""));
    if decimals.len() > 6 {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let decimals: u64 = if decimals.is_empty() {
        0
    } else {
        format!("{decimals:0<6}").parse().ok()?
    };
    u32::try_from(whole.checked_mul(1_000_000)?.checked_add(decimals)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idents() {
        let s = Span::call_site();
        assert_eq!(ident("cpf", s).unwrap().to_string(), "cpf");
        assert_eq!(ident("type", s).unwrap().to_string(), "r#type");
        assert!(ident("self", s).is_none());
        assert!(ident("user id", s).is_none());
        assert!(ident("1a", s).is_none());
    }
}
