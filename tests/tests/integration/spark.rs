//! The Spark engine against a real Spark Connect server on 127.0.0.1
//! (`eval "$(scripts/servers.sh start spark)"` sets `FEATURESTORE_TEST_SPARK`):
//! every run is compared row by row with the polars engine's run of the same
//! declaration, and the chargeback runs with Butterfree's fixtures.

use chrono::{NaiveDate, NaiveDateTime};
use features::{AwesomeDataset, UserChargebacks, UserOrders};
use featurestore_runtime::config::Config;
use featurestore_runtime::engine::spark::SparkClient;
use featurestore_runtime::engine::{EngineConfig, EngineKind};
use featurestore_runtime::pipeline::{self, DatasetOutput, FeatureRows, RunReport, Stores};
use featurestore_runtime::{feature_set, Dataset, DateRange, FeatureSet};
use tests::{fixture_csv, frame_rows, run_rows, stores, temp_config};

use crate::catalog::{Payments, PaymentsByMethod};

/// The Spark Connect endpoint of the tests; a test needing it fails
/// without it, never skips.
fn remote() -> String {
    std::env::var("FEATURESTORE_TEST_SPARK").unwrap_or_else(|_| {
        panic!(
            "FEATURESTORE_TEST_SPARK is not set: start a Spark Connect server with \
             `eval \"$(scripts/servers.sh start spark)\"` (scripts/servers.sh start spark)"
        )
    })
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn range(start: Option<&str>, end: &str) -> DateRange {
    DateRange {
        start: start.map(date),
        end: Some(date(end)),
    }
}

fn on_spark(mut config: Config) -> Config {
    config.engine = EngineConfig {
        kind: EngineKind::Spark,
        spark_remote: Some(remote()),
        ..EngineConfig::default()
    };
    config
}

fn run<F: FeatureSet>(config: &Config, st: &Stores, r: DateRange) -> RunReport {
    pipeline::execute(&F::SPEC, config, st, r, &|_| {}).expect("run succeeds")
}

fn sorted(mut rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    rows.sort();
    rows
}

/// Both stores of a feature set after a run: the historical rows (with
/// `year`, `month`, `day`) and the online rows.
fn stored<F: FeatureSet>(st: &Stores) -> (Vec<String>, Vec<Vec<String>>, Vec<Vec<String>>) {
    let historical = st.historical.read(&F::SPEC, None).expect("historical read");
    let (header, rows) = frame_rows(&historical);
    let mut online = st.online.scan(&F::SPEC).expect("online scan");
    online.sort_by(|a, b| format!("{:?}", a.key).cmp(&format!("{:?}", b.key)));
    let online =
        featurestore_runtime::store::online::records_frame(&F::SPEC, &online).expect("online rows");
    (header, sorted(rows), sorted(frame_rows(&online).1))
}

/// Runs `F` on polars and on Spark, each into fresh stores, over the
/// same input; asserts both runs' rows and stores are equal, and returns
/// the Spark run.
fn same_as_polars<F: FeatureSet>(config: &Config, runs: &[DateRange]) -> RunReport {
    let (_pdir, mut polars_config) = temp_config();
    let (_sdir, mut spark_config) = temp_config();
    polars_config.sources = config.sources.clone();
    spark_config.sources = config.sources.clone();
    let spark_config = on_spark(spark_config);
    let polars_stores = stores(&polars_config);
    let spark_stores = stores(&spark_config);
    let mut last = None;
    for r in runs {
        let p = run::<F>(&polars_config, &polars_stores, *r);
        let s = run::<F>(&spark_config, &spark_stores, *r);
        assert_eq!(
            (s.days, s.rows.height(), s.latest.height()),
            (p.days, p.rows.height(), p.latest.height()),
            "{}: the run's days, row and key counts, {r:?}",
            F::SPEC.name
        );
        assert_eq!(
            s.rows.schema(),
            p.rows.schema(),
            "{}: column names and types",
            F::SPEC.name
        );
        assert_eq!(
            run_rows(&s.rows),
            run_rows(&p.rows),
            "{}: the run's rows, {r:?}",
            F::SPEC.name
        );
        assert_eq!(s.days, p.days, "{}: the run's days", F::SPEC.name);
        assert_eq!(
            frame_rows(&s.latest),
            frame_rows(&p.latest),
            "{}: the latest rows",
            F::SPEC.name
        );
        assert_eq!(
            (
                s.historical.partitions_written,
                s.historical.partitions_deleted
            ),
            (
                p.historical.partitions_written,
                p.historical.partitions_deleted
            ),
            "{}: partitions written and deleted",
            F::SPEC.name
        );
        last = Some(s);
    }
    assert_eq!(
        stored::<F>(&spark_stores),
        stored::<F>(&polars_stores),
        "{}: both stores after the runs",
        F::SPEC.name
    );
    last.expect("at least one run")
}

#[test]
fn spark_connect_answers_sql() {
    let client = SparkClient::connect(&remote()).expect("connects");
    let version = client.version().expect("version");
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(major >= 4 || version.starts_with("3.5"), "Spark {version}");
    assert_eq!(client.count("SELECT CAST(1 AS BIGINT)").unwrap(), 1);
}

#[test]
fn user_orders_on_spark_are_the_polars_rows_and_butterfree_s() {
    let (_dir, config) = temp_config();
    let report = same_as_polars::<UserOrders>(&config, &[range(None, "2020-07-17")]);
    let (header, rows) = fixture_csv("user_orders.csv");
    assert_eq!(run_rows(&report.rows), (header, rows));
    let (header, rows) = fixture_csv("user_orders_online.csv");
    assert_eq!(frame_rows(&report.latest), (header, rows));
}

#[test]
fn user_chargebacks_on_spark_are_the_polars_rows_and_butterfree_s() {
    let (_dir, config) = temp_config();
    let report = same_as_polars::<UserChargebacks>(&config, &[range(None, "2020-07-17")]);
    let (header, rows) = fixture_csv("user_chargebacks.csv");
    assert_eq!(run_rows(&report.rows), (header, rows));
    let (header, rows) = fixture_csv("user_chargebacks_online.csv");
    assert_eq!(frame_rows(&report.latest), (header, rows));
}

#[test]
fn a_rerun_on_spark_replaces_exactly_its_days() {
    let (_dir, config) = temp_config();
    // A full run, then a shorter one inside it, then one starting later:
    // each replaces its days only, and deletes those left without rows.
    same_as_polars::<UserOrders>(
        &config,
        &[
            range(None, "2020-07-17"),
            range(Some("2020-05-10"), "2020-05-20"),
            range(Some("2020-06-01"), "2020-07-30"),
        ],
    );
}

/// Every aggregation the Spark engine compiles, on the catalog's payments.
#[derive(Debug)]
#[feature_set(entity = "uid", window = "1d,2d,5d", source = Payments, timestamp = at)]
pub struct SparkPaymentStats {
    #[feature(
        count(amount),
        sum(amount),
        min(amount),
        max(amount),
        count_distinct(amount),
        approx_count_distinct(amount, 0.05)
    )]
    pub amounts: i64,
    #[feature(
        avg(amount),
        var_pop(amount),
        var_samp(amount),
        stddev_pop(amount),
        stddev_samp(amount),
        percentile(amount, 0.5),
        percentile(amount, 0.25)
    )]
    pub spread: f64,
    // `first` and `last` are refused on Spark (see below).
    #[feature(mode(method))]
    pub method: String,
}

