//! The catalog of aggregation functions: their names as written, as output
//! column names spell them and in words; the column types each accepts and
//! what each returns; and the rule that makes a feature set plain.

use std::fmt;

/// An aggregation function of a feature.
///
/// Nulls are skipped by every function but `first` and `last` (Spark's
/// `ignorenulls = false`); a window without events is null, a window whose
/// events all have a null value is `0` for the counts, an empty list for
/// `most_frequent_set`, and null for the others. Under a `pivot`, a window
/// without an event of the pivot value is null for every function (Spark
/// leaves absent pivot cells null).
///
/// Events of one key at the same instant are in the order they were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregation {
    /// Number of non-null values.
    Count,
    /// Sum of the values.
    Sum,
    /// Arithmetic mean of the values.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Population standard deviation.
    StddevPop,
    /// Number of distinct non-null values (Spark's `count(DISTINCT x)`).
    CountDistinct,
    /// Spark's `approx_count_distinct`, computed exactly: its error is 0,
    /// within any relative standard deviation Spark's HyperLogLog++ allows.
    ApproxCountDistinct,
    /// Population variance: `Σ(x − mean)² / n`.
    VarPop,
    /// Sample standard deviation: `sqrt(Σ(x − mean)² / (n − 1))`; null for one
    /// value (Spark 3's default, not its legacy NaN).
    StddevSamp,
    /// Sample variance: `Σ(x − mean)² / (n − 1)`; null for one value.
    VarSamp,
    /// Spark's `first(x)`: the value of the earliest event, by event time,
    /// among events of the same time the first read; null when that
    /// event's value is null.
    First,
    /// Spark's `last(x)`: the value of the latest event, by event time,
    /// among events of the same time the last read; null when that event's
    /// value is null.
    Last,
    /// Spark's `first(x, ignorenulls = true)`: [`Aggregation::First`] of
    /// the events whose value is not null.
    FirstIgnoreNulls,
    /// Spark's `last(x, ignorenulls = true)`: [`Aggregation::Last`] of the
    /// events whose value is not null.
    LastIgnoreNulls,
    /// The most frequent value; among equally frequent values, the smallest.
    Mode,
    /// Every distinct non-null value, most frequent first; equally frequent
    /// values in the order they first appear in the window (time, then read
    /// order). An empty list when every value is null.
    MostFrequentSet,
    /// No aggregation: the feature of a plain feature set, one row per
    /// event, holds a value of that event's row. Never written by users.
    Value,
    /// In a plain feature set: the value of the event `n` before, in the
    /// key's time order (null if there is none).
    Lag(u32),
    /// In a plain feature set: the value of the event `n` after (null if
    /// there is none).
    Lead(u32),
    /// Spark's exact `percentile(x, p)`: over the sorted values `v₀ … vₙ₋₁`,
    /// at position `r = p·(n − 1)`, `(⌈r⌉ − r)·v⌊r⌋ + (r − ⌊r⌋)·v⌈r⌉`.
    Percentile(Percentage),
    /// Spark's `mean`, another name of [`Aggregation::Avg`].
    Mean,
    /// Spark's `stddev`, another name of [`Aggregation::StddevSamp`].
    Stddev,
    /// Spark's `variance`, another name of [`Aggregation::VarSamp`].
    Variance,
    /// Spark's `median`: [`Aggregation::Percentile`] at `0.5`.
    Median,
    /// Spark's `percentile_approx(x, p)`, computed exactly: the smallest
    /// value `v` of the sorted values with at least `⌈p·n⌉` values `<= v`
    /// (the first value for `p = 0`), so a value of the column, not an
    /// interpolation. Its error is 0, within any accuracy Spark allows.
    PercentileApprox(Percentage),
    /// Spark's `approx_percentile`, another name of
    /// [`Aggregation::PercentileApprox`].
    ApproxPercentile(Percentage),
    /// Spark's `product`: the product of the values, as a float.
    Product,
    /// Spark's `skewness`: `√n·m₃ / m₂^1.5` with `mₖ = Σ(x − mean)ᵏ`; null
    /// when every value is equal (Spark 3's default, not its legacy NaN).
    Skewness,
    /// Spark's `kurtosis` (excess): `n·m₄ / m₂² − 3`; null when every value
    /// is equal.
    Kurtosis,
    /// Spark's `sum(DISTINCT x)`: the sum of the distinct values.
    SumDistinct,
    /// Spark's `collect_list`: the non-null values in time, then read,
    /// order. An empty list when every value is null.
    CollectList,
    /// Spark's `collect_set`: the distinct non-null values, in the order
    /// they first appear (Spark leaves the order unspecified). An empty
    /// list when every value is null.
    CollectSet,
    /// Spark's `count_if`: the number of `true` values of a boolean column
    /// (`0` when none is).
    CountIf,
    /// Spark's `bool_and` (`every`): whether every non-null value is `true`.
    BoolAnd,
    /// Spark's `bool_or` (`any`, `some`): whether a non-null value is `true`.
    BoolOr,
    /// Spark's `max_by(x, ord)`: the value of `x` (null included) of the
    /// event with the largest `ord`, events with a null `ord` left out; of
    /// several events with that `ord`, the latest (time, then read order),
    /// as Spark's update keeps the later of equal orderings. The argument
    /// is the ordering column.
    MaxBy(&'static str),
    /// Spark's `min_by(x, ord)`: [`Aggregation::MaxBy`] at the smallest `ord`.
    MinBy(&'static str),
}

/// The `p` of `percentile(x, p)`, in millionths: `0.5` is `500_000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Percentage {
    /// `p × 1 000 000`, from `0` to `1 000 000`.
    pub millionths: u32,
}

