//! The `features` binary with `--engine spark`, against a real Spark Connect
//! server on 127.0.0.1 (`eval "$(scripts/servers.sh start spark)"` sets
//! `FEATURESTORE_TEST_SPARK`): the README's run, the dataset, the plan
//! `describe` prints, and an online write refused after Spark wrote the
//! historical store.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use features::{UserChargebacks, UserOrders};
use featurestore_runtime::store::historical::HistoricalStore;
use featurestore_runtime::FeatureSet;

#[allow(dead_code)] // what the other test files share
mod support;
use support::ReadOnlyRedis;

fn spark_remote() -> String {
    std::env::var("FEATURESTORE_TEST_SPARK").unwrap_or_else(|_| {
        panic!(
            "FEATURESTORE_TEST_SPARK is not set: start a Spark Connect server with \
             `eval \"$(scripts/servers.sh start spark)\"` (scripts/servers.sh start spark)"
        )
    })
}

fn redis_url() -> String {
    std::env::var("FEATURESTORE_TEST_REDIS").unwrap_or_else(|_| {
        panic!("set FEATURESTORE_TEST_REDIS (run `eval \"$(scripts/servers.sh start redis)\"`)")
    })
}

fn example_input() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/order_events/input.csv")
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/legiti")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The binary on Spark, with the stores in `dir` and the example's input.
fn on_spark(dir: &Path, online: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_features"));
    cmd.arg("--historical-root")
        .arg(dir.join("historical"))
        .args(["--online-url", online])
        .arg("--datasets-root")
        .arg(dir.join("datasets"))
        .arg("--source")
        .arg(format!("order_events={}", example_input().display()))
        .args(["--engine", "spark", "--spark-remote", &spark_remote()])
        .env_remove("FEATURESTORE_CONFIG")
        .env_remove("FEATURESTORE_HISTORICAL_ROOT")
        .env_remove("FEATURESTORE_ONLINE_URL")
        .env_remove("FEATURESTORE_SOURCE_ORDER_EVENTS")
        .env_remove("FEATURESTORE_FAIL_AT");
    cmd
}

fn redb(dir: &Path) -> String {
    format!("redb://{}", dir.join("online.redb").display())
}

fn succeed(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the binary runs");
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The rows of `F`'s historical table in `dir`, as CSV (sorted by key and
/// time, as the fixtures are).
fn historical_csv<F: FeatureSet>(dir: &Path) -> String {
    use polars::prelude::*;
    let store = HistoricalStore::open_path(&dir.join("historical").to_string_lossy()).unwrap();
    let mut frame = store
        .read(&F::SPEC, None)
        .unwrap()
        .drop_many(["year", "month", "day"]);
    let mut out = Vec::new();
    CsvWriter::new(&mut out)
        .include_header(true)
        .with_datetime_format(Some("%Y-%m-%d %H:%M:%S".into()))
        .finish(&mut frame)
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn the_readme_run_and_the_dataset_on_spark_are_butterfree_s_rows() {
    let dir = tempfile::tempdir().unwrap();
    let online = redb(dir.path());
    type HistoricalCsv = fn(&Path) -> String;
    let tables: [(&str, HistoricalCsv); 2] = [
        ("user_orders", historical_csv::<UserOrders>),
        ("user_chargebacks", historical_csv::<UserChargebacks>),
    ];
    for (name, historical) in tables {
        let out = succeed(on_spark(dir.path(), &online).args([
            "execute",
            &format!("feature_store.{name}"),
            "--end-date",
            "2020-07-17",
            "--format",
            "csv",
        ]));
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            fixture(&format!("{name}_online.csv")),
            "{name}: the online rows"
        );
        assert_eq!(
            historical(dir.path()),
            fixture(&format!("{name}.csv")),
            "{name}: the historical rows"
        );
    }
    succeed(on_spark(dir.path(), &online).args([
        "execute",
        "dataset.awesome_dataset",
        "--end-date",
        "2020-07-17",
    ]));
    let written = std::fs::read_to_string(
        dir.path()
            .join("datasets/awesome_dataset/awesome_dataset.csv"),
    )
    .unwrap();
    // The fixture was saved with CRLF line ends; the dataset's CSV has LF.
    assert_eq!(
        written,
        fixture("awesome_dataset.csv").replace("\r\n", "\n")
    );
}

#[test]
fn describe_with_spark_prints_the_plan_of_feature_sets_and_datasets() {
    let dir = tempfile::tempdir().unwrap();
    let out = succeed(on_spark(dir.path(), &redb(dir.path())).args(["describe", "user_orders"]));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Spark plan"), "{text}");
    assert!(
        text.contains("CREATE OR REPLACE TEMPORARY VIEW `order_events`"),
        "{text}"
    );
    assert!(
        text.contains(&example_input().display().to_string()),
        "{text}"
    );
    let out = succeed(
        on_spark(dir.path(), &redb(dir.path())).args(["describe", "dataset.awesome_dataset"]),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("point-in-time join"), "{text}");
    assert!(text.contains("cpf/user_chargebacks"), "{text}");
}

#[test]
fn an_online_write_refused_after_spark_s_write_is_recorded_and_repaired() {
    let server = redis_url();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let tag = format!("{}-{nanos}", std::process::id());
    let prefix = format!("spark-{tag}:");
    let read_only = ReadOnlyRedis::new(&server, &prefix, &format!("spark-reader-{tag}"));
    let reader = read_only.url.clone();
    let host = server.trim_start_matches("redis://").trim_end_matches('/');
    let writer = format!("redis://{host}/?prefix={prefix}");

    let dir = tempfile::tempdir().unwrap();
    let out = on_spark(dir.path(), &reader)
        .args(["execute", "user_orders", "--end-date", "2020-07-17"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!(
            "error: feature set `user_orders`: the historical store at {} was written (days 2018-05-12 to 2020-07-17), but the online store at redis://***@{host}/ was not changed",
            dir.path().join("historical").display()
        )),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
    // Spark wrote the historical store: Butterfree's rows.
    assert_eq!(
        historical_csv::<UserOrders>(dir.path()),
        fixture("user_orders.csv")
    );
    let record = std::fs::read_to_string(dir.path().join("historical/_status/user_orders.json"))
        .expect("the record is written");
    assert!(
        record.contains("no permissions to run the 'set' command"),
        "{record}"
    );

    // The next run, allowed to write, re-writes those rows first.
    let out = succeed(on_spark(dir.path(), &writer).args([
        "execute",
        "user_orders",
        "--start-date",
        "2020-05-01",
        "--end-date",
        "2020-05-02",
    ]));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("this run re-wrote those online rows from the historical store first"),
        "{err}"
    );
    assert!(!dir
        .path()
        .join("historical/_status/user_orders.json")
        .exists());
    let got = succeed(
        Command::new(env!("CARGO_BIN_EXE_features"))
            .arg("--historical-root")
            .arg(dir.path().join("historical"))
            .args([
                "--online-url",
                &writer,
                "get",
                "user_orders",
                "x",
                "--format",
                "csv",
            ]),
    );
    assert!(
        String::from_utf8(got.stdout)
            .unwrap()
            .ends_with("x,2020-07-17 00:00:00,2,2,2\n"),
        "the failed run's row of x"
    );
}
