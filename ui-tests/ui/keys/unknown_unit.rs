use featurestore_runtime::{feature_set, source};

#[source(path = "events.csv")]
pub struct Events {
    pub user: String,
    #[column(epoch = "ns")]
    pub at: i64,
    #[column(epoch = "ms", format = "%Y")]
    pub both: i64,
    #[column(unit = "ms")]
    pub misspelled: i64,
}

// No follow-on error: `at` is still read as a time.
#[feature_set(entity = "user", source = Events, timestamp = at)]
pub struct Counts {
    #[feature(count(user))]
    pub n: i64,
}

fn main() {}
