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
    let (file, out) = SourceFile::copy(location)?;
    // A write per message would be a system call per message.
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    let io = |source| Error::Io {
        context: format!("writing the messages of {location} to a temporary file"),
        source,
    };
    let mut removed = Vec::new();
    let mut line = Vec::new();
    // Without metadata columns to add, a value that is one JSON object on
    // one line is written as it came: only checked, not rebuilt.
    let as_sent = !spec
        .columns
        .iter()
        .any(|c| super::METADATA.contains(&c.name));
    for (i, m) in messages.iter().enumerate() {
        if as_sent {
            if let Some(payload) = m.payload.as_deref().filter(|p| one_line_object(p)) {
                out.write_all(payload).map_err(io)?;
                out.write_all(b"\n").map_err(io)?;
                continue;
            }
        }
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
    let (frame, bad) = read_typed(spec, &format, &file, &file, &removed, policy, None)?;
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

/// Whether `payload` is one JSON object with no line break and no field
/// named twice: valid as an NDJSON line as it is. A value that is not
/// (pretty-printed, not an object, not JSON, a field repeated) goes through
/// [`object_of`], which rebuilds it or says what is wrong.
fn one_line_object(payload: &[u8]) -> bool {
    payload.trim_ascii_start().first() == Some(&b'{')
        && !payload.iter().any(|&b| b == b'\n' || b == b'\r')
        // The syntax of the whole value, without building it; the fields
        // are typed by the NDJSON reader, as those of an object rebuilt.
        && matches!(repeated_field(payload), Ok(None))
}

/// The first top-level field of the JSON object `payload` that is named
/// more than once. Such a value is a bad row: readers disagree on which of
/// its values counts (the NDJSON reader takes the first, a map the last).
fn repeated_field(payload: &[u8]) -> serde_json::Result<Option<String>> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    use std::borrow::Cow;

    /// A field name, borrowed from the payload unless it has escapes.
    struct Name<'de>(Cow<'de, str>);
    impl<'de> serde::Deserialize<'de> for Name<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct Text;
            impl<'de> Visitor<'de> for Text {
                type Value = Name<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a field name")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Name<'de>, E> {
                    Ok(Name(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> std::result::Result<Name<'de>, E> {
                    Ok(Name(Cow::Owned(v.to_string())))
                }
            }
            d.deserialize_str(Text)
        }
    }
    struct Object;
    impl<'de> Visitor<'de> for Object {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Option<String>, A::Error> {
            // Events have a handful of fields: a list beats a hash set.
            let mut seen: Vec<Name<'de>> = Vec::new();
            let mut repeated = None;
            while let Some(name) = map.next_key::<Name<'de>>()? {
                map.next_value::<IgnoredAny>()?;
                if repeated.is_none() && seen.iter().any(|s| s.0 == name.0) {
                    repeated = Some(name.0.into_owned());
                } else {
                    seen.push(name);
                }
            }
            Ok(repeated)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(payload);
    let repeated = de.deserialize_map(Object)?;
    de.end()?;
    Ok(repeated)
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
    if let Ok(Some(name)) = repeated_field(payload) {
        return Err(format!(
            "the message value names the field `{}` more than once",
            shorten(&name)
        ));
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{ColumnSpec, Preprocessing, SourceKind};

    const COLUMNS: [ColumnSpec; 2] = [
        ColumnSpec {
            name: "name",
            dtype: Dt::String,
            nullable: true,
            description: "",
        },
        ColumnSpec {
            name: "n",
            dtype: Dt::Int64,
            nullable: true,
            description: "",
        },
    ];

    fn spec(columns: &'static [ColumnSpec]) -> SourceSpec {
        SourceSpec {
            name: "events",
            description: "",
            kind: SourceKind::File {
                path: "kafka://127.0.0.1:9092/events",
                format: Format::NdJson,
            },
            columns,
            on_bad_rows: OnBadRows::Skip,
            time_columns: &[],
            derived: &[],
            preprocess: Preprocessing {
                read: &[],
                steps: &[],
            },
        }
    }

    fn messages(values: &[&str]) -> Vec<Message> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Message {
                partition: 0,
                offset: i as i64,
                key: None,
                timestamp_ms: None,
                payload: Some(v.as_bytes().to_vec()),
            })
            .collect()
    }

    /// Values written as sent and values rebuilt read alike: a
    /// pretty-printed object is one row, and what is not an object, or
    /// names a field twice, is a bad row named by its offset.
    #[test]
    fn objects_as_sent_and_rebuilt_decode_alike() {
        let values = [
            r#"{"name":"a","n":1}"#,
            r#"  {"name":"b","n":2}"#,
            "{\n  \"name\": \"d\",\n  \"n\": 3\n}",
            r#"{"n":4,"other":[1,{"x":null}]}"#,
            "[1]",
            "{not json}",
            r#"{"name":"e","n":"five"}"#,
            r#"{"name":"f","n":6,"name":"g"}"#,
            "{\n\"name\":\"h\",\n\"na\\u006de\":\"i\"}",
        ];
        let decoded = decode(
            &spec(&COLUMNS),
            "kafka://127.0.0.1:9092/events",
            &messages(&values),
            OnBadRows::Skip,
        )
        .unwrap();
        let frame = decoded.frame.unwrap();
        let names: Vec<Option<&str>> = frame
            .column("name")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        let ns: Vec<Option<i64>> = frame.column("n").unwrap().i64().unwrap().iter().collect();
        assert_eq!(names, [Some("a"), Some("b"), Some("d"), None]);
        assert_eq!(ns, [Some(1), Some(2), Some(3), Some(4)]);
        assert_eq!(decoded.kept, [0, 1, 2, 3]);
        let bad: Vec<(usize, &str)> = decoded
            .bad
            .iter()
            .map(|b| (b.record, b.place.as_str()))
            .collect();
        assert_eq!(
            bad,
            [
                (4, "partition 0, offset 4"),
                (5, "partition 0, offset 5"),
                (6, "partition 0, offset 6"),
                (7, "partition 0, offset 7"),
                (8, "partition 0, offset 8"),
            ]
        );
        assert!(
            decoded.bad[0].reason.contains("not an object"),
            "{:?}",
            decoded.bad[0]
        );
        assert!(
            decoded.bad[1].reason.contains("not JSON"),
            "{:?}",
            decoded.bad[1]
        );
        assert_eq!(decoded.bad[2].raw, r#"{"name":"e","n":"five"}"#);
        // Repeated, on one line or pretty-printed, escaped or not.
        for b in &decoded.bad[3..] {
            assert!(b.reason.contains("field `name` more than once"), "{b:?}");
        }
    }
}
