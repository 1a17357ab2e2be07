use chrono::NaiveDateTime;
use featurestore_runtime::{feature_set, source};

#[source(path = "data/order_events/input.csv")]
pub struct OrderEvents {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
    pub cpf: String,
    pub chargeback_timestamp: Option<NaiveDateTime>,
    pub amount: f64,
    pub score: Option<f64>,
}

#[feature_set(entity = "cpf", window = "3d", source = OrderEvents, timestamp = order_timestamp)]
pub struct UserOrders {
    #[feature(sum("amount > 100"))]
    pub big_amounts: f64,
    #[feature(count_if("amount >"))]
    pub broken: i64,
    #[feature(count_if("amount > 100"), count(order_id))]
    pub mixed: i64,
    #[feature(count_if("amount > 100"), count_if("amount > 1000"))]
    pub two_conditions: i64,
}

fn main() {}
