//! The synchronous face of an online store, for the CLI and the batch
//! pipeline.
//!
//! Every call waits on the process's I/O runtime through
//! [`crate::io::block_on`]: from a plain thread the future is polled on the
//! calling thread (no thread hop, so an embedded lookup stays in the low
//! microseconds), and from inside an async runtime the call still works
//! instead of panicking. No store builds a runtime of its own.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use futures::TryStreamExt;

use super::{
    open_with, OnlineOptions, OnlineStore, OnlineStoreExt, OnlineWrite, OpenMode, Record, RunWrite,
    Value, ValueRows,
};
use crate::error::Result;
use crate::io::block_on;
use crate::location::OnlineLocation;
use crate::spec::{FeatureSet, FeatureSetSpec};

/// An [`OnlineStore`] with synchronous methods.
///
/// It dereferences to the async store, so `&*store` is a `&dyn
/// OnlineStore` for code that awaits; its own methods of the same names
/// block instead.
#[derive(Clone)]
pub struct BlockingOnlineStore {
    inner: Arc<dyn OnlineStore>,
}

impl fmt::Debug for BlockingOnlineStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl BlockingOnlineStore {
    /// Opens the store at `location` (see [`super::open`]).
    pub fn open(location: &OnlineLocation, mode: OpenMode) -> Result<Self> {
        Self::open_with(location, mode, &OnlineOptions::default())
    }

    /// Opens the store at `location` with the backends' `options` (see
    /// [`open_with`]).
    pub fn open_with(
        location: &OnlineLocation,
        mode: OpenMode,
        options: &OnlineOptions,
    ) -> Result<Self> {
        block_on(open_with(location, mode, options)).map(Self::from)
    }

    /// The async store.
    pub fn inner(&self) -> &Arc<dyn OnlineStore> {
        &self.inner
    }

    /// See [`OnlineStore::check`].
    pub fn check(&self, spec: &FeatureSetSpec) -> Result<()> {
        block_on(self.inner.check(spec))
    }

    /// See [`OnlineStore::write_latest`].
    pub fn write_latest(
        &self,
        spec: &FeatureSetSpec,
        records: &[Record],
        run: RunWrite,
    ) -> Result<OnlineWrite> {
        block_on(self.inner.write_latest(spec, records, run))
    }

    /// See [`OnlineStore::write_latest_rows`].
    pub fn write_latest_rows(
        &self,
        spec: &FeatureSetSpec,
        rows: ValueRows,
        run: RunWrite,
    ) -> Result<OnlineWrite> {
        block_on(self.inner.write_latest_rows(spec, rows, run))
    }

    /// See [`OnlineStore::get_many`].
    pub fn get_many(
        &self,
        spec: &FeatureSetSpec,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Option<Record>>> {
        block_on(self.inner.get_many(spec, keys))
    }

    /// See [`OnlineStoreExt::get`].
    pub fn get(&self, spec: &FeatureSetSpec, key: &[Value]) -> Result<Option<Record>> {
        block_on(self.inner.get(spec, key))
    }

    /// See [`OnlineStoreExt::get_row`].
    pub fn get_row<F: FeatureSet>(&self, key: &[Value]) -> Result<Option<F::Row>> {
        block_on(self.inner.get_row::<F>(key))
    }

    /// Every stored row of a feature set (see [`OnlineStore::scan`]),
    /// collected.
    pub fn scan(&self, spec: &FeatureSetSpec) -> Result<Vec<Record>> {
        block_on(self.inner.scan(spec).try_collect())
    }
}

impl<S: OnlineStore + 'static> From<S> for BlockingOnlineStore {
    fn from(store: S) -> Self {
        BlockingOnlineStore {
            inner: Arc::new(store),
        }
    }
}

impl From<Arc<dyn OnlineStore>> for BlockingOnlineStore {
    fn from(inner: Arc<dyn OnlineStore>) -> Self {
        BlockingOnlineStore { inner }
    }
}

impl Deref for BlockingOnlineStore {
    type Target = dyn OnlineStore;

    fn deref(&self) -> &Self::Target {
        &*self.inner
    }
}

