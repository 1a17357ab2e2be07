use chrono::NaiveDateTime;
use featurestore_runtime::{dataset, feature_set, source};

#[source(path = "data/payments.csv")]
pub struct Payments {
    pub payment_id: String,
    pub paid_at: NaiveDateTime,
    pub user_id: String,
    pub merchant_id: String,
    pub terminal: i64,
    pub amount: f64,
}

#[feature_set(entity = "user_id", window = "1d", source = Payments, timestamp = paid_at)]
pub struct UserSpend {
    #[feature(sum(amount))]
    pub spent: f64,
}

#[feature_set(entity = "merchant_id", window = "1d", source = Payments, timestamp = paid_at)]
pub struct MerchantPayments {
    #[feature(count(payment_id))]
    pub payments: i64,
}

/// A merchant-keyed feature set joined on the dataset's `user_id`: both are
/// `String`, but would never match.
#[dataset(spine = Payments, key = user_id, timestamp = paid_at,
          features(UserSpend, MerchantPayments))]
pub struct OnUsers;

/// Its own key, of another type than its entity's.
#[dataset(spine = Payments, key = user_id, timestamp = paid_at,
          features(UserSpend, MerchantPayments(key = terminal)))]
pub struct OnTerminals;

/// Its own key, twice, and the timestamp as a key.
#[dataset(spine = Payments, key = user_id, timestamp = paid_at,
          features(UserSpend(key = "user_id,user_id"), MerchantPayments(key = paid_at)))]
pub struct Repeated;

fn main() {}
