//! A run's rows spilled to local files by day, part after part, for a run
//! split by key: no part holds every day's rows of every key, so each day's
//! file is assembled from the parts once all are computed.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;

use super::partition::split_by_day;
use crate::error::{Error, PolarsContext, Result};
use crate::spec::FeatureSetSpec;
use crate::spill;

/// A run's rows, spilled by day under a local directory: one file per
/// part, one batch per day in it. (A file per day and part was thousands
/// of files for a run of many parts, and creating files cost more than
/// writing them: ext4 looks for a free inode past the ones freed a moment
/// before, 12% of a 10M-event run's CPU split in 6 parts.)
#[derive(Debug)]
pub struct DaySpill {
    dir: PathBuf,
    /// The parts' files.
    files: Vec<spill::Batches>,
    /// The batches of each day: in which file, which ones.
    pub(super) parts: BTreeMap<NaiveDate, Vec<(usize, Range<usize>)>>,
    /// Rows spilled.
    pub(super) rows: usize,
}

impl DaySpill {
    /// An empty spill under `dir` (created).
    pub fn new(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            context: format!("creating the spill directory {}", dir.display()),
            source: e,
        })?;
        Ok(DaySpill {
            dir: dir.to_path_buf(),
            files: Vec::new(),
            parts: BTreeMap::new(),
            rows: 0,
        })
    }

    /// Rows spilled.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The first and last day with rows.
    pub fn days(&self) -> Option<(NaiveDate, NaiveDate)> {
        Some((
            *self.parts.first_key_value()?.0,
            *self.parts.last_key_value()?.0,
        ))
    }

    /// Spills the rows of one part (keys, `timestamp`, outputs), by day.
    pub fn add(&mut self, frame: &DataFrame) -> Result<()> {
        use rayon::prelude::*;
        let split = split_by_day(frame)?;
        if split.days().is_empty() {
            return Ok(());
        }
        let n = self.files.len();
        let path = self.dir.join(format!("part-{n:05}.arrow"));
        let mut writer = spill::Writer::create(&path, frame.schema())?;
        let mut batches = Vec::with_capacity(split.days().len());
        // A few days gathered on every core, then written in order: the
        // gathers are the work, and a few days' rows are a small part of
        // the part's.
        for days in split.days().chunks(2 * rayon::current_num_threads()) {
            let gathered: Vec<DataFrame> = days
                .par_iter()
                .map(|&(day, _)| split.gather(frame, day))
                .collect::<Result<_>>()?;
            for (&(day, _), rows) in days.iter().zip(gathered) {
                batches.push((day, writer.write(&rows)?));
            }
        }
        writer.finish()?;
        let written = batches.last().map_or(0, |(_, b)| b.end);
        self.files.push(spill::Batches::open(&path, written)?);
        for (day, batch) in batches {
            self.parts.entry(day).or_default().push((n, batch));
        }
        self.rows += frame.height();
        Ok(())
    }

    /// Every row of `day`, sorted by key and time.
    pub(super) fn day(&self, spec: &FeatureSetSpec, day: NaiveDate) -> Result<DataFrame> {
        let mut frame: Option<DataFrame> = None;
        for (file, batches) in self.parts.get(&day).into_iter().flatten() {
            for batch in batches.clone() {
                let part = self.files[*file].read(batch)?;
                frame = Some(match frame {
                    None => part,
                    Some(mut f) => {
                        f.vstack_mut_owned(part).ctx(|| "assembling a day".into())?;
                        f
                    }
                });
            }
        }
        let Some(mut frame) = frame else {
            return Err(Error::Invalid(format!("no spilled rows for {day}")));
        };
        // The parts' chunks in one: the sort gathers every row, and a
        // gather of text across chunks copies each value.
        frame.rechunk_mut();
        // A key's rows are all in one part, in time order: a stable sort
        // by key gives the order a run in memory writes, without comparing
        // times.
        let by: Vec<&str> = spec.key_names().collect();
        frame
            .sort(
                by,
                SortMultipleOptions::default()
                    .with_multithreaded(false)
                    .with_maintain_order(true),
            )
            .ctx(|| format!("sorting the rows of {day}"))
    }
}
