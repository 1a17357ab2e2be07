use chrono::NaiveDateTime;
use featurestore_runtime::{feature_set, source};

#[source(path = "data/order_events/input.csv")]
pub struct OrderEvents {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
    pub cpf: String,
    pub chargeback_timestamp: Option<NaiveDateTime>,
    pub amount: f64,
    pub score: Option<f64>,
}

#[feature_set(entity = "cpf", window = "3d", source = OrderEvents, timestamp = order_timestamp)]
pub struct UserOrders {
    #[feature(first(order_id, ignore_nulls = 1), last(order_id, skip_nulls = true))]
    pub order: String,
    #[feature(percentile_approx(amount, 0.5, 0), approx_percentile(amount))]
    pub amount_p50: f64,
}

fn main() {}
