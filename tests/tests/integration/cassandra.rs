//! The Cassandra online store against a real server: the conformance suite,
//! the chargeback example's online rows, `migrate` on tables that differ
//! from their declaration, TLS, and its errors.
//!
//! Needs `FEATURESTORE_TEST_CASSANDRA=HOST:PORT` (`eval "$(scripts/servers.sh
//! start cassandra)"`, or any Cassandra or ScyllaDB); without it these tests
//! fail rather than pass unchecked. Each test works in a keyspace of its
//! own, dropped before and after it.

use std::sync::Arc;

use features::UserOrders;
use featurestore_runtime::location::OnlineLocation;
use featurestore_runtime::pipeline::{self, Stores};
use featurestore_runtime::spec::{DataType, FeatureSetSpec, OutputColumn};
use featurestore_runtime::store::online::cassandra::{CassandraOptions, TlsOptions};
use featurestore_runtime::store::online::{
    self, conformance, cql, records_frame, BlockingOnlineStore, OnlineOptions, OnlineStore,
    OpenMode, Record, RunWrite, Value, WriteOrder,
};
use featurestore_runtime::{DateRange, Error, ErrorKind, FeatureSet};
use tests::{fixture_csv, frame_rows, temp_config};

/// The test server's `HOST:PORT`.
fn server() -> String {
    match std::env::var("FEATURESTORE_TEST_CASSANDRA") {
        Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => panic!(
            "set FEATURESTORE_TEST_CASSANDRA (run `eval \"$(scripts/servers.sh start cassandra)\"`)"
        ),
    }
}

/// Runs CQL on the test server directly, as an operator would with `cqlsh`.
fn cql(statement: &str) {
    let statement = statement.to_string();
    featurestore_runtime::io::block_on(async move {
        let session = scylla::client::session_builder::SessionBuilder::new()
            .known_node(server())
            .build()
            .await
            .expect("the test server accepts a session");
        session
            .query_unpaged(statement.as_str(), ())
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    });
}

/// A keyspace of the test's own, dropped before (a leftover of an earlier
/// run) and after the test.
struct Keyspace {
    name: String,
}

impl Keyspace {
    fn new(name: &str) -> Self {
        let name = format!("fs_test_{name}");
        cql(&format!("DROP KEYSPACE IF EXISTS {name}"));
        Keyspace { name }
    }

    fn url(&self) -> String {
        format!("cassandra://{}/{}", server(), self.name)
    }
}

impl Drop for Keyspace {
    fn drop(&mut self) {
        // Not while panicking: a second panic would hide the first.
        if !std::thread::panicking() {
            cql(&format!("DROP KEYSPACE IF EXISTS {}", self.name));
        }
    }
}

fn open(url: &str) -> Result<BlockingOnlineStore, Error> {
    let location = OnlineLocation::parse(url, std::path::Path::new("/"))?;
    BlockingOnlineStore::open(&location, OpenMode::Write)
}

