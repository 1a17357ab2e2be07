//! The stores on their own: newest-wins upserts, persistence, atomicity.

use std::sync::Arc;

use features::UserOrders;
use featurestore_runtime::location::OnlineLocation;
use featurestore_runtime::pipeline::Stores;
use featurestore_runtime::store::online::{
    self, conformance, BlockingOnlineStore, EmbeddedStore, MemoryStore, OnlineStore, OpenMode,
    Record, RunWrite, SqliteStore, Value, WriteOrder,
};
use featurestore_runtime::{ErrorKind, FeatureSet};

/// A write of some keys by a run of as-of `as_of`.
fn run(as_of: i64) -> RunWrite {
    RunWrite::some_keys(WriteOrder { as_of, run: 0 })
}

fn record(key: &str, ts: i64, v: i64) -> Record {
    Record {
        key: vec![Value::from(key)],
        timestamp: ts,
        values: vec![Value::Int(v), Value::Int(v), Value::Int(v)],
    }
}

/// The first checks of the order of runs, on the chargeback feature set;
/// the conformance suite has them (`earlier_run_never_replaces`,
/// `same_run_replaces`) for every backend.
fn newest_wins(store: &BlockingOnlineStore) {
    let spec = &UserOrders::SPEC;
    let w = store
        .write_latest(spec, &[record("x", 10, 1), record("y", 10, 1)], run(10))
        .unwrap();
    assert_eq!((w.written, w.kept_newer), (2, 0));
    // x of an earlier run: kept; y of a later one: replaced; z new.
    let w = store
        .write_latest(spec, &[record("x", 5, 2)], run(5))
        .unwrap();
    assert_eq!((w.written, w.kept_newer), (0, 1));
    let w = store
        .write_latest(spec, &[record("y", 20, 2), record("z", 1, 2)], run(20))
        .unwrap();
    assert_eq!((w.written, w.kept_newer), (2, 0));
    assert_eq!(
        store.get(spec, &[Value::from("x")]).unwrap(),
        Some(record("x", 10, 1))
    );
    assert_eq!(
        store.get(spec, &[Value::from("y")]).unwrap(),
        Some(record("y", 20, 2))
    );
    assert_eq!(
        store.get(spec, &[Value::from("z")]).unwrap(),
        Some(record("z", 1, 2))
    );
    // The same order replaces: a retried run converges.
    store
        .write_latest(spec, &[record("x", 10, 7)], run(10))
        .unwrap();
    assert_eq!(
        store.get(spec, &[Value::from("x")]).unwrap(),
        Some(record("x", 10, 7))
    );
    let mut keys: Vec<String> = store
        .scan(spec)
        .unwrap()
        .into_iter()
        .map(|r| r.key[0].to_string())
        .collect();
    keys.sort();
    assert_eq!(keys, ["x", "y", "z"]);
}

#[test]
fn memory_store_upserts_newest_wins() {
    newest_wins(&MemoryStore::default().into());
}

#[test]
fn embedded_store_upserts_newest_wins_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("online.redb");
    newest_wins(&EmbeddedStore::open(&path).unwrap().into());
    let reopened = BlockingOnlineStore::from(EmbeddedStore::open(&path).unwrap());
    assert_eq!(
        reopened
            .get(&UserOrders::SPEC, &[Value::from("y")])
            .unwrap(),
        Some(record("y", 20, 2))
    );
}

#[test]
fn sqlite_store_upserts_newest_wins_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("online.sqlite");
    newest_wins(&SqliteStore::open(&path).unwrap().into());
    let reopened = BlockingOnlineStore::from(SqliteStore::open(&path).unwrap());
    assert_eq!(
        reopened
            .get(&UserOrders::SPEC, &[Value::from("y")])
            .unwrap(),
        Some(record("y", 20, 2))
    );
}