impl Percentage {
    /// `p` as a float.
    pub fn value(self) -> f64 {
        f64::from(self.millionths) / 1_000_000.0
    }
}

/// The column types a function accepts, each checked by the compiler
/// through a trait of the runtime's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Accepts {
    /// Any column type: the function counts, compares or returns values.
    Countable,
    /// Integers and floats: the function computes with the values.
    Numeric,
    /// Types with an order: the function compares the values.
    Ordered,
    /// `bool`: the function reads truth values.
    Boolean,
}

/// The kind of number a function returns, which decides whether an integer
/// feature can hold it without truncating it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberKind {
    /// Whole numbers whatever the column (the counts).
    Whole,
    /// Fractions whatever the column (means, deviations, variances,
    /// percentiles, ratios): an integer feature would truncate them.
    Fraction,
    /// Numbers of the column's kind: whole for an integer column, fractions
    /// for a float column (`sum`, `min`, `max`).
    OfColumn,
}

impl Aggregation {
    /// Every function users write, in the order messages list them, with
    /// default arguments (`lag` and `lead` by 1, `percentile` at 0): for
    /// looking a name up, not for computing.
    pub const ALL: [Aggregation; 35] = [
        Aggregation::Count,
        Aggregation::Sum,
        Aggregation::Avg,
        Aggregation::Min,
        Aggregation::Max,
        Aggregation::StddevPop,
        Aggregation::CountDistinct,
        Aggregation::ApproxCountDistinct,
        Aggregation::VarPop,
        Aggregation::StddevSamp,
        Aggregation::VarSamp,
        Aggregation::First,
        Aggregation::Last,
        Aggregation::Mode,
        Aggregation::MostFrequentSet,
        Aggregation::Percentile(Percentage { millionths: 0 }),
        Aggregation::Lag(1),
        Aggregation::Lead(1),
        Aggregation::Mean,
        Aggregation::Stddev,
        Aggregation::Variance,
        Aggregation::Median,
        Aggregation::PercentileApprox(Percentage { millionths: 0 }),
        Aggregation::ApproxPercentile(Percentage { millionths: 0 }),
        Aggregation::Product,
        Aggregation::Skewness,
        Aggregation::Kurtosis,
        Aggregation::SumDistinct,
        Aggregation::CollectList,
        Aggregation::CollectSet,
        Aggregation::CountIf,
        Aggregation::BoolAnd,
        Aggregation::BoolOr,
        Aggregation::MaxBy(""),
        Aggregation::MinBy(""),
    ];

