//! The transport: consumers made from a location and the `[kafka]`
//! settings, the partitions of a topic, and reading a topic from its
//! earliest to its current end offsets.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message as _;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::{KafkaSettings, DEFAULT_BATCH_MESSAGES};
use crate::error::{Error, Result};
use crate::location::KafkaLocation;

/// What messages call a Kafka cluster.
pub(crate) const STORE: &str = "Kafka";

/// How long a metadata or offset request may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a snapshot read waits for the next message before it gives up:
/// the end offsets were taken at the start, so the messages exist.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// One message, owned.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// Milliseconds since the epoch, when the message has a timestamp.
    pub timestamp_ms: Option<i64>,
    pub payload: Option<Vec<u8>>,
}

impl Message {
    pub(crate) fn of(m: &impl rdkafka::message::Message) -> Message {
        Message {
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            timestamp_ms: m.timestamp().to_millis(),
            payload: m.payload().map(<[u8]>::to_vec),
        }
    }

    /// Where the message is, for people and quarantine files.
    pub(crate) fn place(&self) -> String {
        format!("partition {}, offset {}", self.partition, self.offset)
    }
}

/// The consumers' context: librdkafka's errors go to the log, except the
/// end of a partition, which a read waits for and is no error.
pub(crate) struct Context;

impl ClientContext for Context {
    fn error(&self, error: KafkaError, reason: &str) {
        let end = matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        );
        if !end {
            tracing::error!(error = %error, reason, "Kafka client");
        }
    }
}

impl ConsumerContext for Context {}

/// A consumer of this crate.
pub(crate) type KafkaConsumer = BaseConsumer<Context>;

/// An error talking to the cluster at `location`.
pub(crate) fn kafka_error(location: &KafkaLocation, doing: &str, e: KafkaError) -> Error {
    Error::store(STORE, location.to_string(), doing, e)
}

/// Runs a request to the consumer group's coordinator, again while the
/// broker answers that the coordinator is not there yet: a group's first
/// request (or one during a broker's start or a coordinator move) gets
/// `NOT_COORDINATOR` or `COORDINATOR_LOAD_IN_PROGRESS` until the offsets
/// topic is loaded, which is a matter of seconds, not a fault.
pub(crate) fn with_coordinator<T>(
    location: &KafkaLocation,
    doing: &str,
    mut request: impl FnMut() -> std::result::Result<T, KafkaError>,
) -> Result<T> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut pause = Duration::from_millis(50);
    loop {
        match request() {
            Err(e) if coordinator_not_ready(&e) && Instant::now() + pause < deadline => {
                tracing::debug!(%location, doing, error = %e, "the group coordinator is not ready; asking again");
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            other => return other.map_err(|e| kafka_error(location, doing, e)),
        }
    }
}

fn coordinator_not_ready(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::CoordinatorLoadInProgress
                | RDKafkaErrorCode::CoordinatorNotAvailable
        )
    )
}

