//! Kafka topics as sources: `kafka://HOST:PORT[,HOST:PORT…]/TOPIC`.
//!
//! The transport (`consumer.rs`: assigning partitions, polling, offsets) is
//! kept apart from the decoding of message values (`decode.rs`), as arroyo
//! keeps its formats apart from its connectors. A message value is one JSON
//! object; the decoded messages go through the same typed reader and the
//! same bad-row policy as an NDJSON file, so a message that does not fit the
//! declaration is a bad row named by its partition and offset.
//!
//! Message metadata is read through reserved column names: a source that
//! declares a field named [`KEY`], [`PARTITION`], [`OFFSET`] or
//! [`TIMESTAMP`] gets it from the message, not from its value.

use std::collections::BTreeMap;

use serde::Deserialize;

#[cfg(feature = "kafka")]
pub(crate) mod consumer;
#[cfg(feature = "kafka")]
pub(crate) mod decode;

/// Reserved column: the message key, as UTF-8 text (`Option<String>`).
pub const KEY: &str = "kafka_key";
/// Reserved column: the message's partition (`i32`).
pub const PARTITION: &str = "kafka_partition";
/// Reserved column: the message's offset in its partition (`i64`).
pub const OFFSET: &str = "kafka_offset";
/// Reserved column: the message's timestamp (a `NaiveDateTime` in UTC, or
/// an `i64` of milliseconds since the epoch).
pub const TIMESTAMP: &str = "kafka_timestamp";

/// The reserved metadata columns.
pub const METADATA: [&str; 4] = [KEY, PARTITION, OFFSET, TIMESTAMP];

/// The `[kafka]` section of `featurestore.toml`.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// librdkafka properties of every consumer (`security.protocol`,
    /// `sasl.mechanism`, `ssl.ca.location`, …). A value `env:VAR` is read
    /// from the environment variable `VAR` when the consumer is made, so a
    /// secret need not be written in the file.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// The consumer group of `features stream NAME` is this prefix followed
    /// by NAME [default: `featurestore.`].
    pub group_prefix: Option<String>,
    /// Consumer groups by feature set name, over the prefix.
    #[serde(default)]
    pub groups: BTreeMap<String, String>,
    /// How far behind the newest event time an event may arrive and still
    /// count (`0s`, `90s`, `30m`, `1h`, `2d`) [default: `1h`].
    pub allowed_lateness: Option<String>,
    /// The most messages a stream computes and commits at once. Each
    /// micro-batch of a feature set with rolling windows runs the kernel
    /// over the events of its longest window: a stream catching up goes
    /// faster with larger batches, while a stream keeping up cuts its
    /// batches by time (200 ms), whatever this is. Smaller batches commit
    /// more often and hold less in memory [default: 200000].
    pub batch_messages: Option<usize>,
}

// Option values may be secrets: only their names are shown.
impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSettings")
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .field("group_prefix", &self.group_prefix)
            .field("groups", &self.groups)
            .field("allowed_lateness", &self.allowed_lateness)
            .field("batch_messages", &self.batch_messages)
            .finish()
    }
}

/// Default allowed lateness: one hour, in microseconds.
const DEFAULT_LATENESS_US: i64 = 3_600_000_000;

/// The most messages one micro-batch of a stream decodes, unless configured.
pub const DEFAULT_BATCH_MESSAGES: usize = 200_000;

/// Default prefix of stream consumer groups.
pub const DEFAULT_GROUP_PREFIX: &str = "featurestore.";

/// Options the runtime sets itself: a configured value would break the
/// guarantees of a read or a stream.
const OWN_OPTIONS: [&str; 5] = [
    "bootstrap.servers",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.partition.eof",
];

impl KafkaSettings {
    /// Checks what can be checked without a broker.
    pub fn check(&self) -> std::result::Result<(), String> {
        if let Some(own) = self
            .options
            .keys()
            .find(|k| OWN_OPTIONS.contains(&k.as_str()))
        {
            return Err(format!(
                "options.\"{own}\" is set by featurestore itself (brokers come from the \
                 kafka:// location, the group from `group_prefix`/`groups`); remove it"
            ));
        }
        if self.batch_messages == Some(0) {
            return Err("batch_messages = 0: a batch holds at least one message".to_string());
        }
        self.lateness_us().map(|_| ())
    }