/// Filled with zeros after the dedup.
#[derive(Debug)]
#[feature_set(entity = "uid", window = "3d", source = Payments, timestamp = at, fill_null = 0,
              filter = "amount IS NULL OR amount < 90")]
pub struct SparkPaymentCounts {
    #[feature(count(amount), sum(amount), max(amount))]
    pub amounts: i64,
    #[feature(count(method), filter = "method = 'pix'")]
    pub pix: i32,
}

/// Deterministic payments over a month: several users, ties at one instant,
/// nulls, gaps longer than the windows.
fn payments_csv(dir: &std::path::Path) -> String {
    let mut text = String::from("uid,at,amount,method,paid_on\n");
    let methods = ["pix", "card", "boleto", ""];
    let mut x: u64 = 7;
    let mut next = |m: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % m
    };
    for i in 0..400 {
        let uid = format!("u{}", next(6));
        let day = 1 + next(30);
        // Some events at exactly midnight, some in the last microsecond.
        let time = match next(5) {
            0 => "00:00:00".to_string(),
            1 => "23:59:59.999999".to_string(),
            _ => format!("{:02}:{:02}:{:02}", next(24), next(60), next(60)),
        };
        let amount = if next(7) == 0 {
            String::new()
        } else {
            (next(100) as i64 - 5).to_string()
        };
        let method = methods[next(4) as usize];
        let paid = if next(3) == 0 {
            String::new()
        } else {
            format!("2024-01-{:02}", 1 + next(28))
        };
        let at = NaiveDateTime::parse_from_str(
            &format!("2024-01-{day:02} {time}"),
            "%Y-%m-%d %H:%M:%S%.f",
        )
        .unwrap();
        text.push_str(&format!(
            "{uid},{},{amount},{method},{paid}\n",
            at.format("%Y-%m-%d %H:%M:%S%.6f")
        ));
        if i % 50 == 0 {
            // The same instant again, with another value.
            text.push_str(&format!(
                "{uid},{},7,card,\n",
                at.format("%Y-%m-%d %H:%M:%S%.6f")
            ));
        }
    }
    let path = dir.join("payments.csv");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn payments_config(dir: &std::path::Path) -> Config {
    let (_unused, mut config) = temp_config();
    config
        .sources
        .insert("payments".to_string(), payments_csv(dir));
    config
}

