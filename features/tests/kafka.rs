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

#[allow(dead_code)] // what the other test files share
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

/// `n` generated orders of 4,000 users over 60 days from 2020-01-01
/// (`support::events`), sorted by time, then shuffled within blocks of
/// `block` consecutive events: out of order by less than the time `block`
/// events span (about 35 minutes for 100k events in blocks of 40).
fn out_of_order_events(n: usize, block: usize) -> String {
    let mut rows: Vec<String> = support::events(n, 7, 0)
        .lines()
        .map(str::to_string)
        .collect();
    rows.sort_by(|a, b| a.split(',').nth(1).cmp(&b.split(',').nth(1)));
    let mut state = 11u64;
    for chunk in rows.chunks_mut(block) {
        for i in (1..chunk.len()).rev() {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            chunk.swap(i, (state >> 33) as usize % (i + 1));
        }
    }
    let mut csv = support::HEADER.to_string();
    for r in rows {
        csv.push_str(&r);
        csv.push('\n');
    }
    csv
}

/// Every user's online row of feature set `name` in the store at `url`.
fn every_online_row(
    url: &str,
    name: &str,
) -> Vec<Option<featurestore_runtime::store::online::Record>> {
    use featurestore_runtime::store::online::{open_url, Value};
    let registry = features::registry();
    let spec = registry.find_feature_set(name).unwrap();
    let store = open_url(url, Path::new("/")).unwrap();
    let keys: Vec<Vec<Value>> = (0..4_000)
        .map(|u| vec![Value::Str(format!("u{u}"))])
        .collect();
    store.get_many(spec, &keys).unwrap()
}

/// The group's committed offsets, summed over the topic's partitions;
/// `None` before its first commit.
fn committed(group: &str, topic: &str, partitions: i32) -> Option<i64> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker())
        .set("group.id", group)
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap()
        .elements()
        .iter()
        .filter_map(|e| e.offset().to_raw())
        .filter(|o| *o >= 0)
        .reduce(|a, b| a + b)
}

#[test]
fn a_replay_killed_and_restarted_ends_with_the_rows_of_the_batch_run() {
    let topic = topic("replay", 3);
    let csv = out_of_order_events(100_000, 40);
    let messages = csv_as_messages(&csv);
    assert_eq!(messages.len(), 100_000);
    produce(&topic, &messages);
    let url = format!("kafka://{}/{topic}", broker());
    let source = format!("order_events={url}");
    let end = "2020-02-20";

    // The batch run over the same topic.
    let batch = tempfile::tempdir().unwrap();
    stdout(features(batch.path()).args([
        "--source",
        &source,
        "execute",
        "feature_store.user_orders",
        "--end-date",
        end,
    ]));
    let batch_url = format!("redb://{}", batch.path().join("online.redb").display());
    let expected = every_online_row(&batch_url, "feature_store.user_orders");
    assert!(expected.iter().filter(|r| r.is_some()).count() > 3_900);

    // The stream, killed with SIGKILL once it has committed a first batch.
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("fs-test-{}.", uuid::Uuid::new_v4().simple());
    let config = dir.path().join("featurestore.toml");
    std::fs::write(
        &config,
        format!("[kafka]\ngroup_prefix = \"{prefix}\"\nallowed_lateness = \"2h\"\nbatch_messages = 2000\n"),
    )
    .unwrap();
    let group = format!("{prefix}user_orders");
    let stream = |dir: &Path| {
        let mut cmd = features(dir);
        cmd.arg("--config").arg(&config).args([
            "--source",
            &source,
            "stream",
            "feature_store.user_orders",
            "--from-beginning",
            "--exit-when-idle",
            "5",
            "--end-date",
            end,
        ]);
        cmd
    };
    let mut child = stream(dir.path()).spawn().unwrap();
    let started = std::time::Instant::now();
    loop {
        let done = committed(&group, &topic, 3).unwrap_or(0);
        // Past the first events: the window state was pruned, so the
        // replay is under way.
        if done > 0 {
            assert!(
                done < 100_000,
                "the stream finished before it could be killed"
            );
            break;
        }
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "the stream ended before its first commit: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no commit in 5 minutes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed: {status:?}");

    // Restarted, it resumes from its commits and ends equal to the batch run.
    let printed = stdout(&mut stream(dir.path()));
    assert!(printed.contains(" 0 late"), "{printed}");
    let url = format!("redb://{}", dir.path().join("online.redb").display());
    let got = every_online_row(&url, "feature_store.user_orders");
    let differ: Vec<_> = got
        .iter()
        .zip(&expected)
        .filter(|(g, e)| g != e)
        .take(5)
        .collect();
    assert!(differ.is_empty(), "{differ:?}");
}

