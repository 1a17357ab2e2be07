//! A stream's window state: the buffered events, the watermark, the last
//! closed slide boundary; and the committed offsets it is rebuilt from.
//!
//! The state is bounded by the longest window: after each close, only
//! events dated on or after `closed − longest window − 2 slides` are kept.
//! Each buffered event costs its source columns as polars holds them (8
//! bytes per number or time, a 16-byte view per string plus its bytes
//! beyond 12) and 20 bytes of partition, offset and time: 68 bytes for the
//! example's events.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use polars::prelude::*;
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use crate::error::{Error, PolarsContext, Result};
use crate::location::KafkaLocation;
use crate::source::kafka::consumer::{self, Message};
use crate::spec::{FeatureSetSpec, TIMESTAMP_COLUMN};
use crate::time::DAY_US;
use crate::transform::{self, DateRange};

const PARTITION: &str = "__fs_partition";
const OFFSET: &str = "__fs_offset";
const TIME: &str = "__fs_time";

/// What a stream commits per partition: the offset to resume from, in the
/// commit's metadata how far it had read and its last closed boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Committed {
    #[serde(skip)]
    pub offset: i64,
    /// The offset after the last message read.
    pub next: i64,
    /// The last closed slide boundary, microseconds since the epoch (UTC).
    pub closed: Option<i64>,
    /// The earliest event time the stream has read, microseconds since the
    /// epoch: where the batch run over the same events starts its rows.
    #[serde(default)]
    pub first: Option<i64>,
}

