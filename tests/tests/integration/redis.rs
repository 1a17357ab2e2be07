//! The Redis online store against a real server: the conformance suite, the
//! chargeback example's online rows, the key layout, and its errors.
//!
//! Needs `FEATURESTORE_TEST_REDIS` (`eval "$(scripts/servers.sh start
//! redis)"`); without it these tests fail rather than pass unchecked. Each
//! test writes under a key prefix of its own, so they share one database.

use std::sync::atomic::{AtomicUsize, Ordering};

use features::UserOrders;
use featurestore_runtime::location::OnlineLocation;
use featurestore_runtime::pipeline::{self, Stores};
use featurestore_runtime::spec::{ColumnSpec, DataType, FeatureSetSpec};
use featurestore_runtime::store::online::{
    self, conformance, records_frame, BlockingOnlineStore, OpenMode, Record, RunWrite, Value,
    WriteOrder,
};
use featurestore_runtime::{DateRange, Error, ErrorKind, FeatureSet};
use tests::{fixture_csv, frame_rows, temp_config};

/// The test server's URL.
fn server() -> String {
    match std::env::var("FEATURESTORE_TEST_REDIS") {
        Ok(url) if !url.trim().is_empty() => url.trim().to_string(),
        _ => {
            panic!("set FEATURESTORE_TEST_REDIS (run `eval \"$(scripts/servers.sh start redis)\"`)")
        }
    }
}

/// The server's URL with a key prefix no other test (or earlier run) uses;
/// its keys are deleted when it is dropped, so runs do not pile up rows in
/// the test server (every `SCAN` walks the whole database).
struct Fresh {
    url: String,
    prefix: String,
}

