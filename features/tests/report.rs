//! `features report`: the quality report every `execute` records, checked
//! against statistics computed independently (polars over the Parquet
//! files the run wrote), and its drift flags.

// Shared with the other test files, which use the rest of it.
#[allow(dead_code)]
mod support;

use std::path::Path;
use std::process::Command;

use polars::prelude::*;
use serde_json::Value as Json;
use support::succeed;

const COUNT_3D: &str = "cpf_orders__count_over_3_days_rolling_windows";

fn features(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_features"));
    cmd.arg("--historical-root")
        .arg(dir.join("historical"))
        .arg("--online-url")
        .arg(format!("redb://{}", dir.join("online.redb").display()))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .env_remove("FEATURESTORE_CONFIG")
        .env_remove("FEATURESTORE_HISTORICAL_ROOT")
        .env_remove("FEATURESTORE_ONLINE_URL")
        .env_remove("FEATURESTORE_SOURCE_ORDER_EVENTS");
    cmd
}

fn reports(dir: &Path, runs: usize) -> Vec<Json> {
    let out = succeed(features(dir).args([
        "report",
        "user_orders",
        "--runs",
        &runs.to_string(),
        "--json",
    ]));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn column<'a>(report: &'a Json, name: &str) -> &'a Json {
    report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no column {name} in {report}"))
}

#[test]
fn every_run_records_its_column_statistics_and_drift() {
    let dir = tempfile::tempdir().unwrap();
    let out = features(dir.path())
        .args(["report", "user_orders"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "no report before a run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no quality report"));

    let run = || {
        succeed(features(dir.path()).args([
            "execute",
            "feature_store.user_orders",
            "--end-date",
            "2020-07-17",
        ]))
    };
    run();

    // The same statistics, from the Parquet files the run wrote.
    let files = format!(
        "{}/historical/cpf/user_orders/**/*.parquet",
        dir.path().display()
    );
    let written = LazyFrame::scan_parquet(files.as_str().into(), Default::default())
        .unwrap()
        .collect()
        .unwrap();
    let values = written
        .column(COUNT_3D)
        .unwrap()
        .as_materialized_series()
        .cast(&DataType::Float64)
        .unwrap();
    let [first] = &reports(dir.path(), 5)[..] else {
        panic!("one run, one report")
    };
    assert_eq!(first["rows"], written.height());
    let c = column(first, COUNT_3D);
    assert_eq!(c["rows"], written.height());
    assert_eq!(c["nulls"], values.null_count());
    assert_eq!(c["distinct"], values.n_unique().unwrap());
    assert_eq!(c["min"].as_f64(), values.min::<f64>().unwrap());
    assert_eq!(c["max"].as_f64(), values.max::<f64>().unwrap());
    let mean = values.mean().unwrap();
    assert!(
        (c["mean"].as_f64().unwrap() - mean).abs() < 1e-9,
        "{c} vs {mean}"
    );
    let histogram: u64 = c["histogram"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(histogram as usize, written.height() - values.null_count());
    assert_eq!(
        c["drift"],
        Json::Null,
        "nothing to compare the first run with"
    );

    // The same run again: no drift.
    run();
    let two = reports(dir.path(), 2);
    assert_eq!(two.len(), 2);
    assert_eq!(two[0], *first, "the older report first, unchanged");
    let d = &column(&two[1], COUNT_3D)["drift"];
    assert_eq!(d["psi"], 0.0);
    assert_eq!(d["null_rate_change"], 0.0);
    assert_eq!(d["flagged"], false);

    // A source where one user orders 40 times a day: every count leaves the
    // previous run's range, which the report flags and the run warns of.
    let mut csv = String::from(support::HEADER);
    for day in 1..=5 {
        for i in 0..40 {
            csv.push_str(&format!("b{day}-{i},2020-07-{day:02} 10:00:00,busy,\n"));
        }
    }
    let source = dir.path().join("busy.csv");
    std::fs::write(&source, csv).unwrap();
    let out = succeed(features(dir.path()).args([
        "--source",
        &format!("order_events={}", source.display()),
        "execute",
        "feature_store.user_orders",
        "--end-date",
        "2020-07-17",
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("`{COUNT_3D}` moved from the previous run")),
        "{stderr}"
    );
    let last = reports(dir.path(), 1);
    let d = &column(&last[0], COUNT_3D)["drift"];
    assert!(d["psi"].as_f64().unwrap() > 0.2, "{d}");
    assert_eq!(d["flagged"], true);
    let text =
        String::from_utf8(succeed(features(dir.path()).args(["report", "user_orders"])).stdout)
            .unwrap();
    assert!(text.contains("DRIFT") && text.contains(COUNT_3D), "{text}");

    // A feature set's own thresholds: the same move, from the same place,
    // is not flagged under a PSI threshold it does not pass.
    let config = dir.path().join("featurestore.toml");
    std::fs::write(
        &config,
        "[quality.feature_sets.user_orders]\npsi = 1000.0\n",
    )
    .unwrap();
    succeed(features(dir.path()).args([
        "execute",
        "feature_store.user_orders",
        "--end-date",
        "2020-07-17",
    ]));
    let out = succeed(features(dir.path()).args([
        "--config",
        config.to_str().unwrap(),
        "--source",
        &format!("order_events={}", source.display()),
        "execute",
        "feature_store.user_orders",
        "--end-date",
        "2020-07-17",
    ]));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("moved from the previous run"));
    let latest = reports(dir.path(), 1);
    let d = &column(&latest[0], COUNT_3D)["drift"];
    assert!(
        d["psi"].as_f64().unwrap() > 0.2 && d["flagged"] == false,
        "{d}"
    );
    std::fs::write(&config, "[quality.feature_sets.nope]\npsi = 1.0\n").unwrap();
    let out = features(dir.path())
        .args([
            "--config",
            config.to_str().unwrap(),
            "report",
            "user_orders",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("[quality.feature_sets.nope]: unknown pipeline `nope`"));

    // The same page `features serve` shows, as a static file.
    let site = dir.path().join("site");
    succeed(features(dir.path()).args(["report", "--html", site.to_str().unwrap()]));
    let page = std::fs::read_to_string(site.join("index.html")).unwrap();
    assert!(
        page.contains("id=\"feature-set-user_orders\"") && page.contains("<svg id=\"lineage\"")
    );
    // The last run moved within the feature set's own threshold: no flag.
    assert!(!page.contains("drift from the previous run"));
    assert!(page.contains("null rate (red, 0 to 1) and mean (blue), last 5 runs"));
}