fn chain(e: &Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

fn migrate(
    store: &dyn OnlineStore,
    spec: &FeatureSetSpec,
    apply: bool,
    allow_destructive: bool,
) -> Result<Vec<online::MigrationStep>, Error> {
    featurestore_runtime::io::block_on(online::migrate(store, spec, apply, allow_destructive))
}

#[test]
fn cassandra_store_conforms() {
    let keyspace = Keyspace::new("conformance");
    let store = open(&keyspace.url()).unwrap();
    for spec in conformance::feature_sets() {
        migrate(&**store.inner(), spec, true, false).unwrap();
    }
    // The cases write feature sets of their own, so they share the keyspace.
    let shared: Arc<dyn OnlineStore> = store.inner().clone();
    let fresh = || {
        let store = shared.clone();
        async move { Ok(store) }
    };
    let outcome = featurestore_runtime::io::block_on(conformance::run_all(fresh));
    assert_eq!(outcome, Ok(()));
}

fn run(config: &featurestore_runtime::config::Config, stores: &Stores, end: &str) {
    let end = chrono::NaiveDate::parse_from_str(end, "%Y-%m-%d").unwrap();
    pipeline::execute(
        &UserOrders::SPEC,
        config,
        stores,
        DateRange {
            start: None,
            end: Some(end),
        },
        &|_| {},
    )
    .expect("run succeeds");
}

#[test]
fn cassandra_store_holds_the_chargeback_online_rows() {
    let keyspace = Keyspace::new("chargeback");
    let (_dir, mut config) = temp_config();
    config.online_url = keyspace.url();
    let stores = Stores::open(&config).unwrap();
    assert_eq!(stores.online.backend(), "cassandra");
    let spec = &UserOrders::SPEC;
    migrate(&*stores.online, spec, true, false).unwrap();
    run(&config, &stores, "2020-07-17");

    let stored = records_frame(spec, &stores.online.scan(spec).unwrap()).unwrap();
    let (header, mut rows) = frame_rows(&stored);
    rows.sort();
    assert_eq!((header, rows), fixture_csv("user_orders_online.csv"));
    let (_, expected) = fixture_csv("user_orders_online.csv");
    let keys: Vec<Vec<Value>> = expected
        .iter()
        .rev()
        .map(|r| vec![Value::from(r[0].as_str())])
        .collect();
    let found: Vec<Record> = stores
        .online
        .get_many(spec, &keys)
        .unwrap()
        .into_iter()
        .rev()
        .map(|r| r.expect("every fixture key has a row"))
        .collect();
    assert_eq!(
        frame_rows(&records_frame(spec, &found).unwrap()),
        fixture_csv("user_orders_online.csv")
    );
    let x_before = stores.online.get(spec, &[Value::from("x")]).unwrap();
    assert!(x_before.is_some());
    // An older interval afterwards: x keeps its row of 2020-07-17.
    run(&config, &stores, "2020-06-01");
    assert_eq!(
        stores.online.get(spec, &[Value::from("x")]).unwrap(),
        x_before
    );
}

/// The corrected re-run of the chargeback example reaches Cassandra even
/// though it moves x's last change earlier, and removes nothing it should
/// keep; an earlier as-of afterwards changes nothing.
#[test]
fn cassandra_takes_a_corrected_rerun() {
    let keyspace = Keyspace::new("rerun");
    let dir = tempfile::tempdir().unwrap();
    let (_config_dir, mut config) = temp_config();
    config.online_url = keyspace.url();
    let stores = Stores::open(&config).unwrap();
    let spec = &UserOrders::SPEC;
    migrate(&*stores.online, spec, true, false).unwrap();
    run(&config, &stores, "2020-07-17");
    // The next run starts in a later second: its write time must be later.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    tests::without_orders(&mut config, dir.path(), &["i"]);
    run(&config, &stores, "2020-07-17");
    let rows = || {
        let (h, mut r) =
            frame_rows(&records_frame(spec, &stores.online.scan(spec).unwrap()).unwrap());
        r.sort();
        (h, r)
    };
    let (header, mut expected) = fixture_csv("user_orders_online.csv");
    // Without `i`, x's last change is 2020-07-16, one order (`h`) in each window.
    expected[0] = ["x", "2020-07-16 00:00:00", "1", "1", "1"]
        .map(String::from)
        .to_vec();
    assert_eq!(rows(), (header.clone(), expected.clone()));
    run(&config, &stores, "2020-06-01");
    assert_eq!(rows(), (header, expected));
}

fn counts(key: &str, v: i64, n: usize) -> Record {
    Record {
        key: vec![Value::from(key)],
        timestamp: 86_400_000_000,
        values: vec![Value::Int(v); n],
    }
}

fn order(as_of_days: i64) -> RunWrite {
    RunWrite::some_keys(WriteOrder {
        as_of: 1_595_030_400_000_000 + as_of_days * 86_400_000_000,
        run: 1_796_428_800_000_000,
    })
}

/// `UserOrders` with its outputs replaced.
fn with_outputs(outputs: &'static [OutputColumn]) -> FeatureSetSpec {
    let mut spec = UserOrders::SPEC;
    spec.outputs = outputs;
    spec
}

#[test]
fn cassandra_migrate_adds_a_missing_column() {
    let keyspace = Keyspace::new("migrate_missing");
    let store = open(&keyspace.url()).unwrap();
    let full = &UserOrders::SPEC;
    let fewer = with_outputs(&UserOrders::SPEC.outputs[..2]);
    let plan = migrate(&**store.inner(), &fewer, false, false).unwrap();
    assert!(plan[0].statement.starts_with(&format!("CREATE KEYSPACE IF NOT EXISTS {} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}", keyspace.name)), "{plan:?}");
    migrate(&**store.inner(), &fewer, true, false).unwrap();
    store
        .write_latest(&fewer, &[counts("x", 1, 2)], order(0))
        .unwrap();

    // The table lacks the third output: a run of the full declaration is
    // refused, naming the column and the command, before it writes.
    let err = store.check(full).unwrap_err();
    let text = chain(&err);
    assert_eq!(err.kind(), ErrorKind::Conflict, "{text}");
    let third = full.outputs[2].name;
    let ty = cql::cql_type(full.outputs[2].dtype);
    assert!(
        text.contains(&format!("lacks the declared column `{third}` ({ty})")),
        "{text}"
    );
    assert!(
        text.contains("features migrate apply user_orders"),
        "{text}"
    );
    assert!(!text.contains("--allow-destructive"), "{text}");
    let err = store
        .write_latest(full, &[counts("y", 1, 3)], order(0))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(store.get(&fewer, &[Value::from("y")]).unwrap(), None);

    let plan = migrate(&**store.inner(), full, false, false).unwrap();
    assert_eq!(plan.len(), 1, "{plan:?}");
    assert!(
        plan[0].statement.starts_with(&format!(
            "ALTER TABLE {}.user_orders ADD {third} {ty};",
            keyspace.name
        )),
        "{plan:?}"
    );
    assert!(!plan[0].destructive);
    migrate(&**store.inner(), full, true, false).unwrap();
    assert_eq!(migrate(&**store.inner(), full, false, false).unwrap(), []);
    store.check(full).unwrap();
    // The stored row is kept, with a null in the new column.
    let mut expected = counts("x", 1, 3);
    expected.values[2] = Value::Null;
    assert_eq!(
        store.get(full, &[Value::from("x")]).unwrap(),
        Some(expected)
    );
}

#[test]
fn cassandra_migrate_drops_an_extra_column_only_when_allowed() {
    let keyspace = Keyspace::new("migrate_extra");
    let store = open(&keyspace.url()).unwrap();
    let full = &UserOrders::SPEC;
    let fewer = with_outputs(&UserOrders::SPEC.outputs[..2]);
    migrate(&**store.inner(), full, true, false).unwrap();
    store
        .write_latest(full, &[counts("x", 1, 3)], order(0))
        .unwrap();

    let third = full.outputs[2].name;
    let err = store.check(&fewer).unwrap_err();
    let text = chain(&err);
    assert_eq!(err.kind(), ErrorKind::Conflict, "{text}");
    assert!(
        text.contains(&format!("its column `{third}` is no longer declared")),
        "{text}"
    );
    assert!(
        text.contains("features migrate apply user_orders --allow-destructive"),
        "{text}"
    );

    let err = migrate(&**store.inner(), &fewer, true, false).unwrap_err();
    let text = chain(&err);
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{text}");
    assert!(
        text.contains(&format!(
            "ALTER TABLE {}.user_orders DROP {third};",
            keyspace.name
        )),
        "{text}"
    );
    assert!(text.contains("--allow-destructive"), "{text}");
    // Refused: the table and its row are as they were.
    store.check(full).unwrap();
    assert_eq!(
        store.get(full, &[Value::from("x")]).unwrap(),
        Some(counts("x", 1, 3))
    );

    let steps = migrate(&**store.inner(), &fewer, true, true).unwrap();
    assert!(steps.len() == 1 && steps[0].destructive, "{steps:?}");
    assert!(steps[0].statement.contains("are lost"), "{steps:?}");
    store.check(&fewer).unwrap();
    assert_eq!(
        store.get(&fewer, &[Value::from("x")]).unwrap(),
        Some(counts("x", 1, 2))
    );
}

static FLOAT_OUTPUTS: [OutputColumn; 3] = {
    let o = UserOrders::SPEC.outputs;
    [
        o[0],
        o[1],
        OutputColumn {
            dtype: DataType::Float64,
            ..o[2]
        },
    ]
};

#[test]
fn cassandra_migrate_recreates_a_table_of_a_changed_type_only_when_allowed() {
    let keyspace = Keyspace::new("migrate_type");
    let store = open(&keyspace.url()).unwrap();
    let full = &UserOrders::SPEC;
    let floats = with_outputs(&FLOAT_OUTPUTS);
    migrate(&**store.inner(), full, true, false).unwrap();
    store
        .write_latest(full, &[counts("x", 1, 3)], order(0))
        .unwrap();

    let third = full.outputs[2].name;
    let err = store.check(&floats).unwrap_err();
    let text = chain(&err);
    assert_eq!(err.kind(), ErrorKind::Conflict, "{text}");
    let ty = cql::cql_type(full.outputs[2].dtype);
    assert!(
        text.contains(&format!(
            "its column `{third}` is {ty} but is declared double"
        )),
        "{text}"
    );

    let err = migrate(&**store.inner(), &floats, true, false).unwrap_err();
    assert!(
        chain(&err).contains(&format!("DROP TABLE {}.user_orders;", keyspace.name)),
        "{}",
        chain(&err)
    );
    assert_eq!(
        store.get(full, &[Value::from("x")]).unwrap(),
        Some(counts("x", 1, 3))
    );

    let steps = migrate(&**store.inner(), &floats, true, true).unwrap();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(
        steps[0].destructive
            && steps[0]
                .statement
                .contains("every row of `user_orders` is lost"),
        "{steps:?}"
    );
    store.check(&floats).unwrap();
    assert_eq!(store.get(&floats, &[Value::from("x")]).unwrap(), None);
    assert_eq!(store.scan(&floats).unwrap(), []);
}

#[test]
fn a_run_against_a_table_that_does_not_match_writes_neither_store() {
    let keyspace = Keyspace::new("execute_refused");
    let (_dir, mut config) = temp_config();
    config.online_url = keyspace.url();
    let stores = Stores::open(&config).unwrap();
    let fewer = with_outputs(&UserOrders::SPEC.outputs[..2]);
    migrate(&*stores.online, &fewer, true, false).unwrap();
    let err = pipeline::execute(
        &UserOrders::SPEC,
        &config,
        &stores,
        DateRange {
            start: None,
            end: chrono::NaiveDate::from_ymd_opt(2020, 7, 17),
        },
        &|_| {},
    )
    .unwrap_err();
    let text = chain(&err);
    assert!(text.contains("online store (cassandra)"), "{text}");
    assert!(
        text.contains("features migrate apply user_orders"),
        "{text}"
    );
    let root = std::path::Path::new(&config.base_dir).join(&config.historical_root);
    let parquet = walk(&root)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .count();
    assert_eq!(
        parquet,
        0,
        "historical files written under {}",
        root.display()
    );
    assert_eq!(stores.online.scan(&fewer).unwrap(), []);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let p = e.path();
            if p.is_dir() {
                walk(&p)
            } else {
                vec![p]
            }
        })
        .collect()
}

