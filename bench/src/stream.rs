//! Streaming from Kafka: sustained events per second of `features stream`
//! into the embedded store, and freshness (the time from a message being
//! produced to its row being readable with `get`) at a steady rate.
//!
//! Both need a broker (`eval "$(scripts/servers.sh start kafka)"`), and
//! run the stream in this process, on the runtime's own code path
//! (`featurestore_runtime::stream::run`).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use featurestore_runtime::config::Config;
use featurestore_runtime::store::online::{self, Value};
use featurestore_runtime::stream::{self, StreamOptions};
use featurestore_runtime::{feature_set, source, FeatureSet};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde::{Deserialize, Serialize};

use crate::generate::Shape;

type BoxError = Box<dyn std::error::Error>;

/// Orders as the freshness measurement produces them.
#[source(path = "stream_orders.ndjson", format = "ndjson")]
pub struct StreamOrders {
    /// The order.
    pub order_id: String,
    /// When it was placed (UTC).
    pub order_timestamp: NaiveDateTime,
    /// The user.
    pub cpf: String,
}

/// A plain feature set: each user's last order, upserted per micro-batch.
#[feature_set(entity = "cpf", source = StreamOrders, timestamp = order_timestamp)]
pub struct LastOrder {
    /// The user's last order.
    #[feature(column = order_id)]
    pub last_order_id: String,
}

/// Sustained stream throughput.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThroughputResult {
    pub events: usize,
    pub secs: f64,
    pub events_per_sec: f64,
    pub rows_written: usize,
    /// The most events the window state held at once, its bytes then, and
    /// the bytes per buffered event.
    pub state_events: usize,
    pub state_bytes: usize,
    pub state_bytes_per_event: f64,
}

/// Produce-to-`get` freshness.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FreshnessResult {
    pub rate: u32,
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

fn admin(broker: &str) -> Result<AdminClient<DefaultClientContext>, BoxError> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", broker)
        .create()?)
}

/// A new topic of `partitions` partitions.
fn new_topic(broker: &str, name: &str, partitions: i32) -> Result<String, BoxError> {
    let topic = format!("fs-bench-{name}-{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for r in rt.block_on(admin(broker)?.create_topics(
        &[NewTopic::new(
            &topic,
            partitions,
            TopicReplication::Fixed(1),
        )],
        &AdminOptions::new(),
    ))? {
        r.map_err(|(t, e)| format!("creating topic {t}: {e}"))?;
    }
    Ok(topic)
}

fn producer(broker: &str) -> Result<BaseProducer, BoxError> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("linger.ms", "1")
        .create()?)
}

