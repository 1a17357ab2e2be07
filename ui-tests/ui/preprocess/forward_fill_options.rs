use chrono::NaiveDateTime;
use featurestore_runtime::source;

#[source(
    path = "sensors.csv",
    forward_fill(columns(temprature, sensor), key(sensor), timestamp = ts),
)]
pub struct Sensors {
    pub sensor: String,
    pub ts: NaiveDateTime,
    pub temperature: Option<f64>,
}

fn main() {}
