use chrono::NaiveDateTime;
use featurestore_runtime::{feature_set, source};

#[source(path = "data/order_events/input.csv")]
pub struct OrderEvents {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
    pub cpf: String,
    pub amount: f64,
}

#[feature_set(entity = "cpf", window = "3d", source = OrderEvents, timestamp = order_timestamp)]
pub struct UserOrders {
    #[feature(max_by(order_id))]
    pub largest: String,
    #[feature(min_by(order_id, 3))]
    pub smallest: String,
    #[feature(max_by(order_id, amount, order_timestamp))]
    pub latest: String,
}

fn main() {}
