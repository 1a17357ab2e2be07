//! The `features` binary reading order events from a real Kafka broker
//! (Apache Kafka in KRaft mode on 127.0.0.1, started by
//! `eval "$(scripts/servers.sh start kafka)"`; `scripts/test.sh` starts
//! it). A test without `FEATURESTORE_TEST_KAFKA` fails and says how to
//! start the broker. Each test writes to topics of its own.
//!
//! The expected rows are Butterfree's (the legiti fixtures), and the files
//! the same run over the CSV file writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

mod support;
use support::{assert_same_files, files, succeed};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/legiti")
}

/// A fixture's text with LF line ends.
fn fixture(name: &str) -> String {
    let path = fixtures().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("\r\n", "\n")
}

/// The broker's address.
fn broker() -> String {
    std::env::var("FEATURESTORE_TEST_KAFKA").unwrap_or_else(|_| {
        panic!(
            "FEATURESTORE_TEST_KAFKA is not set: start the Kafka broker and export its \
             variables: eval \"$(scripts/servers.sh start kafka)\""
        )
    })
}

/// A new topic of `partitions` partitions, named for the test.
fn topic(name: &str, partitions: i32) -> String {
    let topic = format!("fs-test-{name}-{}", uuid::Uuid::new_v4().simple());
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", broker())
        .create()
        .expect("an admin client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let created = rt
        .block_on(admin.create_topics(
            &[NewTopic::new(
                &topic,
                partitions,
                TopicReplication::Fixed(1),
            )],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        ))
        .expect("the broker answers");
    for r in created {
        r.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
    }
    topic
}

/// Produces `(key, value)` messages to `topic`, in order, and waits for
/// every one to be acknowledged.
fn produce(topic: &str, messages: &[(String, String)]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker())
        .set("linger.ms", "5")
        .create()
        .expect("a producer");
    for (key, value) in messages {
        let mut record = BaseRecord::to(topic).key(key).payload(value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, back)) => {
                    // The local queue is full: let it drain.
                    assert!(
                        matches!(
                            e,
                            rdkafka::error::KafkaError::MessageProduction(
                                rdkafka::types::RDKafkaErrorCode::QueueFull
                            )
                        ),
                        "producing: {e}"
                    );
                    producer.poll(Duration::from_millis(50));
                    record = back;
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(60))
        .expect("every message acknowledged");
}

/// The rows of an order-events CSV as JSON objects keyed by cpf: column
/// names as keys, times as text as in the CSV, an empty field as null.
fn csv_as_messages(csv: &str) -> Vec<(String, String)> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let object: serde_json::Map<String, serde_json::Value> = header
                .iter()
                .zip(&fields)
                .map(|(k, v)| {
                    let v = if v.is_empty() {
                        serde_json::Value::Null
                    } else {
                        serde_json::Value::String(v.to_string())
                    };
                    (k.to_string(), v)
                })
                .collect();
            (
                fields[2].to_string(),
                serde_json::Value::Object(object).to_string(),
            )
        })
        .collect()
}

/// The partitions of the historical store under `dir` (not its run locks,
/// which name the process that held them).
fn partitions(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    files(&dir.join("historical"))
        .into_iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "parquet"))
        .collect()
}

