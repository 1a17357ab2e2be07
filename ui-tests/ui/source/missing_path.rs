use chrono::NaiveDateTime;
use featurestore_runtime::source;

#[source(format = "csv")]
pub struct OrderEvents {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
}

fn main() {}
