//! Attribute keywords, named once.

use std::fmt;

use featurestore_core::Aggregation;
use syn::{Ident, Path};

/// A keyword of our attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol(pub &'static str);

// `#[source(...)]`
pub const PATH: Symbol = Symbol("path");
pub const FORMAT: Symbol = Symbol("format");
pub const QUERY: Symbol = Symbol("query");
pub const INPUTS: Symbol = Symbol("inputs");
pub const NAME: Symbol = Symbol("name");
pub const DESCRIPTION: Symbol = Symbol("description");
pub const ON_BAD_ROWS: Symbol = Symbol("on_bad_rows");
// `#[column(...)]` on a source field: `epoch = "ms"`, `format = "..."`.
pub const EPOCH: Symbol = Symbol("epoch");
// `#[column(h3(lat = lat, lng = lng, resolutions = "6..=12"))]`, `#[column(stack(a, b))]`.
pub const H3: Symbol = Symbol("h3");
pub const LAT: Symbol = Symbol("lat");
pub const LNG: Symbol = Symbol("lng");
pub const RESOLUTIONS: Symbol = Symbol("resolutions");
pub const STACK: Symbol = Symbol("stack");
// Pre-processing steps of `#[source(...)]`, besides `filter` and `pivot`.
pub const REPLACE: Symbol = Symbol("replace");
pub const EXPLODE_JSON: Symbol = Symbol("explode_json");
pub const FORWARD_FILL: Symbol = Symbol("forward_fill");
// Their options.
pub const ON: Symbol = Symbol("on");
pub const VALUE: Symbol = Symbol("value");
pub const KEYS: Symbol = Symbol("keys");
pub const COLUMNS: Symbol = Symbol("columns");

// `first(x, ignore_nulls = true)`, `last(...)` in `#[feature(...)]`.
pub const IGNORE_NULLS: Symbol = Symbol("ignore_nulls");

// `#[feature_set(...)]`
pub const ENTITY: Symbol = Symbol("entity");
pub const WINDOW: Symbol = Symbol("window");
pub const SLIDE: Symbol = Symbol("slide");
pub const SOURCE: Symbol = Symbol("source");
pub const TIMESTAMP: Symbol = Symbol("timestamp");
pub const FILTER: Symbol = Symbol("filter");
pub const FILL_NULL: Symbol = Symbol("fill_null");
pub const PIVOT: Symbol = Symbol("pivot");
pub const DISTINCT: Symbol = Symbol("distinct");
pub const PRE_HOOKS: Symbol = Symbol("pre_hooks");
pub const POST_HOOKS: Symbol = Symbol("post_hooks");

// `#[dataset(...)]`
pub const SPINE: Symbol = Symbol("spine");
pub const KEY: Symbol = Symbol("key");
pub const FEATURES: Symbol = Symbol("features");
pub const KEEP: Symbol = Symbol("keep");

// `catalog! { sources(...), feature_sets(...), datasets(...) }`: the groups,
// also the names of the modules they become.
pub const SOURCES: Symbol = Symbol("sources");
pub const FEATURE_SETS: Symbol = Symbol("feature_sets");
pub const DATASETS: Symbol = Symbol("datasets");

// Options of a joined feature set: `features(UserOrders(ttl = "30d"))`.
pub const TTL: Symbol = Symbol("ttl");
pub const PREFIX: Symbol = Symbol("prefix");

// Field attributes.
pub const FEATURE: Symbol = Symbol("feature");
pub const DOC: Symbol = Symbol("doc");
// Plain features: `#[feature(column = x)]`, `sql = "..."`, `function = path`.
pub const COLUMN: Symbol = Symbol("column");
pub const SQL: Symbol = Symbol("sql");
pub const FUNCTION: Symbol = Symbol("function");
// Window functions of plain feature sets: `over = "2m"`, `rows = 2`.
pub const OVER: Symbol = Symbol("over");
pub const ROWS: Symbol = Symbol("rows");
// An integer feature of fractions: `#[feature(avg(amount), truncate)]`.
pub const TRUNCATE: Symbol = Symbol("truncate");

/// The keys `#[source(...)]` accepts.
pub const SOURCE_KEYS: &[Symbol] = &[
    PATH,
    FORMAT,
    QUERY,
    INPUTS,
    NAME,
    DESCRIPTION,
    ON_BAD_ROWS,
    FILTER,
    REPLACE,
    PIVOT,
    EXPLODE_JSON,
    FORWARD_FILL,
];

/// The pre-processing steps of `#[source(...)]`, each allowed many times.
pub const PREPROCESS_STEPS: &[Symbol] = &[FILTER, REPLACE, PIVOT, EXPLODE_JSON, FORWARD_FILL];

/// The options of a source's `pivot(...)`.
pub const PIVOT_KEYS: &[Symbol] = &[ON, VALUE, KEYS, TIMESTAMP, COLUMNS, FORWARD_FILL];

/// The aggregations a source's `pivot(...)` takes.
pub const PIVOT_AGGREGATIONS: &[Aggregation] = &[
    Aggregation::First,
    Aggregation::Last,
    Aggregation::Sum,
    Aggregation::Min,
    Aggregation::Max,
];

/// The options of a source's `forward_fill(...)`.
pub const FORWARD_FILL_KEYS: &[Symbol] = &[COLUMNS, KEYS, TIMESTAMP];

/// The options of a source's `explode_json(...)` after its column.
pub const EXPLODE_JSON_KEYS: &[Symbol] = &[COLUMNS];

/// The keys `#[feature_set(...)]` accepts.
pub const FEATURE_SET_KEYS: &[Symbol] = &[
    ENTITY,
    WINDOW,
    SLIDE,
    SOURCE,
    TIMESTAMP,
    FILTER,
    QUERY,
    FILL_NULL,
    PIVOT,
    DISTINCT,
    PRE_HOOKS,
    POST_HOOKS,
    NAME,
    DESCRIPTION,
    TTL,
];

/// The keys `#[dataset(...)]` accepts.
pub const DATASET_KEYS: &[Symbol] = &[
    SPINE,
    KEY,
    TIMESTAMP,
    FEATURES,
    FILL_NULL,
    FILTER,
    QUERY,
    KEEP,
    NAME,
    DESCRIPTION,
];

/// The groups `catalog!` accepts, in the order the catalog shows them.
pub const CATALOG_KEYS: &[Symbol] = &[SOURCES, FEATURE_SETS, DATASETS];

/// The options of one joined feature set.
pub const JOIN_KEYS: &[Symbol] = &[KEY, TTL, PREFIX];

/// `` `a`, `b`, `c` ``: a list of keywords for messages.
pub fn list<T: fmt::Display>(words: impl IntoIterator<Item = T>) -> String {
    words
        .into_iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<Symbol> for &'static str {
    fn from(symbol: Symbol) -> &'static str {
        symbol.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for &Ident {
    fn eq(&self, word: &Symbol) -> bool {
        *self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}
