//! Message values to typed rows: each value one JSON object, its fields
//! read as the source declares them, through the NDJSON reader and the
//! bad-row policy every file source has.

use std::io::Write;

use polars::prelude::*;

use super::consumer::Message;
use super::{KEY, OFFSET, PARTITION, TIMESTAMP};
use crate::error::{Error, Result};
use crate::source::bad_rows::{shorten, BadRow};
use crate::source::file::{self, FileFormat, SourceFile};
use crate::source::{bad_rows_error, read_typed};
use crate::spec::{DataType as Dt, Format, OnBadRows, SourceSpec};

/// Decoded messages.
pub(crate) struct Decoded {
    /// The typed rows, in message order; `None` when no message decoded.
    pub frame: Option<DataFrame>,
    /// For each row of `frame`, the index of its message.
    pub kept: Vec<usize>,
    /// The messages left out, sorted by index, each named by its partition
    /// and offset.
    pub bad: Vec<BadRow>,
}

/// Decodes `messages` of the topic at `location` under `policy`: a value
/// that is not a JSON object, or whose fields do not fit the declaration,
/// fails the read under `"fail"` and is left out (and returned) otherwise.
pub(crate) fn decode(
    spec: &SourceSpec,
    location: &str,
    messages: &[Message],
    policy: OnBadRows,
) -> Result<Decoded> {
    let (file, mut out) = SourceFile::copy(location)?;
    let io = |source| Error::Io {
        context: format!("writing the messages of {location} to a temporary file"),
        source,
    };
    let mut removed = Vec::new();
    let mut line = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        match object_of(spec, m) {
            Ok(object) => {
                line.clear();
                serde_json::to_writer(&mut line, &object).map_err(|e| io(e.into()))?;
                line.push(b'\n');
                out.write_all(&line).map_err(io)?;
            }
            Err(reason) => removed.push(BadRow {
                record: i,
                place: m.place(),
                raw: raw_text(m),
                reason,
            }),
        }
    }
    out.flush().map_err(io)?;
    drop(out);
    if let (Some(first), OnBadRows::Fail) = (removed.first(), policy) {
        return Err(bad_rows_error(spec, location, first, removed.len()));
    }
    if removed.len() == messages.len() {
        return Ok(Decoded {
            frame: None,
            kept: Vec::new(),
            bad: removed,
        });
    }
    let format = Messages {
        places: messages.iter().map(Message::place).collect(),
    };
    let (frame, bad) = read_typed(spec, &format, &file, &file, &removed, policy)?;
    let mut all = removed;
    all.extend(bad);
    all.sort_by_key(|b| b.record);
    for b in &mut all {
        // What the quarantine file shows: the message as it was sent.
        b.raw = raw_text(&messages[b.record]);
    }
    let kept: Vec<usize> = (0..messages.len())
        .filter(|i| all.binary_search_by_key(i, |b| b.record).is_err())
        .collect();
    Ok(Decoded {
        frame: Some(frame),
        kept,
        bad: all,
    })
}

/// The message's value as text, for the quarantine file.
fn raw_text(m: &Message) -> String {
    m.payload
        .as_deref()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default()
}

/// The message's value as a JSON object, with the metadata columns the
/// source declares; or why it is not one.
fn object_of(
    spec: &SourceSpec,
    m: &Message,
) -> std::result::Result<serde_json::Map<String, serde_json::Value>, String> {
    use serde_json::Value;
    let Some(payload) = m.payload.as_deref() else {
        return Err("the message has no value (a tombstone?); expected a JSON object".to_string());
    };
    let mut object = match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(object)) => object,
        Ok(other) => {
            return Err(format!(
                "the message value is JSON but not an object: `{}`",
                shorten(&other.to_string())
            ))
        }
        Err(e) => return Err(format!("the message value is not JSON: {e}")),
    };
    for c in spec.columns {
        let value = match c.name {
            KEY => m.key.as_deref().map_or(Value::Null, |k| {
                Value::String(String::from_utf8_lossy(k).into_owned())
            }),
            PARTITION => Value::from(m.partition),
            OFFSET => Value::from(m.offset),
            TIMESTAMP => match (m.timestamp_ms, c.dtype) {
                (None, _) => Value::Null,
                (Some(ms), Dt::Timestamp) => chrono::DateTime::from_timestamp_millis(ms)
                    .map_or(Value::Null, |t| {
                        Value::String(t.naive_utc().format("%Y-%m-%d %H:%M:%S%.3f").to_string())
                    }),
                (Some(ms), _) => Value::from(ms),
            },
            _ => continue,
        };
        object.insert(c.name.to_string(), value);
    }
    Ok(object)
}

/// Messages written as NDJSON, one line each: read as NDJSON, but each
/// record named by its message's partition and offset.
struct Messages {
    places: Vec<String>,
}

impl FileFormat for Messages {
    fn format(&self) -> Format {
        Format::NdJson
    }

    fn holds(&self) -> &'static str {
        "messages"
    }

    fn scan(&self, spec: &SourceSpec, file: &SourceFile) -> Result<LazyFrame> {
        file::of(Format::NdJson).scan(spec, file)
    }

    fn scan_text(&self, spec: &SourceSpec, file: &SourceFile) -> Result<LazyFrame> {
        file::of(Format::NdJson).scan_text(spec, file)
    }

    fn places(&self, _: &SourceFile, records: &[usize]) -> Result<Vec<String>> {
        Ok(records
            .iter()
            .map(|&r| {
                self.places
                    .get(r)
                    .cloned()
                    .unwrap_or_else(|| format!("message {r}"))
            })
            .collect())
    }
}