impl Committed {
    pub(super) fn metadata(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The rows of closed slides, and the as-of of their write.
pub(super) struct Closed {
    /// Each key's rows dated after the previous boundary.
    pub rows: DataFrame,
    pub as_of: i64,
    /// At the end date, the rows of keys that may have no row yet: written
    /// only for the keys the online store does not have.
    pub first_rows: Option<DataFrame>,
}

/// The committed offsets of the stream's group, by partition.
pub(super) fn committed(
    consumer: &consumer::KafkaConsumer,
    location: &KafkaLocation,
    partitions: &[i32],
) -> Result<BTreeMap<i32, Committed>> {
    let mut tpl = TopicPartitionList::new();
    for &p in partitions {
        tpl.add_partition(&location.topic, p);
    }
    let tpl = consumer::with_coordinator(location, "reading the committed offsets", || {
        consumer.committed_offsets(tpl.clone(), consumer::REQUEST_TIMEOUT)
    })?;
    let mut out = BTreeMap::new();
    for elem in tpl.elements() {
        let Offset::Offset(offset) = elem.offset() else {
            continue;
        };
        // Offsets committed by another tool carry no metadata of ours:
        // resume there, with no window state to rebuild.
        let mut c = serde_json::from_str::<Committed>(elem.metadata()).unwrap_or(Committed {
            offset,
            next: offset,
            closed: None,
            first: None,
        });
        c.offset = offset;
        out.insert(elem.partition(), c);
    }
    Ok(out)
}

/// The buffered events of a feature set with rolling windows.
pub(super) struct Window {
    lateness: i64,
    slide: i64,
    /// How far before the last closed boundary events are kept.
    span: i64,
    closed: Option<i64>,
    /// The earliest event time read, pruned events included.
    first: Option<i64>,
    /// With an end date: the day, the time of its last row, and its end.
    end: Option<(NaiveDate, i64, i64)>,
    ended: bool,
    /// The newest event time of each partition.
    max_time: BTreeMap<i32, i64>,
    /// The partitions the stream reads.
    partitions: Vec<i32>,
    /// Partitions read to their end: they hold no watermark back.
    caught_up: BTreeSet<i32>,
    /// Source rows with their partition, offset and event time.
    pieces: Vec<DataFrame>,
    /// The most events kept after pruning, and their size in memory then.
    peak: (usize, usize),
}

impl Window {
    pub(super) fn new(
        spec: &FeatureSetSpec,
        partitions: &[i32],
        lateness: i64,
        closed: Option<i64>,
        first: Option<i64>,
        end_date: Option<NaiveDate>,
    ) -> Result<Window> {
        let slide = spec.slide.micros();
        let longest = spec.windows.iter().map(|w| w.micros()).max().unwrap_or(0);
        let end = end_date.map(|d| {
            let end = crate::time::epoch_day(d) * DAY_US + DAY_US;
            (d, end - slide, end)
        });
        Ok(Window {
            lateness,
            slide,
            span: longest + 2 * slide,
            closed,
            first,
            end,
            ended: false,
            max_time: BTreeMap::new(),
            partitions: partitions.to_vec(),
            caught_up: BTreeSet::new(),
            pieces: Vec::new(),
            peak: (0, 0),
        })
    }

    pub(super) fn end_date(&self) -> Option<NaiveDate> {
        self.end.map(|e| e.0)
    }

    pub(super) fn closed(&self) -> Option<i64> {
        self.closed
    }

    /// The earliest event time the stream has read.
    pub(super) fn first(&self) -> Option<i64> {
        self.first
    }

    /// Whether every slide up to the end date is closed.
    pub(super) fn past_end(&self) -> bool {
        self.ended
    }

    /// Buffers decoded rows (`kept[i]` the message of row `i`); returns the
    /// fresh events dated before the last closed boundary, with why they
    /// are left out. Read again (`replay`), such events are window state.
    pub(super) fn add<'m>(
        &mut self,
        spec: &FeatureSetSpec,
        frame: DataFrame,
        kept: &[usize],
        messages: &'m [Message],
        replay: bool,
    ) -> Result<Vec<(&'m Message, String)>> {
        let partitions: Vec<i32> = kept.iter().map(|&i| messages[i].partition).collect();
        let offsets: Vec<i64> = kept.iter().map(|&i| messages[i].offset).collect();
        let ctx = || format!("buffering the events of `{}`", spec.name);
        let frame = frame
            .lazy()
            .with_columns([
                Series::new(PARTITION.into(), partitions).lit(),
                Series::new(OFFSET.into(), offsets).lit(),
                col(spec.timestamp)
                    .cast(DataType::Datetime(TimeUnit::Microseconds, None))
                    .cast(DataType::Int64)
                    .alias(TIME),
            ])
            // An event without a time is in no window.
            .filter(col(TIME).is_not_null())
            .collect()
            .ctx(ctx)?;
        let newest = frame
            .clone()
            .lazy()
            .group_by([col(PARTITION)])
            .agg([col(TIME).max()])
            .collect()
            .ctx(ctx)?;
        let ps = newest.column(PARTITION).ctx(ctx)?.i32().ctx(ctx)?.clone();
        let ts = newest.column(TIME).ctx(ctx)?.i64().ctx(ctx)?.clone();
        for (p, t) in ps.iter().zip(ts.iter()) {
            if let (Some(p), Some(t)) = (p, t) {
                let max = self.max_time.entry(p).or_insert(t);
                *max = (*max).max(t);
            }
        }
        let earliest = frame.column(TIME).ctx(ctx)?.i64().ctx(ctx)?.min();
        self.first = match (self.first, earliest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(closed) = self.closed else {
            self.pieces.push(frame);
            return Ok(Vec::new());
        };
        let (keep, late) = if replay {
            (col(TIME).gt_eq(lit(closed - self.span)), None)
        } else {
            (
                col(TIME).gt_eq(lit(closed)),
                Some(col(TIME).lt(lit(closed))),
            )
        };
        let mut out = Vec::new();
        if let Some(late) = late {
            let late_rows = frame
                .clone()
                .lazy()
                .filter(late)
                .select([col(OFFSET), col(PARTITION), col(TIME)])
                .collect()
                .ctx(ctx)?;
            let by_place: BTreeMap<(i32, i64), &Message> = messages
                .iter()
                .map(|m| ((m.partition, m.offset), m))
                .collect();
            let offs = late_rows.column(OFFSET).ctx(ctx)?.i64().ctx(ctx)?.clone();
            let parts = late_rows
                .column(PARTITION)
                .ctx(ctx)?
                .i32()
                .ctx(ctx)?
                .clone();
            let ts = late_rows.column(TIME).ctx(ctx)?.i64().ctx(ctx)?.clone();
            for ((o, p), t) in offs.iter().zip(parts.iter()).zip(ts.iter()) {
                let (Some(o), Some(p), Some(t)) = (o, p, t) else {
                    continue;
                };
                if let Some(m) = by_place.get(&(p, o)) {
                    out.push((
                        *m,
                        format!(
                            "late event: `{}` is {}, before {}, the last slide boundary closed \
                             (allowed lateness {}s)",
                            spec.timestamp,
                            show(t),
                            show(closed),
                            self.lateness / 1_000_000
                        ),
                    ));
                }
            }
        }
        let frame = frame.lazy().filter(keep).collect().ctx(ctx)?;
        self.pieces.push(frame);
        Ok(out)
    }

    /// The most events the state has kept between micro-batches (after
    /// pruning; a micro-batch is held whole while it is added), and their
    /// bytes then.
    pub(super) fn peak(&self) -> (usize, usize) {
        self.peak
    }

    /// The partitions read to their end (at EOF): they hold no watermark back.
    pub(super) fn set_caught_up(&mut self, caught_up: &BTreeSet<i32>) {
        self.caught_up.clone_from(caught_up);
    }

    /// The newest event time every partition still being read has reached:
    /// events arrive in order per partition (up to the lateness), not
    /// across partitions, so the slowest partition sets the pace. A
    /// partition read to its end holds nothing back.
    /// A partition not read yet holds the watermark back until it has an
    /// event or is found empty.
    fn newest(&self) -> Option<i64> {
        let mut behind: Option<i64> = None;
        for p in &self.partitions {
            if self.caught_up.contains(p) {
                continue;
            }
            let t = *self.max_time.get(p)?;
            behind = Some(behind.map_or(t, |b| b.min(t)));
        }
        behind.or_else(|| self.max_time.values().copied().max())
    }

    /// Closes the slide boundaries the watermark passed: the rows dated
    /// after the last closed boundary up to the new one, and the as-of of
    /// their write.
    pub(super) fn close(&mut self, spec: &FeatureSetSpec) -> Result<Option<Closed>> {
        let Some(max) = self.newest() else {
            return Ok(None);
        };
        let boundary = (max - self.lateness).div_euclid(self.slide) * self.slide;
        if let Some((_, last_row, _)) = self.end {
            if boundary > last_row {
                return self.close_end(spec);
            }
        }
        if self.closed.is_some_and(|c| boundary <= c) {
            return Ok(None);
        }
        let day = crate::time::day_to_date(boundary.div_euclid(DAY_US));
        // Only the rows after the last closed boundary are new: the kernel
        // starts its rows on that boundary's day (still reading the
        // buffered events before it), and its first row of each key, a
        // snapshot dated that day, is at or before the boundary.
        let from = self
            .closed
            .map(|c| crate::time::day_to_date(c.div_euclid(DAY_US)));
        let rows = self.compute(spec, from, boundary, day)?;
        let rows = match rows {
            Some(rows) => Some(Closed {
                rows: super::rows_between(rows, self.closed, Some(boundary))?,
                as_of: boundary + self.slide,
                first_rows: None,
            }),
            None => None,
        };
        self.closed = Some(boundary);
        self.prune()?;
        Ok(rows)
    }

    /// Closes every slide up to the end date: the rows after the last
    /// closed boundary, as the batch run with that end date has them.
    ///
    /// A key whose events up to the end date all fall in its last, partial
    /// slide (after the end date's last row) changes no row up to the end
    /// date; in the batch run it still has its first row, every window
    /// empty, dated where the rows of all the events start. That row is
    /// dated at or before the last closed boundary, so it is not among the
    /// rows after it: it comes apart, as [`Closed::first_rows`], for the keys
    /// the online store does not have yet (a key with a row there had
    /// earlier events, whose rows the stream wrote when they closed).
    pub(super) fn close_end(&mut self, spec: &FeatureSetSpec) -> Result<Option<Closed>> {
        let Some((day, last_row, end)) = self.end else {
            return Ok(None);
        };
        if self.ended || self.closed.is_some_and(|c| c >= last_row) {
            self.ended = true;
            return Ok(None);
        }
        // From the buffer's start: `first_rows` reads its first rows.
        let rows = self.compute(spec, None, end, day)?;
        let rows = match rows {
            Some(rows) => {
                let first_rows = match self.closed {
                    Some(closed) => self.first_rows(spec, &rows, closed, last_row, end)?,
                    // Nothing closed yet: every row of the run is here.
                    None => None,
                };
                Some(Closed {
                    rows: super::rows_between(rows, self.closed, None)?,
                    as_of: end,
                    first_rows,
                })
            }
            None => None,
        };
        self.closed = Some(last_row);
        self.ended = true;
        Ok(rows)
    }

    /// The first rows (see [`close_end`](Self::close_end)) of the keys whose
    /// buffered events before `end` are all at or after `last_row`, dated
    /// where the batch run starts its rows: the slide of the earliest event
    /// read, at most `last_row`. `rows` are the kernel's rows of the buffered
    /// events, which start at the buffer's first slide, every window of
    /// such a key empty there: the same values, another date.
    fn first_rows(
        &self,
        spec: &FeatureSetSpec,
        rows: &DataFrame,
        closed: i64,
        last_row: i64,
        end: i64,
    ) -> Result<Option<DataFrame>> {
        let (Some(first), Some(all)) = (self.first, self.pieces.first()) else {
            return Ok(None);
        };
        let ctx = || format!("the first rows of the new keys of `{}`", spec.name);
        let keys: Vec<Expr> = spec.key_names().map(col).collect();
        let new_keys = all
            .clone()
            .lazy()
            .filter(col(TIME).lt(lit(end)))
            .group_by(keys.clone())
            .agg([col(TIME).min().alias(TIME)])
            .filter(col(TIME).gt_eq(lit(last_row)))
            .select(keys.clone());
        let start = (first.div_euclid(self.slide) * self.slide).min(last_row);
        let dated = rows
            .clone()
            .lazy()
            .filter(
                col(TIMESTAMP_COLUMN)
                    .cast(DataType::Int64)
                    .lt_eq(lit(closed)),
            )
            .join(
                new_keys,
                keys.clone(),
                keys,
                // The new keys are unique (grouped): an inner join only filters.
                JoinArgs::new(JoinType::Inner),
            )
            .with_column(
                lit(start)
                    .cast(rows.column(TIMESTAMP_COLUMN).ctx(ctx)?.dtype().clone())
                    .alias(TIMESTAMP_COLUMN),
            )
            .collect()
            .ctx(ctx)?;
        Ok((dated.height() > 0).then_some(dated))
    }

    /// The batch kernel's rows from `from` (else the buffer's first slide)
    /// up to `day`, over the buffered events dated before `before`; `None`
    /// without such events.
    fn compute(
        &mut self,
        spec: &FeatureSetSpec,
        from: Option<NaiveDate>,
        before: i64,
        day: NaiveDate,
    ) -> Result<Option<DataFrame>> {
        self.merge()?;
        let Some(all) = self.pieces.first() else {
            return Ok(None);
        };
        let events = all
            .clone()
            .lazy()
            .filter(col(TIME).lt(lit(before)))
            .drop(cols([PARTITION, OFFSET, TIME]));
        let events = events
            .collect()
            .ctx(|| format!("the buffered events of `{}`", spec.name))?;
        if events.height() == 0 {
            return Ok(None);
        }
        let range = DateRange {
            start: from.filter(|f| *f <= day),
            end: Some(day),
        };
        Ok(Some(transform::compute(spec, events.lazy(), range)?.frame))
    }

    /// Drops the events no row after the last closed boundary depends on.
    fn prune(&mut self) -> Result<()> {
        let Some(closed) = self.closed else {
            return Ok(());
        };
        self.merge()?;
        if let Some(all) = self.pieces.pop() {
            let kept = all
                .lazy()
                .filter(col(TIME).gt_eq(lit(closed - self.span)))
                .collect()
                .ctx(|| "pruning the window state".into())?;
            let events = kept.height();
            if events > self.peak.0 {
                // polars' own account of the buffers: the state as held.
                self.peak = (events, kept.estimated_size());
            }
            self.pieces.push(kept);
        }
        Ok(())
    }

    /// The buffered pieces as one frame.
    fn merge(&mut self) -> Result<()> {
        if self.pieces.len() > 1 {
            let frames: Vec<LazyFrame> = self.pieces.drain(..).map(IntoLazy::lazy).collect();
            let all = concat(frames, UnionArgs::default())
                .and_then(LazyFrame::collect)
                .map_err(|e| Error::Invalid(format!("merging the window state: {e}")))?;
            self.pieces.push(all);
        }
        Ok(())
    }

    /// The first buffered offset of each partition.
    pub(super) fn first_offsets(&mut self) -> Result<BTreeMap<i32, i64>> {
        self.merge()?;
        let mut out = BTreeMap::new();
        let Some(all) = self.pieces.first() else {
            return Ok(out);
        };
        let firsts = all
            .clone()
            .lazy()
            .group_by([col(PARTITION)])
            .agg([col(OFFSET).min()])
            .collect()
            .ctx(|| "the first buffered offsets".into())?;
        let ps = firsts
            .column(PARTITION)
            .ctx(|| "partitions".into())?
            .i32()
            .ctx(|| "partitions".into())?
            .clone();
        let os = firsts
            .column(OFFSET)
            .ctx(|| "offsets".into())?
            .i64()
            .ctx(|| "offsets".into())?
            .clone();
        for (p, o) in ps.iter().zip(os.iter()) {
            if let (Some(p), Some(o)) = (p, o) {
                out.insert(p, o);
            }
        }
        Ok(out)
    }
}

/// A time in microseconds, for messages.
fn show(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map_or_else(|| micros.to_string(), |t| t.naive_utc().to_string())
}