/// Sends one message, waiting while the local queue is full.
fn send(producer: &BaseProducer, topic: &str, key: &str, value: &str) -> Result<(), BoxError> {
    let mut record = BaseRecord::to(topic).key(key).payload(value);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((
                rdkafka::error::KafkaError::MessageProduction(
                    rdkafka::types::RDKafkaErrorCode::QueueFull,
                ),
                back,
            )) => {
                producer.poll(Duration::from_millis(10));
                record = back;
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}

/// The configuration of a stream over `topic` into the online store at
/// `online_url`, else a new embedded store (SQLite, the default) under `dir`.
fn config(dir: &Path, source: &str, broker: &str, topic: &str, online_url: Option<&str>) -> Config {
    let mut config = Config::defaults(dir);
    config.online_url = match online_url {
        Some(url) => url.to_string(),
        None => format!("sqlite://{}", dir.join("online.sqlite").display()),
    };
    config
        .sources
        .insert(source.to_string(), format!("kafka://{broker}/{topic}"));
    config.kafka.group_prefix = Some(format!("fs-bench-{}.", std::process::id()));
    config
}

/// The example's rolling windows streamed from the beginning of a topic of
/// `shape`'s orders, as JSON: events decoded, windows computed and rows
/// upserted per second (the producing is not timed).
pub fn throughput(
    broker: &str,
    shape: Shape,
    dir: &Path,
    online_url: Option<&str>,
) -> Result<ThroughputResult, BoxError> {
    std::fs::create_dir_all(dir)?;
    let csv = dir.join("events.csv");
    crate::generate::write_csv(shape, &csv)?;
    let topic = new_topic(broker, "throughput", 3)?;
    let producer = producer(broker)?;
    let text = std::fs::read_to_string(&csv)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    for line in lines {
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
        let key = fields.get(2).copied().unwrap_or_default();
        send(
            &producer,
            &topic,
            key,
            &serde_json::Value::Object(object).to_string(),
        )?;
        producer.poll(Duration::ZERO);
    }
    // One more order, two days after the last day, of a user of its own:
    // it moves the watermark past the end date, so the stream closes the
    // end date and stops there, as a live stream would, rather than after
    // the idle time (which would be timed).
    let after = (shape.last_day() + chrono::Duration::days(2)).format("%Y-%m-%d 00:00:00");
    send(
        &producer,
        &topic,
        "after",
        &serde_json::json!({
            "order_id": "after",
            "order_timestamp": after.to_string(),
            "cpf": "after",
            "chargeback_timestamp": null,
        })
        .to_string(),
    )?;
    producer.flush(Duration::from_secs(120))?;

    let config = config(dir, "order_events", broker, &topic, online_url);
    let store = online::open_url(&config.online_url, dir)?;
    static STOP: AtomicBool = AtomicBool::new(false);
    let idle = Duration::from_secs(2);
    let options = StreamOptions {
        from_beginning: true,
        exit_when_idle: Some(idle),
        end_date: Some(shape.last_day()),
        stop: &STOP,
    };
    let t = Instant::now();
    let report = stream::run(&features::UserOrders::SPEC, &config, &store, &options)?;
    // The stream stops at the end date, or after `idle` without messages.
    let secs = t.elapsed().as_secs_f64();
    Ok(ThroughputResult {
        events: shape.events,
        secs,
        events_per_sec: report.messages as f64 / secs,
        rows_written: report.rows_written,
        state_events: report.state_events,
        state_bytes: report.state_bytes,
        state_bytes_per_event: report.state_bytes as f64 / report.state_events.max(1) as f64,
    })
}

/// A plain feature set streamed at a steady `rate` of messages per second
/// for `seconds`: every 100th message has a key of its own, and the time
/// from its production to `get` returning its row is sampled.
pub fn freshness(
    broker: &str,
    rate: u32,
    seconds: u32,
    dir: &Path,
    online_url: Option<&str>,
) -> Result<FreshnessResult, BoxError> {
    std::fs::create_dir_all(dir)?;
    let topic = new_topic(broker, "freshness", 3)?;
    let config = config(dir, "stream_orders", broker, &topic, online_url);
    let store = online::open_url(&config.online_url, dir)?;
    static STOP: AtomicBool = AtomicBool::new(false);
    let options = StreamOptions {
        from_beginning: true,
        exit_when_idle: None,
        end_date: None,
        stop: &STOP,
    };
    let spec = &LastOrder::SPEC;
    // The lookups through a store of their own, as a server's would be.
    let reader = online::open_url(&config.online_url, dir)?;
    std::thread::scope(|s| -> Result<FreshnessResult, BoxError> {
        let streaming = s.spawn(|| stream::run(spec, &config, &store, &options).map(|_| ()));
        // Samples are looked up while messages are still produced, each as
        // soon as it is sent, in order.
        let (sampled, samples) = std::sync::mpsc::channel::<(String, String, Instant)>();
        let sampler = s.spawn(|| -> Result<Vec<f64>, String> {
            let mut lags = Vec::new();
            for (key, id, sent) in samples {
                let deadline = sent + Duration::from_secs(30);
                loop {
                    let row = reader
                        .get(spec, &[Value::Str(key.clone())])
                        .map_err(|e| e.to_string())?;
                    if row.is_some_and(|r| r.values.first() == Some(&Value::Str(id.clone()))) {
                        lags.push(sent.elapsed().as_secs_f64() * 1e3);
                        break;
                    }
                    if Instant::now() > deadline {
                        return Err(format!("the row of {key} never appeared"));
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            Ok(lags)
        });
        let producer = producer(broker)?;
        let start = Instant::now();
        let total = rate as usize * seconds as usize;
        for i in 0..total {
            // Paced against the schedule, not the previous send, so the
            // rate holds on average.
            let due = start + Duration::from_secs_f64(i as f64 / f64::from(rate));
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let key = if i % 100 == 0 {
                format!("s{i}")
            } else {
                format!("u{}", i % 4_000)
            };
            let id = format!("o{i}");
            let at = chrono::Utc::now()
                .naive_utc()
                .format("%Y-%m-%d %H:%M:%S%.6f");
            let value = format!(r#"{{"order_id":"{id}","order_timestamp":"{at}","cpf":"{key}"}}"#);
            send(&producer, &topic, &key, &value)?;
            producer.poll(Duration::ZERO);
            if i % 100 == 0 {
                let _ = sampled.send((key, id, Instant::now()));
            }
        }
        drop(sampled);
        producer.flush(Duration::from_secs(30))?;
        let lags = sampler.join().map_err(|_| "the sampler panicked")?;
        STOP.store(true, Ordering::SeqCst);
        streaming.join().map_err(|_| "the stream panicked")??;
        let mut lags = lags?;
        if lags.is_empty() {
            return Err("no sample".into());
        }
        lags.sort_by(f64::total_cmp);
        let at = |q: f64| lags[((lags.len() - 1) as f64 * q).round() as usize];
        Ok(FreshnessResult {
            rate,
            samples: lags.len(),
            p50_ms: at(0.5),
            p99_ms: at(0.99),
        })
    })
}