    /// The names of [`Aggregation::ALL`], for messages and "did you mean".
    pub const NAMES: [&'static str; 35] = {
        let mut names = [""; 35];
        let mut i = 0;
        while i < names.len() {
            names[i] = Aggregation::ALL[i].name();
            i += 1;
        }
        names
    };

    /// The function's name in attributes; output column names add its
    /// argument (see [`Aggregation::label`]).
    pub const fn name(self) -> &'static str {
        match self {
            Aggregation::Count => "count",
            Aggregation::Sum => "sum",
            Aggregation::Avg => "avg",
            Aggregation::Min => "min",
            Aggregation::Max => "max",
            Aggregation::StddevPop => "stddev_pop",
            Aggregation::CountDistinct => "count_distinct",
            Aggregation::ApproxCountDistinct => "approx_count_distinct",
            Aggregation::VarPop => "var_pop",
            Aggregation::StddevSamp => "stddev_samp",
            Aggregation::VarSamp => "var_samp",
            Aggregation::First | Aggregation::FirstIgnoreNulls => "first",
            Aggregation::Last | Aggregation::LastIgnoreNulls => "last",
            Aggregation::Mode => "mode",
            Aggregation::MostFrequentSet => "most_frequent_set",
            Aggregation::Value => "value",
            Aggregation::Lag(_) => "lag",
            Aggregation::Lead(_) => "lead",
            Aggregation::Percentile(_) => "percentile",
            Aggregation::Mean => "mean",
            Aggregation::Stddev => "stddev",
            Aggregation::Variance => "variance",
            Aggregation::Median => "median",
            Aggregation::PercentileApprox(_) => "percentile_approx",
            Aggregation::ApproxPercentile(_) => "approx_percentile",
            Aggregation::Product => "product",
            Aggregation::Skewness => "skewness",
            Aggregation::Kurtosis => "kurtosis",
            Aggregation::SumDistinct => "sum_distinct",
            Aggregation::CollectList => "collect_list",
            Aggregation::CollectSet => "collect_set",
            Aggregation::CountIf => "count_if",
            Aggregation::BoolAnd => "bool_and",
            Aggregation::BoolOr => "bool_or",
            Aggregation::MaxBy(_) => "max_by",
            Aggregation::MinBy(_) => "min_by",
        }
    }

    /// The function users write under `name`, with default arguments (see
    /// [`Aggregation::ALL`]; `first` and `last` keep nulls); `value` is not
    /// written, so not found.
    pub fn from_name(name: &str) -> Option<Aggregation> {
        Aggregation::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The function as output column names spell it: the name, and its
    /// argument after `_`, a percentile's percentage with `_` for the
    /// decimal point (`percentile_50`, `percentile_99_9`, `lag_1`);
    /// `first_ignore_nulls` and `last_ignore_nulls` for the null-skipping
    /// `first` and `last`.
    pub fn label(self) -> String {
        match self {
            Aggregation::Percentile(p)
            | Aggregation::PercentileApprox(p)
            | Aggregation::ApproxPercentile(p) => {
                let percent = format!("{}", f64::from(p.millionths) / 10_000.0);
                format!("{}_{}", self.name(), percent.replace('.', "_"))
            }
            Aggregation::Lag(n) => format!("lag_{n}"),
            Aggregation::Lead(n) => format!("lead_{n}"),
            Aggregation::FirstIgnoreNulls => "first_ignore_nulls".into(),
            Aggregation::LastIgnoreNulls => "last_ignore_nulls".into(),
            other => other.name().to_string(),
        }
    }

    /// What the function computes, in words, for docs.
    pub fn describe(self) -> String {
        match self {
            Aggregation::Count => "number of non-null values".into(),
            Aggregation::Sum => "sum".into(),
            Aggregation::Avg => "mean".into(),
            Aggregation::Min => "smallest value".into(),
            Aggregation::Max => "largest value".into(),
            Aggregation::StddevPop => "population standard deviation".into(),
            Aggregation::CountDistinct => "number of distinct non-null values".into(),
            Aggregation::ApproxCountDistinct => {
                "number of distinct non-null values, computed exactly (error 0)".into()
            }
            Aggregation::VarPop => "population variance".into(),
            Aggregation::StddevSamp => "sample standard deviation (null for a single value)".into(),
            Aggregation::VarSamp => "sample variance (null for a single value)".into(),
            Aggregation::First => {
                "value of the earliest event, null if it has none (ties: the first read)".into()
            }
            Aggregation::Last => {
                "value of the latest event, null if it has none (ties: the last read)".into()
            }
            Aggregation::FirstIgnoreNulls => {
                "earliest non-null value (ties: the first read)".into()
            }
            Aggregation::LastIgnoreNulls => "latest non-null value (ties: the last read)".into(),
            Aggregation::Mode => "most frequent value (ties: the smallest value)".into(),
            Aggregation::MostFrequentSet => {
                "distinct values, most frequent first (ties: first appearance)".into()
            }
            Aggregation::Value => "value of the event's row".into(),
            Aggregation::Lag(n) => format!("value of the event {n} before, by time (null if none)"),
            Aggregation::Lead(n) => format!("value of the event {n} after, by time (null if none)"),
            Aggregation::Percentile(p) => format!(
                "exact {} percentile, interpolated linearly between the nearest values",
                p.value()
            ),
            Aggregation::Mean => "mean (`avg`)".into(),
            Aggregation::Stddev => {
                "sample standard deviation (`stddev_samp`; null for a single value)".into()
            }
            Aggregation::Variance => "sample variance (`var_samp`; null for a single value)".into(),
            Aggregation::Median => "exact median, interpolated as `percentile(x, 0.5)`".into(),
            Aggregation::PercentileApprox(p) | Aggregation::ApproxPercentile(p) => format!(
                "{} percentile, a value of the column, computed exactly (error 0)",
                p.value()
            ),
            Aggregation::Product => "product of the values".into(),
            Aggregation::Skewness => "skewness (null when every value is equal)".into(),
            Aggregation::Kurtosis => "excess kurtosis (null when every value is equal)".into(),
            Aggregation::SumDistinct => "sum of the distinct values".into(),
            Aggregation::CollectList => "non-null values in time order".into(),
            Aggregation::CollectSet => "distinct non-null values, in order of appearance".into(),
            Aggregation::CountIf => "number of `true` values".into(),
            Aggregation::BoolAnd => "whether every non-null value is `true`".into(),
            Aggregation::BoolOr => "whether any non-null value is `true`".into(),
            Aggregation::MaxBy(by) => {
                format!("value at the largest `{by}` (ties: the latest event)")
            }
            Aggregation::MinBy(by) => {
                format!("value at the smallest `{by}` (ties: the latest event)")
            }
        }
    }

    /// The column types the function accepts.
    pub const fn accepts(self) -> Accepts {
        match self {
            Aggregation::Count
            | Aggregation::CountDistinct
            | Aggregation::ApproxCountDistinct
            | Aggregation::First
            | Aggregation::Last
            | Aggregation::FirstIgnoreNulls
            | Aggregation::LastIgnoreNulls
            | Aggregation::Mode
            | Aggregation::MostFrequentSet
            | Aggregation::Value
            | Aggregation::Lag(_)
            | Aggregation::Lead(_)
            | Aggregation::CollectList
            | Aggregation::CollectSet
            | Aggregation::MaxBy(_)
            | Aggregation::MinBy(_) => Accepts::Countable,
            Aggregation::Sum
            | Aggregation::Avg
            | Aggregation::StddevPop
            | Aggregation::VarPop
            | Aggregation::StddevSamp
            | Aggregation::VarSamp
            | Aggregation::Percentile(_)
            | Aggregation::Mean
            | Aggregation::Stddev
            | Aggregation::Variance
            | Aggregation::Median
            | Aggregation::PercentileApprox(_)
            | Aggregation::ApproxPercentile(_)
            | Aggregation::Product
            | Aggregation::Skewness
            | Aggregation::Kurtosis
            | Aggregation::SumDistinct => Accepts::Numeric,
            Aggregation::CountIf | Aggregation::BoolAnd | Aggregation::BoolOr => Accepts::Boolean,
            Aggregation::Min | Aggregation::Max => Accepts::Ordered,
        }
    }

    /// Whether the function returns one of its column's values (so the
    /// output has the column's type) rather than a number.
    pub const fn returns_a_value(self) -> bool {
        matches!(
            self,
            Aggregation::First
                | Aggregation::Last
                | Aggregation::FirstIgnoreNulls
                | Aggregation::LastIgnoreNulls
                | Aggregation::Mode
                | Aggregation::BoolAnd
                | Aggregation::BoolOr
                | Aggregation::Lag(_)
                | Aggregation::Lead(_)
                | Aggregation::MaxBy(_)
                | Aggregation::MinBy(_)
        )
    }

    /// Whether the function returns lists of its column's values.
    pub const fn returns_a_set(self) -> bool {
        matches!(
            self,
            Aggregation::MostFrequentSet | Aggregation::CollectList | Aggregation::CollectSet
        )
    }

    /// Whether the function returns a number.
    pub const fn returns_a_number(self) -> bool {
        !self.returns_a_value() && !self.returns_a_set()
    }

    /// The kind of number the function returns; `None` for the functions
    /// that return their column's values or lists of them (see
    /// [`Aggregation::returns_a_value`]). Every function is classified
    /// here, so that an integer feature never silently truncates a new one.
    pub const fn number_kind(self) -> Option<NumberKind> {
        match self {
            Aggregation::Count
            | Aggregation::CountDistinct
            | Aggregation::ApproxCountDistinct
            | Aggregation::CountIf => Some(NumberKind::Whole),
            Aggregation::Avg
            | Aggregation::Mean
            | Aggregation::StddevPop
            | Aggregation::VarPop
            | Aggregation::StddevSamp
            | Aggregation::Stddev
            | Aggregation::VarSamp
            | Aggregation::Variance
            | Aggregation::Percentile(_)
            | Aggregation::Median
            | Aggregation::Product
            | Aggregation::Skewness
            | Aggregation::Kurtosis => Some(NumberKind::Fraction),
            // `percentile_approx` picks one of the column's values.
            Aggregation::Sum
            | Aggregation::SumDistinct
            | Aggregation::Min
            | Aggregation::Max
            | Aggregation::PercentileApprox(_)
            | Aggregation::ApproxPercentile(_) => Some(NumberKind::OfColumn),
            Aggregation::First
            | Aggregation::Last
            | Aggregation::FirstIgnoreNulls
            | Aggregation::LastIgnoreNulls
            | Aggregation::BoolAnd
            | Aggregation::BoolOr
            | Aggregation::CollectList
            | Aggregation::CollectSet
            | Aggregation::Mode
            | Aggregation::MostFrequentSet
            | Aggregation::Value
            | Aggregation::Lag(_)
            | Aggregation::Lead(_)
            | Aggregation::MaxBy(_)
            | Aggregation::MinBy(_) => None,
        }
    }

    /// The ordering column of `max_by` and `min_by`, read beside the
    /// function's own column.
    pub const fn ordering(self) -> Option<&'static str> {
        match self {
            Aggregation::MaxBy(by) | Aggregation::MinBy(by) => Some(by),
            _ => None,
        }
    }

    /// Whether the function is `lag` or `lead`: a value of another event.
    pub const fn is_shift(self) -> bool {
        matches!(self, Aggregation::Lag(_) | Aggregation::Lead(_))
    }

    /// Whether a window function (`over`, `rows`) can compute it.
    pub const fn in_frames(self) -> bool {
        matches!(
            self,
            Aggregation::Count
                | Aggregation::Sum
                | Aggregation::Avg
                | Aggregation::Min
                | Aggregation::Max
                | Aggregation::StddevPop
                | Aggregation::VarPop
                | Aggregation::StddevSamp
                | Aggregation::VarSamp
                | Aggregation::Percentile(_)
                | Aggregation::Mean
                | Aggregation::Stddev
                | Aggregation::Variance
        )
    }

    /// The function an alias names (`mean` is `avg`, `stddev` is
    /// `stddev_samp`, `variance` is `var_samp`, `median` is `percentile`
    /// at 0.5, `approx_percentile` is `percentile_approx`); any other
    /// function itself. Output names keep the alias.
    pub const fn canonical(self) -> Aggregation {
        match self {
            Aggregation::Mean => Aggregation::Avg,
            Aggregation::Stddev => Aggregation::StddevSamp,
            Aggregation::Variance => Aggregation::VarSamp,
            Aggregation::Median => Aggregation::Percentile(Percentage {
                millionths: 500_000,
            }),
            Aggregation::ApproxPercentile(p) => Aggregation::PercentileApprox(p),
            other => other,
        }
    }
}

