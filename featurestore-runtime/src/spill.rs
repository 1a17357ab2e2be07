//! Spill files: rows a run sets down on the local disk between two of its
//! stages and reads back itself, once (a source split by key, a part's rows
//! by day, a part's latest rows).
//!
//! They are Arrow IPC files without compression: the columns' buffers as
//! they are in memory. Parquet, which the stores publish, encodes every
//! value, estimates every text column's distinct values, gathers
//! statistics and decodes it all again on the way back; for a file read
//! once by the process that wrote it, none of that pays (a 100M-event run
//! writes and reads every event and every row through spill files).

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::io::ipc::BatchedWriter;
use polars::prelude::*;
use polars_arrow::io::ipc::write::default_ipc_fields;

use crate::error::{Error, PolarsContext, Result};

/// A spill file written in batches.
pub(crate) struct Writer {
    writer: BatchedWriter<File>,
    path: PathBuf,
}

impl Writer {
    /// A new spill file at `path` for rows of `schema`.
    pub(crate) fn create(path: &Path, schema: &Schema) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::Io {
            context: format!("creating the spill file {}", path.display()),
            source: e,
        })?;
        let arrow = schema.to_arrow(CompatLevel::newest());
        let writer = IpcWriter::new(file)
            .with_compression(None)
            .batched(schema, default_ipc_fields(arrow.iter_values()))
            .ctx(|| format!("creating the spill file {}", path.display()))?;
        Ok(Writer {
            writer,
            path: path.to_path_buf(),
        })
    }

    /// Appends `rows` (any chunks: they are aligned first).
    pub(crate) fn write(&mut self, rows: &DataFrame) -> Result<()> {
        let written = if rows.should_rechunk() {
            let mut aligned = rows.clone();
            aligned.align_chunks();
            self.writer.write_batch(&aligned)
        } else {
            self.writer.write_batch(rows)
        };
        written.ctx(|| format!("writing the spill file {}", self.path.display()))
    }

    /// Writes the file's footer: it can be read from then on.
    pub(crate) fn finish(mut self) -> Result<()> {
        self.writer
            .finish()
            .ctx(|| format!("closing the spill file {}", self.path.display()))
    }
}

/// Writes `rows` to a new spill file at `path`.
pub(crate) fn write(path: &Path, rows: &DataFrame) -> Result<()> {
    let mut writer = Writer::create(path, rows.schema())?;
    writer.write(rows)?;
    writer.finish()
}

/// The rows of the spill file at `path`, in the batches they were written
/// in (one chunk each).
pub(crate) fn read(path: &Path) -> Result<DataFrame> {
    read_columns(path, None)
}

/// [`read`], only `columns` when given (only their buffers are read).
pub(crate) fn read_columns(path: &Path, columns: Option<&[PlSmallStr]>) -> Result<DataFrame> {
    let file = File::open(path).map_err(|e| Error::Io {
        context: format!("opening the spill file {}", path.display()),
        source: e,
    })?;
    IpcReader::new(file)
        .set_rechunk(false)
        .with_columns(columns.map(|c| c.iter().map(|n| n.to_string()).collect()))
        .finish()
        .ctx(|| format!("reading the spill file {}", path.display()))
}
