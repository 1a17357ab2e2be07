use chrono::NaiveDateTime;
use featurestore_runtime::source;

#[source(path = "events.csv", on_bad_rows = "ignore")]
pub struct Events {
    pub id: String,
    pub at: NaiveDateTime,
}

fn main() {}
