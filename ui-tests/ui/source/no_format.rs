use chrono::NaiveDateTime;
use featurestore_runtime::source;

#[source(path = "data/order_events/")]
pub struct OrderEvents {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
}

fn main() {}
