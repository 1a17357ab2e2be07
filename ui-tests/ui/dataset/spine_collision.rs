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

#[source(path = "data/orders.csv")]
pub struct Orders {
    pub cpf: String,
    pub order_timestamp: NaiveDateTime,
    pub cpf_orders__count_over_3_days_rolling_windows: i64,
}

#[dataset(spine = Orders, key = cpf, timestamp = order_timestamp, features(UserOrders))]
pub struct AwesomeDataset;

fn main() {}
