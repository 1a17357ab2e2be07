use chrono::NaiveDateTime;
use featurestore_runtime::source;

#[source(path = "orders.csv", filter = "amount >")]
pub struct Orders {
    pub id: String,
    pub at: NaiveDateTime,
    pub amount: i64,
}

fn main() {}
