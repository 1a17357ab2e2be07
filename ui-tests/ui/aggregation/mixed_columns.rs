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

#[feature_set(entity = "cpf", window = "3d,7d,30d", source = OrderEvents, timestamp = order_timestamp)]
pub struct UserOrders {
    #[feature(avg(amount), max(score))]
    pub amount: f64,
}

fn main() {}