impl AsRef<dyn OnlineStore> for BlockingOnlineStore {
    fn as_ref(&self) -> &(dyn OnlineStore + 'static) {
        &*self.inner
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::thread::ThreadId;

    use async_trait::async_trait;
    use futures::stream::{self, BoxStream, StreamExt};

    use super::*;
    use crate::store::online::tests::SPEC;

    fn row(id: &str, timestamp: i64, n: i64) -> Record {
        Record {
            key: vec![Value::from(id)],
            timestamp,
            values: vec![Value::Int(n)],
        }
    }

    /// Opens, writes, reads and scans through the blocking face.
    fn round_trip(location: &OnlineLocation, n: i64) {
        let store = BlockingOnlineStore::open(location, OpenMode::Write).unwrap();
        store.check(&SPEC).unwrap();
        let w = store
            .write_latest(
                &SPEC,
                &[row("x", n, n)],
                crate::store::online::tests::run(n),
            )
            .unwrap();
        assert_eq!(
            w,
            OnlineWrite {
                written: 1,
                kept_newer: 0,
                removed: 0,
            }
        );
        assert_eq!(
            store.get(&SPEC, &[Value::from("x")]).unwrap(),
            Some(row("x", n, n))
        );
        assert_eq!(
            store.get_many(&SPEC, &[vec![Value::from("y")]]).unwrap(),
            vec![None]
        );
        assert_eq!(store.scan(&SPEC).unwrap(), vec![row("x", n, n)]);
    }

    #[test]
    fn blocking_calls_work_inside_current_thread_and_multi_thread_runtimes() {
        let dir = tempfile::tempdir().unwrap();
        let locations = [
            OnlineLocation::Memory,
            OnlineLocation::Redb(dir.path().join("current.redb")),
            OnlineLocation::Redb(dir.path().join("multi.redb")),
        ];
        round_trip(&locations[0], 1);
        let current = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        current.block_on(async {
            round_trip(&locations[0], 2);
            round_trip(&locations[1], 3);
        });
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        multi.block_on(async {
            round_trip(&locations[0], 4);
            round_trip(&locations[2], 5);
        });
        // And from a task the multi-thread runtime spawned.
        let redb = locations[2].clone();
        multi
            .block_on(multi.spawn(async move {
                let store = BlockingOnlineStore::open(&redb, OpenMode::Read).unwrap();
                store.get(&SPEC, &[Value::from("x")]).unwrap()
            }))
            .map(|found| assert_eq!(found, Some(row("x", 5, 5))))
            .unwrap();
    }

    /// Records the thread each lookup ran on.
    #[derive(Debug, Default)]
    struct Probe(Mutex<Vec<ThreadId>>);

    #[async_trait]
    impl OnlineStore for Probe {
        fn backend(&self) -> &'static str {
            "probe"
        }

        fn location(&self) -> String {
            "probe://".to_string()
        }

        async fn check(&self, _: &FeatureSetSpec) -> Result<()> {
            Ok(())
        }

        async fn write_latest(
            &self,
            _: &FeatureSetSpec,
            _: &[Record],
            _: RunWrite,
        ) -> Result<OnlineWrite> {
            Ok(OnlineWrite::default())
        }

        async fn get_many(
            &self,
            _: &FeatureSetSpec,
            keys: &[Vec<Value>],
        ) -> Result<Vec<Option<Record>>> {
            self.0.lock().unwrap().push(std::thread::current().id());
            Ok(vec![None; keys.len()])
        }

        fn scan<'a>(&'a self, _: &'a FeatureSetSpec) -> BoxStream<'a, Result<Record>> {
            stream::empty().boxed()
        }
    }

    #[test]
    fn a_lookup_from_plain_code_runs_on_the_calling_thread() {
        let probe = Arc::new(Probe::default());
        let store = BlockingOnlineStore::from(Arc::clone(&probe) as Arc<dyn OnlineStore>);
        for _ in 0..3 {
            assert_eq!(store.get(&SPEC, &[Value::from("x")]).unwrap(), None);
        }
        let here = std::thread::current().id();
        assert_eq!(*probe.0.lock().unwrap(), vec![here; 3]);
    }

    /// A backend that answers a batch with the wrong number of rows is
    /// reported, not read as "missing".
    #[derive(Debug)]
    struct Compacting;

    #[async_trait]
    impl OnlineStore for Compacting {
        fn backend(&self) -> &'static str {
            "compacting"
        }

        fn location(&self) -> String {
            "compacting://".to_string()
        }

        async fn check(&self, _: &FeatureSetSpec) -> Result<()> {
            Ok(())
        }

        async fn write_latest(
            &self,
            _: &FeatureSetSpec,
            _: &[Record],
            _: RunWrite,
        ) -> Result<OnlineWrite> {
            Ok(OnlineWrite::default())
        }

        async fn get_many(
            &self,
            _: &FeatureSetSpec,
            _: &[Vec<Value>],
        ) -> Result<Vec<Option<Record>>> {
            Ok(Vec::new())
        }

        fn scan<'a>(&'a self, _: &'a FeatureSetSpec) -> BoxStream<'a, Result<Record>> {
            stream::empty().boxed()
        }
    }

    #[test]
    fn one_key_answered_with_no_row_is_a_broken_backend() {
        let err = BlockingOnlineStore::from(Compacting)
            .get(&SPEC, &[Value::from("x")])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "online store at compacting://: the `compacting` backend answered a lookup of 1 key \
             with 0 rows"
        );
    }
}
