use chrono::NaiveDateTime;
use featurestore_runtime::source;

pub struct Users {
    pub cpf: String,
}

#[source(query = "SELECT * FROM users", inputs(Users))]
pub struct Orders {
    pub cpf: String,
    pub order_timestamp: NaiveDateTime,
}

fn main() {}