/// The conformance suite through the public API, as a backend crate runs
/// it: every case on a fresh store opened by URL.
fn conforms(url: impl Fn(usize) -> String + Sync) {
    let dir = tempfile::tempdir().unwrap();
    let mut opened = 0;
    let fresh = || {
        opened += 1;
        let location = OnlineLocation::parse(&url(opened), dir.path());
        async move { online::open(&location?, OpenMode::Write).await }
    };
    let outcome = featurestore_runtime::io::block_on(conformance::run_all(fresh));
    assert_eq!(outcome, Ok(()));
    assert_eq!(opened, conformance::Case::ALL.len());
}

#[test]
fn memory_store_conforms() {
    conforms(|_| "memory://".to_string());
}

#[test]
fn embedded_store_conforms() {
    conforms(|i| format!("redb://stores/{i}.redb"));
}

#[test]
fn sqlite_store_conforms() {
    conforms(|i| format!("sqlite://stores/{i}.sqlite"));
}

#[test]
fn embedded_stores_refuse_rows_of_another_declaration() {
    let dir = tempfile::tempdir().unwrap();
    let redb =
        BlockingOnlineStore::from(EmbeddedStore::open(&dir.path().join("online.redb")).unwrap());
    let sqlite =
        BlockingOnlineStore::from(SqliteStore::open(&dir.path().join("online.sqlite")).unwrap());
    for store in [redb, sqlite] {
        refuses_rows_of_another_declaration(&store);
    }
}

fn refuses_rows_of_another_declaration(store: &BlockingOnlineStore) {
    store
        .write_latest(&UserOrders::SPEC, &[record("x", 1, 1)], run(1))
        .unwrap();
    // Same table name, one column fewer: a changed declaration.
    let mut changed = UserOrders::SPEC;
    changed.outputs = &UserOrders::SPEC.outputs[..2];
    let err = store
        .write_latest(&changed, &[record("x", 2, 1)], run(2))
        .unwrap_err();
    assert!(
        err.to_string().contains("was written with columns"),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Conflict);
    // The failed write left the stored row as it was.
    assert_eq!(
        store.get(&UserOrders::SPEC, &[Value::from("x")]).unwrap(),
        Some(record("x", 1, 1))
    );
}

#[test]
fn online_urls_open_their_backends() {
    let dir = tempfile::tempdir().unwrap();
    assert!(online::open_url("memory://", dir.path()).is_ok());
    assert!(online::open_url("redb://sub/online.redb", dir.path()).is_ok());
    assert!(dir.path().join("sub/online.redb").exists());
    let sqlite = online::open_url("sqlite://sub/online.sqlite", dir.path()).unwrap();
    assert_eq!(sqlite.inner().backend(), "sqlite");
    assert!(dir.path().join("sub/online.sqlite").exists());
    let err = online::open_url("mongodb://x", dir.path()).unwrap_err();
    assert!(
        err.to_string().contains("unsupported online store URL"),
        "{err}"
    );
    // A known backend's URL is checked before any connection.
    let err = online::open_url("cassandra://x", dir.path()).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("names no keyspace"), "{message}");
    assert!(!message.contains("unsupported"), "{message}");
}

#[test]
fn get_on_a_store_file_that_does_not_exist_names_it_and_creates_nothing() {
    use featurestore_runtime::cli::{self, Cli, Command, Format};
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("mistyped/online.redb");
    let get = Cli {
        config: None,
        sources: Vec::new(),
        source_formats: Vec::new(),
        historical_root: Some(dir.path().join("historical").display().to_string()),
        online_url: Some(format!("redb://{}", missing.display())),
        datasets_root: None,
        engine: None,
        spark_remote: None,
        memory_budget: None,
        spill_dir: None,
        verbose: 0,
        command: Command::Get {
            name: "user_orders".to_string(),
            key: vec!["x".to_string()],
            format: Format::Csv,
        },
    };
    let mut out = Vec::new();
    let err = cli::run(&features::registry(), get, None, &mut out).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );
    assert!(message.contains("there is no store file here"), "{message}");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(!missing.exists());
    assert!(!missing.parent().unwrap().exists());
    assert!(out.is_empty());
}

