//! `memory://`: rows in a map of this process, for debugging and tests.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use super::{changed_declaration, OnlineStore, OnlineWrite, Record, RunWrite, Value, WriteOrder};
use crate::error::{Error, Result};
use crate::spec::FeatureSetSpec;

const STORE: &str = "online store (memory)";
const LOCATION: &str = "memory://";

/// An online store held in memory; lost when the process ends.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<HashMap<&'static str, Table>>,
}

/// A feature set's rows with the order of the run that wrote each, and the
/// columns they were written with.
#[derive(Debug)]
struct Table {
    columns: Vec<&'static str>,
    rows: HashMap<Vec<u8>, (Record, WriteOrder)>,
}

fn key_bytes(key: &[Value]) -> Result<Vec<u8>> {
    postcard::to_stdvec(key).map_err(|e| Error::store(STORE, LOCATION, "encoding a key", e))
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, HashMap<&'static str, Table>> {
        // A panic while holding the lock cannot leave a table half-updated
        // (each write checks and encodes everything first), so the data is
        // still sound.
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check_table(spec: &FeatureSetSpec, table: Option<&Table>) -> Result<()> {
        match table {
            Some(t) if t.columns != spec.column_names() => Err(changed_declaration(
                STORE,
                LOCATION.to_string(),
                spec,
                &t.columns,
                "the rows of this process are kept under the declaration they were written with",
            )),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl OnlineStore for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn location(&self) -> String {
        LOCATION.to_string()
    }

    async fn check(&self, spec: &FeatureSetSpec) -> Result<()> {
        Self::check_table(spec, self.lock().get(spec.name))
    }

    async fn write_latest(
        &self,
        spec: &FeatureSetSpec,
        records: &[Record],
        run: RunWrite,
    ) -> Result<OnlineWrite> {
        let encoded: Vec<Vec<u8>> = records
            .iter()
            .map(|r| key_bytes(&r.key))
            .collect::<Result<_>>()?;
        let mut tables = self.lock();
        Self::check_table(spec, tables.get(spec.name))?;
        let table = tables.entry(spec.name).or_insert_with(|| Table {
            columns: spec.column_names(),
            rows: HashMap::new(),
        });
        let mut out = OnlineWrite::default();
        if run.covers_every_key {
            let offered: HashSet<&Vec<u8>> = encoded.iter().collect();
            let before = table.rows.len();
            table
                .rows
                .retain(|k, (_, stored)| offered.contains(k) || !run.order.replaces(Some(*stored)));
            out.removed = before - table.rows.len();
        }
        for (k, r) in encoded.into_iter().zip(records) {
            if run.order.replaces(table.rows.get(&k).map(|(_, o)| *o)) {
                table.rows.insert(k, (r.clone(), run.order));
                out.written += 1;
            } else {
                out.kept_newer += 1;
            }
        }
        Ok(out)
    }

    async fn get_many(
        &self,
        spec: &FeatureSetSpec,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Option<Record>>> {
        let encoded: Vec<Vec<u8>> = keys.iter().map(|k| key_bytes(k)).collect::<Result<_>>()?;
        let tables = self.lock();
        let Some(table) = tables.get(spec.name) else {
            return Ok(vec![None; keys.len()]);
        };
        let rows = encoded
            .iter()
            .map(|k| table.rows.get(k).map(|(r, _)| r.clone()))
            .collect();
        Ok(super::live_rows(spec, rows))
    }

    async fn drop_rows(&self, spec: &FeatureSetSpec) -> Result<usize> {
        Ok(self.lock().remove(spec.name).map_or(0, |t| t.rows.len()))
    }

    fn scan<'a>(&'a self, spec: &'a FeatureSetSpec) -> BoxStream<'a, Result<Record>> {
        // A copy taken under the lock: the lock is not held across the
        // stream's awaits.
        let rows: Vec<Record> = self
            .lock()
            .get(spec.name)
            .map(|t| t.rows.values().map(|(r, _)| r.clone()).collect())
            .unwrap_or_default();
        super::live_stream(spec, stream::iter(rows.into_iter().map(Ok)).boxed())
    }
}
