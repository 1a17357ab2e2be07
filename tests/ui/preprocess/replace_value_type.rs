use chrono::NaiveDateTime;
use featurestore_runtime::source;

#[source(path = "orders.csv", replace(amount, {1: 10, "2": 20}))]
pub struct Orders {
    pub id: String,
    pub at: NaiveDateTime,
    pub amount: Option<i64>,
}

fn main() {}