#[test]
fn a_missing_keyspace_or_table_says_to_run_migrate() {
    let keyspace = Keyspace::new("missing");
    let store = open(&keyspace.url()).unwrap();
    let spec = &UserOrders::SPEC;
    let err = store.check(spec).unwrap_err();
    let text = chain(&err);
    assert!(
        text.contains(&format!("keyspace `{}` does not exist", keyspace.name)),
        "{text}"
    );
    assert!(
        text.contains("run `features migrate apply user_orders`"),
        "{text}"
    );
    cql(&format!(
        "CREATE KEYSPACE {} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}",
        keyspace.name
    ));
    for err in [
        store.check(spec).unwrap_err(),
        store
            .write_latest(spec, &[counts("x", 1, 3)], order(0))
            .unwrap_err(),
        store.get(spec, &[Value::from("x")]).unwrap_err(),
    ] {
        let text = chain(&err);
        assert!(
            text.contains(&format!(
                "table `{}.user_orders` does not exist",
                keyspace.name
            )),
            "{text}"
        );
        assert!(
            text.contains("run `features migrate apply user_orders`"),
            "{text}"
        );
    }
}

#[test]
fn a_cassandra_server_that_is_down_is_a_transient_error_naming_the_store() {
    // Port 1 (tcpmux) has no listener on a test machine: refused at once.
    let err = open("cassandra://127.0.0.1:1/featurestore").unwrap_err();
    let text = chain(&err);
    assert_eq!(err.kind(), ErrorKind::Transient, "{text}");
    assert!(text.contains("online store (cassandra)"), "{text}");
    assert!(
        text.contains("cassandra://127.0.0.1:1/featurestore"),
        "{text}"
    );
}

