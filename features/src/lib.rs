//! The chargeback feature crate: order events, per-user counts of orders
//! and chargebacks over 3, 7 and 30 days, and a training dataset of orders
//! enriched with both, point in time.
//!
//! Run `cargo doc -p features --open`: the [`catalog`] lists the sources,
//! feature sets and datasets by kind; each feature set's page lists its
//! output columns, their types, and its online row.

use chrono::NaiveDateTime;
use featurestore_runtime::{dataset, feature_set, source};

/// Order events exported by the checkout service.
#[derive(Debug)]
#[source(path = "data/order_events/input.csv", format = "csv")]
pub struct OrderEvents {
    /// Orders unique identifier.
    pub order_id: String,
    /// When the order was placed (UTC).
    pub order_timestamp: NaiveDateTime,
    /// User unique identifier (CPF), the user entity key.
    pub cpf: String,
    /// When the order was charged back (UTC), if it was.
    pub chargeback_timestamp: Option<NaiveDateTime>,
}

/// Aggregates the total of orders from users in different time windows.
#[derive(Debug)]
#[feature_set(entity = "cpf", window = "3d,7d,30d", source = OrderEvents,
              timestamp = order_timestamp, fill_null = 0)]
pub struct UserOrders {
    /// Total of orders registered on the user's CPF.
    #[feature(count(order_id))]
    pub cpf_orders: i32,
}

/// Aggregates the total of chargebacks from users in different time windows.
#[derive(Debug)]
#[feature_set(entity = "cpf", window = "3d,7d,30d", source = OrderEvents,
              timestamp = chargeback_timestamp, filter = "chargeback_timestamp IS NOT NULL",
              fill_null = 0)]
pub struct UserChargebacks {
    /// Total of chargebacks registered on the user's CPF.
    #[feature(count(order_id))]
    pub cpf_chargebacks: i32,
}

/// Dataset enriching orders events with aggregated features on total of
/// orders and chargebacks by user, each as of the order's own time.
#[derive(Debug)]
#[dataset(spine = OrderEvents, key = cpf, timestamp = order_timestamp,
          features(UserOrders, UserChargebacks), fill_null = 0,
          keep(order_id, order_timestamp, chargeback_timestamp, cpf))]
pub struct AwesomeDataset;

// The declarations by kind: the `catalog` page of `cargo doc` and the
// command line's registry, from one list.
featurestore_runtime::catalog! {
    sources(OrderEvents),
    feature_sets(UserOrders, UserChargebacks),
    datasets(AwesomeDataset),
}

pub use catalog::registry;

/// The README's Rust examples, compiled by `cargo test --doc -p features`
/// (they use this crate's declarations).
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeExamples;
