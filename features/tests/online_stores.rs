//! The `features` binary against a real Cassandra and a real Redis:
//! `migrate`, `execute` and `get` as a user runs them.
//!
//! Needs `FEATURESTORE_TEST_CASSANDRA=HOST:PORT` and
//! `FEATURESTORE_TEST_REDIS=redis://HOST:PORT` (`eval "$(scripts/servers.sh
//! start cassandra)"`, `… start redis`); without them the tests fail rather
//! than pass unchecked.

#[allow(dead_code)] // what the other test files share
mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{cql, test_server as env};

fn server() -> String {
    env("FEATURESTORE_TEST_CASSANDRA", "cassandra")
}

fn features(dir: &Path, online_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_features"));
    cmd.arg("--historical-root")
        .arg(dir.join("historical"))
        .arg("--online-url")
        .arg(online_url)
        .arg("--datasets-root")
        .arg(dir.join("datasets"))
        .env_remove("FEATURESTORE_CONFIG")
        .env_remove("FEATURESTORE_HISTORICAL_ROOT")
        .env_remove("FEATURESTORE_ONLINE_URL")
        .env_remove("FEATURESTORE_DATASETS_ROOT")
        .env_remove("FEATURESTORE_SOURCE_ORDER_EVENTS");
    // A test that configures more than the locations writes its file here.
    let config = dir.join("featurestore.toml");
    if config.exists() {
        cmd.env("FEATURESTORE_CONFIG", config);
    }
    cmd
}

fn stdout(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The row of `key` in a fixture CSV, as a JSON object of strings.
fn fixture_row(name: &str, key: &str) -> serde_json::Map<String, serde_json::Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/legiti")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|r| r[0] == key)
        .unwrap_or_else(|| panic!("{name} has no row of {key}"));
    header
        .iter()
        .zip(row)
        .map(|(h, v)| (h.to_string(), serde_json::Value::String(v.to_string())))
        .collect()
}

/// `get … --format json` as a JSON object with every value as text, to
/// compare with a fixture's CSV row.
fn as_text(json: &str) -> serde_json::Map<String, serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(json.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"));
    let object = match v {
        serde_json::Value::Array(mut rows) if rows.len() == 1 => rows.remove(0),
        other => other,
    };
    let serde_json::Value::Object(map) = object else {
        panic!("not one JSON row: {json}");
    };
    map.into_iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, serde_json::Value::String(text))
        })
        .collect()
}

