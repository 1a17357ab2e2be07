use chrono::NaiveDateTime;
use featurestore_runtime::source;

#[source(path = "events.csv", explode_json(payload, columns(a: Option<i64>, id: Option<String>)))]
pub struct Events {
    pub id: String,
    pub at: NaiveDateTime,
    pub payload: Option<String>,
}

fn main() {}
