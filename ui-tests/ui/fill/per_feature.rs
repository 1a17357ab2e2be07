use chrono::NaiveDateTime;
use featurestore_runtime::{feature_set, source};

#[source(path = "data/order_events/input.csv")]
pub struct OrderEvents {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
    pub cpf: String,
    pub amount: f64,
}

/// Each feature has a fill of its own, checked against its own type.
#[feature_set(entity = "cpf", window = "3d", source = OrderEvents, timestamp = order_timestamp,
              fill_null = 0)]
pub struct UserOrders {
    #[feature(count(order_id), fill_null = "none")]
    pub orders: i32,
    #[feature(last(order_id), fill_null = 0)]
    pub last_order: String,
    #[feature(last(order_id), fill_null = "none")]
    pub last_order_filled: String,
}

fn main() {}