/// The binary with both stores under `dir`, and nothing from the caller's
/// environment.
fn features(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_features"));
    cmd.arg("--historical-root")
        .arg(dir.join("historical"))
        .arg("--online-url")
        .arg(format!("redb://{}", dir.join("online.redb").display()))
        .env_remove("FEATURESTORE_CONFIG")
        .env_remove("FEATURESTORE_HISTORICAL_ROOT")
        .env_remove("FEATURESTORE_ONLINE_URL")
        .env_remove("FEATURESTORE_SOURCE_ORDER_EVENTS")
        .env_remove("FEATURESTORE_FAIL_AT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(succeed(cmd).stdout).unwrap()
}

#[test]
fn execute_on_a_topic_writes_the_rows_of_the_csv_run() {
    let topic = topic("batch", 3);
    produce(&topic, &csv_as_messages(&fixture("input.csv")));
    let url = format!("kafka://{}/{topic}", broker());
    for name in ["user_orders", "user_chargebacks"] {
        let from_kafka = tempfile::tempdir().unwrap();
        let printed = stdout(features(from_kafka.path()).args([
            "--source",
            &format!("order_events={url}"),
            "execute",
            &format!("feature_store.{name}"),
            "--end-date",
            "2020-07-17",
            "--format",
            "csv",
        ]));
        assert_eq!(printed, fixture(&format!("{name}_online.csv")), "{name}");

        let from_csv = tempfile::tempdir().unwrap();
        stdout(features(from_csv.path()).args([
            "--source",
            &format!("order_events={}", fixtures().join("input.csv").display()),
            "execute",
            &format!("feature_store.{name}"),
            "--end-date",
            "2020-07-17",
        ]));
        let expected = partitions(from_csv.path());
        assert!(!expected.is_empty());
        assert_same_files(&partitions(from_kafka.path()), &expected, name);
    }
}

#[test]
fn a_message_that_does_not_decode_is_quarantined_with_its_offset() {
    let topic = topic("bad", 1);
    let mut messages = csv_as_messages(&fixture("input.csv"));
    messages.insert(2, ("x".to_string(), "not json".to_string()));
    messages.insert(
        4,
        (
            "x".to_string(),
            r#"{"order_id":"q","order_timestamp":"yesterday","cpf":"x"}"#.to_string(),
        ),
    );
    produce(&topic, &messages);
    let url = format!("kafka://{}/{topic}", broker());
    let dir = tempfile::tempdir().unwrap();

    // The default policy fails, naming the message.
    let out = features(dir.path())
        .args([
            "--source",
            &format!("order_events={url}"),
            "execute",
            "feature_store.user_orders",
            "--end-date",
            "2020-07-17",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("partition 0, offset 2"), "{stderr}");
    assert!(stderr.contains("not JSON"), "{stderr}");
    assert!(partitions(dir.path()).is_empty());

    // Quarantined, the run has the rows of the clean topic.
    std::fs::write(
        dir.path().join("featurestore.toml"),
        "[sources.order_events]\non_bad_rows = \"quarantine\"\n",
    )
    .unwrap();
    let printed = stdout(
        features(dir.path())
            .arg("--config")
            .arg(dir.path().join("featurestore.toml"))
            .args([
                "--source",
                &format!("order_events={url}"),
                "execute",
                "feature_store.user_orders",
                "--end-date",
                "2020-07-17",
                "--format",
                "csv",
            ]),
    );
    assert_eq!(printed, fixture("user_orders_online.csv"));
    let quarantined: Vec<String> = files(&dir.path().join("historical/_quarantine"))
        .into_values()
        .map(|b| String::from_utf8(b).unwrap())
        .collect();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    let q = &quarantined[0];
    assert!(q.contains("partition 0, offset 2"), "{q}");
    assert!(q.contains("partition 0, offset 4"), "{q}");
    assert!(q.contains("not json"), "{q}");
    assert!(q.contains("yesterday"), "{q}");
}

/// A configuration whose stream consumer groups are the test's own.
fn config_with_groups(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("featurestore.toml");
    std::fs::write(
        &path,
        format!(
            "[kafka]\ngroup_prefix = \"fs-test-{}.\"\n{extra}",
            uuid::Uuid::new_v4().simple()
        ),
    )
    .unwrap();
    path
}

/// The online rows of every key of `expected` (an online fixture: a
/// header, then one row per key), as `get` prints them, in that format.
fn online_rows(dir: &Path, name: &str, expected: &str) -> String {
    let mut out = String::new();
    for (i, line) in expected.lines().skip(1).enumerate() {
        let printed = stdout(features(dir).args([
            "get",
            &format!("feature_store.{name}"),
            line.split(',').next().unwrap(),
            "--format",
            "csv",
        ]));
        // The header once, then each key's row.
        for row in printed.lines().skip(usize::from(i > 0)) {
            out.push_str(row);
            out.push('\n');
        }
    }
    out
}

#[test]
fn stream_to_the_end_date_leaves_the_online_rows_of_the_batch_run() {
    let topic = topic("stream", 3);
    produce(&topic, &csv_as_messages(&fixture("input.csv")));
    let url = format!("kafka://{}/{topic}", broker());
    for name in ["user_orders", "user_chargebacks"] {
        let dir = tempfile::tempdir().unwrap();
        let config = config_with_groups(dir.path(), "");
        let printed = stdout(features(dir.path()).arg("--config").arg(&config).args([
            "--source",
            &format!("order_events={url}"),
            "stream",
            &format!("feature_store.{name}"),
            "--from-beginning",
            "--exit-when-idle",
            "5",
            "--end-date",
            "2020-07-17",
        ]));
        assert!(printed.contains("9 messages"), "{printed}");
        let expected = fixture(&format!("{name}_online.csv"));
        assert_eq!(online_rows(dir.path(), name, &expected), expected, "{name}");
    }
}