    /// The allowed lateness, in microseconds.
    pub fn lateness_us(&self) -> std::result::Result<i64, String> {
        match &self.allowed_lateness {
            None => Ok(DEFAULT_LATENESS_US),
            Some(text) => parse_duration_us(text)
                .ok_or_else(|| format!("allowed_lateness = \"{text}\": expected a number and a unit s, m, h or d, e.g. \"30m\"")),
        }
    }

    /// The consumer group of `features stream` for feature set `name`.
    pub fn group(&self, name: &str) -> String {
        self.groups.get(name).cloned().unwrap_or_else(|| {
            format!(
                "{}{name}",
                self.group_prefix.as_deref().unwrap_or(DEFAULT_GROUP_PREFIX)
            )
        })
    }

    /// The options with `env:VAR` values read from the environment.
    pub fn resolved_options(&self) -> std::result::Result<Vec<(String, String)>, String> {
        self.options
            .iter()
            .map(|(k, v)| match v.strip_prefix("env:") {
                Some(var) => std::env::var(var)
                    .map(|value| (k.clone(), value))
                    .map_err(|_| {
                        format!("[kafka.options] \"{k}\" names the environment variable {var}, which is not set")
                    }),
                None => Ok((k.clone(), v.clone())),
            })
            .collect()
    }
}

/// `90s`, `30m`, `1h`, `2d` in microseconds.
fn parse_duration_us(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (amount, unit) = text.split_at(unit_at);
    let amount: i64 = amount.parse().ok()?;
    let unit = match unit {
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return None,
    };
    amount.checked_mul(unit)
}

/// Reads a source from the Kafka topic at `raw`: every message from the
/// earliest offsets to the end offsets the topic has when the read starts,
/// decoded and checked as a file source's rows are.
#[cfg(feature = "kafka")]
pub(super) fn read(
    spec: &crate::spec::SourceSpec,
    raw: &str,
    locations: &super::SourceLocations,
) -> crate::error::Result<super::Extract> {
    use polars::prelude::IntoLazy;

    let location = topic(spec, raw, locations)?;
    let shown = location.to_string();
    let messages = consumer::snapshot(&location, &locations.kafka)?;
    if messages.is_empty() {
        return Err(super::source_error(
            spec,
            &shown,
            "no messages: the topic is empty; a run on it would empty every partition of its \
             range, so it is refused",
        ));
    }
    let policy = locations.policy(spec);
    let decoded = decode::decode(spec, &shown, &messages, policy)?;
    let Some(frame) = decoded.frame else {
        return Err(super::no_rows(spec, &shown, policy, &decoded.bad));
    };
    let rejected = super::rejected_rows(spec, &shown, locations, &decoded.bad)?;
    Ok(super::Extract {
        frame: super::derive::derive(spec, &shown, frame.lazy())?,
        rejected: rejected.into_iter().collect(),
    })
}

/// The topic a source is read from, refusing a file format configured for it.
#[cfg(feature = "kafka")]
pub(crate) fn topic(
    spec: &crate::spec::SourceSpec,
    raw: &str,
    locations: &super::SourceLocations,
) -> crate::error::Result<crate::location::KafkaLocation> {
    let location = crate::location::KafkaLocation::parse(raw)
        .map_err(|e| super::source_error(spec, raw, e.to_string()))?;
    match locations.formats.get(spec.name) {
        Some(format) if *format != crate::spec::Format::NdJson => Err(super::source_error(
            spec,
            &location.to_string(),
            format!(
                "the source's format is configured as {}, but Kafka message values are read \
                 as JSON objects; remove the format, or set it to ndjson",
                format.name()
            ),
        )),
        _ => Ok(location),
    }
}

/// Without the `kafka` feature, a Kafka location says which feature it needs.
#[cfg(not(feature = "kafka"))]
pub(super) fn read(
    spec: &crate::spec::SourceSpec,
    raw: &str,
    _: &super::SourceLocations,
) -> crate::error::Result<super::Extract> {
    // The location grammar names the feature to enable.
    let message = match crate::location::KafkaLocation::parse(raw) {
        Err(e) => e.to_string(),
        Ok(_) => {
            "kafka:// sources need the `kafka` cargo feature of featurestore-runtime".to_string()
        }
    };
    Err(super::source_error(spec, raw, message))
}

