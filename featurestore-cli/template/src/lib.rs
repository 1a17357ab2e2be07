//! The {{name}} feature crate: payment events, and per-user counts, sums
//! and averages of payments over 1 and 7 days.
//!
//! `cargo doc --no-deps --open` is the catalog: the [`catalog`] module lists
//! the sources, feature sets and datasets by kind; each feature set's page
//! lists its output columns, their types, and its online row.

use featurestore_runtime::{dataset, feature_set, source, NaiveDateTime};

/// Payments, one row per payment. `featurestore.toml` or `--source
/// payments=PATH` points it elsewhere; the format follows the file.
#[derive(Debug)]
#[source(path = "data/payments/payments.csv")]
pub struct Payments {
    /// The payment's unique identifier.
    pub payment_id: String,
    /// Who paid: the user entity key.
    pub user_id: String,
    /// The amount paid.
    pub amount: f64,
    /// When it was paid (UTC).
    pub paid_at: NaiveDateTime,
}

/// What each user paid over the last day and the last week.
#[derive(Debug)]
#[feature_set(entity = "user_id", window = "1d,7d", source = Payments, timestamp = paid_at)]
pub struct UserPayments {
    /// Number of payments.
    #[feature(count(payment_id))]
    pub payments: i64,
    /// Total and mean amount paid.
    #[feature(sum(amount), avg(amount))]
    pub amount: f64,
}

/// Each payment with what its user had paid before it, point in time.
#[derive(Debug)]
#[dataset(spine = Payments, key = user_id, timestamp = paid_at,
          features(UserPayments), keep(payment_id, user_id, amount))]
pub struct PaymentsTraining;

// Every declaration, by kind: the `catalog` page of `cargo doc` and the
// command line's registry (`catalog::registry()`), from one list. Add each
// new source, feature set and dataset here.
featurestore_runtime::catalog! {
    sources(Payments),
    feature_sets(UserPayments),
    datasets(PaymentsTraining),
}

pub use catalog::registry;
