use chrono::NaiveDateTime;
use featurestore_runtime::{dataset, feature_set, source};

#[source(path = "data/order_events/input.csv")]
pub struct OrderEvents {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
    pub cpf: String,
    pub chargeback_timestamp: Option<NaiveDateTime>,
}

#[feature_set(entity = "cpf", window = "3d", source = OrderEvents, timestamp = order_timestamp)]
pub struct UserOrders {
    #[feature(count(order_id))]
    pub cpf_orders: i32,
}

#[dataset(spine = OrderEvents, timestamp = order_timestamp, features(UserOrders))]
pub struct AwesomeDataset;

fn main() {}