/// Messages of a stream decoded for a feature set.
#[cfg(feature = "kafka")]
pub(crate) struct DecodedMessages {
    /// The typed rows, with the source's derived columns; `None` when no
    /// message decoded.
    pub frame: Option<polars::prelude::DataFrame>,
    /// For each row of `frame`, the index of its message.
    pub kept: Vec<usize>,
    /// The messages left out, for [`reject_messages`].
    bad: Vec<super::bad_rows::BadRow>,
}

/// Decodes messages of a stream for a feature set. Messages read again to
/// rebuild a stream's state (`replay`) were counted the first time: their
/// bad ones are left out without a word, whatever the policy.
#[cfg(feature = "kafka")]
pub(crate) fn decode_messages(
    spec: &crate::spec::SourceSpec,
    location: &str,
    messages: &[consumer::Message],
    locations: &super::SourceLocations,
    replay: bool,
) -> crate::error::Result<DecodedMessages> {
    use polars::prelude::IntoLazy;

    let policy = if replay {
        crate::spec::OnBadRows::Skip
    } else {
        locations.policy(spec)
    };
    let decoded = decode::decode(spec, location, messages, policy)?;
    let frame = match decoded.frame {
        Some(frame) => Some(
            super::derive::derive(spec, location, frame.lazy())?
                .collect()
                .map_err(|e| {
                    super::source_error(spec, location, crate::error::polars_message(&e))
                })?,
        ),
        None => None,
    };
    Ok(DecodedMessages {
        frame,
        kept: decoded.kept,
        bad: if replay { Vec::new() } else { decoded.bad },
    })
}

/// The messages a decode left out, quarantined under `"quarantine"`: done
/// apart from decoding, once the batch is processed, so that a batch
/// decoded ahead and then not processed leaves no quarantine behind.
#[cfg(feature = "kafka")]
pub(crate) fn reject_messages(
    spec: &crate::spec::SourceSpec,
    location: &str,
    locations: &super::SourceLocations,
    decoded: &DecodedMessages,
) -> crate::error::Result<Option<super::Rejected>> {
    super::rejected_rows(spec, location, locations, &decoded.bad)
}

/// Writes events that came too late for their windows to the quarantine,
/// whatever the source's `on_bad_rows`: they are never dropped silently.
/// Returns the quarantine file.
#[cfg(feature = "kafka")]
pub(crate) fn quarantine_late(
    spec: &crate::spec::SourceSpec,
    location: &str,
    locations: &super::SourceLocations,
    late: &[(&consumer::Message, String)],
) -> crate::error::Result<String> {
    let rows: Vec<super::bad_rows::BadRow> = late
        .iter()
        .map(|(m, reason)| super::bad_rows::BadRow {
            record: 0,
            place: m.place(),
            raw: m
                .payload
                .as_deref()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default(),
            reason: reason.clone(),
        })
        .collect();
    super::quarantine::write(spec, location, locations, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_and_groups() {
        let mut s = KafkaSettings::default();
        assert_eq!(s.lateness_us(), Ok(DEFAULT_LATENESS_US));
        s.allowed_lateness = Some("90s".into());
        assert_eq!(s.lateness_us(), Ok(90_000_000));
        s.allowed_lateness = Some("2d".into());
        assert_eq!(s.lateness_us(), Ok(2 * 86_400_000_000));
        s.allowed_lateness = Some("1 hour".into());
        assert!(s.lateness_us().unwrap_err().contains("allowed_lateness"));
        assert_eq!(s.group("f"), "featurestore.f");
        s.groups.insert("f".into(), "mine".into());
        assert_eq!(s.group("f"), "mine");
        s.options.insert("group.id".into(), "x".into());
        assert!(s.check().unwrap_err().contains("group.id"));
    }

    #[test]
    fn secrets_are_not_in_debug() {
        let mut s = KafkaSettings::default();
        s.options.insert("sasl.password".into(), "hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
