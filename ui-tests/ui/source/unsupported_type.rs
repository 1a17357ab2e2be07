use chrono::NaiveDateTime;
use featurestore_runtime::source;

#[source(path = "data/order_events/input.csv")]
pub struct OrderEvents {
    pub order_id: u64,
    pub order_timestamp: NaiveDateTime,
    pub tags: Vec<String>,
}

fn main() {}
