//! `POST /get-online-features`, with Feast's request and response JSON, so
//! Feast's HTTP clients read our stores unchanged.
//!
//! Request: `{"features": ["feature_set:column", …], "entities": {"key":
//! [v1, v2, …], …}, "full_feature_names": false}`: the entities are
//! column-major, one list per key column, all of one length.
//!
//! Response, as Feast's feature server writes its `GetOnlineFeaturesResponse`
//! protobuf: `metadata.feature_names` lists the entity key columns (in the
//! request's order) then the features (in the request's order: `column`, or
//! `feature_set__column` with `full_feature_names`); `results` has one entry
//! per name, in that order, each with one value, status and event timestamp
//! per requested entity. The entity columns echo the request, `PRESENT`, at
//! the epoch, as Feast's do. A feature's status is `NOT_FOUND` (no row for
//! the key: value null, timestamp the epoch), `OUTSIDE_MAX_AGE` (the row is
//! older than the feature set's maximum age: value null, as Feast's Java
//! server withholds stale values), `NULL_VALUE` (the row holds null) or
//! `PRESENT`; its event timestamp is the row's `timestamp`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::Json as JsonBody;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value as Json;

use super::body::parse_body;
use super::error::ApiError;
use super::json::{key_value, timestamp_json, value_json};
use super::state::Shared;
use crate::spec::FeatureSetSpec;
use crate::store::online::{Record, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    features: Option<Vec<String>>,
    entities: Entities,
    #[serde(default)]
    full_feature_names: bool,
    feature_service: Option<String>,
    #[serde(default)]
    request_context: serde_json::Map<String, Json>,
}

/// The entity columns in the order the request gives them (Feast echoes
/// them in that order); a JSON object, read entry by entry.
#[derive(Debug)]
struct Entities(Vec<(String, Vec<Json>)>);

impl<'de> Deserialize<'de> for Entities {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entities;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of key columns, each a list of values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entities, A::Error> {
                let mut out: Vec<(String, Vec<Json>)> = Vec::new();
                while let Some((name, values)) = map.next_entry::<String, Vec<Json>>()? {
                    if out.iter().any(|(n, _)| *n == name) {
                        return Err(de::Error::custom(format!("entity `{name}` is given twice")));
                    }
                    out.push((name, values));
                }
                Ok(Entities(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The maximum age of a feature set's rows, its `ttl`: a row this old or
/// older is `OUTSIDE_MAX_AGE`. Every online store already reads a row past
/// its `ttl` as missing (`NOT_FOUND`); this catches one that expired between
/// the store's read and the answer.
fn max_age(spec: &FeatureSetSpec) -> Option<Duration> {
    spec.ttl
        .map(|ttl| Duration::from_micros(u64::try_from(ttl.micros()).unwrap_or(u64::MAX)))
}

/// A feature's status for a looked-up row, at `now` (microseconds).
fn status(
    row: Option<&Record>,
    value: &Value,
    max_age: Option<Duration>,
    now: i64,
) -> &'static str {
    let Some(row) = row else {
        return "NOT_FOUND";
    };
    if let Some(age) = max_age {
        let limit = i64::try_from(age.as_micros()).unwrap_or(i64::MAX);
        // The stores' rule (`FeatureSetSpec::expired`): expired at
        // `timestamp + ttl` exactly.
        if now.saturating_sub(row.timestamp) >= limit {
            return "OUTSIDE_MAX_AGE";
        }
    }
    if *value == Value::Null {
        "NULL_VALUE"
    } else {
        "PRESENT"
    }
}

/// One entry of `results`: a column's values, statuses and times, one per
/// row. Typed rather than a `serde_json::Value` tree: a request of hundreds
/// of features would otherwise spend most of its time building maps.
#[derive(Debug, serde::Serialize)]
pub(crate) struct FeatureValues {
    values: Vec<Json>,
    statuses: Vec<&'static str>,
    event_timestamps: Vec<RowTime>,
}

/// A row's time, shared by the row's every feature: one string per row,
/// not one per feature and row.
#[derive(Debug, Clone)]
struct RowTime(std::sync::Arc<Json>);

impl serde::Serialize for RowTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// `metadata` of the response.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Metadata {
    feature_names: Vec<std::borrow::Cow<'static, str>>,
}

/// Feast's response to `POST /get-online-features`.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Response {
    metadata: Metadata,
    results: Vec<FeatureValues>,
}

/// The columns asked of one feature set.
struct Wanted<'a> {
    spec: &'a FeatureSetSpec,
    /// (index into the request's features, index into `spec.outputs`)
    columns: Vec<(usize, usize)>,
}