impl fmt::Display for Aggregation {
    /// The function as written, with its argument: `count`,
    /// `percentile(0.5)`, `lag(1)`, `first(ignore_nulls = true)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aggregation::Percentile(p)
            | Aggregation::PercentileApprox(p)
            | Aggregation::ApproxPercentile(p) => write!(f, "{}({})", self.name(), p.value()),
            Aggregation::Lag(n) => write!(f, "lag({n})"),
            Aggregation::Lead(n) => write!(f, "lead({n})"),
            Aggregation::FirstIgnoreNulls => f.write_str("first(ignore_nulls = true)"),
            Aggregation::LastIgnoreNulls => f.write_str("last(ignore_nulls = true)"),
            Aggregation::MaxBy(by) | Aggregation::MinBy(by) => {
                write!(f, "{}(_, {by})", self.name())
            }
            other => f.write_str(other.name()),
        }
    }
}

/// Whether a feature has a value per event rather than per window: a plain
/// value (`column`, `sql`, `function`), window functions over a frame
/// (`over`, `rows`), or only `lag`/`lead`.
pub fn is_row_level(
    has_plain: bool,
    has_frame: bool,
    aggregations: impl IntoIterator<Item = Aggregation>,
) -> bool {
    let mut aggregations = aggregations.into_iter().peekable();
    has_plain
        || has_frame
        || (aggregations.peek().is_some() && aggregations.all(Aggregation::is_shift))
}