#[test]
fn migrate_execute_and_get_against_cassandra() {
    let keyspace = "fs_test_binary";
    cql(&format!("DROP KEYSPACE IF EXISTS {keyspace}"));
    let url = format!("cassandra://{}/{keyspace}", server());
    let dir = tempfile::tempdir().unwrap();

    // Before `migrate apply`, a run stops before writing either store.
    let refused = features(dir.path(), &url)
        .args([
            "execute",
            "feature_store.user_orders",
            "--end-date",
            "2020-07-17",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains(&format!("keyspace `{keyspace}` does not exist")),
        "{err}"
    );
    assert!(err.contains("features migrate apply"), "{err}");
    assert!(!dir.path().join("historical").join("user_orders").exists());

    let plan = stdout(
        features(dir.path(), &url)
            .args(["migrate", "plan"])
            .output()
            .unwrap(),
    );
    assert!(
        plan.contains(&format!("CREATE KEYSPACE IF NOT EXISTS {keyspace}")),
        "{plan}"
    );
    assert!(
        plan.contains(&format!(
            "CREATE TABLE IF NOT EXISTS {keyspace}.user_orders"
        )),
        "{plan}"
    );
    assert!(
        plan.contains(&format!(
            "CREATE TABLE IF NOT EXISTS {keyspace}.user_chargebacks"
        )),
        "{plan}"
    );
    stdout(
        features(dir.path(), &url)
            .args(["migrate", "apply"])
            .output()
            .unwrap(),
    );
    let again = stdout(
        features(dir.path(), &url)
            .args(["migrate", "plan"])
            .output()
            .unwrap(),
    );
    assert!(again.contains("user_orders: nothing to do"), "{again}");

    runs_keep_the_fixture_row(dir.path(), &url);
    cql(&format!("DROP KEYSPACE IF EXISTS {keyspace}"));
}

/// `migrate apply`, then the acceptance runs.
fn migrate_and_run(dir: &Path, url: &str) {
    stdout(
        features(dir, url)
            .args(["migrate", "apply"])
            .output()
            .unwrap(),
    );
    runs_keep_the_fixture_row(dir, url);
}

/// The acceptance runs on a migrated store: `execute` to 2020-07-17 and
/// `get x` give the fixture's online row of `x`; a run to an earlier end
/// date afterwards leaves that row as it is.
fn runs_keep_the_fixture_row(dir: &Path, url: &str) {
    stdout(
        features(dir, url)
            .args([
                "execute",
                "feature_store.user_orders",
                "--end-date",
                "2020-07-17",
            ])
            .output()
            .unwrap(),
    );
    let get = || {
        as_text(&stdout(
            features(dir, url)
                .args(["get", "feature_store.user_orders", "x", "--format", "json"])
                .output()
                .unwrap(),
        ))
    };
    let expected = fixture_row("user_orders_online.csv", "x");
    assert_eq!(get(), expected);

    // An earlier end date afterwards leaves x's row as it is.
    stdout(
        features(dir, url)
            .args([
                "execute",
                "feature_store.user_orders",
                "--end-date",
                "2020-06-01",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(get(), expected);
}

/// The same over TLS, configured as a deployment would: a
/// `featurestore.toml` whose `[online.cassandra.tls]` names the cluster's CA
/// by a path relative to the file.
#[test]
fn migrate_execute_and_get_against_cassandra_over_tls() {
    let ca = env("FEATURESTORE_TEST_CASSANDRA_TLS_CA", "cassandra");
    let keyspace = "fs_test_binary_tls";
    cql(&format!("DROP KEYSPACE IF EXISTS {keyspace}"));
    let url = format!("cassandra://{}/{keyspace}", server());
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("certs")).unwrap();
    std::fs::copy(&ca, dir.path().join("certs/cluster-ca.pem")).unwrap();
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/order_events/input.csv");
    std::fs::write(
        dir.path().join("featurestore.toml"),
        format!(
            "[sources.order_events]\npath = {:?}\n\n[online.cassandra.tls]\nca_file = \"certs/cluster-ca.pem\"\n",
            events.display().to_string()
        ),
    )
    .unwrap();
    migrate_and_run(dir.path(), &url);

    // The configuration is what made those connections TLS: without the
    // CA, the node's certificate is not trusted.
    std::fs::write(
        dir.path().join("featurestore.toml"),
        "[online.cassandra.tls]\n",
    )
    .unwrap();
    let refused = features(dir.path(), &url)
        .args(["get", "feature_store.user_orders", "x"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    // (Or, on a machine without trusted roots, the want of them is said.)
    assert!(
        err.contains("TLS handshake") || err.contains("no trusted root certificate"),
        "{err}"
    );
    cql(&format!("DROP KEYSPACE IF EXISTS {keyspace}"));
}

#[test]
fn migrate_execute_and_get_against_redis() {
    // A prefix of this test's own on the shared server.
    let url = format!(
        "{}/?prefix=fs-binary-{}:",
        env("FEATURESTORE_TEST_REDIS", "redis").trim_end_matches('/'),
        std::process::id()
    );
    let dir = tempfile::tempdir().unwrap();
    let plan = stdout(
        features(dir.path(), &url)
            .args(["migrate", "plan"])
            .output()
            .unwrap(),
    );
    // Redis has no tables to make, and says so rather than nothing.
    assert!(
        plan.contains("user_orders: nothing to do (Redis has no tables"),
        "{plan}"
    );
    migrate_and_run(dir.path(), &url);
}
