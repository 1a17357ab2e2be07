//! `features stream`: a feature set computed continuously from a Kafka
//! topic, in micro-batches, into the online store.
//!
//! One computation serves batch and stream: every row the stream writes is
//! computed by [`transform::compute`], the batch kernel, over the events
//! the stream holds. A plain feature set (no windows) upserts the latest
//! row of each key of every micro-batch. A feature set with rolling
//! windows buffers its events and, once the watermark (the newest event
//! time less the allowed lateness) passes a slide boundary `T`, computes
//! the rows up to `T` from the buffered events and writes each key's latest
//! row dated after the previous boundary. A row dated `t` depends only on
//! the events of `[t − longest window, t)` and on the row before it, so the
//! buffer keeps the events of the longest window and two slides before the
//! last boundary: the rows after that boundary are the batch run's.
//!
//! Delivery is at least once: offsets are committed only after the rows
//! they produced are in the online store, and each committed offset is the
//! first one whose event is still buffered, with the last boundary in the
//! commit's metadata. A restarted stream re-reads the buffered span of each
//! partition from there, rebuilding its window state from the topic
//! itself, and writes again rows the store already has (a write in the same
//! order replaces a row with the same row).

mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use polars::prelude::*;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::Config;
use crate::error::{Error, PolarsContext, Result};
use crate::location::KafkaLocation;
use crate::source::kafka::consumer::{self, Message};
use crate::source::kafka::{decode_messages, quarantine_late, reject_messages, DecodedMessages};
use crate::source::SourceLocations;
use crate::spec::{FeatureSetSpec, SourceKind, TIMESTAMP_COLUMN};
use crate::store::online::{self, BlockingOnlineStore, RunWrite, WriteOrder};
use crate::transform::{self, DateRange};
use state::{Closed, Committed, Window};

/// How long a micro-batch waits for more messages once it has one.
const BATCH_WAIT: Duration = Duration::from_millis(200);
/// How long it waits once it has read every partition to its end: what
/// arrives meanwhile joins it, at little cost in freshness.
const CAUGHT_UP_WAIT: Duration = Duration::from_millis(10);

/// How a stream runs.
#[derive(Debug)]
pub struct StreamOptions<'a> {
    /// Without committed offsets, start at the earliest messages rather
    /// than at the end of the topic.
    pub from_beginning: bool,
    /// Stop after this long without a message.
    pub exit_when_idle: Option<Duration>,
    /// Close every slide up to the end of this day, then stop.
    pub end_date: Option<NaiveDate>,
    /// Set (by a signal handler) to stop: the stream drains, commits and
    /// returns.
    pub stop: &'a AtomicBool,
}

/// What a stream did.
#[derive(Debug, Clone, Default)]
pub struct StreamReport {
    /// The feature set.
    pub feature_set: String,
    /// Messages read (including those read again to rebuild the state).
    pub messages: usize,
    /// Messages left out by the source's `on_bad_rows`.
    pub bad: usize,
    /// Events older than the last closed boundary when they arrived.
    pub late: usize,
    /// Rows written to the online store.
    pub rows_written: usize,
    /// Micro-batches whose offsets were committed.
    pub commits: usize,
    /// The last closed slide boundary (microseconds, UTC).
    pub closed: Option<i64>,
    /// The most events the window state kept between micro-batches
    /// (rolling windows): those a later row can still depend on.
    pub state_events: usize,
    /// The window state's size in memory then, in bytes, as polars counts
    /// its buffers.
    pub state_bytes: usize,
}