#[test]
fn a_failed_run_leaves_the_historical_store_as_it_was() {
    let (dir, mut config) = tests::temp_config();
    let stores = Stores::open(&config).unwrap();
    let end = chrono::NaiveDate::from_ymd_opt(2020, 7, 17);
    let range = featurestore_runtime::DateRange { start: None, end };
    featurestore_runtime::pipeline::execute(&UserOrders::SPEC, &config, &stores, range, &|_| {})
        .unwrap();
    let before = stores.historical.read(&UserOrders::SPEC, None).unwrap();

    // A bad timestamp: the run fails before writing anything.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "order_id,order_timestamp,cpf,chargeback_timestamp\na,2018-05-12 00:00:01,x,\nb,not a time,y,\n",
    )
    .unwrap();
    config
        .sources
        .insert("order_events".into(), bad.to_string_lossy().into_owned());
    let err = featurestore_runtime::pipeline::execute(
        &UserOrders::SPEC,
        &config,
        &stores,
        range,
        &|_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("order_events"), "{err}");
    let after = stores.historical.read(&UserOrders::SPEC, None).unwrap();
    assert!(
        before.equals_missing(&after),
        "historical store changed by a failed run"
    );
    let online_rows = stores.online.scan(&UserOrders::SPEC).unwrap();
    assert_eq!(online_rows.len(), 3);
}

#[test]
fn an_online_table_of_another_declaration_stops_the_run_before_any_write() {
    let (_dir, config) = tests::temp_config();
    let stores = Stores::open(&config).unwrap();
    // The online table was written by an older declaration with fewer columns.
    let mut older = UserOrders::SPEC;
    older.outputs = &UserOrders::SPEC.outputs[..1];
    let old_row = Record {
        key: vec![Value::from("x")],
        timestamp: 1,
        values: vec![Value::Int(9)],
    };
    stores
        .online
        .write_latest(&older, std::slice::from_ref(&old_row), run(1))
        .unwrap();

    let end = chrono::NaiveDate::from_ymd_opt(2020, 7, 17);
    let range = featurestore_runtime::DateRange { start: None, end };
    let err = featurestore_runtime::pipeline::execute(
        &UserOrders::SPEC,
        &config,
        &stores,
        range,
        &|_| {},
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("was written with columns"),
        "{err}"
    );
    assert_eq!(
        stores
            .historical
            .read(&UserOrders::SPEC, None)
            .unwrap()
            .height(),
        0
    );
    assert_eq!(
        stores.online.get(&older, &[Value::from("x")]).unwrap(),
        Some(old_row)
    );
}

