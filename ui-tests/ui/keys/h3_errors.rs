use chrono::NaiveDateTime;
use featurestore_runtime::source;

#[source(path = "visits.csv")]
pub struct Visits {
    pub at: NaiveDateTime,
    pub lat: f64,
    pub lng: String,
    #[column(h3(lat = latitude, lng = lng, resolutions = "6..12"))]
    pub h3_id: String,
    #[column(h3(lat = lat, lng = lat, resolutions = "14..=16"))]
    pub fine: String,
    #[column(h3(lat = lat, lng = lat, resolutions = "8"))]
    pub number: i64,
    #[column(h3(lat = lat, resolutions = "8", zoom = 3))]
    pub partial: String,
}

fn main() {}
