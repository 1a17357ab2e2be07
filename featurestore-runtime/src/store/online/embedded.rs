//! `redb://PATH`: the default online store, embedded in one local file.
//!
//! redb is a pure-Rust, crash-safe B-tree store: no C library and no server.
//! Each feature set is one table keyed by the encoded key columns; a run's
//! upsert is one write transaction, so it is applied entirely or not at all.
//! The columns each table was written with are recorded, so a row is never
//! read back under a different declaration.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{newer_or_equal, OnlineStore, OnlineWrite, Record, Value};
use crate::error::{Error, Result};
use crate::spec::FeatureSetSpec;

const SCHEMAS: TableDefinition<&str, &[u8]> = TableDefinition::new("featurestore_schemas");

#[derive(Serialize, Deserialize)]
struct Stored {
    timestamp: i64,
    values: Vec<Value>,
}

/// A read transaction and a table opened in it.
type Snapshot = (redb::ReadTransaction, ByteTable);
type ByteTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

/// The embedded online store.
#[derive(Debug)]
pub struct EmbeddedStore {
    db: Database,
    path: PathBuf,
}

fn table_name(spec: &FeatureSetSpec) -> String {
    format!("feature_set:{}", spec.name)
}

fn columns_of(spec: &FeatureSetSpec) -> Vec<String> {
    spec.column_names()
        .into_iter()
        .map(str::to_string)
        .collect()
}

impl EmbeddedStore {
    /// Opens (or creates) the store file at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Io {
                context: format!("creating {}", dir.display()),
                source: e,
            })?;
        }
        let db = Database::create(path).map_err(|e| Error::Online {
            location: path.display().to_string(),
            message: match e {
                redb::DatabaseError::DatabaseAlreadyOpen => "the store file is open in another \
                    process (another run?); wait for it to end, or point `--online-url` elsewhere"
                    .to_string(),
                e => format!("cannot open: {e}"),
            },
        })?;
        Ok(EmbeddedStore {
            db,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::Online {
            location: self.path.display().to_string(),
            message: e.to_string(),
        }
    }

    fn encode<T: Serialize + ?Sized>(&self, v: &T) -> Result<Vec<u8>> {
        postcard::to_stdvec(v).map_err(|e| self.err(format!("cannot encode: {e}")))
    }

    /// A read snapshot of a feature set's table; `None` if it was never written.
    fn read_table(&self, spec: &FeatureSetSpec) -> Result<Option<Snapshot>> {
        let name = table_name(spec);
        let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = match txn.open_table(def) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.err(e)),
        };
        Ok(Some((txn, table)))
    }

    fn lookup(&self, table: &ByteTable, key: &[Value]) -> Result<Option<Record>> {
        let k = self.encode(key)?;
        let Some(v) = table.get(k.as_slice()).map_err(|e| self.err(e))? else {
            return Ok(None);
        };
        let s: Stored = postcard::from_bytes(v.value()).map_err(|e| self.err(e))?;
        Ok(Some(Record {
            key: key.to_vec(),
            timestamp: s.timestamp,
            values: s.values,
        }))
    }

    fn check_schema(&self, spec: &FeatureSetSpec, stored: Option<&[u8]>) -> Result<()> {
        let Some(bytes) = stored else { return Ok(()) };
        let stored: Vec<String> = postcard::from_bytes(bytes).map_err(|e| self.err(e))?;
        let declared = columns_of(spec);
        if stored != declared {
            return Err(self.err(format!(
                "table `{}` was written with columns [{}] but the feature set now declares [{}]; \
                 delete the store file or point `--online-url` elsewhere to rebuild it",
                spec.name,
                stored.join(", "),
                declared.join(", ")
            )));
        }
        Ok(())
    }
}

impl OnlineStore for EmbeddedStore {
    fn write_latest(&self, spec: &FeatureSetSpec, records: &[Record]) -> Result<OnlineWrite> {
        let name = table_name(spec);
        let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        let mut out = OnlineWrite::default();
        {
            let mut schemas = txn.open_table(SCHEMAS).map_err(|e| self.err(e))?;
            let stored = schemas
                .get(spec.name)
                .map_err(|e| self.err(e))?
                .map(|v| v.value().to_vec());
            self.check_schema(spec, stored.as_deref())?;
            if stored.is_none() {
                let cols = self.encode(&columns_of(spec))?;
                schemas
                    .insert(spec.name, cols.as_slice())
                    .map_err(|e| self.err(e))?;
            }
            let mut table = txn.open_table(def).map_err(|e| self.err(e))?;
            for r in records {
                let key = self.encode(&r.key)?;
                let current = match table.get(key.as_slice()).map_err(|e| self.err(e))? {
                    Some(v) => {
                        let s: Stored = postcard::from_bytes(v.value()).map_err(|e| self.err(e))?;
                        Some(s.timestamp)
                    }
                    None => None,
                };
                if newer_or_equal(current, r.timestamp) {
                    let value = self.encode(&Stored {
                        timestamp: r.timestamp,
                        values: r.values.clone(),
                    })?;
                    table
                        .insert(key.as_slice(), value.as_slice())
                        .map_err(|e| self.err(e))?;
                    out.written += 1;
                } else {
                    out.kept_newer += 1;
                }
            }
        }
        // Dropping an uncommitted transaction aborts it: an error above
        // leaves the store as it was.
        crate::fail::point(|| "online:before-commit".to_string());
        txn.commit().map_err(|e| self.err(e))?;
        crate::fail::point(|| "online:committed".to_string());
        Ok(out)
    }

    fn check(&self, spec: &FeatureSetSpec) -> Result<()> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let schemas = match txn.open_table(SCHEMAS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(self.err(e)),
        };
        let stored = schemas
            .get(spec.name)
            .map_err(|e| self.err(e))?
            .map(|v| v.value().to_vec());
        self.check_schema(spec, stored.as_deref())
    }

    fn get(&self, spec: &FeatureSetSpec, key: &[Value]) -> Result<Option<Record>> {
        match self.read_table(spec)? {
            Some((_txn, table)) => self.lookup(&table, key),
            None => Ok(None),
        }
    }

    fn get_many(&self, spec: &FeatureSetSpec, keys: &[Vec<Value>]) -> Result<Vec<Option<Record>>> {
        // One read transaction for the batch: one snapshot, one table open.
        match self.read_table(spec)? {
            Some((_txn, table)) => keys.iter().map(|key| self.lookup(&table, key)).collect(),
            None => Ok(vec![None; keys.len()]),
        }
    }

    fn scan(&self, spec: &FeatureSetSpec) -> Result<Vec<Record>> {
        let name = table_name(spec);
        let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = match txn.open_table(def) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(self.err(e)),
        };
        let mut out = Vec::new();
        for item in table.iter().map_err(|e| self.err(e))? {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let key: Vec<Value> = postcard::from_bytes(k.value()).map_err(|e| self.err(e))?;
            let s: Stored = postcard::from_bytes(v.value()).map_err(|e| self.err(e))?;
            out.push(Record {
                key,
                timestamp: s.timestamp,
                values: s.values,
            });
        }
        Ok(out)
    }
}
