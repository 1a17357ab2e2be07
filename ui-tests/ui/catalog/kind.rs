use chrono::NaiveDateTime;
use featurestore_runtime::{feature_set, source};

#[source(path = "data/order_events/input.csv")]
pub struct OrderEvents {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
    pub cpf: String,
}

#[feature_set(entity = "cpf", window = "3d", source = OrderEvents, timestamp = order_timestamp)]
pub struct UserOrders {
    #[feature(count(order_id))]
    pub cpf_orders: i32,
}

pub struct NotADeclaration;

featurestore_runtime::catalog! {
    sources(UserOrders),
    feature_sets(OrderEvents),
    datasets(NotADeclaration, Missing),
}

fn main() {}
