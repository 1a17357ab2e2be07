//! Load: the historical store (partitioned Parquet) and the online store
//! (latest row per key).

pub mod historical;
pub mod online;
