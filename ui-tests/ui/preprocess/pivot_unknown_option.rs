use chrono::NaiveDateTime;
use featurestore_runtime::source;

#[source(
    path = "amenities.csv",
    pivot(column = amenity, value = median(has), keys(id), timestamp = ts, columns(pool: Option<bool>)),
)]
pub struct Amenities {
    pub id: String,
    pub ts: NaiveDateTime,
    pub amenity: String,
    pub has: Option<bool>,
}

fn main() {}
