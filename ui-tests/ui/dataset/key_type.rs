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

#[source(path = "data/payments.csv")]
pub struct Payments {
    pub payment_id: i64,
    pub paid_at: NaiveDateTime,
    pub user_id: i64,
}

#[dataset(spine = Payments, key = user_id, timestamp = paid_at, features(UserOrders))]
pub struct PaymentsDataset;

fn main() {}