#[test]
fn catalog_aggregations_on_spark_are_the_polars_rows() {
    let dir = tempfile::tempdir().unwrap();
    let config = payments_config(dir.path());
    let runs = [
        range(None, "2024-02-10"),
        range(Some("2024-01-10"), "2024-01-20"),
    ];
    same_as_polars::<SparkPaymentStats>(&config, &runs);
    same_as_polars::<SparkPaymentCounts>(&config, &runs);
    same_as_polars::<PaymentsByMethod>(&config, &runs);
}

#[test]
fn what_spark_cannot_run_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let config = on_spark(payments_config(dir.path()));
    let st = stores(&config);
    let cases: [(&featurestore_runtime::FeatureSetSpec, &str); 4] = [
        (&crate::catalog::PaymentStats::SPEC, "uses `first`"),
        (
            &crate::catalog::EdgeOfTheWindow::SPEC,
            "the order they were read",
        ),
        (&crate::catalog::HookedPayments::SPEC, "pre-hook"),
        (
            &crate::catalog::PaymentsPerInstant::SPEC,
            "no rolling windows",
        ),
    ];
    for (spec, reason) in cases {
        let err = pipeline::execute(spec, &config, &st, range(None, "2024-02-10"), &|_| {})
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains(spec.name) && err.contains(reason),
            "{}: {err}",
            spec.name
        );
        assert_eq!(
            st.historical.read(spec, None).unwrap().height(),
            0,
            "{}: nothing written",
            spec.name
        );
    }
}

/// Builds the example's dataset with `config`'s engine into fresh stores.
fn awesome_dataset(config: &Config, dir: &std::path::Path) -> pipeline::DatasetReport {
    let mut config = config.clone();
    config.historical_root = dir.join("historical").to_string_lossy().into_owned();
    config.online_url = format!("redb://{}", dir.join("online.redb").display());
    config.datasets_root = dir.join("datasets").to_string_lossy().into_owned();
    let st = stores(&config);
    pipeline::execute_dataset(
        &AwesomeDataset::SPEC,
        &config,
        &st,
        range(None, "2020-07-17"),
        FeatureRows::Run,
        DatasetOutput {
            csv: true,
            parquet: false,
        },
        &|_| {},
    )
    .expect("dataset builds")
}

#[test]
fn awesome_dataset_on_spark_is_the_polars_rows_and_butterfree_s() {
    let (_pdir, polars_config) = temp_config();
    let (sdir, spark_config) = temp_config();
    let polars = awesome_dataset(&polars_config, _pdir.path());
    let spark = awesome_dataset(&on_spark(spark_config), sdir.path());
    assert_eq!(spark.rows.schema(), polars.rows.schema(), "names and types");
    assert_eq!(frame_rows(&spark.rows), frame_rows(&polars.rows));
    assert_eq!(frame_rows(&spark.rows), fixture_csv("awesome_dataset.csv"));
    let written = std::fs::read_to_string(
        sdir.path()
            .join("datasets/awesome_dataset/awesome_dataset.csv"),
    )
    .expect("the CSV is written");
    assert_eq!(
        tests::parse_csv(&written),
        fixture_csv("awesome_dataset.csv")
    );
}

