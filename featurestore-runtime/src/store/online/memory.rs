//! `memory://`: rows in a map of this process, for debugging and tests.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{newer_or_equal, OnlineStore, OnlineWrite, Record, Value};
use crate::error::{Error, Result};
use crate::spec::FeatureSetSpec;

/// An online store held in memory; lost when the process ends.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<HashMap<String, HashMap<Vec<u8>, Record>>>,
}

fn key_bytes(key: &[Value]) -> Result<Vec<u8>> {
    postcard::to_stdvec(key).map_err(|e| Error::Online {
        location: "memory://".to_string(),
        message: format!("cannot encode a key: {e}"),
    })
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<Vec<u8>, Record>>> {
        // A panic while holding the lock cannot leave a table half-updated
        // (each write builds its changes first), so the data is still sound.
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl OnlineStore for MemoryStore {
    fn write_latest(&self, spec: &FeatureSetSpec, records: &[Record]) -> Result<OnlineWrite> {
        let encoded: Vec<Vec<u8>> = records
            .iter()
            .map(|r| key_bytes(&r.key))
            .collect::<Result<_>>()?;
        let mut tables = self.lock();
        let table = tables.entry(spec.name.to_string()).or_default();
        let mut out = OnlineWrite::default();
        for (k, r) in encoded.into_iter().zip(records) {
            if newer_or_equal(table.get(&k).map(|s| s.timestamp), r.timestamp) {
                table.insert(k, r.clone());
                out.written += 1;
            } else {
                out.kept_newer += 1;
            }
        }
        Ok(out)
    }

    fn get(&self, spec: &FeatureSetSpec, key: &[Value]) -> Result<Option<Record>> {
        let k = key_bytes(key)?;
        Ok(self.lock().get(spec.name).and_then(|t| t.get(&k)).cloned())
    }

    fn scan(&self, spec: &FeatureSetSpec) -> Result<Vec<Record>> {
        Ok(self
            .lock()
            .get(spec.name)
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default())
    }
}
