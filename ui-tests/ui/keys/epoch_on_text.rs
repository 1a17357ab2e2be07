use featurestore_runtime::{feature_set, source};

#[source(path = "events.csv")]
pub struct Events {
    pub user: String,
    #[column(epoch = "ms")]
    pub at: String,
    pub amount: i64,
}

#[feature_set(entity = "user", window = "1d", source = Events, timestamp = at)]
pub struct Amounts {
    #[feature(sum(amount))]
    pub amount: i64,
}

fn main() {}
