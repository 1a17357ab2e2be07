//! The stores on their own: newest-wins upserts, persistence, atomicity.

use features::UserOrders;
use featurestore_runtime::pipeline::Stores;
use featurestore_runtime::sink::online::{
    self, EmbeddedStore, MemoryStore, OnlineStore, Record, Value,
};
use featurestore_runtime::FeatureSet;

fn record(key: &str, ts: i64, v: i64) -> Record {
    Record {
        key: vec![Value::from(key)],
        timestamp: ts,
        values: vec![Value::Int(v), Value::Int(v), Value::Int(v)],
    }
}

fn newest_wins(store: &dyn OnlineStore) {
    let spec = &UserOrders::SPEC;
    let w = store
        .write_latest(spec, &[record("x", 10, 1), record("y", 10, 1)])
        .unwrap();
    assert_eq!((w.written, w.kept_newer), (2, 0));
    // x older: kept; y newer: replaced; z new.
    let w = store
        .write_latest(
            spec,
            &[record("x", 5, 2), record("y", 20, 2), record("z", 1, 2)],
        )
        .unwrap();
    assert_eq!((w.written, w.kept_newer), (2, 1));
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
    // The same timestamp replaces: a re-run of the same interval converges.
    store.write_latest(spec, &[record("x", 10, 7)]).unwrap();
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
    newest_wins(&MemoryStore::default());
}

#[test]
fn embedded_store_upserts_newest_wins_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("online.redb");
    newest_wins(&EmbeddedStore::open(&path).unwrap());
    let reopened = EmbeddedStore::open(&path).unwrap();
    assert_eq!(
        reopened
            .get(&UserOrders::SPEC, &[Value::from("y")])
            .unwrap(),
        Some(record("y", 20, 2))
    );
}

#[test]
fn embedded_store_refuses_rows_of_another_declaration() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("online.redb")).unwrap();
    store
        .write_latest(&UserOrders::SPEC, &[record("x", 1, 1)])
        .unwrap();
    // Same table name, one column fewer: a changed declaration.
    let mut changed = UserOrders::SPEC;
    changed.outputs = &UserOrders::SPEC.outputs[..2];
    let err = store
        .write_latest(&changed, &[record("x", 2, 1)])
        .unwrap_err();
    assert!(
        err.to_string().contains("was written with columns"),
        "{err}"
    );
    // The failed write left the stored row as it was.
    assert_eq!(
        store.get(&UserOrders::SPEC, &[Value::from("x")]).unwrap(),
        Some(record("x", 1, 1))
    );
}

#[test]
fn online_urls_open_their_backends() {
    let dir = tempfile::tempdir().unwrap();
    assert!(online::open("memory://", dir.path()).is_ok());
    assert!(online::open("redb://sub/online.redb", dir.path()).is_ok());
    assert!(dir.path().join("sub/online.redb").exists());
    let err = online::open("cassandra://x", dir.path()).unwrap_err();
    assert!(
        err.to_string().contains("unsupported online store URL"),
        "{err}"
    );
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
        .write_latest(&older, std::slice::from_ref(&old_row))
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