/// Every file under `dir`, relative to it, sorted.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    fn walk(base: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.push(format!("{}/", path.strip_prefix(base).unwrap().display()));
                walk(base, &path, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn a_run_leaves_only_day_partitions_behind() {
    let (dir, config) = tests::temp_config();
    let stores = Stores::open(&config).unwrap();
    let end = chrono::NaiveDate::from_ymd_opt(2020, 7, 17);
    let range = featurestore_runtime::DateRange { start: None, end };
    for _ in 0..2 {
        featurestore_runtime::pipeline::execute(
            &UserOrders::SPEC,
            &config,
            &stores,
            range,
            &|_| {},
        )
        .unwrap();
    }
    // Lock files live under `_locks/`; everything else is data.
    let files: Vec<String> = files_under(&dir.path().join("historical"))
        .into_iter()
        .filter(|f| !f.starts_with("_locks/"))
        .collect();
    // No staging directory survives a run, and every file is a day's part file.
    assert!(files.iter().all(|f| !f.contains("_staging")), "{files:?}");
    let parts: Vec<&String> = files.iter().filter(|f| !f.ends_with('/')).collect();
    assert!(!parts.is_empty());
    for f in &parts {
        let segments: Vec<&str> = f.split('/').collect();
        assert_eq!(segments.len(), 6, "{f}");
        assert_eq!(&segments[..2], ["cpf", "user_orders"], "{f}");
        assert!(segments[2].starts_with("year="), "{f}");
        assert!(segments[3].starts_with("month="), "{f}");
        assert!(segments[4].starts_with("day="), "{f}");
        assert_eq!(segments[5], "part-00000.parquet", "{f}");
    }
}

#[test]
fn feature_sets_run_together_give_the_rows_of_separate_runs() {
    use features::UserChargebacks;
    let end = chrono::NaiveDate::from_ymd_opt(2020, 7, 17);
    let range = featurestore_runtime::DateRange { start: None, end };
    let (_a, config_a) = tests::temp_config();
    let together = Stores::open(&config_a).unwrap();
    let runs = featurestore_runtime::pipeline::execute_all(
        &[&UserOrders::SPEC, &UserChargebacks::SPEC],
        &config_a,
        &together,
        range,
        &|_| {},
    )
    .unwrap();
    // One read of the shared source, reported by both.
    assert_eq!(runs[0].times.read, runs[1].times.read);
    let (_b, config_b) = tests::temp_config();
    let apart = Stores::open(&config_b).unwrap();
    for (spec, run) in [&UserOrders::SPEC, &UserChargebacks::SPEC]
        .iter()
        .zip(&runs)
    {
        let alone =
            featurestore_runtime::pipeline::execute(spec, &config_b, &apart, range, &|_| {})
                .unwrap();
        assert_eq!(alone.feature_set, run.feature_set);
        assert!(alone.rows.equals_missing(&run.rows), "{}", spec.name);
        let stored_a = together.historical.read(spec, None).unwrap();
        let stored_b = apart.historical.read(spec, None).unwrap();
        assert!(stored_a.equals_missing(&stored_b), "{}", spec.name);
    }
    // And the rows are the fixtures'.
    let (_, expected) = tests::fixture_csv("user_chargebacks.csv");
    let (_, got) = tests::frame_rows(&runs[1].rows);
    assert_eq!(got, expected);
}

#[test]
fn batched_lookups_return_each_key_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let embedded =
        BlockingOnlineStore::from(EmbeddedStore::open(&dir.path().join("o.redb")).unwrap());
    let memory = BlockingOnlineStore::from(MemoryStore::default());
    let sqlite =
        BlockingOnlineStore::from(SqliteStore::open(&dir.path().join("o.sqlite")).unwrap());
    for store in [&embedded, &memory, &sqlite] {
        let spec = &UserOrders::SPEC;
        // Nothing written yet: every key is missing.
        let none = store.get_many(spec, &[vec![Value::from("x")]]).unwrap();
        assert_eq!(none, vec![None]);
        store
            .write_latest(spec, &[record("x", 10, 1), record("y", 11, 2)], run(11))
            .unwrap();
        let keys = vec![
            vec![Value::from("y")],
            vec![Value::from("missing")],
            vec![Value::from("x")],
            vec![Value::from("y")],
        ];
        let got = store.get_many(spec, &keys).unwrap();
        assert_eq!(
            got,
            vec![
                Some(record("y", 11, 2)),
                None,
                Some(record("x", 10, 1)),
                Some(record("y", 11, 2)),
            ]
        );
    }
}

/// The async store behind `Stores` is the one its blocking methods use.
#[test]
fn the_stores_online_store_is_shared_with_async_code() {
    let (_dir, config) = tests::temp_config();
    let stores = Stores::open(&config).unwrap();
    let shared: Arc<dyn OnlineStore> = Arc::clone(stores.online.inner());
    stores
        .online
        .write_latest(&UserOrders::SPEC, &[record("x", 3, 4)], run(3))
        .unwrap();
    let got = featurestore_runtime::io::block_on(async {
        use featurestore_runtime::store::online::OnlineStoreExt;
        shared.get(&UserOrders::SPEC, &[Value::from("x")]).await
    })
    .unwrap();
    assert_eq!(got, Some(record("x", 3, 4)));
    assert_eq!(shared.backend(), "sqlite");
}

