//! What `#[feature_set]` declares: an entity, a source, windows, and one
//! feature per field, each with its functions or its plain value.

use featurestore_core::window::{self, Window};
use featurestore_core::{
    frame_output_name, is_plain, is_row_level, output_name, Aggregation, Frame, Keep, NumberKind,
};
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Ident, ItemStruct, Lit, LitStr, Path, Type};

use super::aggregation::{functions, Function};
use super::declaration::{check_sql, description, fill, keys, name, sql_syntax, Fill, Key};
use crate::attr::{self, Container, DistinctAttr, FeatureSetAttr, Field};
use crate::ctxt::Errors;
use crate::sql;
use crate::symbol::{self, Symbol};

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
    /// The `filter` literal.
    pub filter_span: Option<Span>,
    pub query: Option<String>,
    pub windows: Vec<Window>,
    /// `slide = "1h"`; `None` slides daily.
    pub slide: Option<Window>,
    /// `ttl = "30d"`: how long a row stays in the online store after its
    /// time.
    pub ttl: Option<Window>,
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
    /// The `filter` literal.
    pub filter_span: Option<Span>,
    /// How a plain feature computes its value; `None` if it aggregates.
    pub plain: Option<Plain>,
    /// `over = "2m"` or `rows = 2`: the functions are window functions.
    pub frame: Option<Frame>,
    /// Whether `over` or `rows` is written, valid or not.
    pub declares_frame: bool,
    /// `truncate`: an integer feature may hold the whole part of fractions.
    pub truncate: Option<Span>,
    /// `fill_null = 0` on the feature: replaces its nulls, instead of the
    /// feature set's `fill_null`.
    pub fill: Option<Fill>,
}

impl Feature<'_> {
    /// The value replacing the feature's nulls: its own, or the set's.
    pub fn fill<'s>(&'s self, set: &'s FeatureSet<'_>) -> Option<&'s Fill> {
        self.fill.as_ref().or(set.fill.as_ref())
    }
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

impl Feature<'_> {
    /// The source column the feature aggregates (that of its first function).
    pub fn column(&self) -> Option<&Ident> {
        self.functions.first().map(|f| &f.column)
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

/// Validates `#[feature_set(...)]` on `container`.
/// Validates `#[feature_set(...)]` on `container`.
pub fn feature_set<'a>(
    attr: &FeatureSetAttr,
    container: &Container<'a>,
    errors: &mut Errors,
) -> Option<FeatureSet<'a>> {
    let item = container.item;
    let entity = entity(attr, errors);
    if attr.source.is_none() && !attr.written.contains(&symbol::SOURCE) {
        errors.push(missing(
            attr,
            symbol::SOURCE,
            "the `#[source]` struct the events come from",
            "OrderEvents",
        ));
    }
    if attr.timestamp.is_none() && !attr.written.contains(&symbol::TIMESTAMP) {
        errors.push(missing(
            attr,
            symbol::TIMESTAMP,
            "the source column holding each event's time",
            "order_timestamp",
        ));
    }
    let (windows, slide) = windows(attr, errors);
    let ttl = attr.ttl.as_ref().and_then(|lit| {
        window::parse_duration(&lit.value(), symbol::TTL.0)
            .map_err(|message| errors.at(lit.span(), message))
            .ok()
    });
    check_sql(attr.filter.as_ref(), attr.query.as_ref(), errors);
    let fill = attr.fill_null.as_ref().and_then(|lit| fill(lit, errors));
    let name = name(attr.name.as_ref(), &item.ident, errors);
    let (description, description_key) = description(attr.description.as_ref(), item);
    let pivot = attr.pivot.as_ref().map(|p| pivot(p, errors));
    let distinct = attr.distinct.as_ref().map(|d| distinct(d, errors));
    let features: Vec<Feature> = container
        .fields
        .iter()
        .map(|field| feature(field, errors))
        .collect();
    check_row_level(&features, attr, errors);
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
        filter_span: attr.filter.as_ref().map(LitStr::span),
        query: attr.query.as_ref().map(LitStr::value),
        windows,
        slide,
        ttl,
        fill,
        features,
        pivot,
        distinct,
        pre_hooks: attr.pre_hooks.clone(),
        post_hooks: attr.post_hooks.clone(),
    })
}

/// "missing `key`", under the attribute's arguments.
fn missing(attr: &FeatureSetAttr, key: Symbol, what: &str, example: &str) -> syn::Error {
    attr::args_error(
        &attr.args,
        format!("missing `{key}`: {what}, e.g. `{key} = {example}`"),
    )
}

/// The key columns of `entity = "..."`, and the literal's span.
fn entity(attr: &FeatureSetAttr, errors: &mut Errors) -> Option<(Span, Vec<Key>)> {
    match &attr.entity {
        Some(lit) => keys(lit, symbol::ENTITY, "source", errors),
        None if attr.written.contains(&symbol::ENTITY) => None,
        None => {
            errors.push(missing(
                attr,
                symbol::ENTITY,
                "the key column(s) of the source, comma-separated",
                "\"cpf\"",
            ));
            None
        }
    }
}

