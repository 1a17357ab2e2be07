use chrono::NaiveDateTime;
use featurestore_runtime::source;

#[source(path = "data/order_events/input.csv")]
pub struct OrderEvents {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
}

#[source(
    query = "SELECT order_id order_timestamp, FROM order_events",
    inputs(OrderEvents)
)]
pub struct Orders {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
}

fn main() {}
