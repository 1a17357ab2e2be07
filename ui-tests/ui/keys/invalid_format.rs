use featurestore_runtime::source;

#[source(path = "events.csv")]
pub struct Events {
    pub user: String,
    #[column(format = "%d/%m/%Y %Q")]
    pub at: String,
    #[column(format = "%H:%M")]
    pub clock: String,
    #[column(format = "")]
    pub empty: String,
    #[column(format = 12)]
    pub number: String,
}

fn main() {}
