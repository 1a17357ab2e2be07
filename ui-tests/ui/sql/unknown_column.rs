use chrono::NaiveDateTime;
use featurestore_runtime::{dataset, feature_set, source};

#[source(path = "data/order_events/input.csv")]
pub struct OrderEvents {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
    pub cpf: String,
    pub chargeback_timestamp: Option<NaiveDateTime>,
    pub amount: f64,
}

#[feature_set(entity = "cpf", window = "3d", source = OrderEvents, timestamp = order_timestamp,
              filter = "chargeback_timestamps IS NOT NULL")]
pub struct UserChargebacks {
    #[feature(count(order_id), filter = "amont > 0 AND lower(order_id) <> 'test'")]
    pub cpf_chargebacks: i32,
    #[feature(count_if("amount > 100 AND chargeback_at IS NULL"))]
    pub big_orders: i32,
}

#[feature_set(entity = "cpf", source = OrderEvents, timestamp = order_timestamp)]
pub struct OrderCents {
    #[feature(sql = "CAST(amount * 100 AS BIGINT) + fee")]
    pub cents: i64,
}

#[dataset(spine = OrderEvents, key = cpf, timestamp = order_timestamp,
          features(UserChargebacks), filter = "amount > 0 AND coupon IS NULL")]
pub struct Orders;

fn main() {}
