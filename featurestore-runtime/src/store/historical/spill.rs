//! A run's rows spilled to local files by day, part after part, for a run
//! split by key: no part holds every day's rows of every key, so each day's
//! file is assembled from the parts once all are computed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;

use super::partition::split_by_day;
use crate::error::{Error, PolarsContext, Result};
use crate::spec::FeatureSetSpec;
use crate::spill;

/// A run's rows, spilled by day under a local directory.
#[derive(Debug)]
pub struct DaySpill {
    dir: PathBuf,
    /// The files of each day, one per part that has rows that day.
    pub(super) parts: BTreeMap<NaiveDate, Vec<PathBuf>>,
    /// Rows spilled.
    pub(super) rows: usize,
    /// Parts added.
    added: usize,
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
            parts: BTreeMap::new(),
            rows: 0,
            added: 0,
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
        let n = self.added;
        self.added += 1;
        let split = split_by_day(frame)?;
        let written: Vec<(NaiveDate, PathBuf)> = split
            .days()
            .par_iter()
            .map(|&(day, _)| {
                let path = self.dir.join(format!("{day}-{n:05}.arrow"));
                spill::write(&path, &split.gather(frame, day)?)?;
                Ok((day, path))
            })
            .collect::<Result<_>>()?;
        for (day, path) in written {
            self.parts.entry(day).or_default().push(path);
        }
        self.rows += frame.height();
        Ok(())
    }

    /// Every row of `day`, sorted by key and time.
    pub(super) fn day(&self, spec: &FeatureSetSpec, day: NaiveDate) -> Result<DataFrame> {
        let mut frame: Option<DataFrame> = None;
        for path in self.parts.get(&day).into_iter().flatten() {
            let part = spill::read(path)?;
            frame = Some(match frame {
                None => part,
                Some(mut f) => {
                    f.vstack_mut_owned(part).ctx(|| "assembling a day".into())?;
                    f
                }
            });
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
