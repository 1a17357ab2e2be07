//! The `features` binary as a user runs it: output and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/legiti")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The binary with both stores in `dir`, and no configuration from the caller's environment.
fn features(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_features"));
    cmd.arg("--historical-root")
        .arg(dir.join("historical"))
        .arg("--online-url")
        .arg(format!("redb://{}", dir.join("online.redb").display()))
        .arg("--datasets-root")
        .arg(dir.join("datasets"))
        .env_remove("FEATURESTORE_CONFIG")
        .env_remove("FEATURESTORE_HISTORICAL_ROOT")
        .env_remove("FEATURESTORE_ONLINE_URL")
        .env_remove("FEATURESTORE_DATASETS_ROOT")
        .env_remove("FEATURESTORE_SOURCE_ORDER_EVENTS");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn execute_prints_exactly_butterfree_online_rows() {
    let dir = tempfile::tempdir().unwrap();
    for (pipeline, expected) in [
        ("feature_store.user_orders", "user_orders_online.csv"),
        (
            "feature_store.user_chargebacks",
            "user_chargebacks_online.csv",
        ),
    ] {
        let out = run(features(dir.path()).args([
            "execute",
            pipeline,
            "--end-date",
            "2020-07-17",
            "--format",
            "csv",
        ]));
        assert_eq!(stdout(&out), fixture(expected), "{pipeline}");
    }
    // The table format shows the same cells.
    let out = run(features(dir.path()).args([
        "execute",
        "feature_store.user_orders",
        "--end-date",
        "2020-07-17",
    ]));
    let table = stdout(&out);
    for row in fixture("user_orders_online.csv").lines().skip(1) {
        let cells: Vec<&str> = row.split(',').collect();
        assert!(
            table.lines().any(|l| cells.iter().all(|c| l.contains(c))),
            "row {row} missing from\n{table}"
        );
    }
}

#[test]
fn several_feature_sets_run_in_one_command_each_printing_its_rows() {
    let expected = format!(
        "# user_orders\n{}\n# user_chargebacks\n{}",
        fixture("user_orders_online.csv"),
        fixture("user_chargebacks_online.csv")
    );
    for names in [
        &[
            "feature_store.user_orders",
            "feature_store.user_chargebacks",
        ][..],
        &["--all"][..],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = run(features(dir.path())
            .arg("execute")
            .args(names)
            .args(["--end-date", "2020-07-17", "--format", "csv"])
            .env("RUST_LOG", "featurestore_runtime=info"));
        assert_eq!(
            stdout(&out).replace("\r\n", "\n"),
            expected.replace("\r\n", "\n"),
            "{names:?}"
        );
        // Both feature sets read `order_events`: it is read once.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.matches("source read and checked").count(),
            1,
            "{stderr}"
        );
        // Both stores hold both feature sets.
        let got = stdout(&run(features(dir.path()).args([
            "get",
            "feature_store.user_chargebacks",
            "x",
            "--format",
            "csv",
        ])));
        assert!(got.lines().count() == 2, "{got}");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = run(features(dir.path()).args([
        "execute",
        "feature_store.user_orders",
        "dataset.awesome_dataset",
        "--end-date",
        "2020-07-17",
    ]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is a dataset: run it on its own"),
        "{stderr}"
    );
}

#[test]
fn get_looks_up_the_online_row() {
    let dir = tempfile::tempdir().unwrap();
    stdout(&run(features(dir.path()).args([
        "execute",
        "user_orders",
        "--end-date",
        "2020-07-17",
    ])));
    let out = run(features(dir.path()).args([
        "get",
        "feature_store.user_orders",
        "x",
        "--format",
        "csv",
    ]));
    let online = fixture("user_orders_online.csv");
    let mut lines = online.lines();
    let expected = format!("{}\n{}\n", lines.next().unwrap(), lines.next().unwrap());
    assert_eq!(stdout(&out), expected);

    let missing = run(features(dir.path()).args(["get", "user_orders", "nobody"]));
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no online row for cpf = nobody"));
}

#[test]
fn list_and_describe_show_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let list = stdout(&run(features(dir.path()).arg("list-pipelines")));
    assert_eq!(
        list,
        "feature_store.user_orders
feature_store.user_chargebacks
dataset.awesome_dataset
"
    );

    let json = stdout(&run(features(dir.path()).args([
        "describe",
        "feature_store.user_orders",
        "--json",
    ])));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let columns: Vec<(&str, &str)> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["column_name"].as_str().unwrap(),
                c["data_type"].as_str().unwrap(),
            )
        })
        .collect();
    let header = fixture("user_orders.csv");
    let names: Vec<&str> = header.lines().next().unwrap().split(',').collect();
    assert_eq!(columns.iter().map(|c| c.0).collect::<Vec<_>>(), names);
    assert_eq!(columns[2].1, "i32");
    assert_eq!(
        v["windows"],
        serde_json::json!(["3 days", "7 days", "30 days"])
    );
    assert!(v["online_table_ddl"]
        .as_str()
        .unwrap()
        .contains("PRIMARY KEY ((cpf))"));

    let text = stdout(&run(
        features(dir.path()).args(["describe", "user_chargebacks"])
    ));
    assert!(text.contains("chargeback_timestamp IS NOT NULL"), "{text}");
    assert!(
        text.contains("cpf_chargebacks__count_over_30_days_rolling_windows"),
        "{text}"
    );
}