/// `n` seeded order events over 120 days of 2020 for 3,000 users, a tenth
/// of them charged back a few days later.
fn orders_csv(dir: &std::path::Path, n: usize) -> String {
    let mut text = String::from("order_id,order_timestamp,cpf,chargeback_timestamp\n");
    let mut x: u64 = 42;
    let mut next = |m: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % m
    };
    let start = NaiveDate::from_ymd_opt(2020, 3, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    for i in 0..n {
        let at = start + chrono::Duration::seconds(next(120 * 86_400) as i64);
        let cpf = next(3_000);
        let chargeback = if next(10) == 0 {
            (at + chrono::Duration::seconds(next(10 * 86_400) as i64))
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        } else {
            String::new()
        };
        text.push_str(&format!(
            "o{i},{},c{cpf},{chargeback}\n",
            at.format("%Y-%m-%d %H:%M:%S")
        ));
    }
    let path = dir.join("orders.csv");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_generated_100k_event_input_on_spark_is_the_polars_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (_unused, mut config) = temp_config();
    config
        .sources
        .insert("order_events".to_string(), orders_csv(dir.path(), 100_000));
    let orders = same_as_polars::<UserOrders>(&config, &[range(None, "2020-07-10")]);
    let chargebacks = same_as_polars::<UserChargebacks>(&config, &[range(None, "2020-07-10")]);
    // Every user ordered: each has an online row.
    assert_eq!(orders.latest.height(), 3_000);
    assert!(orders.rows.height() > 50_000, "{}", orders.rows.height());
    assert!(
        chargebacks.rows.height() > 3_000,
        "{}",
        chargebacks.rows.height()
    );
}

/// A Spark Connect server of this test's own, on a free port, so that it
/// can be killed without touching the shared one. It reuses the shared
/// server's installation (`venv/`), so only its start costs time.
struct OwnSpark {
    dir: tempfile::TempDir,
    remote: String,
}

fn servers_script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/servers.sh")
}

impl OwnSpark {
    fn start() -> OwnSpark {
        OwnSpark::start_with("")
    }

    /// With Spark settings (`key=value …`) of its own.
    fn start_with(conf: &str) -> OwnSpark {
        let shared = std::env::var("FEATURESTORE_SERVERS_DIR").unwrap_or_else(|_| {
            let cache = std::env::var("XDG_CACHE_HOME").unwrap_or_else(|_| {
                format!("{}/.cache", std::env::var("HOME").unwrap_or("/tmp".into()))
            });
            format!("{cache}/featurestore/servers")
        });
        let venv = std::path::Path::new(&shared).join("spark/venv");
        assert!(
            venv.join(".specs").exists(),
            "no Spark installation at {}: run `scripts/servers.sh start spark` first",
            venv.display()
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("spark")).unwrap();
        std::os::unix::fs::symlink(&venv, dir.path().join("spark/venv")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = std::process::Command::new(servers_script())
            .args(["start", "spark"])
            .env("FEATURESTORE_SERVERS_DIR", dir.path())
            .env("FEATURESTORE_SPARK_PORT", port.to_string())
            .env("FEATURESTORE_SPARK_CONF", conf)
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("scripts/servers.sh runs");
        assert!(out.status.success(), "the test's own Spark server starts");
        let remote = format!("sc://127.0.0.1:{port}");
        assert!(String::from_utf8_lossy(&out.stdout).contains(&remote));
        OwnSpark { dir, remote }
    }

    fn kill(&self) {
        let pid = std::fs::read_to_string(self.dir.path().join("spark/pid")).unwrap();
        let status = std::process::Command::new("kill")
            .args(["-KILL", pid.trim()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {pid}");
    }
}

impl Drop for OwnSpark {
    fn drop(&mut self) {
        let _ = std::process::Command::new(servers_script())
            .args(["stop", "spark"])
            .env("FEATURESTORE_SERVERS_DIR", self.dir.path())
            .output();
    }
}

/// Every file below `dir`, with its bytes.
fn files_below(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.insert(p.strip_prefix(dir).unwrap().display().to_string(), bytes);
            }
        }
    }
    out
}

/// The Spark engine over `events` generated orders, with its stores in `dir`.
fn orders_on_spark(dir: &std::path::Path, events: usize) -> Config {
    let (_unused, mut config) = temp_config();
    config.historical_root = dir.join("historical").to_string_lossy().into_owned();
    config.online_url = format!("redb://{}", dir.join("online.redb").display());
    config
        .sources
        .insert("order_events".to_string(), orders_csv(dir, events));
    on_spark(config)
}

