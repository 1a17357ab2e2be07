//! Times written as epoch counts or as formatted text: what a source reads
//! such a column as, and how it becomes a timestamp.

use polars::prelude::*;
use polars_arrow::array::{Array, PrimitiveArray};

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
        TimeEncoding::Format(mask) => text_to_timestamp(name, Some(mask)),
    }
    .alias(name)
}

/// Text column `name` as a timestamp (microseconds, UTC), in `format` or
/// in formats inferred from its values; strictly, as [`strptime_options`].
///
/// Text in an ISO layout (`%Y-%m-%d %H:%M:%S`, or with `T`, with or without
/// `%.f`) is parsed by [`iso_micros`] when every value is written
/// `YYYY-MM-DD HH:MM:SS`: polars' parse interprets the format for each value
/// and goes through a naive date and time, about 40 ns a value against 20
/// (10M events: 0.42 CPU-seconds against 0.22, by samples). Any other
/// value (a fraction, a bad date) sends the whole column to polars' parse, so
/// what is accepted, its value and the error are polars'.
pub(crate) fn text_to_timestamp(name: &str, format: Option<&'static str>) -> Expr {
    let general = move |e: Expr| {
        e.str().to_datetime(
            Some(TimeUnit::Microseconds),
            None,
            strptime_options(format),
            lit("raise"),
        )
    };
    let Some(separator) = format.and_then(iso_separator) else {
        return general(col(name));
    };
    col(name).map(
        move |c| match iso_column(&c, separator)? {
            Some(times) => Ok(times.into_column()),
            None => {
                let name = c.name().clone();
                let frame = DataFrame::new(c.len(), vec![c])?;
                let parsed = frame
                    .lazy()
                    .select([general(col(name.clone()))])
                    .collect()?;
                Ok(parsed.column(&name)?.clone())
            }
        },
        |_, field| {
            Ok(Field::new(
                field.name().clone(),
                DataType::Datetime(TimeUnit::Microseconds, None),
            ))
        },
    )
}

/// The byte between date and time of a format [`iso_micros`] reads: one
/// with whole seconds and no zone, whose values polars parses as it does.
fn iso_separator(format: &str) -> Option<u8> {
    match format {
        "%Y-%m-%d %H:%M:%S" | "%Y-%m-%d %H:%M:%S%.f" => Some(b' '),
        "%Y-%m-%dT%H:%M:%S" | "%Y-%m-%dT%H:%M:%S%.f" => Some(b'T'),
        _ => None,
    }
}

/// Every value of text column `c` by [`iso_micros`], or `None` if one is
/// written otherwise.
fn iso_column(c: &Column, separator: u8) -> PolarsResult<Option<DatetimeChunked>> {
    let text = c.str()?;
    let mut chunks = Vec::with_capacity(text.chunks().len());
    let mut last = LastDay::default();
    for array in text.downcast_iter() {
        let mut micros = Vec::with_capacity(array.len());
        for value in array.iter() {
            match value {
                Some(v) => match iso_micros(v.as_bytes(), separator, &mut last) {
                    Some(t) => micros.push(t),
                    None => return Ok(None),
                },
                None => micros.push(0),
            }
        }
        chunks.push(PrimitiveArray::from_vec(micros).with_validity(array.validity().cloned()));
    }
    Ok(Some(
        Int64Chunked::from_chunk_iter(c.name().clone(), chunks)
            .into_datetime(TimeUnit::Microseconds, None),
    ))
}

/// The date [`iso_micros`] read last: its text (`YYYY-MM-DD`) and its first
/// microsecond. Events mostly come in time order, so a value mostly has the
/// date of the one before: its date is then neither checked nor converted
/// again (chrono's checked date was a third of the parse).
#[derive(Default)]
struct LastDay(Option<([u8; 10], i64)>);