/// Streams feature set `spec` from its source's Kafka topic into `online`
/// until it is stopped, idle, or past its end date.
pub fn run(
    spec: &FeatureSetSpec,
    config: &Config,
    online: &BlockingOnlineStore,
    options: &StreamOptions<'_>,
) -> Result<StreamReport> {
    let locations = config.source_locations();
    let location = topic_of(spec, &locations)?;
    let lateness = config
        .kafka
        .lateness_us()
        .map_err(|m| Error::Invalid(format!("[kafka] {m}")))?;
    online.check(spec)?;
    let group = config.kafka.group(spec.name);
    let consumer = consumer::consumer(&location, &config.kafka, &group)?;
    let partitions = consumer::partitions(&consumer, &location)?;
    let committed = state::committed(&consumer, &location, &partitions)?;
    let mut assignment = TopicPartitionList::new();
    for &p in &partitions {
        let start = match committed.get(&p) {
            Some(c) => Offset::Offset(c.offset),
            None if options.from_beginning => Offset::Beginning,
            None => Offset::End,
        };
        assignment
            .add_partition_offset(&location.topic, p, start)
            .map_err(|e| consumer::kafka_error(&location, "assigning partitions", e))?;
    }
    consumer
        .assign(&assignment)
        .map_err(|e| consumer::kafka_error(&location, "assigning partitions", e))?;
    let closed = committed.values().filter_map(|c| c.closed).max();
    let first = committed.values().filter_map(|c| c.first).min();
    tracing::info!(
        feature_set = spec.name,
        group,
        topic = %location,
        resumed = !committed.is_empty(),
        "stream started"
    );
    let replay_until: BTreeMap<i32, i64> = committed.iter().map(|(p, c)| (*p, c.next)).collect();
    let reader = Reader {
        spec,
        location: &location,
        locations: &locations,
        consumer: &consumer,
        replay_until: replay_until.clone(),
        batch_messages: config
            .kafka
            .batch_messages
            .unwrap_or(crate::source::kafka::DEFAULT_BATCH_MESSAGES),
        partitions: partitions.clone(),
        caught_up: BTreeSet::new(),
    };
    let mut stream = Stream {
        spec,
        location: &location,
        locations: &locations,
        online: online.clone(),
        consumer: &consumer,
        window: Window::new(spec, &partitions, lateness, closed, first, options.end_date)?,
        replay_until,
        next: BTreeMap::new(),
        order_run: chrono::Utc::now().timestamp_micros(),
        writes: 0,
        report: StreamReport {
            feature_set: spec.name.to_string(),
            closed,
            ..StreamReport::default()
        },
    };
    stream.run(options, reader)?;
    (stream.report.state_events, stream.report.state_bytes) = stream.window.peak();
    Ok(stream.report)
}

/// The Kafka topic of a feature set's source, which must be read from one.
fn topic_of(spec: &FeatureSetSpec, locations: &SourceLocations) -> Result<KafkaLocation> {
    let source = spec.source;
    let SourceKind::File { path, .. } = source.kind else {
        return Err(Error::Invalid(format!(
            "feature set `{}`: its source `{}` is a query over other sources; a stream reads \
             one source from a Kafka topic",
            spec.name, source.name
        )));
    };
    let raw = locations.raw(source, path);
    if !KafkaLocation::is_kafka(raw) {
        return Err(Error::Invalid(format!(
            "feature set `{}`: its source `{}` is read from {}, not from a Kafka topic; give one \
             with `--source {}=kafka://HOST:PORT/TOPIC` or in featurestore.toml",
            spec.name,
            source.name,
            crate::location::redact(raw),
            source.name
        )));
    }
    if !source.preprocess.steps.is_empty() {
        return Err(Error::Invalid(format!(
            "feature set `{}`: its source `{}` has pre-processing steps, which a stream does not \
             run; compute it with `features execute`",
            spec.name, source.name
        )));
    }
    crate::source::kafka::topic(source, raw, locations)
}

struct Stream<'a> {
    spec: &'a FeatureSetSpec,
    location: &'a KafkaLocation,
    locations: &'a SourceLocations,
    online: BlockingOnlineStore,
    consumer: &'a consumer::KafkaConsumer,
    window: Window,
    /// Per partition, the offset a restarted stream had read to.
    replay_until: BTreeMap<i32, i64>,
    /// Per partition, the offset after the last message processed.
    next: BTreeMap<i32, i64>,
    /// The order of this stream's writes among runs (see [`WriteOrder`]).
    order_run: i64,
    /// Online writes so far.
    writes: usize,
    report: StreamReport,
}