/// `window = "..."` and `slide = "..."`, each window checked against the
/// slide; the slide is `None` when it is a day, the default.
fn windows(attr: &FeatureSetAttr, errors: &mut Errors) -> (Vec<Window>, Option<Window>) {
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
    (windows, slide.filter(|s| !s.is_day()))
}

/// `distinct(order_id, keep = last)`.
fn distinct(attr: &DistinctAttr, errors: &mut Errors) -> Distinct {
    let keep = match &attr.keep {
        None => Keep::default(),
        Some(k) => Keep::from_name(&k.to_string()).unwrap_or_else(|| {
            errors.at(
                k.span(),
                format!("unknown `keep = {k}`: `distinct` keeps the `first` or the `last` event"),
            );
            Keep::default()
        }),
    };
    let mut subset: Vec<Ident> = Vec::new();
    for column in &attr.subset {
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
}

/// A field and its `#[feature(...)]`: its functions, or its plain value.
fn feature<'a>(field: &Field<'a>, errors: &mut Errors) -> Feature<'a> {
    let filter = field.feature.as_ref().and_then(|f| f.filter.as_ref());
    if let Some(filter) = filter {
        sql_syntax(filter, symbol::FILTER, sql::check_expr, errors);
    }
    let plain = field
        .feature
        .as_ref()
        .and_then(|f| plain_feature(f, filter, errors));
    let functions = match (&field.feature, &plain) {
        (Some(_), Some(plain)) => vec![Function {
            aggregation: Aggregation::Value,
            span: plain.span(),
            column: match plain {
                Plain::Column(c) | Plain::Function { column: c, .. } => c.clone(),
                Plain::Sql { .. } => field.ident.clone(),
            },
            by: None,
            condition: None,
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
    same_condition(field.ident, &functions, errors);
    let frame = field
        .feature
        .as_ref()
        .and_then(|f| frame(f, plain.is_some(), &functions, errors));
    let truncate = field
        .feature
        .as_ref()
        .and_then(|f| f.truncate.as_ref())
        .and_then(|path| truncate(path, plain.is_some(), &functions, errors));
    Feature {
        ident: field.ident,
        name: field.ident.unraw().to_string(),
        ty: field.ty,
        description: field.doc.clone(),
        functions,
        filter: filter.map(LitStr::value),
        filter_span: filter.map(LitStr::span),
        plain,
        frame,
        declares_frame: field
            .feature
            .as_ref()
            .is_some_and(|f| f.over.is_some() || f.rows.is_some()),
        truncate,
        fill: field
            .feature
            .as_ref()
            .and_then(|f| f.fill_null.as_ref())
            .and_then(|lit| fill(lit, errors)),
    }
}

/// `truncate`, where something may have fractions to truncate.
fn truncate(path: &Path, plain: bool, functions: &[Function], errors: &mut Errors) -> Option<Span> {
    if plain {
        errors.spanned(
            path,
            "a plain feature is always cast to the field's type: `truncate` is for \
             aggregations, remove it",
        );
        return None;
    }
    let fractions = |f: &Function| {
        matches!(
            f.aggregation.number_kind(),
            Some(NumberKind::Fraction | NumberKind::OfColumn)
        )
    };
    if !functions.is_empty() && !functions.iter().any(fractions) {
        errors.spanned(
            path,
            "nothing to truncate: these functions return whole numbers or their column's \
             values; remove `truncate`",
        );
        return None;
    }
    Some(syn::spanned::Spanned::span(path))
}

/// A feature set is plain (every feature row-level) or aggregated: `lag`
/// and `lead` only in plain ones, no mix, and no windows, pivot or
/// distinct in plain ones.
fn check_row_level(features: &[Feature], attr: &FeatureSetAttr, errors: &mut Errors) {
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

/// The functions of a feature take one input: a feature counting a SQL
/// condition (`count_if("amount > 100")`) counts only that condition.
fn same_condition(ident: &Ident, functions: &[Function], errors: &mut Errors) {
    let Some(first) = functions.first() else {
        return;
    };
    let text = |f: &Function| f.condition.as_ref().map(LitStr::value);
    let input = |f: &Function| match &f.condition {
        Some(c) => format!("the condition \"{}\"", c.value()),
        None => format!("`{}`", f.column_name()),
    };
    if let Some(f) = functions[1..].iter().find(|f| text(f) != text(first)) {
        let span = f.condition.as_ref().map_or(f.column.span(), LitStr::span);
        errors.at(
            span,
            format!(
                "all aggregations of `{ident}` must take the same input: {} here, {} before; \
                 declare another field for it",
                input(f),
                input(first)
            ),
        );
    }
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
            sql_syntax(sql_lit, symbol::SQL, sql::check_expr, errors);
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
