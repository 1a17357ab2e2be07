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
    #[feature(percentile(amount), percentile(amount, 1.5), var_samp(amount, 2))]
    pub amount_stats: f64,
    #[feature(approx_count_distinct(order_id, 0), mode(order_id, score))]
    pub orders: i64,
}

fn main() {}
