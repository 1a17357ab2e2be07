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
    /// `first` returns an order id, a `String`.
    #[feature(first(order_id))]
    pub first_order: i64,
    /// `mode` of a float column cannot be declared `String`.
    #[feature(mode(score))]
    pub usual_score: String,
    /// `most_frequent_set` returns lists of order ids, `Vec<String>`.
    #[feature(most_frequent_set(order_id))]
    pub frequent_orders: Vec<i64>,
}

fn main() {}
