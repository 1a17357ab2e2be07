use chrono::NaiveDateTime;
use featurestore_runtime::{dataset, feature_set, source};

#[source(path = "data/order_events/input.csv")]
pub struct OrderEvents {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
    pub cpf: String,
    pub chargeback_timestamp: Option<NaiveDateTime>,
}

// A mistake in a feature set is reported there, not again by the dataset.
#[feature_set(entity = "cpf", window = "3d", source = OrderEvents, timestamp = order_timestamp)]
pub struct UserOrders {
    #[feature(geometric_mean(order_id))]
    pub cpf_orders: i32,
}

#[dataset(spine = OrderEvents, key = cpf, timestamp = order_timestamp, features(UserOrders))]
pub struct AwesomeDataset;

fn main() {}
