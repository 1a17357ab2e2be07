use featurestore_runtime::source;

#[source(path = "events.csv")]
pub struct Events {
    pub user: String,
    #[column(format = "%Y-%m-%d")]
    pub at: Option<i64>,
}

fn main() {}