#[test]
fn a_password_in_the_url_is_never_printed() {
    let err = open("cassandra://someone:s3cret-pw@127.0.0.1:1/featurestore").unwrap_err();
    let text = chain(&err);
    assert!(!text.contains("s3cret-pw"), "{text}");
    assert!(!format!("{err:?}").contains("s3cret-pw"), "{err:?}");
}

/// The node that requires passwords (`scripts/servers.sh start
/// cassandra-auth`): `HOST:PORT`, a user and its password.
fn auth_node() -> (String, String, String) {
    let var = |name: &str| match std::env::var(name) {
        Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => panic!("set {name} (run `eval \"$(scripts/servers.sh start cassandra-auth)\"`)"),
    };
    (
        var("FEATURESTORE_TEST_CASSANDRA_AUTH"),
        var("FEATURESTORE_TEST_CASSANDRA_AUTH_USER"),
        var("FEATURESTORE_TEST_CASSANDRA_AUTH_PASSWORD"),
    )
}

/// The tests of that node stop and restart it: one at a time.
static AUTH_NODE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `scripts/servers.sh ACTION cassandra-auth`, its data kept across the
/// stop, as a server's disk outlives its process.
fn auth_node_servers_sh(action: &str) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/servers.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .args([action, "cassandra-auth"])
        .env("FEATURESTORE_SERVERS_KEEP_DATA", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "servers.sh {action} cassandra-auth: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_wrong_cassandra_password_is_refused_and_not_printed() {
    let _node = AUTH_NODE.lock().unwrap_or_else(|e| e.into_inner());
    let (node, user, password) = auth_node();
    let err = open(&format!("cassandra://{user}:wr0ng-pw@{node}/featurestore")).unwrap_err();
    let text = chain(&err);
    assert_eq!(err.kind(), ErrorKind::Permanent, "{text}");
    assert!(text.contains("online store (cassandra)"), "{text}");
    assert!(text.contains("user name or password"), "{text}");
    assert!(!text.contains("wr0ng-pw"), "{text}");
    assert!(!format!("{err:?}").contains("wr0ng-pw"), "{err:?}");
    // No password at all is refused the same way.
    let err = open(&format!("cassandra://{node}/featurestore")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent, "{}", chain(&err));
    // The right one is let in.
    open(&format!(
        "cassandra://{user}:{password}@{node}/featurestore"
    ))
    .unwrap();
}

