use chrono::NaiveDateTime;
use featurestore_runtime::{feature_set, source};

// After the pivot, the rows have `id`, `ts` and `pool` only.
#[source(
    path = "amenities.csv",
    pivot(on = amenity, value = first(has), keys(id), timestamp = ts, columns(pool: Option<bool>)),
)]
pub struct Amenities {
    pub id: String,
    pub ts: NaiveDateTime,
    pub amenity: String,
    pub has: Option<bool>,
}

#[feature_set(entity = "id", window = "2d", source = Amenities, timestamp = ts)]
pub struct Houses {
    #[feature(count(has))]
    pub rows: i64,
}

fn main() {}
