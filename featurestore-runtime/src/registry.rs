//! The catalog of a feature crate: its declared feature sets, by name.

use crate::error::{Error, Result};
use crate::spec::{Dataset, FeatureSet, Source};
use crate::spec::{DatasetSpec, FeatureSetSpec, SourceKind, SourceSpec};

/// Prefix of feature-set pipeline names on the command line.
pub const FEATURE_SET_PREFIX: &str = "feature_store.";
/// Prefix of dataset pipeline names on the command line.
pub const DATASET_PREFIX: &str = "dataset.";

/// A runnable declaration, found by its pipeline name.
#[derive(Debug, Clone, Copy)]
pub enum Pipeline<'a> {
    /// `feature_store.{name}`
    FeatureSet(&'a FeatureSetSpec),
    /// `dataset.{name}`
    Dataset(&'a DatasetSpec),
}

/// The declarations a feature crate exposes to the CLI.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    feature_sets: Vec<FeatureSetSpec>,
    datasets: Vec<DatasetSpec>,
    sources: Vec<SourceSpec>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Adds a feature set (and the sources it reads).
    pub fn feature_set<F: FeatureSet>(mut self) -> Self {
        self.add_source(F::SPEC.source);
        self.feature_sets.push(F::SPEC);
        self
    }

    /// Adds a feature set whose declaration is built by code rather than by
    /// `#[feature_set]` (one generated from a schema, say), with its sources.
    pub fn feature_set_spec(mut self, spec: FeatureSetSpec) -> Self {
        self.add_source(spec.source);
        self.feature_sets.push(spec);
        self
    }

    /// Adds a dataset (its spine source; its feature sets must be added too).
    pub fn dataset<D: Dataset>(mut self) -> Self {
        self.add_source(D::SPEC.spine);
        self.datasets.push(D::SPEC);
        self
    }

    /// Declared datasets, in registration order.
    pub fn datasets(&self) -> &[DatasetSpec] {
        &self.datasets
    }

    /// Adds a source, so its location can be overridden by name.
    pub fn source<S: Source>(mut self) -> Self {
        self.add_source(&S::SPEC);
        self
    }

    fn add_source(&mut self, spec: &SourceSpec) {
        if let SourceKind::Query { inputs, .. } = spec.kind {
            for input in inputs {
                self.add_source(input);
            }
        }
        if !self.sources.iter().any(|s| s.name == spec.name) {
            self.sources.push(*spec);
        }
    }

    /// Declared feature sets, in registration order.
    pub fn feature_sets(&self) -> &[FeatureSetSpec] {
        &self.feature_sets
    }

    /// Declared sources.
    pub fn sources(&self) -> &[SourceSpec] {
        &self.sources
    }

    /// The pipeline names: `feature_store.{name}` for each feature set, then
    /// `dataset.{name}` for each dataset.
    pub fn pipeline_names(&self) -> Vec<String> {
        self.feature_sets
            .iter()
            .map(|f| format!("{FEATURE_SET_PREFIX}{}", f.name))
            .chain(
                self.datasets
                    .iter()
                    .map(|d| format!("{DATASET_PREFIX}{}", d.name)),
            )
            .collect()
    }

    /// Finds a pipeline by name: `feature_store.x`, `dataset.y`, or a bare
    /// name when it is unambiguous.
    pub fn find(&self, name: &str) -> Result<Pipeline<'_>> {
        let unknown = || Error::Unknown {
            kind: "pipeline",
            name: name.to_string(),
            known: self.pipeline_names().join(", "),
        };
        if let Some(bare) = name.strip_prefix(DATASET_PREFIX) {
            return self
                .datasets
                .iter()
                .find(|d| d.name == bare)
                .map(Pipeline::Dataset)
                .ok_or_else(unknown);
        }
        if let Ok(fs) = self.find_feature_set(name) {
            return Ok(Pipeline::FeatureSet(fs));
        }
        self.datasets
            .iter()
            .find(|d| d.name == name)
            .map(Pipeline::Dataset)
            .ok_or_else(unknown)
    }

    /// Finds a feature set by pipeline name (`feature_store.user_orders`) or
    /// bare name. A dataset's name is refused saying what a dataset is.
    pub fn find_feature_set(&self, name: &str) -> Result<&FeatureSetSpec> {
        let bare = name.strip_prefix(FEATURE_SET_PREFIX).unwrap_or(name);
        if let Some(found) = self.feature_sets.iter().find(|f| f.name == bare) {
            return Ok(found);
        }
        let dataset = name.strip_prefix(DATASET_PREFIX).unwrap_or(name);
        if self.datasets.iter().any(|d| d.name == dataset) {
            let feature_sets: Vec<String> = self
                .feature_sets
                .iter()
                .map(|f| format!("{FEATURE_SET_PREFIX}{}", f.name))
                .collect();
            return Err(Error::Invalid(format!(
                "`{name}` is a dataset: datasets are files for training, not served online; \
                 `features execute {DATASET_PREFIX}{dataset} --end-date YYYY-MM-DD` writes it \
                 under the datasets root ({dataset}/{dataset}.csv and .parquet). Online rows \
                 are kept per feature set: {}",
                feature_sets.join(", ")
            )));
        }
        Err(Error::Unknown {
            kind: "pipeline",
            name: name.to_string(),
            known: self.pipeline_names().join(", "),
        })
    }

    /// Checks that `name` is a declared source.
    pub fn check_source(&self, name: &str) -> Result<()> {
        if self.sources.iter().any(|s| s.name == name) {
            Ok(())
        } else {
            Err(Error::Unknown {
                kind: "source",
                name: name.to_string(),
                known: self
                    .sources
                    .iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }
}
