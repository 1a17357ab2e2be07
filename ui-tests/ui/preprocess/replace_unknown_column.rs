use chrono::NaiveDateTime;
use featurestore_runtime::source;

#[source(path = "orders.csv", replace(stauts, {"a": "approved", "a": "again"}))]
pub struct Orders {
    pub id: String,
    pub at: NaiveDateTime,
    pub status: String,
}

fn main() {}