impl Fresh {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("test-{}-{nanos}-{n}:", std::process::id());
        let base = server();
        let sep = if base.contains('?') { '&' } else { '?' };
        Fresh {
            url: format!("{base}{sep}prefix={prefix}"),
            prefix,
        }
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        // Best effort: a leftover only costs the server some memory.
        let url = server();
        let _ = std::process::Command::new("sh")
            .arg("-c")
            .arg(r#"redis-cli -u "$1" --scan --pattern "$2*" | xargs -r -n 1000 redis-cli -u "$1" UNLINK >/dev/null"#)
            .arg("sh")
            .arg(&url)
            .arg(&self.prefix)
            .status();
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

#[test]
fn redis_store_conforms() {
    let mut prefixes = Vec::new();
    let fresh = || {
        let prefix = Fresh::new();
        let location = OnlineLocation::parse(&prefix.url, std::path::Path::new("/"));
        prefixes.push(prefix);
        async move { online::open(&location?, OpenMode::Write).await }
    };
    let outcome = featurestore_runtime::io::block_on(conformance::run_all(fresh));
    assert_eq!(outcome, Ok(()));
    assert_eq!(prefixes.len(), conformance::Case::ALL.len());
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
fn redis_store_holds_the_chargeback_online_rows() {
    let (_dir, mut config) = temp_config();
    let prefix = Fresh::new();
    config.online_url = prefix.url.clone();
    let stores = Stores::open(&config).unwrap();
    assert_eq!(stores.online.backend(), "redis");
    run(&config, &stores, "2020-07-17");

    let spec = &UserOrders::SPEC;
    let stored = records_frame(spec, &stores.online.scan(spec).unwrap()).unwrap();
    assert_eq!(frame_rows(&stored), fixture_csv("user_orders_online.csv"));
    // Each fixture row by lookup, in one batch and one by one.
    let (_, expected) = fixture_csv("user_orders_online.csv");
    let keys: Vec<Vec<Value>> = expected
        .iter()
        .map(|r| vec![Value::from(r[0].as_str())])
        .collect();
    let found: Vec<Record> = stores
        .online
        .get_many(spec, &keys)
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every fixture key has a row"))
        .collect();
    assert_eq!(
        frame_rows(&records_frame(spec, &found).unwrap()),
        fixture_csv("user_orders_online.csv")
    );
    let x_before = stores.online.get(spec, &[Value::from("x")]).unwrap();
    let row = stores
        .online
        .get_row::<UserOrders>(&[Value::from("x")])
        .unwrap();
    let row = row.expect("x has a row");
    assert_eq!(row.cpf, "x");
    assert_eq!(row.cpf_orders__count_over_3_days_rolling_windows, 2);

    // An older interval afterwards: x keeps its row of 2020-07-17.
    run(&config, &stores, "2020-06-01");
    assert_eq!(
        stores.online.get(spec, &[Value::from("x")]).unwrap(),
        x_before
    );
    assert!(x_before.is_some());
}

static TWO_KEYS: FeatureSetSpec = FeatureSetSpec {
    name: "two_keys",
    keys: &[
        ColumnSpec {
            name: "a",
            dtype: DataType::String,
            nullable: false,
            description: "",
        },
        ColumnSpec {
            name: "b",
            dtype: DataType::String,
            nullable: false,
            description: "",
        },
    ],
    ..UserOrders::SPEC
};

#[test]
fn redis_key_parts_with_separators_do_not_collide() {
    let prefix = Fresh::new();
    let store = open(&prefix.url).unwrap();
    let record = |a: &str, b: &str, v: i64| Record {
        key: vec![Value::from(a), Value::from(b)],
        timestamp: 1,
        values: vec![Value::Int(v); TWO_KEYS.outputs.len()],
    };
    let w = store
        .write_latest(
            &TWO_KEYS,
            &[record("a:b", "c", 1), record("a", "b:c", 2)],
            order(1, 0),
        )
        .unwrap();
    assert_eq!((w.written, w.kept_newer), (2, 0));
    let got = store
        .get_many(
            &TWO_KEYS,
            &[
                vec![Value::from("a:b"), Value::from("c")],
                vec![Value::from("a"), Value::from("b:c")],
                vec![Value::from("a"), Value::from("b")],
            ],
        )
        .unwrap();
    assert_eq!(
        got,
        [
            Some(record("a:b", "c", 1)),
            Some(record("a", "b:c", 2)),
            None
        ]
    );
    assert_eq!(store.scan(&TWO_KEYS).unwrap().len(), 2);
}

#[test]
fn a_redis_server_that_is_down_is_a_transient_error_naming_the_store() {
    // Port 1 (tcpmux) has no listener on a test machine: refused at once.
    let err = open("redis://127.0.0.1:1/0").unwrap_err();
    let text = chain(&err);
    assert_eq!(err.kind(), ErrorKind::Transient, "{text}");
    assert!(text.contains("online store (redis)"), "{text}");
    assert!(text.contains("redis://127.0.0.1:1/0"), "{text}");
}

#[test]
fn a_wrong_redis_password_is_refused_and_not_printed() {
    let base = server();
    let url = base.replacen("://", "://featurestore_nobody:s3cret-pw@", 1);
    let err = open(&url).unwrap_err();
    let text = chain(&err);
    assert_eq!(err.kind(), ErrorKind::Permanent, "{text}");
    assert!(text.contains("user name or password"), "{text}");
    assert!(text.contains("online store (redis)"), "{text}");
    assert!(!text.contains("s3cret-pw"), "{text}");
    assert!(!format!("{err:?}").contains("s3cret-pw"), "{err:?}");
}

#[test]
fn a_changed_declaration_is_refused_before_writing() {
    let prefix = Fresh::new();
    let store = open(&prefix.url).unwrap();
    let spec = &UserOrders::SPEC;
    let record = Record {
        key: vec![Value::from("x")],
        timestamp: 1,
        values: vec![Value::Int(1); spec.outputs.len()],
    };
    store
        .write_latest(spec, std::slice::from_ref(&record), order(1, 0))
        .unwrap();
    let mut changed = UserOrders::SPEC;
    changed.outputs = &UserOrders::SPEC.outputs[..2];
    let err = store.check(&changed).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{}", chain(&err));
    assert!(
        err.to_string().contains("was written with columns"),
        "{err}"
    );
    assert_eq!(store.get(spec, &[Value::from("x")]).unwrap(), Some(record));
}

fn counts(key: &str, timestamp: i64, v: i64) -> Record {
    Record {
        key: vec![Value::from(key)],
        timestamp,
        values: vec![Value::Int(v); UserOrders::SPEC.outputs.len()],
    }
}

/// A write of some keys in the order (`as_of`, `run`).
fn order(as_of: i64, run: i64) -> RunWrite {
    RunWrite::some_keys(WriteOrder { as_of, run })
}

#[test]
fn redis_compares_orders_exactly() {
    // 2^53 + 1 and 2^53 are the same Lua number (a double): a comparison
    // of numbers in the script would let the earlier run replace the later.
    let prefix = Fresh::new();
    let store = open(&prefix.url).unwrap();
    let spec = &UserOrders::SPEC;
    let later = (1_i64 << 53) + 1;
    store
        .write_latest(spec, &[counts("x", 1, 1)], order(later, 0))
        .unwrap();
    let w = store
        .write_latest(spec, &[counts("x", 2, 2)], order(later - 1, 0))
        .unwrap();
    assert_eq!((w.written, w.kept_newer), (0, 1));
    let w = store
        .write_latest(spec, &[counts("x", 2, 2)], order(later, later - 1))
        .unwrap();
    assert_eq!((w.written, w.kept_newer), (1, 0));
    let w = store
        .write_latest(spec, &[counts("x", 3, 3)], order(later, later - 2))
        .unwrap();
    assert_eq!((w.written, w.kept_newer), (0, 1));
    assert_eq!(
        store.get(spec, &[Value::from("x")]).unwrap(),
        Some(counts("x", 2, 2))
    );
    // Negative orders of different lengths: -10 is earlier than -9.
    store
        .write_latest(spec, &[counts("n", 1, 1)], order(-9, 0))
        .unwrap();
    let w = store
        .write_latest(spec, &[counts("n", 2, 2)], order(-10, 5))
        .unwrap();
    assert_eq!((w.written, w.kept_newer), (0, 1));
}

#[test]
fn redis_writes_survive_the_server_forgetting_its_scripts() {
    let prefix = Fresh::new();
    let store = open(&prefix.url).unwrap();
    let spec = &UserOrders::SPEC;
    store
        .write_latest(spec, &[counts("x", 1, 1)], order(1, 0))
        .unwrap();
    // What a server restart does to the loaded script.
    let flushed = std::process::Command::new("redis-cli")
        .args(["-u", &server(), "SCRIPT", "FLUSH"])
        .output()
        .expect("redis-cli runs (scripts/servers.sh installs it)");
    assert!(flushed.status.success(), "{flushed:?}");
    let w = store
        .write_latest(spec, &[counts("x", 2, 2), counts("y", 1, 1)], order(2, 0))
        .unwrap();
    assert_eq!((w.written, w.kept_newer), (2, 0));
    assert_eq!(
        store.get(spec, &[Value::from("x")]).unwrap(),
        Some(counts("x", 2, 2))
    );
}

/// A row written before orders were kept has no `__as_of`/`__run`: it is
/// the oldest, replaced (or removed) by any run.
#[test]
fn redis_rows_without_an_order_are_replaced_by_any_run() {
    let prefix = Fresh::new();
    let store = open(&prefix.url).unwrap();
    let spec = &UserOrders::SPEC;
    store
        .write_latest(
            spec,
            &[counts("x", 5, 5), counts("gone", 5, 5)],
            order(10, 10),
        )
        .unwrap();
    for id in ["x", "gone"] {
        let key = format!("{}user_orders:{id}", prefix.prefix);
        let stripped = std::process::Command::new("redis-cli")
            .args(["-u", &server(), "HDEL", &key, "__as_of", "__run"])
            .output()
            .expect("redis-cli runs (scripts/servers.sh installs it)");
        assert_eq!(
            String::from_utf8_lossy(&stripped.stdout).trim(),
            "2",
            "{stripped:?}"
        );
    }
    let earliest = RunWrite::every_key(WriteOrder {
        as_of: i64::MIN,
        run: i64::MIN,
    });
    let w = store
        .write_latest(spec, &[counts("x", 1, 1)], earliest)
        .unwrap();
    assert_eq!((w.written, w.kept_newer, w.removed), (1, 0, 1));
    assert_eq!(store.scan(spec).unwrap(), vec![counts("x", 1, 1)]);
}

/// The corrected re-run of the chargeback example reaches Redis, and an
/// earlier as-of afterwards changes nothing.
#[test]
fn redis_takes_a_corrected_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let (_config_dir, mut config) = temp_config();
    let prefix = Fresh::new();
    config.online_url = prefix.url.clone();
    let stores = Stores::open(&config).unwrap();
    run(&config, &stores, "2020-07-17");
    tests::without_orders(&mut config, dir.path(), &["i"]);
    run(&config, &stores, "2020-07-17");
    let spec = &UserOrders::SPEC;
    let rows = || frame_rows(&records_frame(spec, &stores.online.scan(spec).unwrap()).unwrap());
    let (header, mut expected) = fixture_csv("user_orders_online.csv");
    // Without `i`, x's last change is 2020-07-16, one order (`h`) in each window.
    expected[0] = ["x", "2020-07-16 00:00:00", "1", "1", "1"]
        .map(String::from)
        .to_vec();
    assert_eq!(rows(), (header.clone(), expected.clone()));
    run(&config, &stores, "2020-06-01");
    assert_eq!(rows(), (header, expected));
}

/// `migrate` on Redis: the declaration key of another declaration, and its
/// rows, go only with `--allow-destructive` (the same checks as redb's).
#[test]
fn redis_migrate_removes_rows_of_another_declaration_only_when_allowed() {
    let prefix = Fresh::new();
    let store = open(&prefix.url).unwrap();
    let spec = &UserOrders::SPEC;
    let mut older = UserOrders::SPEC;
    older.outputs = &UserOrders::SPEC.outputs[..1];
    let old_row = Record {
        key: vec![Value::from("x")],
        timestamp: 1,
        values: vec![Value::Int(9)],
    };
    store
        .write_latest(&older, std::slice::from_ref(&old_row), order(1, 0))
        .unwrap();
    let migrate = |apply, allow| {
        featurestore_runtime::io::block_on(online::migrate(&*store, spec, apply, allow))
    };
    let plan = migrate(false, false).unwrap();
    assert!(plan.len() == 1 && plan[0].destructive, "{plan:?}");
    let err = migrate(true, false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(store.scan(&older).unwrap(), vec![old_row]);
    migrate(true, true).unwrap();
    assert_eq!(store.scan(&older).unwrap(), vec![]);
    assert_eq!(migrate(false, false).unwrap(), vec![]);
    store
        .write_latest(spec, &[counts("x", 2, 2)], order(2, 0))
        .unwrap();
    assert_eq!(
        store.get(spec, &[Value::from("x")]).unwrap(),
        Some(counts("x", 2, 2))
    );
}

/// A feature set's `ttl` is the hash's expiry: the row's time plus the
/// `ttl`, to the millisecond; a row without a `ttl` never expires, and a
/// row past it is not kept at all.
#[test]
fn redis_rows_expire_at_their_time_plus_the_ttl() {
    const DAY_MS: i64 = 86_400_000;
    let prefix = Fresh::new();
    let store = open(&prefix.url).unwrap();
    let ttl = FeatureSetSpec {
        name: "expiring_orders",
        ttl: Some(featurestore_runtime::spec::Window {
            amount: 30,
            unit: featurestore_runtime::spec::WindowUnit::Days,
        }),
        ..UserOrders::SPEC
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    // A row 10 days old (µs, with a fraction of a millisecond) and one 31 days old.
    let young = now_ms - 10 * DAY_MS;
    let micros = young * 1000 + 250;
    let w = store
        .write_latest(
            &ttl,
            &[
                counts("young", micros, 1),
                counts("old", (now_ms - 31 * DAY_MS) * 1000, 2),
            ],
            order(1, 0),
        )
        .unwrap();
    assert_eq!(w.kept_newer, 0);
    store
        .write_latest(&UserOrders::SPEC, &[counts("forever", 1, 1)], order(1, 0))
        .unwrap();
    let expire_time = |key: &str| -> i64 {
        let out = std::process::Command::new("redis-cli")
            .args(["-u", &server(), "PEXPIRETIME", key])
            .output()
            .expect("redis-cli runs (scripts/servers.sh installs it)");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    let p = &prefix.prefix;
    // Rounded up to the next millisecond: Redis never drops a row the
    // reads would still serve.
    assert_eq!(
        expire_time(&format!("{p}expiring_orders:young")),
        young + 30 * DAY_MS + 1
    );
    // -2: no such key (expired on write); -1: no expiry.
    assert_eq!(expire_time(&format!("{p}expiring_orders:old")), -2);
    assert_eq!(expire_time(&format!("{p}user_orders:forever")), -1);
    assert_eq!(
        store.get(&ttl, &[Value::from("young")]).unwrap(),
        Some(counts("young", micros, 1))
    );
    assert_eq!(store.get(&ttl, &[Value::from("old")]).unwrap(), None);
}

/// A Redis server of this test's own on a free port, with an append-only
/// file, so that stopping it disturbs no other test and a restart finds
/// what it had stored.
struct OwnRedis {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl OwnRedis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = tempfile::tempdir().unwrap();
        let mut own = OwnRedis {
            child: Self::spawn(port, dir.path()),
            port,
            dir,
        };
        own.wait_ready();
        own
    }

    fn spawn(port: u16, dir: &std::path::Path) -> std::process::Child {
        std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "yes", "--dir"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (Debian's redis-server, as scripts/servers.sh uses)")
    }

    /// Until the server answers PING: a restarted server accepts
    /// connections while it still loads its data, and answers `LOADING`.
    fn wait_ready(&mut self) {
        for _ in 0..400 {
            let pong = std::process::Command::new("redis-cli")
                .args(["-p", &self.port.to_string(), "PING"])
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "PONG");
            if pong {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("redis-server on port {} did not start", self.port);
    }

    /// Stopped hard, as a crash or an OOM kill stops it.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn restart(&mut self) {
        self.child = Self::spawn(self.port, self.dir.path());
        self.wait_ready();
    }

    fn keys(&self) -> usize {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "DBSIZE"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_redis_server_stopped_mid_write_fails_the_write_naming_the_store_and_a_rerun_converges() {
    let mut own = OwnRedis::start();
    let url = format!("redis://127.0.0.1:{}/0", own.port);
    let spec = &UserOrders::SPEC;
    let rows = 200_000;
    let records: Vec<Record> = (0..rows)
        .map(|i| counts(&format!("k{i}"), 1, i as i64))
        .collect();
    let store = open(&url).unwrap();
    let (done, outcome) = std::sync::mpsc::channel();
    let sent = records.clone();
    std::thread::spawn(move || {
        let _ = done.send(store.write_latest(spec, &sent, order(1, 0)));
    });
    // Stopped once the first rows are in, long before the last.
    while own.keys() < 2 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    own.kill();
    let err = outcome
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the write returns when its server stops, rather than hanging")
        .expect_err("a write whose server stopped midway fails");
    let text = chain(&err);
    assert!(text.contains("online store (redis)"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{}", own.port)), "{text}");
    assert_eq!(err.kind(), ErrorKind::Transient, "{text}");

    // Back up with part of the rows (each row whole, as the store's
    // documentation says); the same run again completes them.
    own.restart();
    let store = open(&url).unwrap();
    let kept = store.scan(spec).unwrap();
    assert!(kept.len() < rows, "the write was stopped midway");
    for row in &kept {
        let i: usize = match &row.key[0] {
            Value::Str(k) => k[1..].parse().unwrap(),
            other => panic!("a key of another type: {other:?}"),
        };
        assert_eq!(row, &records[i], "a row stored whole or not at all");
    }
    store.write_latest(spec, &records, order(1, 0)).unwrap();
    let mut all = store.scan(spec).unwrap();
    all.sort_by_key(|r| match &r.key[0] {
        Value::Str(k) => k[1..].parse::<usize>().unwrap(),
        _ => usize::MAX,
    });
    assert_eq!(all, records);
}
