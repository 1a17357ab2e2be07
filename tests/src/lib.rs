//! Helpers shared by the cross-crate tests: the chargeback fixtures, and
//! stores in temporary directories.

use std::path::{Path, PathBuf};

use featurestore_runtime::cli::frame_strings;
use featurestore_runtime::config::Config;
use featurestore_runtime::pipeline::Stores;
use polars::prelude::{DataFrame, SortMultipleOptions};

/// The directory of the chargeback fixtures (input and Butterfree's output).
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/legiti")
}

/// The `features` crate's root (its `featurestore.toml` and data).
pub fn features_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../features")
}

/// A CSV file of the fixtures: its header and rows, as text. The fixtures
/// hold no quoted fields, so splitting on commas reads them exactly.
pub fn fixture_csv(name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let path = fixtures_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    parse_csv(&text)
}

/// Splits simple CSV text (no quoting) into a header and rows.
pub fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines().filter(|l| !l.is_empty());
    let header = lines
        .next()
        .map(|h| h.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// [`frame_rows`] of a run's rows ([`RunReport::rows`]), sorted by key and
/// time: a run holds each block of keys' rows by day. Sorted by every column
/// up to `timestamp` in turn (the keys, then the time, which make a row
/// unique).
///
/// [`RunReport::rows`]: featurestore_runtime::pipeline::RunReport::rows
pub fn run_rows(frame: &DataFrame) -> (Vec<String>, Vec<Vec<String>>) {
    let names = frame.get_column_names_owned();
    let until = names
        .iter()
        .position(|n| n.as_str() == "timestamp")
        .expect("a run's rows have a timestamp");
    let sorted = frame
        .sort(names[..=until].to_vec(), SortMultipleOptions::default())
        .expect("a run's rows sort by key and time");
    frame_rows(&sorted)
}

/// A frame's column names and rows as text (null as the empty string, as in the fixtures).
pub fn frame_rows(frame: &DataFrame) -> (Vec<String>, Vec<Vec<String>>) {
    let header = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let rows = frame_strings(frame)
        .expect("frame formats")
        .into_iter()
        .map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
        .collect();
    (header, rows)
}

/// A configuration reading the example's input, with both stores in a fresh
/// temporary directory (kept alive by the returned guard), the online store
/// on the default backend.
pub fn temp_config() -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::defaults(features_dir());
    config.historical_root = dir.path().join("historical").to_string_lossy().into_owned();
    config.online_url = format!("sqlite://{}", dir.path().join("online.sqlite").display());
    (dir, config)
}

/// Opens the stores of a configuration.
pub fn stores(config: &Config) -> Stores {
    Stores::open(config).expect("stores open")
}

/// The chargeback events without the orders of `ids`, in a temporary file
/// the configuration reads `order_events` from.
pub fn without_orders(
    config: &mut featurestore_runtime::config::Config,
    dir: &std::path::Path,
    ids: &[&str],
) {
    let input = std::fs::read_to_string(fixtures_dir().join("input.csv")).unwrap();
    let kept: Vec<&str> = input
        .lines()
        .filter(|line| !ids.iter().any(|id| line.starts_with(&format!("{id},"))))
        .collect();
    assert_eq!(
        kept.len(),
        input.lines().count() - ids.len(),
        "{ids:?} found"
    );
    let path = dir.join(format!("without_{}.csv", ids.join("_")));
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
    config
        .sources
        .insert("order_events".to_string(), path.display().to_string());
}
