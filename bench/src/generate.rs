//! A deterministic, seedable generator of order events shaped like the
//! chargeback example's input: `order_id,order_timestamp,cpf,chargeback_timestamp`.
//!
//! - `events` orders, ordered by time (as an export of an order log is),
//!   spread uniformly over `days` days from 2020-01-01;
//! - `events / 20` users, drawn from a Zipf distribution (exponent 1): a few
//!   users order every day, most order a handful of times;
//! - 5% of the orders are charged back 1 to 10 days after the order (some of
//!   them after the last day: those count in no window of the run).
//!
//! The same `(events, days, seed)` always gives the same bytes: the random
//! generator is PCG-64 (rand_pcg), whose output is fixed by its specification.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Zipf};
use rand_pcg::Pcg64Mcg;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Number of orders.
    pub events: usize,
    /// Days the orders are spread over.
    pub days: u32,
    /// Random seed.
    pub seed: u64,
}

impl Shape {
    /// The first day of the events.
    pub fn first_day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2020, 1, 1).expect("valid date")
    }

    /// The last day of the events: the end date a run over them uses.
    pub fn last_day(&self) -> NaiveDate {
        Self::first_day() + chrono::Duration::days(i64::from(self.days) - 1)
    }

    /// Number of distinct user ids the draws come from.
    pub fn users(&self) -> usize {
        (self.events / 20).max(1)
    }
}

/// Rows written per CSV chunk: bounds the generator's memory at any size.
const CHUNK: usize = 1_000_000;

/// Writes the events of `shape` as CSV to `path` (through a temporary file,
/// so an interrupted run never leaves a truncated file behind).
pub fn write_csv(shape: Shape, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = Pcg64Mcg::seed_from_u64(shape.seed);
    let span = i64::from(shape.days) * 86_400;
    let start = Shape::first_day()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp();
    // Order times first, sorted: 8 bytes per event.
    let mut seconds: Vec<i64> = (0..shape.events)
        .map(|_| start + rng.random_range(0..span))
        .collect();
    seconds.sort_unstable();

    let users = shape.users();
    let zipf = Zipf::new(users as f64, 1.0)?;
    let tmp = path.with_extension("csv.tmp");
    let file = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
    let dt = DataType::Datetime(TimeUnit::Microseconds, None);
    let schema = Schema::from_iter([
        Field::new("order_id".into(), DataType::String),
        Field::new("order_timestamp".into(), dt.clone()),
        Field::new("cpf".into(), DataType::String),
        Field::new("chargeback_timestamp".into(), dt.clone()),
    ]);
    let mut writer = CsvWriter::new(file)
        .include_header(true)
        .with_datetime_format(Some("%Y-%m-%d %H:%M:%S".into()))
        .batched(&schema)?;
    if seconds.is_empty() {
        writer.write_batch(&DataFrame::empty_with_schema(&schema))?;
    }
    for (chunk_no, chunk) in seconds.chunks(CHUNK).enumerate() {
        let base = chunk_no * CHUNK;
        let mut ids = Vec::with_capacity(chunk.len());
        let mut cpfs = Vec::with_capacity(chunk.len());
        let mut order_ts = Vec::with_capacity(chunk.len());
        let mut chargeback_ts = Vec::with_capacity(chunk.len());
        for (i, &s) in chunk.iter().enumerate() {
            ids.push(format!("o{:010}", base + i));
            let rank = zipf.sample(&mut rng) as u64;
            cpfs.push(cpf_of(rank, users as u64));
            order_ts.push(s * 1_000_000);
            chargeback_ts.push(rng.random_bool(0.05).then(|| {
                let delay = rng.random_range(86_400..=10 * 86_400);
                (s + delay) * 1_000_000
            }));
        }
        let df = DataFrame::new_infer_height(vec![
            Column::new("order_id".into(), ids),
            Column::new("order_timestamp".into(), order_ts).cast(&dt)?,
            Column::new("cpf".into(), cpfs),
            Column::new("chargeback_timestamp".into(), chargeback_ts).cast(&dt)?,
        ])?;
        writer.write_batch(&df)?;
    }
    writer.finish()?;
    drop(writer);
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// An 11-digit CPF-like id for a Zipf rank. Ranks are scattered over the id
/// space (an odd multiplier is a bijection modulo 2^k), so the heaviest
/// users are not the first keys in sort order.
fn cpf_of(rank: u64, users: u64) -> String {
    let scattered = rank.wrapping_mul(0x9E37_79B9_7F4A_7C15) % (users * 1_000 + 7);
    format!("{:011}", scattered)
}

/// Parses a count like `1m`, `100k`, `10M` or `250000`.
pub fn parse_count(s: &str) -> Result<usize, String> {
    let lower = s.trim().to_ascii_lowercase();
    let (digits, mult) = match lower.as_bytes().last() {
        Some(b'k') => (&lower[..lower.len() - 1], 1_000),
        Some(b'm') => (&lower[..lower.len() - 1], 1_000_000),
        _ => (lower.as_str(), 1),
    };
    digits
        .parse::<usize>()
        .map(|n| n * mult)
        .map_err(|_| format!("`{s}` is not a count like 100k, 1m or 250000"))
}

/// Formats a count the way [`parse_count`] reads it.
pub fn format_count(n: usize) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    #[test]
    fn counts_parse_with_suffixes() {
        assert_eq!(parse_count("100k"), Ok(100_000));
        assert_eq!(parse_count("1M"), Ok(1_000_000));
        assert_eq!(parse_count("250000"), Ok(250_000));
        assert!(parse_count("1g").is_err());
        assert_eq!(format_count(10_000_000), "10M");
        assert_eq!(format_count(100_000), "100k");
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_the_declared_shape() {
        let dir = tempfile::tempdir().unwrap();
        let shape = Shape {
            events: 20_000,
            days: 30,
            seed: 7,
        };
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        write_csv(shape, &a).unwrap();
        write_csv(shape, &b).unwrap();
        let bytes = std::fs::read(&a).unwrap();
        assert_eq!(bytes, std::fs::read(&b).unwrap());
        let text = String::from_utf8(bytes).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("order_id,order_timestamp,cpf,chargeback_timestamp")
        );
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), 20_000);
        let chargebacks = rows.iter().filter(|r| !r[3].is_empty()).count();
        // 5% of 20k = 1000; a binomial's standard deviation here is ~31.
        assert!((850..1150).contains(&chargebacks), "{chargebacks}");
        let users: std::collections::HashSet<&str> = rows.iter().map(|r| r[2]).collect();
        assert!(users.len() <= shape.users());
        // Zipf: the most frequent user has far more than the mean of 20.
        let mut freq = std::collections::HashMap::new();
        for r in &rows {
            *freq.entry(r[2]).or_insert(0) += 1;
        }
        assert!(*freq.values().max().unwrap() > 200);
        // Sorted by order time, inside the span.
        let fmt = "%Y-%m-%d %H:%M:%S";
        let times: Vec<NaiveDateTime> = rows
            .iter()
            .map(|r| NaiveDateTime::parse_from_str(r[1], fmt).unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(times[0].date() >= Shape::first_day());
        assert!(times.last().unwrap().date() <= shape.last_day());
        for r in rows.iter().filter(|r| !r[3].is_empty()) {
            let order = NaiveDateTime::parse_from_str(r[1], fmt).unwrap();
            let cb = NaiveDateTime::parse_from_str(r[3], fmt).unwrap();
            let delay = cb - order;
            assert!(delay >= chrono::Duration::days(1) && delay <= chrono::Duration::days(10));
        }
    }
}