#[test]
fn a_cassandra_server_stopped_mid_write_fails_the_write_naming_the_store_and_a_rerun_converges() {
    let _node = AUTH_NODE.lock().unwrap_or_else(|e| e.into_inner());
    let (node, user, password) = auth_node();
    let url = format!("cassandra://{user}:{password}@{node}/fs_test_stopped");
    let spec = &UserOrders::SPEC;
    let store = open(&url).unwrap();
    let session = |store: &BlockingOnlineStore| -> Vec<Record> { store.scan(spec).unwrap() };
    migrate(&**store.inner(), spec, true, true).unwrap();
    // A leftover of an earlier run of this test goes first.
    featurestore_runtime::io::block_on(store.inner().drop_rows(spec)).unwrap();
    migrate(&**store.inner(), spec, true, true).unwrap();

    let rows = 100_000;
    let records: Vec<Record> = (0..rows)
        .map(|i| counts(&format!("k{i}"), i as i64, spec.outputs.len()))
        .collect();
    let (done, outcome) = std::sync::mpsc::channel();
    let sent = records.clone();
    let writer = open(&url).unwrap();
    std::thread::spawn(move || {
        let _ = done.send(writer.write_latest(spec, &sent, order(0)));
    });
    // Stopped once the first rows are in, long before the last.
    while session(&store).is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(store);
    auth_node_servers_sh("stop");
    let err = outcome
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the write returns when its server stops, rather than hanging")
        .expect_err("a write whose server stopped midway fails");
    let text = chain(&err);
    assert!(text.contains("online store (cassandra)"), "{text}");
    assert!(text.contains(&node), "{text}");
    assert!(!text.contains(&format!(":{password}@")), "{text}");
    assert_eq!(err.kind(), ErrorKind::Transient, "{text}");

    // Back up with part of the rows, each whole; the same run again
    // completes them.
    auth_node_servers_sh("start");
    let store = open(&url).unwrap();
    let kept = session(&store);
    assert!(!kept.is_empty() && kept.len() < rows, "{} rows", kept.len());
    let index = |r: &Record| match &r.key[0] {
        Value::Str(k) => k[1..].parse::<usize>().unwrap(),
        other => panic!("a key of another type: {other:?}"),
    };
    for row in &kept {
        assert_eq!(
            row,
            &records[index(row)],
            "a row stored whole or not at all"
        );
    }
    store.write_latest(spec, &records, order(0)).unwrap();
    let mut all = session(&store);
    all.sort_by_key(index);
    assert_eq!(all, records);
    featurestore_runtime::io::block_on(store.inner().drop_rows(spec)).unwrap();
}

