use featurestore_runtime::{dataset, feature_set, source};

#[source(path = "events.csv")]
pub struct Events {
    pub user: String,
    pub account: i64,
    /// Epoch milliseconds, but not declared as such.
    pub at: i64,
    #[column(format = "%d/%m/%Y")]
    pub day: String,
}

#[feature_set(entity = "user,account", window = "1d", source = Events, timestamp = at)]
pub struct Counts {
    #[feature(count(user))]
    pub n: i64,
}

#[feature_set(entity = "user,account", window = "1d", source = Events, timestamp = day)]
pub struct DailyCounts {
    #[feature(count(user))]
    pub n: i64,
}

#[dataset(spine = Events, key = "user,account", timestamp = at, features(DailyCounts))]
pub struct CountsAtEvents;

fn main() {}