/// The microseconds since 1970-01-01 00:00:00 UTC of `text` written
/// exactly `YYYY-MM-DD?HH:MM:SS` (`?` the separator), a valid date and a
/// time of day without a leap second; `None` for anything else.
fn iso_micros(text: &[u8], separator: u8, last: &mut LastDay) -> Option<i64> {
    let text: &[u8; 19] = text.try_into().ok()?;
    let layout = [
        (4, b'-'),
        (7, b'-'),
        (10, separator),
        (13, b':'),
        (16, b':'),
    ];
    if layout.iter().any(|&(at, byte)| text[at] != byte) {
        return None;
    }
    // The number written at `at..at + n`, its digits only.
    let number = |at: usize, n: usize| {
        text[at..at + n].iter().try_fold(0u32, |v, &c| {
            let digit = c.wrapping_sub(b'0');
            (digit < 10).then(|| v * 10 + u32::from(digit))
        })
    };
    let date: [u8; 10] = text[..10].try_into().expect("ten bytes");
    let day = match last.0 {
        Some((read, micros)) if read == date => micros,
        _ => {
            let day = chrono::NaiveDate::from_ymd_opt(
                number(0, 4)? as i32,
                number(5, 2)?,
                number(8, 2)?,
            )?;
            let micros = crate::time::epoch_day(day) * crate::time::DAY_US;
            last.0 = Some((date, micros));
            micros
        }
    };
    // What `NaiveTime::from_hms_opt` accepts: no leap second.
    let (hour, minute, second) = (number(11, 2)?, number(14, 2)?, number(17, 2)?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(day + i64::from((hour * 60 + minute) * 60 + second) * 1_000_000)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ISO: [&str; 4] = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ];

    /// `values` read by `text_to_timestamp` and by polars' own parse: both
    /// the same times, or both an error.
    fn read_both_ways(values: &[Option<&str>], format: &'static str) {
        let frame = || df!("t" => values).expect("frame").lazy();
        let ours = frame()
            .select([text_to_timestamp("t", Some(format))])
            .collect();
        let polars = frame()
            .select([col("t").str().to_datetime(
                Some(TimeUnit::Microseconds),
                None,
                strptime_options(Some(format)),
                lit("raise"),
            )])
            .collect();
        match (ours, polars) {
            (Ok(ours), Ok(polars)) => {
                let (ours, polars) = (ours.column("t").unwrap(), polars.column("t").unwrap());
                assert_eq!(ours.dtype(), polars.dtype(), "{values:?} in {format}");
                assert!(
                    ours.as_materialized_series()
                        .equals_missing(polars.as_materialized_series()),
                    "{values:?} in {format}: {ours:?} against {polars:?}"
                );
            }
            (Err(_), Err(_)) => {}
            (ours, polars) => panic!("{values:?} in {format}: {ours:?} against {polars:?}"),
        }
    }

    #[test]
    fn iso_text_is_read_as_polars_reads_it() {
        let values = [
            "2020-01-01 00:00:00",
            "2020-02-29 23:59:59",
            "1969-12-31 23:59:59",
            "0000-01-01 00:00:00",
            "9999-12-31 23:59:59",
            "2021-02-29 00:00:00",
            "1900-02-29 00:00:00",
            "2020-13-01 00:00:00",
            "2020-00-10 00:00:00",
            "2020-01-32 00:00:00",
            "2020-01-01 24:00:00",
            "2020-01-01 00:60:00",
            "2020-12-31 23:59:60",
            "2020-01-01T00:00:00",
            "2020-01-01 00:00:00.5",
            "2020-01-01 00:00:00.123456789",
            "2020-01-01 00:00:00Z",
            "2020-1-01 00:00:00",
            "2020-01-01  0:00:00",
            "+020-01-01 00:00:00",
            "2020/01/01 00:00:00",
            "",
        ];
        for format in ISO {
            for v in values {
                read_both_ways(&[Some(v)], format);
                read_both_ways(&[Some("2020-06-01 12:30:45"), None, Some(v)], format);
                // After a value of the same date, read once for both.
                if let Some(date) = v.get(..11) {
                    let before = format!("{date}12:00:00");
                    read_both_ways(&[Some(&before), Some(v)], format);
                }
            }
            read_both_ways(&[None, None], format);
        }
    }

    #[test]
    fn iso_text_is_the_seconds_since_the_epoch() {
        // 2020-01-01 is 18262 days after 1970-01-01.
        let day = 18_262 * 86_400_000_000i64;
        let seconds = (12 * 3600 + 34 * 60 + 56) * 1_000_000;
        let micros = |text: &[u8], separator| iso_micros(text, separator, &mut LastDay::default());
        assert_eq!(micros(b"2020-01-01 12:34:56", b' '), Some(day + seconds));
        assert_eq!(micros(b"2020-01-01T12:34:56", b'T'), Some(day + seconds));
        assert_eq!(micros(b"2020-01-01T12:34:56", b' '), None);
        assert_eq!(micros(b"1970-01-01 00:00:00", b' '), Some(0));
        assert_eq!(micros(b"1969-12-31 23:59:59", b' '), Some(-1_000_000));
        // The date read before is the same one: its time is still checked.
        let mut last = LastDay::default();
        assert_eq!(
            iso_micros(b"2020-01-01 12:34:56", b' ', &mut last),
            Some(day + seconds)
        );
        assert_eq!(
            iso_micros(b"2020-01-01 00:00:00", b' ', &mut last),
            Some(day)
        );
        assert_eq!(iso_micros(b"2020-01-01 24:00:00", b' ', &mut last), None);
        assert_eq!(iso_micros(b"2020-01-01 23:60:00", b' ', &mut last), None);
        assert_eq!(
            iso_micros(b"2020-01-02 00:00:00", b' ', &mut last),
            Some(day + 86_400_000_000)
        );
    }

    #[test]
    fn a_column_with_a_value_written_otherwise_is_left_to_polars() {
        let column = |values: &[Option<&str>]| Column::new("t".into(), values);
        let read = |values: &[Option<&str>]| iso_column(&column(values), b' ').unwrap();
        assert!(read(&[Some("2020-01-01 00:00:00"), None]).is_some());
        assert!(read(&[Some("2020-01-01 00:00:00"), Some("2020-01-01 00:00:00.5")]).is_none());
        assert!(read(&[Some("2020-02-30 00:00:00")]).is_none());
        assert!(iso_separator("%d/%m/%Y %H:%M:%S").is_none());
        assert!(iso_separator("%Y-%m-%d %H:%M:%S%.3f").is_none());
    }

    proptest! {
        #[test]
        fn text_near_the_iso_layout_is_read_as_polars_reads_it(
            values in prop::collection::vec(
                prop::option::of(
                    "[0-9]{4}-[0-1][0-9]-[0-3][0-9][ T][0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{1,9})?",
                ),
                1..6,
            ),
            format in prop::sample::select(ISO.to_vec()),
        ) {
            let values: Vec<Option<&str>> = values.iter().map(Option::as_deref).collect();
            read_both_ways(&values, format);
        }

        #[test]
        fn times_of_one_date_are_read_as_polars_reads_them(
            date in "[0-9]{4}-[0-1][0-9]-[0-3][0-9]",
            times in prop::collection::vec("[0-2][0-9]:[0-6][0-9]:[0-6][0-9]", 1..6),
            format in prop::sample::select(ISO.to_vec()),
        ) {
            let separator = if format.contains('T') { 'T' } else { ' ' };
            let values: Vec<String> = times.iter().map(|t| format!("{date}{separator}{t}")).collect();
            let values: Vec<Option<&str>> = values.iter().map(|v| Some(v.as_str())).collect();
            read_both_ways(&values, format);
        }
    }
}
