use chrono::NaiveDateTime;
use featurestore_runtime::{feature_set, source};

#[source(path = "data/payments.csv")]
pub struct Payments {
    pub payment_id: String,
    pub paid_at: NaiveDateTime,
    pub user_id: String,
    pub amount: f64,
    pub installments: i64,
    pub approved: Option<f64>,
}

#[feature_set(entity = "user_id", window = "1d,7d", source = Payments, timestamp = paid_at)]
pub struct UserSpend {
    /// The mean is 0.76 for an approval rate: `i32` would hold 0.
    #[feature(avg(approved))]
    pub approval_rate: i32,
    /// A sum of amounts with cents.
    #[feature(count(amount), sum(amount))]
    pub spent: i64,
    #[feature(percentile(installments, 0.5))]
    pub median_installments: Option<i64>,
    /// A sum of an integer column is whole: fine.
    #[feature(sum(installments), max(installments))]
    pub installments: i64,
    /// Truncation asked for: fine.
    #[feature(avg(amount), stddev_pop(amount), truncate)]
    pub whole_amount: i64,
    /// Into a float: fine.
    #[feature(avg(amount))]
    pub mean_amount: f64,
}

fn main() {}