#[test]
fn bad_arguments_fail_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["execute", "user_orders", "--end-date", "17/07/2020"],
            "YYYY-MM-DD",
        ),
        (&["execute", "user_orders"], "end date is required"),
        (
            &[
                "execute",
                "user_orders",
                "--start-date",
                "2020-07-18",
                "--end-date",
                "2020-07-17",
            ],
            "after the end date",
        ),
        (
            &["execute", "user_purchases", "--end-date", "2020-07-17"],
            "unknown pipeline",
        ),
        (
            &["--source", "nope=x.csv", "list-pipelines"],
            "unknown source `nope`",
        ),
    ];
    for (args, message) in cases {
        let out = run(features(dir.path()).args(args));
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(message),
            "{args:?}: expected {message:?} in {err}"
        );
    }
    // Nothing was written by any of them.
    assert!(!dir.path().join("historical/cpf").exists());
}

#[test]
fn sources_can_be_read_from_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let input: PathBuf = dir.path().join("events.csv");
    std::fs::write(
        &input,
        "order_id,order_timestamp,cpf,chargeback_timestamp\nq,2021-01-01 10:00:00,w,\n",
    )
    .unwrap();
    let by_option = stdout(&run(features(dir.path()).args([
        "execute",
        "user_orders",
        "--end-date",
        "2021-01-02",
        "--format",
        "csv",
        "--source",
        &format!("order_events={}", input.display()),
    ])));
    // One order on 2021-01-01: the row of 01-02 counts it in every window.
    assert_eq!(
        by_option.lines().nth(1),
        Some("w,2021-01-02 00:00:00,1,1,1")
    );

    let by_env = stdout(&run(features(dir.path())
        .args([
            "execute",
            "user_orders",
            "--end-date",
            "2021-01-01",
            "--format",
            "csv",
        ])
        .env("FEATURESTORE_SOURCE_ORDER_EVENTS", &input)));
    assert_eq!(by_env.lines().nth(1), Some("w,2021-01-01 00:00:00,0,0,0"));
}

#[test]
fn one_command_builds_the_dataset_and_everything_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(features(dir.path()).args([
        "execute",
        "dataset.awesome_dataset",
        "--end-date",
        "2020-07-17",
        "--format",
        "csv",
    ]));
    // The fixture was saved with CRLF line endings; the values are what counts.
    let expected = fixture("awesome_dataset.csv").replace("\r\n", "\n");
    assert_eq!(stdout(&out), expected);
    let file = dir
        .path()
        .join("datasets/awesome_dataset/awesome_dataset.csv");
    assert_eq!(std::fs::read_to_string(file).unwrap(), expected);
    assert!(dir
        .path()
        .join("datasets/awesome_dataset/awesome_dataset.parquet")
        .exists());
    // The feature sets ran first and wrote their stores.
    assert!(dir.path().join("historical/cpf/user_orders").is_dir());
    assert!(dir.path().join("historical/cpf/user_chargebacks").is_dir());

    let json = stdout(&run(features(dir.path()).args([
        "describe",
        "dataset.awesome_dataset",
        "--json",
    ])));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let names: Vec<&str> = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["column_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        expected
            .lines()
            .next()
            .unwrap()
            .split(',')
            .collect::<Vec<_>>()
    );
    assert_eq!(v["feature_sets"][1]["feature_set"], "user_chargebacks");
}

