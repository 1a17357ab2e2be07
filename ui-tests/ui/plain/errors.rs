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

fn not_an_expression(amount: f64) -> f64 {
    amount * 100.0
}

#[feature_set(entity = "cpf", source = OrderEvents, timestamp = order_timestamp)]
pub struct WrongFunction {
    #[feature(function = not_an_expression, column = amount)]
    pub cents: f64,
}

#[feature_set(entity = "cpf", source = OrderEvents, timestamp = order_timestamp)]
pub struct UnknownColumn {
    #[feature(column = order_total)]
    pub total: f64,
}

#[feature_set(entity = "cpf", window = "3d", source = OrderEvents, timestamp = order_timestamp)]
pub struct Mixed {
    #[feature(sql = "amount * 2")]
    pub doubled: f64,
    #[feature(count(order_id))]
    pub orders: i64,
}

fn main() {}
