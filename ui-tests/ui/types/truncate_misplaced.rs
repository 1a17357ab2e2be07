use chrono::NaiveDateTime;
use featurestore_runtime::{feature_set, source};

#[source(path = "data/payments.csv")]
pub struct Payments {
    pub payment_id: String,
    pub paid_at: NaiveDateTime,
    pub user_id: String,
    pub amount: f64,
}

#[feature_set(entity = "user_id", window = "1d", source = Payments, timestamp = paid_at)]
pub struct UserSpend {
    /// A count has no fractions.
    #[feature(count(payment_id), truncate)]
    pub payments: i32,
    #[feature(avg(amount), truncate, truncate)]
    pub whole_amount: i64,
}

#[feature_set(entity = "user_id", source = Payments, timestamp = paid_at)]
pub struct PaymentRows {
    /// A plain feature is cast anyway.
    #[feature(column = amount, truncate)]
    pub amount: i64,
}

fn main() {}