/// A micro-batch as the [`Reader`] hands it over: its messages, decoded.
struct Batch {
    /// How many messages it holds.
    messages: usize,
    /// The messages read again to rebuild the window state, then the fresh
    /// ones, each part decoded; an empty part is left out.
    parts: Vec<Part>,
    /// Per partition, the offset after the batch's last message.
    next: BTreeMap<i32, i64>,
    /// The partitions read to their end when the batch was cut.
    caught_up: BTreeSet<i32>,
}

struct Part {
    messages: Vec<Message>,
    replay: bool,
    decoded: DecodedMessages,
}

/// Reads and decodes micro-batches on a thread of its own, one batch ahead
/// of the stream's windows, online write and commit: on two cores, reading
/// and decoding the next batch no longer waits for the last one's
/// computation. What it reads ahead is not committed until processed, so
/// a stream that stops reads it again.
struct Reader<'a> {
    spec: &'a FeatureSetSpec,
    location: &'a KafkaLocation,
    locations: &'a SourceLocations,
    consumer: &'a consumer::KafkaConsumer,
    /// Per partition, the offset a restarted stream had read to: messages
    /// before it are read again only to rebuild the window state.
    replay_until: BTreeMap<i32, i64>,
    batch_messages: usize,
    partitions: Vec<i32>,
    /// Partitions read to their end (at EOF).
    caught_up: BTreeSet<i32>,
}

impl Reader<'_> {
    /// Hands batches over until told to halt, the stream no longer takes
    /// them, or a read fails (the error handed over).
    fn run(mut self, to: SyncSender<Result<Batch>>, halt: &AtomicBool) {
        while !halt.load(Ordering::SeqCst) {
            let batch = self.batch();
            let failed = batch.is_err();
            if to.send(batch).is_err() || failed {
                return;
            }
        }
    }

    fn batch(&mut self) -> Result<Batch> {
        let messages = self.poll()?;
        let count = messages.len();
        let mut next = BTreeMap::new();
        for m in &messages {
            next.insert(m.partition, m.offset + 1);
        }
        let (replayed, fresh): (Vec<Message>, Vec<Message>) = messages.into_iter().partition(|m| {
            self.replay_until
                .get(&m.partition)
                .is_some_and(|&until| m.offset < until)
        });
        let shown = self.location.to_string();
        let mut parts = Vec::new();
        for (messages, replay) in [(replayed, true), (fresh, false)] {
            if messages.is_empty() {
                continue;
            }
            let decoded =
                decode_messages(self.spec.source, &shown, &messages, self.locations, replay)?;
            parts.push(Part {
                messages,
                replay,
                decoded,
            });
        }
        Ok(Batch {
            messages: count,
            parts,
            next,
            caught_up: self.caught_up.clone(),
        })
    }

    fn all_caught_up(&self) -> bool {
        self.partitions.iter().all(|p| self.caught_up.contains(p))
    }

    /// One micro-batch: up to `batch_messages` messages, waiting at most
    /// [`BATCH_WAIT`] once the first arrived, or [`CAUGHT_UP_WAIT`] once
    /// every partition is read to its end.
    fn poll(&mut self) -> Result<Vec<Message>> {
        let mut batch = Vec::new();
        let started = Instant::now();
        // When the first message arrived, and how long the batch may wait
        // for more from then.
        let mut first: Option<Instant> = None;
        let mut linger = BATCH_WAIT;
        while batch.len() < self.batch_messages {
            let wait = match first {
                None => Duration::from_millis(500).saturating_sub(started.elapsed()),
                Some(first) => linger.saturating_sub(first.elapsed()),
            };
            if wait.is_zero()
                && (first.is_some() || started.elapsed() >= Duration::from_millis(500))
            {
                break;
            }
            match self.consumer.poll(wait) {
                None => break,
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    self.caught_up.insert(p);
                    // Caught up on every partition: the batch goes soon. Not
                    // at once: a batch per message or two costs more than it
                    // saves, and a stream at a steady rate would fall behind.
                    // Nor at one partition's end, or a stream behind on the
                    // others would go on in batches of a message or two.
                    if first.is_some() && self.all_caught_up() {
                        linger = CAUGHT_UP_WAIT;
                    }
                }
                Some(Err(e)) => {
                    return Err(consumer::kafka_error(self.location, "reading messages", e))
                }
                Some(Ok(m)) => {
                    let m = Message::of(&m);
                    self.caught_up.remove(&m.partition);
                    batch.push(m);
                    first.get_or_insert_with(Instant::now);
                }
            }
        }
        Ok(batch)
    }
}

