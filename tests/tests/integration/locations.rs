//! The chargeback example with its historical store, datasets and run locks
//! in an object store: `memory://`, this process's in-memory store, stands
//! for S3, GCS and Azure, and gives exactly what a local disk gives.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use clap::Parser;
use features::UserOrders;
use featurestore_runtime::cli::{self, Cli};
use featurestore_runtime::config::Config;
use featurestore_runtime::io::block_on;
use featurestore_runtime::location::FileLocation;
use featurestore_runtime::pipeline::lock::{ObjectLock, RunLock, DEFAULT_TTL};
use featurestore_runtime::pipeline::{self, RunReport, Stores};
use featurestore_runtime::{DateRange, Error, FeatureSet};
use futures::TryStreamExt;
use object_store::{ObjectStoreExt, PutPayload};
use polars::prelude::*;
use tests::{fixture_csv, fixtures_dir, frame_rows, parse_csv, stores, temp_config};

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn run(config: &Config, st: &Stores, start: Option<&str>, end: &str) -> RunReport {
    pipeline::execute(
        &UserOrders::SPEC,
        config,
        st,
        DateRange {
            start: start.map(date),
            end: Some(date(end)),
        },
        &|_| {},
    )
    .expect("run succeeds")
}

/// A configuration with the historical store at `memory://{name}/historical`.
fn in_memory(name: &str) -> (tempfile::TempDir, Config) {
    let (dir, mut config) = temp_config();
    config.historical_root = format!("memory://{name}/historical");
    (dir, config)
}

fn location(url: &str) -> FileLocation {
    FileLocation::parse(url, Path::new("/")).unwrap()
}

/// Every object below `at`, by path relative to it, with its bytes.
fn objects(at: &FileLocation) -> BTreeMap<String, Vec<u8>> {
    let store = at.store();
    block_on(async {
        let listed: Vec<_> = store.list(Some(at.path())).try_collect().await?;
        let mut out = BTreeMap::new();
        for meta in listed {
            let rel: Vec<String> = meta
                .location
                .prefix_match(at.path())
                .expect("below the prefix")
                .map(|p| p.as_ref().to_string())
                .collect();
            let bytes = store.get(&meta.location).await?.bytes().await?;
            out.insert(rel.join("/"), bytes.to_vec());
        }
        Ok::<_, object_store::Error>(out)
    })
    .unwrap()
}

/// The bytes of the object at `at`, if there is one.
fn object(at: &FileLocation) -> Option<Vec<u8>> {
    match block_on(async { at.store().get(at.path()).await?.bytes().await }) {
        Ok(bytes) => Some(bytes.to_vec()),
        Err(object_store::Error::NotFound { .. }) => None,
        Err(e) => panic!("{e}"),
    }
}

/// The stored rows of user_orders as text, without the partition columns.
fn stored_rows(st: &Stores) -> (Vec<String>, Vec<Vec<String>>) {
    let frame = st
        .historical
        .read(&UserOrders::SPEC, None)
        .unwrap()
        .drop_many(["year", "month", "day"]);
    frame_rows(&frame)
}

#[test]
fn historical_rows_in_memory_equal_those_on_disk() {
    let (disk_dir, on_disk) = temp_config();
    let (_dir, in_mem) = in_memory("locations-equal");
    let (disk, mem) = (stores(&on_disk), stores(&in_mem));
    run(&on_disk, &disk, None, "2020-07-17");
    run(&in_mem, &mem, None, "2020-07-17");

    assert_eq!(stored_rows(&mem), fixture_csv("user_orders.csv"));
    assert_eq!(stored_rows(&mem), stored_rows(&disk));
    // The same partition files, byte for byte.
    let table = "historical/cpf/user_orders";
    let written = objects(&location(&format!("memory://locations-equal/{table}")));
    assert_eq!(
        written,
        objects(&FileLocation::local(&disk_dir.path().join(table)))
    );
    assert!(written.len() > 20, "{:?}", written.keys());
    assert!(
        written
            .keys()
            .all(|k| k.starts_with("year=") && k.ends_with("/part-00000.parquet")),
        "{:?}",
        written.keys()
    );
}