/// The correction of the chargeback example from the command line: the
/// same run on the events without order `i` replaces x's row with the
/// earlier one it now has, says so, and an earlier end date afterwards
/// leaves every row as it is.
#[test]
fn a_corrected_rerun_reaches_get_and_an_earlier_end_date_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let get_x = || {
        stdout(&run(features(dir.path()).args([
            "get",
            "user_orders",
            "x",
            "--format",
            "csv",
        ])))
    };
    stdout(&run(features(dir.path()).args([
        "execute",
        "user_orders",
        "--end-date",
        "2020-07-17",
    ])));
    let without_i: String = fixture("input.csv")
        .lines()
        .filter(|l| !l.starts_with("i,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let corrected = dir.path().join("without_i.csv");
    std::fs::write(&corrected, without_i).unwrap();
    let out = run(features(dir.path())
        .arg("--source")
        .arg(format!("order_events={}", corrected.display()))
        .args(["execute", "user_orders", "--end-date", "2020-07-17"]));
    stdout(&out);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains("online: 3 rows upserted, 0 not replacing rows of later runs, 0 removed"),
        "{summary}"
    );
    let header = fixture("user_orders_online.csv")
        .lines()
        .next()
        .unwrap()
        .to_string();
    // By hand: only `h` (2020-07-15 02:00) is left in x's windows from 07-16.
    let expected = format!("{header}\nx,2020-07-16 00:00:00,1,1,1\n");
    assert_eq!(get_x(), expected);

    let out =
        run(features(dir.path()).args(["execute", "user_orders", "--end-date", "2020-06-01"]));
    stdout(&out);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains("online: 0 rows upserted, 3 not replacing rows of later runs, 0 removed"),
        "{summary}"
    );
    assert_eq!(get_x(), expected);
}

/// `migrate plan` says there is nothing to do on a matching embedded store,
/// and changes nothing; `migrate apply` of a feature set the registry does
/// not have fails naming it.
#[test]
fn migrate_plan_on_the_embedded_store_has_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();
    stdout(&run(features(dir.path()).args([
        "execute",
        "user_orders",
        "--end-date",
        "2020-07-17",
    ])));
    let plan = stdout(&run(features(dir.path()).args(["migrate", "plan"])));
    let store = format!("redb://{}", dir.path().join("online.redb").display());
    assert_eq!(
        plan,
        format!(
            "online store {store} (redb)\n\
             user_orders: nothing to do (its table is made by its first run; every run checks its columns)\n\
             user_chargebacks: nothing to do (its table is made by its first run; every run checks its columns)\n"
        )
    );
    let applied = stdout(&run(features(dir.path()).args([
        "migrate",
        "apply",
        "user_orders",
    ])));
    assert_eq!(
        applied,
        format!(
            "online store {store} (redb)\n\
             user_orders: nothing to do (its table is made by its first run; every run checks its columns)\n"
        )
    );
    let unknown = run(features(dir.path()).args(["migrate", "apply", "nothing_such"]));
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("nothing_such"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}

