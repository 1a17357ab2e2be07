use chrono::NaiveDateTime;
use featurestore_runtime::source;

#[source(query = "SELECT * FROM order_events")]
pub struct Orders {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
}

fn main() {}