#[test]
fn a_late_event_is_counted_and_quarantined_with_its_offset() {
    let topic = topic("late", 1);
    produce(&topic, &csv_as_messages(&fixture("input.csv")));
    let url = format!("kafka://{}/{topic}", broker());
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_groups(dir.path(), "allowed_lateness = \"1h\"\n");
    let stream = |extra: &[&str]| {
        let mut cmd = features(dir.path());
        cmd.arg("--config").arg(&config).args([
            "--source",
            &format!("order_events={url}"),
            "stream",
            "feature_store.user_orders",
            "--from-beginning",
            "--exit-when-idle",
            "3",
        ]);
        cmd.args(extra);
        stdout(&mut cmd)
    };
    // The newest event, 2020-07-16 14:00, closes the slides up to 07-16.
    let first = stream(&[]);
    assert!(
        first.contains("9 messages") && first.contains(" 0 late"),
        "{first}"
    );
    produce(
        &topic,
        &[(
            "x".to_string(),
            r#"{"order_id":"late","order_timestamp":"2020-07-15 12:00:00","cpf":"x","chargeback_timestamp":null}"#
                .to_string(),
        )],
    );
    let second = stream(&["--end-date", "2020-07-17"]);
    assert!(second.contains(" 1 late"), "{second}");
    let quarantined: Vec<String> = files(&dir.path().join("historical/_quarantine"))
        .into_values()
        .map(|b| String::from_utf8(b).unwrap())
        .collect();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    let q = &quarantined[0];
    assert!(q.contains("partition 0, offset 9"), "{q}");
    assert!(q.contains("late event"), "{q}");
    assert!(q.contains("2020-07-15 12:00:00"), "{q}");
    // Left out of the windows, the late order is not counted: the rows are
    // those of the events without it.
    let expected = fixture("user_orders_online.csv");
    assert_eq!(online_rows(dir.path(), "user_orders", &expected), expected);
}

#[test]
fn sigterm_drains_commits_and_exits_zero() {
    let topic = topic("sigterm", 2);
    produce(&topic, &csv_as_messages(&fixture("input.csv")));
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_groups(dir.path(), "");
    let prefix = std::fs::read_to_string(&config).unwrap();
    let group = format!(
        "{}user_orders",
        prefix.split('"').nth(1).expect("the group prefix")
    );
    let mut child = features(dir.path())
        .arg("--config")
        .arg(&config)
        .args([
            "--source",
            &format!("order_events=kafka://{}/{topic}", broker()),
            "stream",
            "feature_store.user_orders",
            "--from-beginning",
            "-v",
        ])
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while committed(&group, &topic, 2).is_none() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the stream ended by itself"
        );
        if started.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "no commit in 2 minutes: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{:?}: {text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("9 messages"), "{text}");
}

/// Order events with the message's metadata, read through the reserved
/// column names.
#[derive(Debug)]
#[featurestore_runtime::source(path = "unused.ndjson", format = "ndjson")]
pub struct KafkaOrders {
    pub order_id: String,
    pub order_timestamp: featurestore_runtime::NaiveDateTime,
    pub cpf: String,
    pub kafka_key: Option<String>,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
    pub kafka_timestamp: featurestore_runtime::NaiveDateTime,
}

/// A plain feature set: each user's last order and where its message was.
#[derive(Debug)]
#[featurestore_runtime::feature_set(entity = "cpf", source = KafkaOrders, timestamp = order_timestamp)]
pub struct LastOrder {
    #[feature(column = order_id)]
    pub last_order: String,
    #[feature(column = kafka_key)]
    pub key: Option<String>,
    #[feature(column = kafka_offset)]
    pub offset: i64,
    #[feature(column = kafka_partition)]
    pub partition: i32,
    #[feature(column = kafka_timestamp)]
    pub produced: featurestore_runtime::NaiveDateTime,
}