/// `entity_tables = true`: both feature sets of `cpf` also write their rows
/// into the table `cpf`, one wide row per key, and one read per key gives
/// both; each feature set's part is as its own table holds it.
#[test]
fn cassandra_entity_table_serves_both_feature_sets_in_one_read() {
    use featurestore_runtime::store::online::cassandra::CassandraStore;
    let keyspace = Keyspace::new("entity");
    let (_dir, mut config) = temp_config();
    config.online_url = keyspace.url();
    config.online_options.cassandra.entity_tables = Some(true);
    let stores = Stores::open(&config).unwrap();
    let (orders, chargebacks) = (&UserOrders::SPEC, &features::UserChargebacks::SPEC);
    for spec in [orders, chargebacks] {
        let steps = migrate(&*stores.online, spec, false, false).unwrap();
        assert!(
            steps.iter().any(|s| s.statement.starts_with(&format!(
                "CREATE TABLE IF NOT EXISTS {}.cpf (",
                keyspace.name
            )) || s
                .statement
                .starts_with(&format!("ALTER TABLE {}.cpf ADD", keyspace.name))),
            "{steps:?}"
        );
        migrate(&*stores.online, spec, true, false).unwrap();
    }
    let end = chrono::NaiveDate::from_ymd_opt(2020, 7, 17);
    pipeline::execute_all(
        &[orders, chargebacks],
        &config,
        &stores,
        DateRange { start: None, end },
        &|_| {},
    )
    .expect("runs");

    let entity = featurestore_runtime::io::block_on(CassandraStore::open(
        &keyspace.url(),
        &config.online_options.cassandra,
        OpenMode::Write,
    ))
    .unwrap();
    let read = |keys: &[Vec<Value>]| {
        featurestore_runtime::io::block_on(entity.get_entity(&[orders, chargebacks], keys)).unwrap()
    };
    for (spec, fixture, j) in [
        (orders, "user_orders_online.csv", 0),
        (chargebacks, "user_chargebacks_online.csv", 1),
    ] {
        let (header, expected) = fixture_csv(fixture);
        let mut keys: Vec<Vec<Value>> = expected
            .iter()
            .map(|r| vec![Value::from(r[0].as_str())])
            .collect();
        keys.push(vec![Value::from("nobody")]);
        let rows = read(&keys);
        assert_eq!(rows.last().unwrap(), &[None, None], "a key without rows");
        let found: Vec<Record> = rows[..expected.len()]
            .iter()
            .map(|r| r[j].clone().expect("every fixture key has a row"))
            .collect();
        assert_eq!(
            frame_rows(&records_frame(spec, &found).unwrap()),
            (header, expected),
            "{}",
            spec.name
        );
    }
    // The raw table: one row of `x` with both feature sets' columns.
    let x = vec![Value::from("x")];
    let both = read(std::slice::from_ref(&x));
    assert_eq!(both[0][0], stores.online.get(orders, &x).unwrap());
    assert_eq!(both[0][1], stores.online.get(chargebacks, &x).unwrap());

    // Removing one feature set's rows leaves the other's part of the row.
    featurestore_runtime::io::block_on(entity.drop_rows(orders)).unwrap();
    let after = read(std::slice::from_ref(&x));
    assert_eq!(after[0][0], None);
    assert_eq!(after[0][1], both[0][1]);
    // The next run of the same as-of writes it again: its write time holds
    // its start, in seconds, later than the removed cells' run.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    run(&config, &stores, "2020-07-17");
    assert_eq!(read(std::slice::from_ref(&x)), both);
}

