use chrono::NaiveDateTime;
use featurestore_runtime::{feature_set, source};

#[source(path = "data/order_events/input.csv")]
pub struct OrderEvents {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
    pub cpf: String,
    pub amount: f64,
    pub note: String,
}

#[feature_set(entity = "cpf", window = "3d", source = OrderEvents, timestamp = order_timestamp)]
pub struct UserOrders {
    /// A misspelled ordering column is named, with the closest.
    #[feature(max_by(order_id, amout))]
    pub largest: String,
    /// The ordering is numeric.
    #[feature(min_by(order_id, note))]
    pub first_tagged: String,
}

fn main() {}
