use chrono::NaiveDateTime;
use featurestore_runtime::source;

#[source(path = "data/order_events/input.csv")]
pub struct OrderEvents(String, NaiveDateTime);

fn main() {}
