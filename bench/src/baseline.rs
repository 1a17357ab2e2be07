//! The baseline: the rows of `user_orders` and `user_chargebacks` computed by
//! a straightforward polars query, as a user without the engine would write
//! it, from Butterfree's definition of the rows:
//!
//! 1. count the events of each key and day;
//! 2. build the grid of every key × every day from the first event's day to
//!    the end date, and join the daily counts onto it;
//! 3. per key, a window of `W` days on day `T` is the sum of the counts of
//!    days `T−W ..= T−1` (a difference of cumulative sums);
//! 4. keep a key's first row and each row whose values differ from the
//!    previous row's; an empty window is null until the nulls are filled.
//!
//! It materialises keys × days, which the engine never does; it is the query
//! the engine is measured against, and its rows are compared with the
//! engine's in the same run.

use polars::prelude::*;

/// The windows of both feature sets, in days.
pub const WINDOWS: [i64; 3] = [3, 7, 30];

/// One feature set of the example: events of `ts` (after dropping rows where
/// it is null), counting non-null `value`s.
#[derive(Debug, Clone, Copy)]
pub struct CountFeature {
    /// The event time column.
    pub ts: &'static str,
    /// The counted column.
    pub value: &'static str,
    /// The output prefix, e.g. `cpf_orders`.
    pub feature: &'static str,
}

/// `user_orders`.
pub const ORDERS: CountFeature = CountFeature {
    ts: "order_timestamp",
    value: "order_id",
    feature: "cpf_orders",
};

/// `user_chargebacks`.
pub const CHARGEBACKS: CountFeature = CountFeature {
    ts: "chargeback_timestamp",
    value: "order_id",
    feature: "cpf_chargebacks",
};

/// Reads the generated events: strings, with both times parsed.
pub fn read_events(path: &str) -> PolarsResult<DataFrame> {
    let schema = Schema::from_iter([
        Field::new("order_id".into(), DataType::String),
        Field::new("order_timestamp".into(), DataType::String),
        Field::new("cpf".into(), DataType::String),
        Field::new("chargeback_timestamp".into(), DataType::String),
    ]);
    let parse = |c: &str| {
        col(c)
            .str()
            .to_datetime(
                Some(TimeUnit::Microseconds),
                None,
                StrptimeOptions {
                    format: Some("%Y-%m-%d %H:%M:%S".into()),
                    ..Default::default()
                },
                lit("raise"),
            )
            .alias(c)
    };
    LazyCsvReader::new(PlRefPath::from(path))
        .with_has_header(true)
        .with_schema(Some(SchemaRef::new(schema)))
        .finish()?
        .with_columns([parse("order_timestamp"), parse("chargeback_timestamp")])
        .collect()
}

/// The rows of one feature set up to `end_day` (days since the epoch),
/// sorted by key and day.
pub fn feature_rows(events: &DataFrame, f: CountFeature, end_day: i64) -> PolarsResult<DataFrame> {
    let ev = events
        .clone()
        .lazy()
        .filter(col(f.ts).is_not_null())
        .select([
            col("cpf"),
            col(f.ts).dt().date().cast(DataType::Int64).alias("day"),
            col(f.value),
        ])
        .collect()?;
    let first_day = match ev.column("day")?.i64()?.min() {
        Some(d) => d.min(end_day),
        None => return Ok(DataFrame::empty()),
    };
    let daily = ev
        .clone()
        .lazy()
        .filter(col("day").lt_eq(lit(end_day)))
        .group_by([col("cpf"), col("day")])
        .agg([len().alias("rows"), col(f.value).count().alias("n")]);
    let grid = ev
        .lazy()
        .select([col("cpf")])
        .unique(None, UniqueKeepStrategy::Any)
        .with_column(
            int_ranges(lit(first_day), lit(end_day + 1), lit(1i64), DataType::Int64).alias("day"),
        )
        .explode(
            cols(["day"]),
            ExplodeOptions {
                empty_as_null: false,
                keep_nulls: false,
            },
        );
    let mut lf = grid
        .join(
            daily,
            [col("cpf"), col("day")],
            [col("cpf"), col("day")],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            col("rows").fill_null(lit(0)).cast(DataType::Int64),
            col("n").fill_null(lit(0)).cast(DataType::Int64),
        ])
        .sort(["cpf", "day"], SortMultipleOptions::default());

    let names: Vec<String> = WINDOWS
        .iter()
        .map(|w| format!("{}__count_over_{w}_days_rolling_windows", f.feature))
        .collect();
    let mut windows = Vec::new();
    for (w, name) in WINDOWS.iter().zip(&names) {
        // Sum of days T−W ..= T−1: cum(T−1) − cum(T−W−1).
        let trailing = |c: &str| {
            let cum = col(c).cum_sum(false);
            (cum.clone().shift(lit(1)).fill_null(lit(0)) - cum.shift(lit(w + 1)).fill_null(lit(0)))
                .over([col("cpf")])
        };
        windows.push(
            when(trailing("rows")?.eq(lit(0)))
                .then(lit(NULL).cast(DataType::Int64))
                .otherwise(trailing("n")?)
                .alias(name.as_str()),
        );
    }
    lf = lf.with_columns(windows);
    let mut changed = col("cpf").neq_missing(col("cpf").shift(lit(1)));
    for name in &names {
        changed = changed.or(col(name.as_str()).neq_missing(col(name.as_str()).shift(lit(1))));
    }
    let mut out = vec![
        col("cpf"),
        col("day")
            .cast(DataType::Int32)
            .cast(DataType::Date)
            .cast(DataType::Datetime(TimeUnit::Microseconds, None))
            .alias("timestamp"),
    ];
    for name in &names {
        out.push(col(name.as_str()).fill_null(lit(0)).cast(DataType::Int32));
    }
    lf.filter(changed).select(out).collect()
}
