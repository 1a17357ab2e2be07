//! End-to-end and property tests of the runtime through the `features` crate.

mod asof_property;
mod cassandra;
mod catalog;
mod catalog_property;
mod dataset;
mod keys;
mod legiti;
mod locations;
mod many_files;
mod preprocess;
mod redis;
mod reliability;
mod rolling_property;
mod slide;
mod slide_property;
mod source_stores;
mod sources;
mod spark;
mod split;
mod stores;