/// The binary at `exe` with nothing of the caller's configuration: no
/// store options, no `FEATURESTORE_*` variable.
fn bare(exe: &Path) -> Command {
    let mut cmd = Command::new(exe);
    for (k, _) in std::env::vars() {
        if k.starts_with("FEATURESTORE_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// The example's events with one order of user `cpf`, on 2021-01-01.
fn one_order(path: &Path, cpf: &str) {
    std::fs::write(
        path,
        format!(
            "order_id,order_timestamp,cpf,chargeback_timestamp\nq,2021-01-01 10:00:00,{cpf},\n"
        ),
    )
    .unwrap();
}

#[test]
fn a_copied_binary_runs_with_its_embedded_configuration_where_it_is() {
    // A server: the binary alone, and the data under its working directory.
    let server = tempfile::tempdir().unwrap();
    let exe = server.path().join("bin/features");
    std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_features"), &exe).unwrap();
    let work = server.path().join("work");
    std::fs::create_dir_all(work.join("data/order_events")).unwrap();
    std::fs::write(
        work.join("data/order_events/input.csv"),
        fixture("input.csv"),
    )
    .unwrap();

    let out = run(bare(&exe).current_dir(&work).args([
        "execute",
        "user_orders",
        "--end-date",
        "2020-07-17",
        "--format",
        "csv",
    ]));
    assert_eq!(stdout(&out), fixture("user_orders_online.csv"));
    // Both stores where the embedded featurestore.toml puts them, under the
    // working directory, nowhere near the checkout it was built from.
    assert!(work
        .join("data/feature_store/historical/cpf/user_orders")
        .is_dir());
    assert!(work.join("data/online/online_store.sqlite").is_file());
    let got =
        run(bare(&exe)
            .current_dir(&work)
            .args(["get", "user_orders", "x", "--format", "csv"]));
    let online = fixture("user_orders_online.csv");
    let expected: Vec<&str> = online.lines().take(2).collect();
    assert_eq!(stdout(&got), format!("{}\n", expected.join("\n")));
}

#[test]
fn the_configuration_is_found_by_option_environment_then_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    // Three configurations, each reading a file with one order of its own
    // user, and storing in the temporary directory.
    for name in ["cwd", "option", "env"] {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        one_order(&d.join("events.csv"), name);
        std::fs::write(
            d.join("featurestore.toml"),
            "[historical]\nroot = \"historical\"\n[online]\nurl = \"redb://online.redb\"\n\
             [sources.order_events]\npath = \"events.csv\"\n",
        )
        .unwrap();
    }
    let cwd = dir.path().join("cwd");
    let first_row = |cmd: &mut Command| {
        let out = stdout(&run(cmd.args([
            "execute",
            "user_orders",
            "--end-date",
            "2021-01-02",
            "--format",
            "csv",
        ])));
        out.lines().nth(1).unwrap().to_string()
    };
    let exe = Path::new(env!("CARGO_BIN_EXE_features"));
    assert_eq!(
        first_row(bare(exe).current_dir(&cwd)),
        "cwd,2021-01-02 00:00:00,1,1,1"
    );
    // Relative paths are taken from the file's directory.
    assert!(cwd.join("historical/cpf/user_orders").is_dir());
    assert_eq!(
        first_row(bare(exe).current_dir(&cwd).env(
            "FEATURESTORE_CONFIG",
            dir.path().join("env/featurestore.toml")
        )),
        "env,2021-01-02 00:00:00,1,1,1"
    );
    assert_eq!(
        first_row(
            bare(exe)
                .current_dir(&cwd)
                .env(
                    "FEATURESTORE_CONFIG",
                    dir.path().join("env/featurestore.toml")
                )
                .arg("--config")
                .arg(dir.path().join("option/featurestore.toml"))
        ),
        "option,2021-01-02 00:00:00,1,1,1"
    );
    assert!(dir.path().join("option/online.redb").is_file());
}

#[test]
fn a_csv_source_given_a_parquet_file_reads_it_or_says_it_is_parquet() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("input.csv");
    std::fs::write(&csv, fixture("input.csv")).unwrap();
    // The same events as Parquet, typed as a producer would write them.
    let mut frame = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(csv))
        .unwrap()
        .finish()
        .unwrap();
    let parquet = dir.path().join("events.parquet");
    ParquetWriter::new(std::fs::File::create(&parquet).unwrap())
        .finish(&mut frame)
        .unwrap();
    let unnamed = dir.path().join("events-export");
    std::fs::copy(&parquet, &unnamed).unwrap();

    for file in [&parquet, &unnamed] {
        let out = run(features(dir.path()).args([
            "execute",
            "user_orders",
            "--end-date",
            "2020-07-17",
            "--format",
            "csv",
            "--source",
            &format!("order_events={}", file.display()),
        ]));
        assert_eq!(stdout(&out), fixture("user_orders_online.csv"), "{file:?}");
    }
    // Declared as a format on purpose, it is not second-guessed.
    let out = run(features(dir.path()).args([
        "execute",
        "user_orders",
        "--end-date",
        "2020-07-17",
        "--source",
        &format!("order_events={}", parquet.display()),
        "--source-format",
        "order_events=csv",
    ]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the file is Parquet"), "{err}");
    assert!(!err.contains("UTF-8"), "{err}");
    let out =
        run(features(dir.path()).args(["--source-format", "order_events=xls", "list-pipelines"]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown format"), "{err}");
}

#[test]
fn help_and_version_name_the_feature_crate() {
    let exe = Path::new(env!("CARGO_BIN_EXE_features"));
    let help = stdout(&run(bare(exe).arg("--help")));
    assert!(
        help.starts_with(
            "The chargeback feature crate: order events, user orders and user chargebacks."
        ),
        "{help}"
    );
    assert!(help.contains("Usage: features "), "{help}");
    assert!(!help.contains("Runtime of the featurestore"), "{help}");
    let version = stdout(&run(bare(exe).arg("--version")));
    assert_eq!(version, "features 0.1.0\n");
}

#[test]
fn a_dataset_run_prints_a_summary_and_its_rows_only_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout(&run(features(dir.path()).args([
        "execute",
        "dataset.awesome_dataset",
        "--end-date",
        "2020-07-17",
    ])));
    let expected = fixture("awesome_dataset.csv").replace("\r\n", "\n");
    let rows = expected.lines().count() - 1;
    let columns = expected.lines().next().unwrap().split(',').count();
    let csv = dir
        .path()
        .join("datasets/awesome_dataset/awesome_dataset.csv");
    assert_eq!(
        out,
        format!(
            "awesome_dataset: {rows} rows, {columns} columns, written to {}, {}\n\
             (print the rows with --format table|csv|json)\n",
            csv.display(),
            csv.with_extension("parquet").display()
        )
    );
    assert_eq!(std::fs::read_to_string(csv).unwrap(), expected);
}