pub(crate) async fn get_online_features(
    State(state): State<Shared>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<JsonBody<Response>, ApiError> {
    let request: Request = parse_body(body)?;
    if request.feature_service.is_some() {
        return Err(ApiError::bad_request(
            "`feature_service`: feature services are not declared here; list the features as \
             `feature_set:column` in `features`",
        ));
    }
    if !request.request_context.is_empty() {
        return Err(ApiError::bad_request(
            "`request_context`: on-demand transformations are not supported; leave it out",
        ));
    }
    let features = request.features.unwrap_or_default();
    if features.is_empty() {
        return Err(ApiError::bad_request(
            "`features` is empty: list at least one `feature_set:column`",
        ));
    }
    let entities = request.entities.0;

    // Which columns of which feature sets, and the names they are served under.
    let mut wanted: Vec<Wanted> = Vec::new();
    let mut names: Vec<std::borrow::Cow<'static, str>> = Vec::with_capacity(features.len());
    for (i, reference) in features.iter().enumerate() {
        let Some((fs, column)) = reference.split_once(':') else {
            return Err(ApiError::bad_request(format!(
                "`features[{i}]` = {reference:?} is not a reference `feature_set:column`"
            )));
        };
        let spec = state.feature_set(fs)?;
        let Some(output) = state.output(spec.name, column) else {
            let known: Vec<&str> = spec.outputs.iter().map(|o| o.name).collect();
            return Err(ApiError::not_found(format!(
                "`features[{i}]`: feature set `{fs}` has no feature column `{column}`; its columns: {}",
                known.join(", ")
            )));
        };
        names.push(if request.full_feature_names {
            format!("{fs}__{column}").into()
        } else {
            spec.outputs[output].name.into()
        });
        match wanted.iter_mut().find(|w| w.spec.name == spec.name) {
            Some(w) => w.columns.push((i, output)),
            None => wanted.push(Wanted {
                spec,
                columns: vec![(i, output)],
            }),
        }
    }

    let mut served: std::collections::HashSet<&str> =
        std::collections::HashSet::with_capacity(entities.len() + names.len());
    served.extend(entities.iter().map(|(e, _)| e.as_str()));
    for (i, name) in names.iter().enumerate() {
        if !served.insert(name) {
            return Err(ApiError::bad_request(format!(
                "`features[{i}]`: the name `{name}` is served twice; ask for each feature once, \
                 or set `full_feature_names` to tell feature sets apart"
            )));
        }
    }
    drop(served);

    // The entity columns: all of one length, within the limit, each a key
    // of a requested feature set, and every key of those given.
    let rows = entities.first().map_or(0, |(_, v)| v.len());
    for (name, values) in &entities {
        if values.len() != rows {
            return Err(ApiError::bad_request(format!(
                "`entities`: `{name}` has {} values but `{}` has {rows}; every entity column \
                 lists one value per row",
                values.len(),
                entities[0].0
            )));
        }
        if !wanted.iter().any(|w| w.spec.key_names().any(|k| k == name)) {
            return Err(ApiError::bad_request(format!(
                "`entities`: `{name}` is no key of the requested feature sets ({})",
                keys_of(&wanted)
            )));
        }
    }
    if rows > state.limits.max_keys {
        return Err(ApiError::bad_request(format!(
            "`entities`: {rows} rows asked for; at most {} per request",
            state.limits.max_keys
        )));
    }

    let now = chrono::Utc::now().timestamp_micros();
    let mut results: Vec<Option<FeatureValues>> = (0..features.len()).map(|_| None).collect();
    let mut keys_of_set: Vec<Vec<Vec<Value>>> = Vec::with_capacity(wanted.len());
    for w in &wanted {
        let mut keys: Vec<Vec<Value>> = vec![Vec::with_capacity(w.spec.keys.len()); rows];
        for column in w.spec.keys {
            let Some((_, values)) = entities.iter().find(|(n, _)| n == column.name) else {
                return Err(ApiError::bad_request(format!(
                    "`entities`: feature set `{}` is keyed by `{}`, which the request does not give",
                    w.spec.name,
                    column.name
                )));
            };
            for (row, json) in values.iter().enumerate() {
                let at = || format!("`entities.{}[{row}]`", column.name);
                keys[row].push(key_value(column, json, &at)?);
            }
        }
        keys_of_set.push(keys);
    }
    // Feature sets of the same keys are read together: a store with one row
    // per entity key reads each key once for all of them.
    let mut found_of_set: Vec<Vec<Option<Record>>> = vec![Vec::new(); wanted.len()];
    let mut done = vec![false; wanted.len()];
    for a in 0..wanted.len() {
        if done[a] {
            continue;
        }
        let group: Vec<usize> = (a..wanted.len())
            .filter(|&b| !done[b] && wanted[b].spec.keys == wanted[a].spec.keys)
            .collect();
        let specs: Vec<FeatureSetSpec> = group.iter().map(|&b| *wanted[b].spec).collect();
        let keys = std::mem::take(&mut keys_of_set[a]);
        let rows_of_keys = state
            .with_store(|store| async move {
                let specs: Vec<&FeatureSetSpec> = specs.iter().collect();
                store.get_many_sets(&specs, &keys).await
            })
            .await?;
        for (j, &b) in group.iter().enumerate() {
            found_of_set[b] = rows_of_keys.iter().map(|r| r[j].clone()).collect();
            done[b] = true;
        }
    }
    for (w, found) in wanted.iter().zip(found_of_set) {
        state.metrics.rows(
            w.spec.name,
            found.len(),
            found.iter().filter(|r| r.is_some()).count(),
        );
        let age = max_age(w.spec);
        // Each row's time, formatted once for all its columns.
        let row_times: Vec<RowTime> = found
            .iter()
            .map(|r| {
                RowTime(std::sync::Arc::new(timestamp_json(
                    r.as_ref().map_or(0, |r| r.timestamp),
                )))
            })
            .collect();
        for &(i, output) in &w.columns {
            let mut values = Vec::with_capacity(rows);
            let mut statuses = Vec::with_capacity(rows);
            let mut times = Vec::with_capacity(rows);
            for (record, time) in found.iter().zip(&row_times) {
                let value = record
                    .as_ref()
                    .and_then(|r| r.values.get(output))
                    .unwrap_or(&Value::Null);
                let status = status(record.as_ref(), value, age, now);
                values.push(match status {
                    "PRESENT" => value_json(value),
                    _ => Json::Null,
                });
                statuses.push(status);
                times.push(time.clone());
            }
            results[i] = Some(FeatureValues {
                values,
                statuses,
                event_timestamps: times,
            });
        }
    }

    let epoch = RowTime(std::sync::Arc::new(timestamp_json(0)));
    let mut feature_names: Vec<std::borrow::Cow<'static, str>> =
        entities.iter().map(|(n, _)| n.clone().into()).collect();
    feature_names.extend(names);
    let mut out: Vec<FeatureValues> = entities
        .into_iter()
        .map(|(_, values)| FeatureValues {
            values,
            statuses: vec!["PRESENT"; rows],
            event_timestamps: vec![epoch.clone(); rows],
        })
        .collect();
    out.extend(results.into_iter().flatten());
    Ok(JsonBody(Response {
        metadata: Metadata { feature_names },
        results: out,
    }))
}

fn keys_of(wanted: &[Wanted]) -> String {
    wanted
        .iter()
        .map(|w| {
            format!(
                "`{}`: {}",
                w.spec.name,
                w.spec.key_names().collect::<Vec<_>>().join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(timestamp: i64) -> Record {
        Record {
            key: vec![Value::from("x")],
            timestamp,
            values: vec![Value::Int(1)],
        }
    }

    #[test]
    fn statuses_follow_feast() {
        let day = 86_400_000_000;
        let r = record(10 * day);
        assert_eq!(status(None, &Value::Null, None, 0), "NOT_FOUND");
        assert_eq!(status(Some(&r), &Value::Int(1), None, 100 * day), "PRESENT");
        assert_eq!(
            status(Some(&r), &Value::Null, None, 100 * day),
            "NULL_VALUE"
        );
        let week = Some(Duration::from_secs(7 * 86_400));
        assert_eq!(
            status(Some(&r), &Value::Int(1), week, 17 * day - 1),
            "PRESENT"
        );
        assert_eq!(
            status(Some(&r), &Value::Int(1), week, 17 * day),
            "OUTSIDE_MAX_AGE"
        );
        // Stale wins over null: the row is not served at all.
        assert_eq!(
            status(Some(&r), &Value::Null, week, 18 * day),
            "OUTSIDE_MAX_AGE"
        );
    }
}
