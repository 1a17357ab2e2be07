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

fn not_a_hook(rows: i64) -> i64 {
    rows
}

#[feature_set(entity = "cpf", window = "3d", source = OrderEvents, timestamp = order_timestamp,
              pre_hooks(not_a_hook))]
pub struct WrongSignature {
    #[feature(count(order_id))]
    pub orders: i64,
}

#[feature_set(entity = "cpf", window = "3d", source = OrderEvents, timestamp = order_timestamp,
              post_hooks = not_a_hook)]
pub struct NotAList {
    #[feature(count(order_id))]
    pub orders: i64,
}

fn main() {}