#[test]
fn a_plain_feature_set_streams_each_keys_last_event_with_its_metadata() {
    use featurestore_runtime::store::online::{open_url, Value};
    use featurestore_runtime::FeatureSet;

    let topic = topic("plain", 1);
    let input = fixture("input.csv");
    // Message timestamps have milliseconds.
    let before = chrono::Utc::now().timestamp_millis() * 1_000;
    produce(&topic, &csv_as_messages(&input));
    let after = chrono::Utc::now().timestamp_micros();
    let dir = tempfile::tempdir().unwrap();
    let mut config = featurestore_runtime::config::Config::defaults(dir.path());
    config.online_url = format!("redb://{}", dir.path().join("online.redb").display());
    config.sources.insert(
        "kafka_orders".to_string(),
        format!("kafka://{}/{topic}", broker()),
    );
    config.kafka.group_prefix = Some(format!("fs-test-{}.", uuid::Uuid::new_v4().simple()));
    let store = open_url(&config.online_url, dir.path()).unwrap();
    static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let options = featurestore_runtime::stream::StreamOptions {
        from_beginning: true,
        exit_when_idle: Some(Duration::from_secs(3)),
        end_date: None,
        stop: &STOP,
    };
    let report =
        featurestore_runtime::stream::run(&LastOrder::SPEC, &config, &store, &options).unwrap();
    assert_eq!(report.messages, 9);

    // Each user's last order by time in the fixture, and its line (the
    // offset, on one partition).
    let mut last: std::collections::BTreeMap<&str, (&str, &str, i64)> = Default::default();
    for (i, line) in input.lines().skip(1).enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        let (id, at, cpf) = (f[0], f[1], f[2]);
        if last.get(cpf).is_none_or(|(_, t, _)| at > *t) {
            last.insert(cpf, (id, at, i as i64));
        }
    }
    assert_eq!(last.len(), 3);
    for (cpf, (id, at, offset)) in last {
        let row = store
            .get(&LastOrder::SPEC, &[Value::Str(cpf.to_string())])
            .unwrap()
            .unwrap_or_else(|| panic!("no row for {cpf}"));
        let time = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(row.timestamp, time.and_utc().timestamp_micros(), "{cpf}");
        assert_eq!(
            row.values[..4],
            [
                Value::Str(id.to_string()),
                Value::Str(cpf.to_string()),
                Value::Int(offset),
                Value::Int(0),
            ],
            "{cpf}"
        );
        let Value::Timestamp(produced) = row.values[4] else {
            panic!("{cpf}: {:?}", row.values[4]);
        };
        assert!((before..=after).contains(&produced), "{cpf}: {produced}");
    }
}

#[test]
fn a_stream_aborted_between_its_write_and_its_commit_converges_on_restart() {
    let topic = topic("abort", 1);
    produce(&topic, &csv_as_messages(&fixture("input.csv")));
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_groups(dir.path(), "batch_messages = 2\n");
    let stream = || {
        let mut cmd = features(dir.path());
        cmd.arg("--config").arg(&config).args([
            "--source",
            &format!("order_events=kafka://{}/{topic}", broker()),
            "stream",
            "feature_store.user_orders",
            "--from-beginning",
            "--exit-when-idle",
            "3",
            "--end-date",
            "2020-07-17",
        ]);
        cmd
    };
    let out = stream()
        .env("FEATURESTORE_FAIL_AT", "stream:written:2")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("aborting at `stream:written:2`"),
        "{stderr}"
    );
    stdout(&mut stream());
    let expected = fixture("user_orders_online.csv");
    assert_eq!(online_rows(dir.path(), "user_orders", &expected), expected);
}

#[test]
fn a_topic_that_does_not_exist_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "kafka://{}/fs-test-missing-{}",
        broker(),
        uuid::Uuid::new_v4().simple()
    );
    for args in [
        &[
            "execute",
            "feature_store.user_orders",
            "--end-date",
            "2020-07-17",
        ][..],
        &[
            "stream",
            "feature_store.user_orders",
            "--exit-when-idle",
            "1",
        ][..],
    ] {
        let out = features(dir.path())
            .args(["--source", &format!("order_events={url}")])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("no such topic"), "{args:?}: {stderr}");
        assert!(stderr.contains(&url), "{args:?}: {stderr}");
    }
}

/// Hourly rows of windows of an hour, six hours and a day.
#[derive(Debug)]
#[featurestore_runtime::feature_set(entity = "cpf", window = "1h,6h,1d", slide = "1h",
    source = KafkaOrders, timestamp = order_timestamp, fill_null = 0)]
pub struct HourlyOrders {
    #[feature(count(order_id))]
    pub orders: i32,
}

#[test]
fn hourly_slides_stream_to_the_rows_of_the_batch_run() {
    hourly_stream_against_batch(None);
}

/// The same in micro-batches of 1,000 messages, so that slides close and
/// the state is pruned all along the topic. Among the users is one whose
/// only events before the end date fall in its last, partial slide (u1225,
/// one order at 2020-02-10 23:20): in the batch run it has a row of empty
/// windows at the first slide of all the events, long pruned from the
/// stream's state; the stream writes that row too.
#[test]
fn hourly_slides_stream_in_small_micro_batches_to_the_rows_of_the_batch_run() {
    hourly_stream_against_batch(Some(1_000));
}

