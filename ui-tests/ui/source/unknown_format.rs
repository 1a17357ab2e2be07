use chrono::NaiveDateTime;
use featurestore_runtime::source;

#[source(path = "data/order_events.txt", format = "xlsx")]
pub struct OrderEvents {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
}

fn main() {}