impl Stream<'_> {
    /// Runs the stream, its batches read by `reader` on a thread of its
    /// own; the reader is stopped before this returns.
    fn run(&mut self, options: &StreamOptions<'_>, reader: Reader<'_>) -> Result<()> {
        let halt = AtomicBool::new(false);
        std::thread::scope(|s| {
            // One batch waits here while the reader reads the next.
            let (to, from) = std::sync::mpsc::sync_channel(1);
            let halted = &halt;
            let reading = s.spawn(move || reader.run(to, halted));
            let result = self.consume(options, &from);
            halt.store(true, Ordering::SeqCst);
            // A reader waiting to hand a batch over stops at once.
            drop(from);
            match reading.join() {
                Ok(()) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    fn consume(
        &mut self,
        options: &StreamOptions<'_>,
        from: &Receiver<Result<Batch>>,
    ) -> Result<()> {
        let mut last_message = Instant::now();
        loop {
            let batch = from.recv().map_err(|_| {
                Error::Invalid(format!(
                    "stream of `{}`: the reader of {} stopped",
                    self.spec.name, self.location
                ))
            })??;
            self.window.set_caught_up(&batch.caught_up);
            if batch.messages > 0 {
                last_message = Instant::now();
                self.process(batch)?;
            } else if !self.spec.is_plain() {
                // A partition read to its end no longer holds the watermark
                // back: slides may close without a new message.
                let written = self.window.close(self.spec)?;
                if written.is_some() {
                    self.write(written)?;
                    self.commit()?;
                }
            }
            let idle = options
                .exit_when_idle
                .is_some_and(|idle| last_message.elapsed() >= idle);
            let stopped = options.stop.load(Ordering::SeqCst);
            if self.window.past_end() || idle || stopped {
                if options.end_date.is_some() {
                    let written = self.window.close_end(self.spec)?;
                    self.write(written)?;
                }
                self.commit()?;
                tracing::info!(
                    feature_set = self.spec.name,
                    idle,
                    stopped,
                    "stream stopped"
                );
                return Ok(());
            }
        }
    }

    fn process(&mut self, batch: Batch) -> Result<()> {
        self.report.messages += batch.messages;
        self.next.extend(batch.next);
        let shown = self.location.to_string();
        let source = self.spec.source;
        for part in batch.parts {
            if let Some(r) = reject_messages(source, &shown, self.locations, &part.decoded)? {
                self.report.bad += r.rows;
                tracing::warn!(
                    source = source.name,
                    topic = shown,
                    rows = r.rows,
                    quarantine = r.quarantine.as_deref().unwrap_or("-"),
                    "messages not fitting the declaration left out"
                );
            }
            let DecodedMessages {
                frame: Some(frame),
                kept,
                ..
            } = part.decoded
            else {
                continue;
            };
            if self.spec.is_plain() {
                self.plain(frame)?;
                continue;
            }
            let late = self
                .window
                .add(self.spec, frame, &kept, &part.messages, part.replay)?;
            if !late.is_empty() {
                self.report.late += late.len();
                let file = quarantine_late(source, &shown, self.locations, &late)?;
                tracing::warn!(
                    feature_set = self.spec.name,
                    events = late.len(),
                    quarantine = file,
                    "late events (before the last closed slide) left out of the windows; a batch \
                     run over the same events counts them"
                );
            }
        }
        if !self.spec.is_plain() {
            let written = self.window.close(self.spec)?;
            self.write(written)?;
        }
        self.commit()
    }

    /// A plain feature set's rows of one micro-batch, upserted.
    fn plain(&mut self, frame: DataFrame) -> Result<()> {
        let range = DateRange {
            start: None,
            end: self.window.end_date(),
        };
        let computed = transform::compute(self.spec, frame.lazy(), range)?;
        let now = chrono::Utc::now().timestamp_micros();
        self.write(Some(Closed {
            rows: computed.frame,
            as_of: now,
            first_rows: None,
        }))
    }

    /// Writes each key's latest row of the closed slides in the order of
    /// their as-of, with the first rows of keys the store does not have.
    fn write(&mut self, written: Option<Closed>) -> Result<()> {
        let Some(Closed {
            rows,
            as_of,
            first_rows,
        }) = written
        else {
            return Ok(());
        };
        let mut records = online::latest_records(self.spec, &rows)?;
        if let Some(first_rows) = first_rows {
            let candidates = online::latest_records(self.spec, &first_rows)?;
            let keys: Vec<_> = candidates.iter().map(|r| r.key.clone()).collect();
            let stored = self.online.get_many(self.spec, &keys)?;
            records.extend(
                candidates
                    .into_iter()
                    .zip(stored)
                    .filter(|(_, stored)| stored.is_none())
                    .map(|(record, _)| record),
            );
        }
        if records.is_empty() {
            return Ok(());
        }
        let order = WriteOrder {
            as_of,
            run: self.order_run,
        };
        self.online
            .write_latest(self.spec, &records, RunWrite::some_keys(order))?;
        self.report.rows_written += records.len();
        self.report.closed = self.window.closed();
        self.writes += 1;
        // Between the online write and the commit: the rows are stored, the
        // offsets that produced them are not committed.
        crate::fail::point(|| format!("stream:written:{}", self.writes));
        Ok(())
    }

    /// Commits, per partition, the first offset whose event is still
    /// buffered (else the next one to read), with the last closed boundary
    /// and how far the partition was read.
    fn commit(&mut self) -> Result<()> {
        if self.next.is_empty() {
            return Ok(());
        }
        let first_buffered = self.window.first_offsets()?;
        let mut tpl = TopicPartitionList::new();
        for (&p, &next) in &self.next {
            let offset = first_buffered.get(&p).copied().unwrap_or(next).min(next);
            let read_to = next.max(self.replay_until.get(&p).copied().unwrap_or(0));
            let meta = Committed {
                offset,
                next: read_to,
                closed: self.window.closed(),
                first: self.window.first(),
            };
            let mut elem = tpl.add_partition(&self.location.topic, p);
            elem.set_offset(Offset::Offset(offset))
                .map_err(|e| consumer::kafka_error(self.location, "committing offsets", e))?;
            elem.set_metadata(meta.metadata());
        }
        consumer::with_coordinator(self.location, "committing offsets", || {
            self.consumer.commit(&tpl, CommitMode::Sync)
        })?;
        self.report.commits += 1;
        Ok(())
    }
}

/// The rows of `frame` dated after `after` and up to `until`.
fn rows_between(frame: DataFrame, after: Option<i64>, until: Option<i64>) -> Result<DataFrame> {
    let ts = col(TIMESTAMP_COLUMN).cast(DataType::Int64);
    let mut keep = lit(true);
    if let Some(after) = after {
        keep = keep.and(ts.clone().gt(lit(after)));
    }
    if let Some(until) = until {
        keep = keep.and(ts.lt_eq(lit(until)));
    }
    frame
        .lazy()
        .filter(keep)
        .collect()
        .ctx(|| "the rows of the closed slides".into())
}