/// A run's place in the order of online writes, worked out by hand: as of
/// the end of its end date, then its start; it covers every key without a
/// start date.
#[test]
fn a_runs_order_is_the_end_of_its_end_date_then_its_start() {
    use chrono::{NaiveDate, TimeZone, Utc};
    use featurestore_runtime::pipeline::run_write;
    let started = Utc.with_ymd_and_hms(2026, 12, 5, 22, 0, 0).unwrap();
    // 2026-12-05T22:00:00Z = 1_796_508_000 s.
    let run = 1_796_508_000_000_000;
    let end = NaiveDate::from_ymd_opt(2020, 7, 17);
    let full = run_write(
        featurestore_runtime::DateRange { start: None, end },
        started,
    );
    // 2020-07-18T00:00:00Z = 1_595_030_400 s.
    assert_eq!(
        full,
        RunWrite::every_key(WriteOrder {
            as_of: 1_595_030_400_000_000,
            run
        })
    );
    let interval = run_write(
        featurestore_runtime::DateRange {
            start: NaiveDate::from_ymd_opt(2020, 7, 1),
            end,
        },
        started,
    );
    assert_eq!(interval, RunWrite::some_keys(full.order));
    // Without an end date, as of its start.
    let open = run_write(featurestore_runtime::DateRange::default(), started);
    assert_eq!(open, RunWrite::every_key(WriteOrder { as_of: run, run }));
}

/// `migrate` on a table written under another declaration (a column
/// fewer): `plan` names the loss, `apply` refuses it without
/// `--allow-destructive` and changes nothing, and with it removes the rows,
/// after which the feature set's rows can be written; a matching table has
/// nothing to do.
fn migrate_removes_rows_of_another_declaration_only_when_allowed(store: &BlockingOnlineStore) {
    let spec = &UserOrders::SPEC;
    let mut older = UserOrders::SPEC;
    older.outputs = &UserOrders::SPEC.outputs[..1];
    let old_row = Record {
        key: vec![Value::from("x")],
        timestamp: 1,
        values: vec![Value::Int(9)],
    };
    store
        .write_latest(&older, std::slice::from_ref(&old_row), run(1))
        .unwrap();
    let migrate = |apply, allow| {
        featurestore_runtime::io::block_on(online::migrate(&**store, spec, apply, allow))
    };
    let plan = migrate(false, false).unwrap();
    assert_eq!(plan.len(), 1, "{plan:?}");
    assert!(plan[0].destructive, "{plan:?}");
    assert!(
        plan[0]
            .statement
            .contains("delete every row of `user_orders`"),
        "{plan:?}"
    );
    let err = migrate(true, false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string()
            .contains("features migrate apply user_orders --allow-destructive"),
        "{err}"
    );
    assert_eq!(store.scan(&older).unwrap(), vec![old_row]);

    assert_eq!(migrate(true, true).unwrap(), plan);
    assert_eq!(store.scan(&older).unwrap(), vec![]);
    assert_eq!(migrate(false, false).unwrap(), vec![]);
    store
        .write_latest(spec, &[record("x", 2, 2)], run(2))
        .unwrap();
    assert_eq!(migrate(false, false).unwrap(), vec![]);
    assert_eq!(
        store.get(spec, &[Value::from("x")]).unwrap(),
        Some(record("x", 2, 2))
    );
}

#[test]
fn migrate_on_the_embedded_and_memory_stores() {
    let dir = tempfile::tempdir().unwrap();
    let embedded =
        BlockingOnlineStore::from(EmbeddedStore::open(&dir.path().join("o.redb")).unwrap());
    migrate_removes_rows_of_another_declaration_only_when_allowed(&embedded);
    let sqlite =
        BlockingOnlineStore::from(SqliteStore::open(&dir.path().join("o.sqlite")).unwrap());
    migrate_removes_rows_of_another_declaration_only_when_allowed(&sqlite);
    migrate_removes_rows_of_another_declaration_only_when_allowed(&MemoryStore::default().into());
}