/// A consumer of `location` in consumer group `group`, with the configured
/// options. Offsets are never committed automatically: a read commits
/// nothing, a stream commits only what its rows are written for.
pub(crate) fn consumer(
    location: &KafkaLocation,
    settings: &KafkaSettings,
    group: &str,
) -> Result<KafkaConsumer> {
    let mut config = ClientConfig::new();
    // Fetching ahead, a configured value replacing either. librdkafka stops
    // fetching a partition whose local queue holds `queued.min.messages`
    // and, by default, waits a second before it looks again: a stream
    // catching up drains a micro-batch's worth faster than that and then
    // waits for the broker. The queue holds a micro-batch (at least
    // librdkafka's default) and is looked at again after 10 ms.
    let batch = settings.batch_messages.unwrap_or(DEFAULT_BATCH_MESSAGES);
    config
        .set("queued.min.messages", batch.max(100_000).to_string())
        .set("fetch.queue.backoff.ms", "10");
    for (k, v) in settings
        .resolved_options()
        .map_err(|m| Error::Invalid(m.to_string()))?
    {
        config.set(k, v);
    }
    config
        .set("bootstrap.servers", &location.brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true");
    config
        .create_with_context(Context)
        .map_err(|e| kafka_error(location, "creating a consumer (check [kafka.options])", e))
}

/// The partitions of the topic, checked to exist.
pub(crate) fn partitions(consumer: &KafkaConsumer, location: &KafkaLocation) -> Result<Vec<i32>> {
    let metadata = consumer
        .fetch_metadata(Some(&location.topic), REQUEST_TIMEOUT)
        .map_err(|e| {
            kafka_error(
                location,
                "reading the topic's metadata (are the brokers up?)",
                e,
            )
        })?;
    let topic = metadata
        .topics()
        .iter()
        .find(|t| t.name() == location.topic)
        .filter(|t| t.error().is_none() && !t.partitions().is_empty());
    let Some(topic) = topic else {
        return Err(Error::Location {
            location: location.to_string(),
            message: "no such topic on the brokers".to_string(),
        });
    };
    let mut ids: Vec<i32> = topic.partitions().iter().map(|p| p.id()).collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Low and high watermarks of each partition: the first offset and the one
/// after the last.
pub(crate) fn watermarks(
    consumer: &KafkaConsumer,
    location: &KafkaLocation,
    partitions: &[i32],
) -> Result<BTreeMap<i32, (i64, i64)>> {
    partitions
        .iter()
        .map(|&p| {
            consumer
                .fetch_watermarks(&location.topic, p, REQUEST_TIMEOUT)
                .map(|w| (p, w))
                .map_err(|e| {
                    kafka_error(
                        location,
                        &format!("reading the offsets of partition {p}"),
                        e,
                    )
                })
        })
        .collect()
}

/// Every message of the topic from its earliest offsets to the end offsets
/// it has when the read starts (messages produced later are for the next
/// read), in partition order, each partition in offset order.
pub(crate) fn snapshot(location: &KafkaLocation, settings: &KafkaSettings) -> Result<Vec<Message>> {
    // A read joins no group and commits nothing: the group only names it.
    let consumer = consumer(location, settings, "featurestore-read")?;
    let partitions = partitions(&consumer, location)?;
    let ends = watermarks(&consumer, location, &partitions)?;
    let mut assignment = TopicPartitionList::new();
    let mut remaining: BTreeMap<i32, i64> = BTreeMap::new();
    for (&p, &(low, high)) in &ends {
        if high > low {
            assignment
                .add_partition_offset(&location.topic, p, Offset::Offset(low))
                .map_err(|e| kafka_error(location, "assigning partitions", e))?;
            remaining.insert(p, high);
        }
    }
    let mut messages: Vec<Message> = Vec::new();
    if remaining.is_empty() {
        return Ok(messages);
    }
    consumer
        .assign(&assignment)
        .map_err(|e| kafka_error(location, "assigning partitions", e))?;
    let mut last = Instant::now();
    while !remaining.is_empty() {
        match consumer.poll(Duration::from_millis(200)) {
            None => {
                if last.elapsed() > STALL_TIMEOUT {
                    return Err(Error::Location {
                        location: location.to_string(),
                        message: format!(
                            "no message for {}s while partitions {:?} were not read to their end offsets",
                            STALL_TIMEOUT.as_secs(),
                            remaining.keys().collect::<Vec<_>>()
                        ),
                    });
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                remaining.remove(&p);
            }
            Some(Err(e)) => return Err(kafka_error(location, "reading messages", e)),
            Some(Ok(m)) => {
                last = Instant::now();
                let Some(&high) = remaining.get(&m.partition()) else {
                    continue;
                };
                if m.offset() < high {
                    messages.push(Message::of(&m));
                }
                if m.offset() + 1 >= high {
                    remaining.remove(&m.partition());
                }
            }
        }
    }
    messages.sort_by_key(|m| (m.partition, m.offset));
    Ok(messages)
}