/// Whether a feature set is plain, one row per event without aggregation:
/// it has features, and every one is row-level (see [`is_row_level`]).
pub fn is_plain(row_level: impl IntoIterator<Item = bool>) -> bool {
    let mut any = false;
    for feature in row_level {
        if !feature {
            return false;
        }
        any = true;
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percentile(millionths: u32) -> Aggregation {
        Aggregation::Percentile(Percentage { millionths })
    }

    #[test]
    fn names_round_trip() {
        for a in Aggregation::ALL {
            assert_eq!(Aggregation::from_name(a.name()), Some(a));
        }
        assert_eq!(Aggregation::NAMES[0], "count");
        assert_eq!(Aggregation::NAMES[17], "lead");
        assert_eq!(Aggregation::NAMES[29], "collect_set");
        assert_eq!(Aggregation::from_name("value"), None);
        assert_eq!(Aggregation::from_name("mean"), Some(Aggregation::Mean));
        assert_eq!(Aggregation::Mean.canonical(), Aggregation::Avg);
        assert_eq!(Aggregation::Stddev.label(), "stddev");
        assert_eq!(
            Aggregation::ApproxPercentile(Percentage {
                millionths: 900_000
            })
            .label(),
            "approx_percentile_90"
        );
    }

    #[test]
    fn labels() {
        assert_eq!(Aggregation::StddevPop.label(), "stddev_pop");
        assert_eq!(percentile(500_000).label(), "percentile_50");
        assert_eq!(percentile(999_000).label(), "percentile_99_9");
        assert_eq!(percentile(1_000_000).label(), "percentile_100");
        assert_eq!(Aggregation::Lag(2).label(), "lag_2");
        assert_eq!(Aggregation::Lead(1).label(), "lead_1");
        assert_eq!(Aggregation::First.label(), "first");
        assert_eq!(Aggregation::LastIgnoreNulls.label(), "last_ignore_nulls");
        assert_eq!(Aggregation::FirstIgnoreNulls.name(), "first");
        assert_eq!(Aggregation::from_name("last"), Some(Aggregation::Last));
    }

    #[test]
    fn as_written() {
        assert_eq!(Aggregation::Count.to_string(), "count");
        assert_eq!(percentile(500_000).to_string(), "percentile(0.5)");
        assert_eq!(Aggregation::Lag(3).to_string(), "lag(3)");
        assert!(Aggregation::Lead(1).describe().ends_with("(null if none)"));
        assert!(percentile(250_000)
            .describe()
            .starts_with("exact 0.25 percentile"));
    }

    #[test]
    fn kinds() {
        assert_eq!(Aggregation::Min.accepts(), Accepts::Ordered);
        assert_eq!(percentile(1).accepts(), Accepts::Numeric);
        assert_eq!(Aggregation::Mode.accepts(), Accepts::Countable);
        assert!(Aggregation::Mode.returns_a_value());
        assert!(Aggregation::MostFrequentSet.returns_a_set());
        assert!(Aggregation::Count.returns_a_number());
        assert!(!Aggregation::Lag(1).returns_a_number());
        assert!(Aggregation::Percentile(Percentage { millionths: 0 }).in_frames());
        assert!(!Aggregation::Mode.in_frames());
    }

    #[test]
    fn number_kinds_agree_with_what_the_functions_return() {
        use NumberKind::*;
        assert_eq!(Aggregation::Count.number_kind(), Some(Whole));
        assert_eq!(Aggregation::Avg.number_kind(), Some(Fraction));
        assert_eq!(percentile(500_000).number_kind(), Some(Fraction));
        assert_eq!(Aggregation::VarSamp.number_kind(), Some(Fraction));
        assert_eq!(Aggregation::Sum.number_kind(), Some(OfColumn));
        assert_eq!(Aggregation::Mode.number_kind(), None);
        // A number kind exactly for the functions that return numbers.
        for a in Aggregation::ALL {
            assert_eq!(a.number_kind().is_some(), a.returns_a_number(), "{a}");
        }
    }

    #[test]
    fn row_level_features_and_plain_sets() {
        use Aggregation::*;
        assert!(is_row_level(true, false, []));
        assert!(is_row_level(false, true, [Sum]));
        assert!(is_row_level(false, false, [Lag(1), Lead(2)]));
        assert!(!is_row_level(false, false, [Lag(1), Count]));
        assert!(!is_row_level(false, false, []));
        assert!(is_plain([true, true]));
        assert!(!is_plain([true, false]));
        assert!(!is_plain([]));
    }
}