#[test]
fn a_feature_set_named_as_its_entity_is_refused_with_entity_tables() {
    let keyspace = Keyspace::new("entity_clash");
    let (_dir, mut config) = temp_config();
    config.online_url = keyspace.url();
    config.online_options.cassandra.entity_tables = Some(true);
    let stores = Stores::open(&config).unwrap();
    let mut spec = UserOrders::SPEC;
    spec.name = "cpf";
    let err = migrate(&*stores.online, &spec, false, false).unwrap_err();
    assert!(
        err.to_string()
            .contains("feature set `cpf` is named as its entity's keys"),
        "{}",
        chain(&err)
    );
}

/// A path from a variable `scripts/servers.sh start NODE` prints.
fn tls_file(var: &str, node: &str) -> std::path::PathBuf {
    match std::env::var(var) {
        Ok(s) if !s.trim().is_empty() => s.trim().into(),
        _ => panic!("set {var} (run `eval \"$(scripts/servers.sh start {node})\"`)"),
    }
}

fn open_tls(url: &str, tls: TlsOptions) -> Result<BlockingOnlineStore, Error> {
    let location = OnlineLocation::parse(url, std::path::Path::new("/"))?;
    let options = OnlineOptions {
        cassandra: CassandraOptions {
            tls: Some(tls),
            ..CassandraOptions::default()
        },
    };
    BlockingOnlineStore::open_with(&location, OpenMode::Write, &options)
}

/// How many connections to the test server use TLS, as the server lists
/// its clients (`system_views.clients`), asked over a plain connection.
fn tls_clients() -> usize {
    featurestore_runtime::io::block_on(async {
        let session = scylla::client::session_builder::SessionBuilder::new()
            .known_node(server())
            .build()
            .await
            .expect("the test server accepts a session");
        let rows = session
            .query_unpaged("SELECT ssl_enabled FROM system_views.clients", ())
            .await
            .unwrap()
            .into_rows_result()
            .unwrap();
        rows.rows::<(Option<bool>,)>()
            .unwrap()
            .filter(|r| matches!(r, Ok((Some(true),))))
            .count()
    })
}