#[test]
fn a_spark_server_killed_mid_write_leaves_the_historical_store_as_it_was() {
    let own = OwnSpark::start();
    let dir = tempfile::tempdir().unwrap();
    let config = orders_on_spark(dir.path(), 30_000);
    let st = stores(&config);
    run::<UserOrders>(&config, &st, range(None, "2020-06-30"));
    let table = dir.path().join("historical/cpf/user_orders");
    let before = files_below(&table);
    let rows_before = frame_rows(&st.historical.read(&UserOrders::SPEC, None).unwrap());
    assert!(before.keys().any(|p| p.ends_with(".parquet")));

    // The same days again, and later ones, on the test's own server, killed
    // as soon as Spark has begun writing the new partitions.
    let mut killing = config.clone();
    killing.engine.spark_remote = Some(own.remote.clone());
    let watched = table.clone();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = done.clone();
    let watcher = std::thread::spawn(move || {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let staging = std::fs::read_dir(&watched).ok().and_then(|mut it| {
                it.find(|e| {
                    e.as_ref().is_ok_and(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .starts_with(".spark-staging")
                    })
                })
            });
            if staging.is_some() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        false
    });
    let killer = std::thread::scope(|s| {
        let h = s.spawn(|| {
            let seen = watcher.join().unwrap();
            if seen {
                own.kill();
            }
            seen
        });
        let result = pipeline::execute(
            &UserOrders::SPEC,
            &killing,
            &st,
            range(Some("2020-05-01"), "2020-07-10"),
            &|_| {},
        );
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (h.join().unwrap(), result)
    });
    let (killed, result) = killer;
    assert!(killed, "the run was seen writing: {result:?}");
    let err = result
        .expect_err("the run fails with its server")
        .to_string();
    assert!(err.contains("Spark Connect"), "{err}");

    let after: std::collections::BTreeMap<_, _> = files_below(&table)
        .into_iter()
        .filter(|(p, _)| !p.starts_with(".spark-staging"))
        .collect();
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "the same partition files"
    );
    assert!(after == before, "the same bytes in every partition file");
    assert_eq!(
        frame_rows(&st.historical.read(&UserOrders::SPEC, None).unwrap()),
        rows_before
    );
    // The run had recorded that the online store may be behind; the next
    // run (on the shared server) re-writes those rows first and clears it.
    let record = dir.path().join("historical/_status/user_orders.json");
    assert!(record.exists(), "the run's record is left");
    let next = run::<UserOrders>(&config, &st, range(Some("2020-05-01"), "2020-07-10"));
    assert!(next.repaired.is_some());
    assert!(!record.exists(), "cleared by the next run");
}

/// A server that ends its response streams early (its
/// `senderMaxStreamDuration` at 2 s rather than the 2 minutes a long run
/// can exceed) gives answers the client takes as complete: the run fails
/// and writes nothing, rather than store a partial or empty result (before
/// the check of each answer's rows, a 10M-event run on Spark stored nothing
/// for `user_orders` and reported success).
#[test]
fn an_answer_the_server_cut_short_fails_the_run_and_writes_nothing() {
    let own = OwnSpark::start_with("spark.connect.execute.reattachable.senderMaxStreamDuration=2s");
    let dir = tempfile::tempdir().unwrap();
    let mut config = orders_on_spark(dir.path(), 30_000);
    config.engine.spark_remote = Some(own.remote.clone());
    let st = stores(&config);
    let err = pipeline::execute(
        &UserOrders::SPEC,
        &config,
        &st,
        range(None, "2020-06-30"),
        &|_| {},
    )
    .expect_err("a cut answer fails the run");
    let shown = format!("{err}: {:?}", std::error::Error::source(&err));
    // Mostly an answer with too few rows, caught and explained: the summary
    // of the run's rows, or before it a check's count (the first read of the
    // source can take the 2 s too). On a loaded machine even the statement
    // creating the source's view can take 2 s: its answer then comes back
    // before the view exists, and the next statement finds no view.
    assert!(
        (shown.contains("came back") && shown.contains("senderMaxStreamDuration"))
            || shown.contains("TABLE_OR_VIEW_NOT_FOUND"),
        "{shown}"
    );
    assert_eq!(
        st.historical
            .read(&UserOrders::SPEC, None)
            .unwrap()
            .height(),
        0
    );
    assert!(st
        .online
        .get(
            &UserOrders::SPEC,
            &[featurestore_runtime::store::online::Value::from("c1")]
        )
        .unwrap()
        .is_none());
}
