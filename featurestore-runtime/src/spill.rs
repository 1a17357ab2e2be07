//! Spill files: rows a run sets down on the local disk between two of its
//! stages and reads back itself, once (a source split by key, a part's rows
//! by day, a part's latest rows).
//!
//! They are Arrow IPC files without compression: the columns' buffers as
//! they are in memory, in batches that can be read one at a time. Parquet,
//! which the stores publish, encodes every value, estimates every text
//! column's distinct values, gathers statistics and decodes it all again
//! on the way back; for a file read once by the process that wrote it,
//! none of that pays (a 100M-event run writes and reads every event and
//! every row through spill files).

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::io::ipc::BatchedWriter;
use polars::prelude::*;
use polars_arrow::io::ipc::read::{read_file_metadata, FileMetadata, FileReader};
use polars_arrow::io::ipc::write::default_ipc_fields;

use crate::error::{Error, PolarsContext, Result};

/// A spill file written in batches.
pub(crate) struct Writer {
    writer: BatchedWriter<File>,
    path: PathBuf,
    /// Batches written so far.
    batches: usize,
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
            batches: 0,
        })
    }

    /// Appends `rows` (any chunks: they are aligned first), as one batch
    /// per chunk; returns the batches' numbers in the file.
    pub(crate) fn write(&mut self, rows: &DataFrame) -> Result<std::ops::Range<usize>> {
        let mut aligned;
        let rows = if rows.should_rechunk() {
            aligned = rows.clone();
            aligned.align_chunks();
            &aligned
        } else {
            rows
        };
        self.writer
            .write_batch(rows)
            .ctx(|| format!("writing the spill file {}", self.path.display()))?;
        let first = self.batches;
        self.batches += rows.first_col_n_chunks();
        Ok(first..self.batches)
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

/// A finished spill file whose batches are read one at a time.
#[derive(Debug)]
pub(crate) struct Batches {
    path: PathBuf,
    /// Where each batch is (the file's footer, read once).
    footer: FileMetadata,
}

impl Batches {
    /// The spill file at `path`, which must hold `batches` batches.
    pub(crate) fn open(path: &Path, batches: usize) -> Result<Self> {
        let mut file = open(path)?;
        let footer = read_file_metadata(&mut file)
            .ctx(|| format!("reading the spill file {}", path.display()))?;
        if footer.blocks.len() != batches {
            return Err(Error::Invalid(format!(
                "the spill file {} holds {} batches, not the {batches} written",
                path.display(),
                footer.blocks.len()
            )));
        }
        Ok(Batches {
            path: path.to_path_buf(),
            footer,
        })
    }

    /// The rows of batch `index`.
    pub(crate) fn read(&self, index: usize) -> Result<DataFrame> {
        let context = || {
            format!(
                "reading batch {index} of the spill file {}",
                self.path.display()
            )
        };
        let mut reader = FileReader::new(open(&self.path)?, self.footer.clone(), None, None);
        reader.set_current_block(index);
        match reader.next() {
            Some(batch) => Ok(DataFrame::from(batch.ctx(context)?)),
            None => Err(Error::Invalid(format!("{}: no such batch", context()))),
        }
    }
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::Io {
        context: format!("opening the spill file {}", path.display()),
        source: e,
    })
}

/// The rows of the spill file at `path`, in the batches they were written
/// in (one chunk each).
pub(crate) fn read(path: &Path) -> Result<DataFrame> {
    read_columns(path, None)
}

/// [`read`], only `columns` when given (only their buffers are read).
pub(crate) fn read_columns(path: &Path, columns: Option<&[PlSmallStr]>) -> Result<DataFrame> {
    IpcReader::new(open(path)?)
        .set_rechunk(false)
        .with_columns(columns.map(|c| c.iter().map(|n| n.to_string()).collect()))
        .finish()
        .ctx(|| format!("reading the spill file {}", path.display()))
}
