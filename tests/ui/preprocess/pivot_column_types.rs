use chrono::NaiveDateTime;
use featurestore_runtime::source;

#[source(
    path = "amenities.csv",
    pivot(on = amenity, value = sum(has), keys(id), timestamp = ts,
          columns(pool: bool, oven: Option<i64>)),
)]
pub struct Amenities {
    pub id: String,
    pub ts: NaiveDateTime,
    pub amenity: String,
    pub has: Option<bool>,
}

fn main() {}