#[test]
fn a_rerun_in_memory_replaces_exactly_its_range() {
    let (dir, mut config) = in_memory("locations-rerun");
    let st = stores(&config);
    run(&config, &st, None, "2020-07-17");
    let table = location("memory://locations-rerun/historical/cpf/user_orders");
    let before = objects(&table);

    // Again from the 15th of July, on an export without the orders of the
    // 15th and the 16th.
    let input = std::fs::read_to_string(fixtures_dir().join("input.csv")).unwrap();
    let fewer: String = input
        .lines()
        .filter(|l| !l.starts_with("h,") && !l.starts_with("i,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let path = dir.path().join("fewer.csv");
    std::fs::write(&path, fewer).unwrap();
    config.sources.insert(
        "order_events".to_string(),
        path.to_string_lossy().into_owned(),
    );
    let rerun = run(&config, &st, Some("2020-07-15"), "2020-07-17");
    assert_eq!(rerun.days, Some((date("2020-07-15"), date("2020-07-17"))));

    // Rows before the range are the first run's; in the range, the rerun's.
    let (header, all) = fixture_csv("user_orders.csv");
    let (rerun_header, rerun_rows) = frame_rows(&rerun.rows);
    assert_eq!(rerun_header, header);
    let mut expected: Vec<Vec<String>> = all
        .into_iter()
        .filter(|r| r[1].as_str() < "2020-07-15")
        .chain(rerun_rows)
        .collect();
    expected.sort();
    assert_eq!(stored_rows(&st), (header, expected));

    // The partitions before the range were not touched; no staging is left.
    let after = objects(&table);
    let outside = |m: &BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        m.iter()
            .filter(|(k, _)| !k.starts_with("year=2020/month=7/day=1"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    assert_eq!(outside(&after), outside(&before));
    assert_ne!(after, before);
    assert!(
        after.keys().all(|k| !k.contains("_staging")),
        "{:?}",
        after.keys()
    );
}

#[test]
fn a_dataset_is_written_to_an_object_store_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "features",
        "--historical-root",
        "memory://locations-dataset/historical",
        "--online-url",
        &format!("redb://{}", dir.path().join("online.redb").display()),
        "--datasets-root",
        "memory://locations-dataset/datasets",
        "--source",
        &format!(
            "order_events={}",
            fixtures_dir().join("input.csv").display()
        ),
        "execute",
        "dataset.awesome_dataset",
        "--end-date",
        "2020-07-17",
        "--format",
        "csv",
    ];
    let mut out = Vec::new();
    cli::run(
        &features::registry(),
        Cli::try_parse_from(args).unwrap(),
        None,
        &mut out,
    )
    .expect("the dataset builds");
    let expected = fixture_csv("awesome_dataset.csv");
    assert_eq!(parse_csv(&String::from_utf8(out).unwrap()), expected);

    let written = objects(&location("memory://locations-dataset/datasets"));
    let names: Vec<&str> = written.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "awesome_dataset/awesome_dataset.csv",
            "awesome_dataset/awesome_dataset.parquet"
        ]
    );
    let csv = String::from_utf8(written["awesome_dataset/awesome_dataset.csv"].clone()).unwrap();
    assert_eq!(parse_csv(&csv), expected);
    let parquet = ParquetReader::new(std::io::Cursor::new(
        written["awesome_dataset/awesome_dataset.parquet"].clone(),
    ))
    .finish()
    .unwrap();
    assert_eq!(frame_rows(&parquet), expected);
}

#[test]
fn a_run_in_an_object_store_is_locked_with_a_lock_object() {
    let (_dir, config) = in_memory("locations-lock");
    let st = stores(&config);
    let lock = location("memory://locations-lock/historical/_locks/user_orders.lock");
    let held = pipeline::lock(&config, &["user_orders"]).unwrap();
    let record: serde_json::Value =
        serde_json::from_slice(&object(&lock).expect("a lock object")).expect("a JSON lock record");
    assert_eq!(record["holder"]["pid"], std::process::id());
    let run_id = record["holder"]["run_id"].as_str().unwrap().to_string();

    // Another run (here, one that does not share this process's locks) is
    // refused, told who holds the lock and where it is.
    let err = block_on(ObjectLock::try_acquire(&lock, "user_orders", DEFAULT_TTL)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("feature set `user_orders` is being run by another process (host ")
            && text.contains(&format!("pid {}, run {run_id}, since ", std::process::id()))
            && text.contains(
                "; lock file memory://locations-lock/historical/_locks/user_orders.lock: "
            ),
        "{text}"
    );
    // This process's own run shares the lock.
    run(&config, &st, None, "2020-07-17");
    drop(held);
    assert_eq!(object(&lock), None, "the lock is deleted when released");
}

#[test]
fn a_run_that_lost_its_lock_publishes_nothing() {
    let (_dir, config) = in_memory("locations-lost");
    let st = stores(&config);
    let root = config.historical_root_location().unwrap();
    let lock = root.join("_locks/user_orders.lock");
    let ttl = Duration::from_millis(300);
    let held = RunLock::acquire_with_ttl(&root, &["user_orders"], ttl).unwrap();
    // Another host takes the lock over, as it may once this one stalls.
    let other = serde_json::json!({
        "holder": {"host": "elsewhere", "pid": 1, "run_id": "other-run"},
        "acquired_at": "2030-01-01T00:00:00Z",
        "expires_at": "2030-01-01T00:10:00Z",
    });
    block_on(lock.store().put(
        lock.path(),
        PutPayload::from(serde_json::to_vec(&other).unwrap()),
    ))
    .unwrap();
    std::thread::sleep(ttl + Duration::from_millis(200));
    let err = held.still_held().unwrap_err();
    assert!(matches!(err, Error::Store { .. }), "{err}");

    let err = pipeline::execute(
        &UserOrders::SPEC,
        &config,
        &st,
        DateRange {
            start: None,
            end: Some(date("2020-07-17")),
        },
        &|_| {},
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("this run no longer holds the lock of `user_orders`"),
        "{err}"
    );
    assert_eq!(
        st.historical
            .read(&UserOrders::SPEC, None)
            .unwrap()
            .height(),
        0
    );
    assert!(st.online.scan(&UserOrders::SPEC).unwrap().is_empty());
    // Only the other host's lock is there; nothing was staged.
    let left: Vec<String> = objects(&root).into_keys().collect();
    assert_eq!(left, ["_locks/user_orders.lock"]);
    drop(held);
    assert_eq!(
        object(&lock),
        Some(serde_json::to_vec(&other).unwrap()),
        "a lock taken over is left to its new holder"
    );
}