/// `[online.cassandra.tls]` against the node whose certificate names its
/// address (`IP:127.0.0.1`): rows go over TLS, verified against the
/// configured CA; another CA's certificates, a missing file and half a
/// client certificate are refused, each saying what is wrong.
#[test]
fn cassandra_over_tls_checks_the_node_certificate_and_keeps_rows() {
    let ca = tls_file("FEATURESTORE_TEST_CASSANDRA_TLS_CA", "cassandra");
    let keyspace = Keyspace::new("tls");
    let tls = TlsOptions {
        ca_file: Some(ca.clone()),
        ..TlsOptions::default()
    };
    let store = open_tls(&keyspace.url(), tls.clone()).unwrap();
    assert!(
        tls_clients() > 0,
        "the server lists no TLS connection while the store is open"
    );
    let spec = &UserOrders::SPEC;
    migrate(&**store.inner(), spec, true, false).unwrap();
    let records: Vec<Record> = (0..50)
        .map(|i| counts(&format!("k{i}"), i, spec.outputs.len()))
        .collect();
    store.write_latest(spec, &records, order(0)).unwrap();
    let keys: Vec<Vec<Value>> = records.iter().map(|r| r.key.clone()).collect();
    let read: Vec<Record> = store
        .get_many(spec, &keys)
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every key written is read back"))
        .collect();
    assert_eq!(read, records);

    // The other node's CA does not sign this node's certificate.
    let other_ca = tls_file("FEATURESTORE_TEST_CASSANDRA_AUTH_TLS_CA", "cassandra-auth");
    let err = open_tls(
        &keyspace.url(),
        TlsOptions {
            ca_file: Some(other_ca),
            ..TlsOptions::default()
        },
    )
    .unwrap_err();
    let text = chain(&err);
    assert_eq!(err.kind(), ErrorKind::Permanent, "{text}");
    assert!(text.contains("online store (cassandra)"), "{text}");
    assert!(text.contains("TLS handshake"), "{text}");
    assert!(text.contains("UnknownIssuer"), "{text}");

    let missing = ca.with_file_name("no-such-ca.pem");
    let err = open_tls(
        &keyspace.url(),
        TlsOptions {
            ca_file: Some(missing.clone()),
            ..TlsOptions::default()
        },
    )
    .unwrap_err();
    let text = chain(&err);
    assert!(text.contains(&missing.display().to_string()), "{text}");
    assert!(text.contains("[online.cassandra.tls]"), "{text}");

    let err = open_tls(
        &keyspace.url(),
        TlsOptions {
            cert_file: Some(ca),
            ..tls
        },
    )
    .unwrap_err();
    assert!(
        chain(&err).contains("cert_file and key_file go together"),
        "{}",
        chain(&err)
    );
}

/// The node that requires passwords also requires a client certificate
/// over TLS, and its certificate names a host only, as production
/// certificates often do: the name is checked unless `verify_hostname =
/// false`, the chain always.
#[test]
fn cassandra_over_tls_with_a_client_certificate_and_a_host_named_node() {
    let _node = AUTH_NODE.lock().unwrap_or_else(|e| e.into_inner());
    let (node, user, password) = auth_node();
    let (ca, cert, key) = (
        tls_file("FEATURESTORE_TEST_CASSANDRA_AUTH_TLS_CA", "cassandra-auth"),
        tls_file(
            "FEATURESTORE_TEST_CASSANDRA_AUTH_TLS_CERT",
            "cassandra-auth",
        ),
        tls_file("FEATURESTORE_TEST_CASSANDRA_AUTH_TLS_KEY", "cassandra-auth"),
    );
    let url = format!("cassandra://{user}:{password}@{node}/fs_test_tls");
    let full = TlsOptions {
        ca_file: Some(ca),
        cert_file: Some(cert),
        key_file: Some(key),
        verify_hostname: Some(false),
    };
    let store = open_tls(&url, full.clone()).unwrap();
    let spec = &UserOrders::SPEC;
    let steps = migrate(&**store.inner(), spec, false, false).unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s.statement.contains("fs_test_tls.user_orders")),
        "{steps:?}"
    );

    let refused = |tls: TlsOptions, why: &str| {
        let err = open_tls(&url, tls).unwrap_err();
        let text = chain(&err);
        assert_eq!(err.kind(), ErrorKind::Permanent, "{why}: {text}");
        assert!(text.contains("TLS handshake"), "{why}: {text}");
        assert!(!text.contains(&format!(":{password}@")), "{why}: {text}");
        text
    };
    // The certificate names `cassandra-auth.featurestore.test`, the driver
    // reaches the node at 127.0.0.1.
    let text = refused(
        TlsOptions {
            verify_hostname: None,
            ..full.clone()
        },
        "the node's name checked",
    );
    assert!(text.contains("not valid for name"), "{text}");
    // Without a client certificate the node ends the handshake.
    refused(
        TlsOptions {
            cert_file: None,
            key_file: None,
            ..full
        },
        "no client certificate",
    );
}
