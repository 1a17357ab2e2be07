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

pub struct Users {
    pub cpf: String,
}

#[feature_set(entity = "cpf", window = "3d", source = Users, timestamp = created_at)]
pub struct UserOrders {
    #[feature(count(order_id))]
    pub cpf_orders: i32,
}

fn main() {}
