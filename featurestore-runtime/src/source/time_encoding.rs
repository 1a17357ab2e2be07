//! Times written as epoch counts or as formatted text: what a source reads
//! such a column as, and how it becomes a timestamp.

use polars::prelude::*;

use crate::spec::TimeEncoding;

/// The polars type a file holds a column of times written this way in.
pub(crate) fn raw_dtype(encoding: TimeEncoding) -> DataType {
    match encoding {
        TimeEncoding::Epoch(_) => DataType::Int64,
        TimeEncoding::Format(_) => DataType::String,
    }
}

/// Whether a file column of type `found` can hold times written this way.
pub(crate) fn accepts(encoding: TimeEncoding, found: &DataType) -> bool {
    match encoding {
        TimeEncoding::Epoch(_) => found.is_integer() && *found != DataType::UInt64,
        TimeEncoding::Format(_) => *found == DataType::String,
    }
}

/// Column `name`, written this way, as a timestamp (microseconds, UTC). A
/// value that does not parse fails the read rather than becoming a null.
pub(crate) fn to_timestamp(name: &str, encoding: TimeEncoding) -> Expr {
    let micros = DataType::Datetime(TimeUnit::Microseconds, None);
    match encoding {
        TimeEncoding::Epoch(unit) => {
            (col(name).strict_cast(DataType::Int64) * lit(unit.micros())).strict_cast(micros)
        }
        TimeEncoding::Format(mask) => col(name).str().to_datetime(
            Some(TimeUnit::Microseconds),
            None,
            strptime_options(Some(mask)),
            lit("raise"),
        ),
    }
    .alias(name)
}

/// How text is parsed as a time, `format` given or inferred: strictly (a
/// value that does not parse fails), and without polars' cache of parsed
/// values. Event times are mostly distinct: the cache missed and cost twice
/// the parse (10M events: 3.2% of the run's CPU in its LRU, the parse
/// itself 1.5%).
pub(crate) fn strptime_options(format: Option<&str>) -> StrptimeOptions {
    StrptimeOptions {
        format: format.map(Into::into),
        strict: true,
        exact: true,
        cache: false,
    }
}

/// Whether the text `value` is a time written this way.
pub(crate) fn parses(value: &str, encoding: TimeEncoding) -> bool {
    match encoding {
        TimeEncoding::Epoch(unit) => value
            .trim()
            .parse::<i64>()
            .is_ok_and(|v| v.checked_mul(unit.micros()).is_some()),
        TimeEncoding::Format(mask) => {
            chrono::NaiveDateTime::parse_from_str(value, mask).is_ok()
                || chrono::NaiveDate::parse_from_str(value, mask).is_ok()
        }
    }
}

/// What a value written this way looks like, for messages.
pub(crate) fn expected(encoding: TimeEncoding) -> String {
    encoding.to_string()
}
