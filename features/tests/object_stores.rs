//! The `features` binary with its source, historical store and datasets in
//! object stores: an S3 server (moto), Azure Blob (Azurite) and GCS
//! (fake-gcs-server), each on 127.0.0.1, started by
//! `eval "$(scripts/servers.sh start s3|azure|gcs)"` (`scripts/test.sh`
//! starts them). A test whose server's variables are missing fails and says
//! how to start it.
//!
//! The expected rows are Butterfree's (the legiti fixtures) and the files a
//! run on the local disk writes, byte for byte.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

#[allow(dead_code)] // what the other test files share
mod support;
use support::{assert_same_files, events, files, succeed, HEADER};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/legiti")
}

/// A fixture's text with LF line ends (some were exported with CRLF).
fn fixture(name: &str) -> String {
    let path = fixtures().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("\r\n", "\n")
}

/// A bucket (container) of a running server, and a fresh prefix in it.
struct Bucket {
    /// `s3://bucket/prefix`, `az://container/prefix`, `gs://bucket/prefix`.
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
}

fn variable(name: &str, server: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the {server} server and export its variables: \
             eval \"$(scripts/servers.sh start {server})\""
        )
    })
}

fn bucket(server: &str) -> Bucket {
    let prefix = format!("cli-{}", uuid::Uuid::new_v4());
    let (url, store): (String, Arc<dyn ObjectStore>) = match server {
        "s3" => {
            let url = format!("s3://{}", variable("FEATURESTORE_TEST_S3_BUCKET", server));
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_url(&url)
                .build()
                .unwrap();
            (url, Arc::new(store))
        }
        "azure" => {
            let url = format!(
                "az://{}",
                variable("FEATURESTORE_TEST_AZURE_CONTAINER", server)
            );
            let store = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(&url)
                .build()
                .unwrap();
            (url, Arc::new(store))
        }
        "gcs" => {
            let url = format!("gs://{}", variable("FEATURESTORE_TEST_GCS_BUCKET", server));
            let store = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(&url)
                .build()
                .unwrap();
            (url, Arc::new(store))
        }
        other => panic!("no server {other}"),
    };
    Bucket {
        url: format!("{url}/{prefix}"),
        store,
        prefix: ObjectPath::from(prefix),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

impl Bucket {
    fn put(&self, rel: &str, bytes: Vec<u8>) {
        let path = ObjectPath::from(format!("{}/{rel}", self.prefix));
        runtime()
            .block_on(self.store.put(&path, PutPayload::from(bytes)))
            .unwrap_or_else(|e| panic!("{}/{rel}: {e}", self.url));
    }

    /// Every object below `rel`, by path relative to it, with its bytes.
    fn objects(&self, rel: &str) -> BTreeMap<PathBuf, Vec<u8>> {
        let below = ObjectPath::from(format!("{}/{rel}", self.prefix));
        runtime().block_on(async {
            let listed: Vec<_> = self.store.list(Some(&below)).try_collect().await.unwrap();
            let mut out = BTreeMap::new();
            for meta in listed {
                let relative: PathBuf = meta
                    .location
                    .prefix_match(&below)
                    .expect("below the prefix")
                    .map(|p| p.as_ref().to_string())
                    .collect();
                let bytes = self.store.get(&meta.location).await.unwrap().bytes().await;
                out.insert(relative, bytes.unwrap().to_vec());
            }
            out
        })
    }
}

/// The binary with no configuration from the caller's environment besides
/// the object stores' variables, its online store in `dir`.
fn features(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_features"));
    cmd.arg("--online-url")
        .arg(format!("redb://{}", dir.join("online.redb").display()))
        .env_remove("FEATURESTORE_CONFIG")
        .env_remove("FEATURESTORE_HISTORICAL_ROOT")
        .env_remove("FEATURESTORE_ONLINE_URL")
        .env_remove("FEATURESTORE_DATASETS_ROOT")
        .env_remove("FEATURESTORE_SOURCE_ORDER_EVENTS")
        .env_remove("FEATURESTORE_FAIL_AT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(succeed(cmd).stdout).unwrap()
}

/// Runs the chargeback example with its source, its historical store and its
/// datasets under `bucket`, and the same on the local disk: the printed
/// rows are Butterfree's and every object equals the local file.
fn the_chargeback_example_on(server: &str) {
    let bucket = bucket(server);
    let tmp = tempfile::tempdir().unwrap();
    bucket.put(
        "in/input.csv",
        std::fs::read(fixtures().join("input.csv")).unwrap(),
    );
    let local = tmp.path().join("local");
    let remote = tmp.path().join("remote");
    let local_source = format!("order_events={}", fixtures().join("input.csv").display());
    let remote_source = format!("order_events={}/in/input.csv", bucket.url);

    for (pipeline, expected) in [
        ("feature_store.user_orders", "user_orders_online.csv"),
        ("dataset.awesome_dataset", "awesome_dataset.csv"),
    ] {
        let run = |dir: &Path, source: &str, root: String| {
            stdout(
                features(dir)
                    .args(["--source", source])
                    .args(["--historical-root", &format!("{root}/fs")])
                    .args(["--datasets-root", &format!("{root}/ds")])
                    .args(["execute", pipeline, "--end-date", "2020-07-17"])
                    .args(["--format", "csv"]),
            )
        };
        let on_disk = run(&local, &local_source, local.display().to_string());
        let in_bucket = run(&remote, &remote_source, bucket.url.clone());
        assert_eq!(in_bucket, fixture(expected), "{server}: {pipeline}");
        assert_eq!(in_bucket, on_disk, "{server}: {pipeline}");
    }

    // Local runs keep their (empty) `flock` files; a lock object is deleted
    // when its run ends. Each run's quality report differs (its time and
    // duration): one per feature-set run, in each store.
    let mut on_disk = files(&local.join("fs"));
    on_disk.retain(|k, _| !k.starts_with("_locks"));
    let mut historical = bucket.objects("fs");
    for tree in [&mut on_disk, &mut historical] {
        let reports = tree
            .keys()
            .filter(|k| k.starts_with("_reports/user_orders/"))
            .count();
        assert_eq!(reports, 1, "{server}: {:?}", tree.keys());
        tree.retain(|k, _| !k.starts_with("_reports"));
    }
    assert_same_files(&historical, &on_disk, &format!("{server}: historical"));
    assert!(
        historical.keys().all(|k| {
            let k = k.to_string_lossy();
            (k.starts_with("cpf/user_orders/year=") || k.starts_with("cpf/user_chargebacks/year="))
                && k.ends_with("/part-00000.parquet")
        }),
        "{server}: {:?}",
        historical.keys()
    );
    assert!(historical.len() > 20, "{server}: {:?}", historical.keys());
    let datasets = bucket.objects("ds");
    assert_same_files(
        &datasets,
        &files(&local.join("ds")),
        &format!("{server}: datasets"),
    );
    assert_eq!(
        datasets.keys().cloned().collect::<Vec<_>>(),
        [
            "awesome_dataset/awesome_dataset.csv",
            "awesome_dataset/awesome_dataset.parquet"
        ]
        .map(PathBuf::from),
        "{server}"
    );
}

#[test]
fn the_chargeback_example_on_s3() {
    the_chargeback_example_on("s3");
}

#[test]
fn the_chargeback_example_on_azure_blob() {
    the_chargeback_example_on("azure");
}

/// fake-gcs-server answers object_store's uploads (the XML API's `PUT`)
/// with 400, so on GCS only reading is tested: the source object is put
/// through the JSON API's upload, the one the emulator implements.
#[test]
fn a_source_is_read_from_gcs() {
    let bucket = bucket("gcs");
    let host = variable("STORAGE_EMULATOR_HOST", "gcs");
    let name = format!("{}/in/input.csv", bucket.prefix);
    let gcs_bucket = variable("FEATURESTORE_TEST_GCS_BUCKET", "gcs");
    let upload = Command::new("curl")
        .args(["-fsS", "-X", "POST", "-H", "Content-Type: text/csv"])
        .arg("--data-binary")
        .arg(format!("@{}", fixtures().join("input.csv").display()))
        .arg(format!(
            "{host}/upload/storage/v1/b/{gcs_bucket}/o?uploadType=media&name={name}"
        ))
        .output()
        .expect("curl runs");
    assert!(upload.status.success(), "{upload:?}");

    let tmp = tempfile::tempdir().unwrap();
    let out = stdout(
        features(tmp.path())
            .args([
                "--source",
                &format!("order_events={}/in/input.csv", bucket.url),
            ])
            .arg("--historical-root")
            .arg(tmp.path().join("historical"))
            .args(["execute", "feature_store.user_orders"])
            .args(["--end-date", "2020-07-17", "--format", "csv"]),
    );
    assert_eq!(out, fixture("user_orders_online.csv"));
}

/// The user_orders partitions (`year=/month=/day=` → bytes) below a
/// historical root's table.
fn partitions(all: BTreeMap<PathBuf, Vec<u8>>) -> BTreeMap<PathBuf, Vec<u8>> {
    all.into_iter()
        .filter(|(p, _)| p.starts_with("year=2020"))
        .collect()
}

/// A run on S3 killed at any point (a fail point that aborts, or SIGKILL at
/// a moment) leaves each day partition entirely old or entirely new, and
/// the same run again gives exactly the rows of an uninterrupted one and
/// leaves no staging object. The run lock a killed run leaves expires after
/// `FEATURESTORE_LOCK_TTL`.
#[test]
fn a_run_on_s3_killed_anywhere_converges_on_rerun() {
    const TTL: Duration = Duration::from_secs(2);
    let bucket = bucket("s3");
    let tmp = tempfile::tempdir().unwrap();
    let old_events = events(200_000, 7, 0);
    let old_input = tmp.path().join("old.csv");
    let new_input = tmp.path().join("new.csv");
    std::fs::write(&old_input, format!("{HEADER}{old_events}")).unwrap();
    std::fs::write(
        &new_input,
        format!("{HEADER}{old_events}{}", events(40_000, 11, 200_000)),
    )
    .unwrap();
    let run = |name: &str, root: &str, input: &Path| {
        let mut cmd = features(&tmp.path().join(name));
        cmd.args(["--historical-root", root])
            .args(["--source", &format!("order_events={}", input.display())])
            .args(["execute", "feature_store.user_orders"])
            .args(["--end-date", "2020-03-01", "--format", "csv"])
            .env("FEATURESTORE_LOCK_TTL", "2s");
        cmd
    };

    // The reference states, on the local disk.
    let local = tmp.path().join("local");
    let local_root = local.display().to_string();
    succeed(&mut run("local", &local_root, &old_input));
    let table = |root: &Path| files(&root.join("cpf/user_orders"));
    let old_parts = partitions(table(&local));
    let new_out = succeed(&mut run("local", &local_root, &new_input)).stdout;
    let new_parts = partitions(table(&local));
    assert_eq!((old_parts.len(), new_parts.len()), (61, 61));

    let mut kills: Vec<(&str, Option<Duration>)> = [
        "source:read",
        "historical:staged",
        "historical:swapped:1",
        "historical:swapped:30",
        "historical:deleted",
        "online:before-commit",
    ]
    .map(|p| (p, None))
    .to_vec();
    kills.push(("sigkill", Some(Duration::from_millis(500))));
    kills.push(("sigkill", Some(Duration::from_millis(2000))));
    for (i, (point, after)) in kills.into_iter().enumerate() {
        let root = format!("{}/kill{i}", bucket.url);
        let rel = format!("kill{i}/cpf/user_orders");
        let online = format!("online{i}");
        succeed(&mut run(&online, &root, &old_input));
        assert_same_files(&partitions(bucket.objects(&rel)), &old_parts, point);

        let mut cmd = run(&online, &root, &new_input);
        match after {
            None => {
                let status = cmd.env("FEATURESTORE_FAIL_AT", point).status().unwrap();
                assert!(!status.success(), "{point}: the run was not stopped");
            }
            Some(after) => {
                let mut child = cmd.spawn().unwrap();
                std::thread::sleep(after);
                let _ = child.kill();
                child.wait().unwrap();
            }
        }
        let parts = partitions(bucket.objects(&rel));
        assert_eq!(parts.len(), 61, "{point}: a partition was lost");
        for (day, bytes) in &parts {
            assert!(
                old_parts.get(day) == Some(bytes) || new_parts.get(day) == Some(bytes),
                "{point}: partition {} is neither the old nor the new one",
                day.display()
            );
        }
        if matches!(point, "source:read" | "historical:staged") {
            assert_same_files(&parts, &old_parts, point);
        }
        if point == "online:before-commit" {
            assert_same_files(&parts, &new_parts, point);
        }

        // The lock the killed run left expires; the run again converges.
        std::thread::sleep(TTL + Duration::from_millis(500));
        let out = succeed(&mut run(&online, &root, &new_input));
        assert_eq!(out.stdout, new_out, "{point}: rerun output");
        let after_rerun = bucket.objects(&format!("kill{i}"));
        assert_same_files(
            &partitions(bucket.objects(&rel)),
            &new_parts,
            &format!("{point}: rerun partitions"),
        );
        // A quality report per run that finished: the first and the rerun
        // (a run stopped at a crash point records none; one killed by a
        // signal may have finished first).
        let reports = after_rerun
            .keys()
            .filter(|k| k.starts_with("_reports/user_orders/"))
            .count();
        match after {
            None => assert_eq!(reports, 2, "{point}: reports"),
            Some(_) => assert!((2..=3).contains(&reports), "{point}: {reports} reports"),
        }
        let extra: Vec<_> = after_rerun
            .keys()
            .filter(|k| {
                !k.starts_with("cpf/user_orders/year=2020")
                    && !k.starts_with("_reports/user_orders/")
            })
            .collect();
        assert!(extra.is_empty(), "{point}: objects left: {extra:?}");
    }
}

/// A store fault ends the run with an error naming the store, and both
/// stores keep what a good run wrote: the online row of `x` and the
/// historical files are the same after the failed run.
fn fails_naming(config: &str, store_url: &str, secret: Option<&str>) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let historical = tmp.path().join("fs");
    let good = |cmd: &mut Command| {
        cmd.args(["--historical-root", &historical.display().to_string()])
            .args([
                "execute",
                "feature_store.user_orders",
                "--end-date",
                "2020-07-17",
            ]);
    };
    let mut first = features(tmp.path());
    good(&mut first);
    succeed(&mut first);
    let row = |dir: &Path| {
        stdout(features(dir).args(["get", "feature_store.user_orders", "x", "--format", "json"]))
    };
    let (online_before, historical_before) = (row(tmp.path()), files(&historical));

    let file = tmp.path().join("featurestore.toml");
    std::fs::write(&file, config).unwrap();
    let out = features(tmp.path())
        .args(["--config", &file.display().to_string()])
        .args([
            "--source",
            &format!("order_events={}", fixtures().join("input.csv").display()),
        ])
        .args(["--historical-root", store_url])
        .args([
            "execute",
            "feature_store.user_orders",
            "--end-date",
            "2020-07-17",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "the run succeeded:\n{stderr}");
    assert!(
        stderr.contains(store_url),
        "the store is not named:\n{stderr}"
    );
    if let Some(secret) = secret {
        assert!(!stderr.contains(secret), "a secret is shown:\n{stderr}");
    }
    assert_eq!(row(tmp.path()), online_before, "the online store changed");
    assert_same_files(
        &files(&historical),
        &historical_before,
        "the local historical store",
    );
    stderr
}

#[test]
fn a_bucket_that_does_not_exist_is_named() {
    variable("FEATURESTORE_TEST_S3_BUCKET", "s3");
    let url = format!("s3://no-such-bucket-{}/fs", uuid::Uuid::new_v4().simple());
    let err = fails_naming("", &url, None);
    assert!(
        err.contains("NoSuchBucket") || err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn wrong_credentials_are_named_without_showing_them() {
    let container = variable("FEATURESTORE_TEST_AZURE_CONTAINER", "azure");
    let url = format!(
        "az://{container}/wrong-key-{}",
        uuid::Uuid::new_v4().simple()
    );
    // A well-formed key that is not the account's.
    let key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";
    let config = format!("[storage.\"az://{container}\"]\nazure_storage_account_key = \"{key}\"\n");
    let err = fails_naming(&config, &url, Some(key));
    assert!(err.contains("403") || err.contains("authenticat"), "{err}");
}

#[test]
fn a_server_that_is_down_is_named_after_the_configured_retries() {
    let bucket = variable("FEATURESTORE_TEST_S3_BUCKET", "s3");
    // Nothing listens on a port just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "[storage.\"s3://{bucket}\"]\naws_endpoint = \"http://127.0.0.1:{port}\"\n\
         max_retries = 2\nretry_timeout = \"5s\"\n"
    );
    let url = format!("s3://{bucket}/down-{}", uuid::Uuid::new_v4().simple());
    let started = std::time::Instant::now();
    let err = fails_naming(&config, &url, None);
    assert!(err.contains("retries") || err.contains("connect"), "{err}");
    // Bounded by the configured retries, not object_store's default three
    // minutes (a bound, not a measurement: the run takes well under it).
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_request_that_times_out_is_named() {
    let bucket = variable("FEATURESTORE_TEST_S3_BUCKET", "s3");
    // A server that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming() {
            held.push(conn);
        }
    });
    let config = format!(
        "[storage.\"s3://{bucket}\"]\naws_endpoint = \"http://127.0.0.1:{port}\"\n\
         timeout = \"1s\"\nmax_retries = 1\nretry_timeout = \"5s\"\n"
    );
    let url = format!("s3://{bucket}/silent-{}", uuid::Uuid::new_v4().simple());
    let err = fails_naming(&config, &url, None);
    assert!(
        err.to_lowercase().contains("timed out") || err.contains("timeout"),
        "{err}"
    );
}