fn hourly_stream_against_batch(batch_messages: Option<usize>) {
    use featurestore_runtime::config::Config;
    use featurestore_runtime::store::online::{open_url, Value};
    use featurestore_runtime::FeatureSet;

    let topic = topic("hourly", 2);
    let csv = out_of_order_events(20_000, 5);
    produce(&topic, &csv_as_messages(&csv));
    let end = chrono::NaiveDate::from_ymd_opt(2020, 2, 10).unwrap();
    // Users with an order on or before the end date, from the CSV text.
    let active: std::collections::BTreeSet<&str> = csv
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1] < "2020-02-11").then_some(f[2])
        })
        .collect();
    let spec = &HourlyOrders::SPEC;
    let dir = tempfile::tempdir().unwrap();
    let config = |name: &str| {
        let mut config = Config::defaults(dir.path().join(name));
        config.online_url = format!(
            "redb://{}",
            dir.path().join(name).join("online.redb").display()
        );
        config.historical_root = dir
            .path()
            .join(name)
            .join("historical")
            .display()
            .to_string();
        config.sources.insert(
            "kafka_orders".to_string(),
            format!("kafka://{}/{topic}", broker()),
        );
        config.kafka.group_prefix = Some(format!("fs-test-{}.", uuid::Uuid::new_v4().simple()));
        config.kafka.allowed_lateness = Some("2h".to_string());
        config
    };
    let keys: Vec<Vec<Value>> = (0..4_000)
        .map(|u| vec![Value::Str(format!("u{u}"))])
        .collect();

    let batch = config("batch");
    let stores = featurestore_runtime::pipeline::Stores::open(&batch).unwrap();
    let range = featurestore_runtime::DateRange {
        start: None,
        end: Some(end),
    };
    featurestore_runtime::pipeline::execute(spec, &batch, &stores, range, &|_| {}).unwrap();
    let expected = stores.online.get_many(spec, &keys).unwrap();
    drop(stores);
    assert!(expected.iter().filter(|r| r.is_some()).count() > 3_000);

    let mut streamed = config("stream");
    if batch_messages.is_some() {
        streamed.kafka.batch_messages = batch_messages;
    }
    std::fs::create_dir_all(&streamed.base_dir).unwrap();
    let store = open_url(&streamed.online_url, dir.path()).unwrap();
    static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let options = featurestore_runtime::stream::StreamOptions {
        from_beginning: true,
        exit_when_idle: Some(Duration::from_secs(3)),
        end_date: Some(end),
        stop: &STOP,
    };
    if batch_messages.is_some() {
        // First to the day before, then on from the committed offsets: the
        // second stream rebuilds its state from the topic (a window's span
        // of it), and where the rows of all the events start from the
        // commits' metadata.
        let before = featurestore_runtime::stream::StreamOptions {
            from_beginning: true,
            exit_when_idle: Some(Duration::from_secs(3)),
            end_date: end.pred_opt(),
            stop: &STOP,
        };
        let report = featurestore_runtime::stream::run(spec, &streamed, &store, &before).unwrap();
        assert_eq!(report.late, 0);
        // Between micro-batches the state keeps the events of the longest
        // window (a day, plus the slides and lateness), never the whole
        // topic; each event at least its time, offset and key.
        assert!(
            report.state_events > 0 && report.state_events < 20_000 / 2,
            "{report:?}"
        );
        assert!(report.state_bytes >= report.state_events * 24, "{report:?}");
    }
    let report = featurestore_runtime::stream::run(spec, &streamed, &store, &options).unwrap();
    assert_eq!(report.late, 0);
    if batch_messages.is_some() {
        // The second stream started where the first committed: it read
        // again a window's span of the topic, not all of it.
        assert!(report.messages < 20_000 / 2, "{report:?}");
    }
    let got = store.get_many(spec, &keys).unwrap();
    let mut later_only = 0;
    for ((key, g), e) in keys.iter().zip(&got).zip(&expected) {
        let Value::Str(user) = &key[0] else {
            unreachable!()
        };
        if active.contains(user.as_str()) {
            assert_eq!(g, e, "{user}");
        } else {
            // A user with no order on or before the end date: the stream
            // has no row for them; the batch run has none either, or (as
            // Butterfree does) a row of empty windows.
            later_only += 1;
            assert_eq!(g, &None, "{user}");
            if let Some(e) = e {
                assert!(
                    e.values.iter().all(|v| *v == Value::Int(0)),
                    "{user}: {e:?}"
                );
            }
        }
    }
    assert!(later_only > 0 && active.len() > 3_000, "{later_only}");
}
