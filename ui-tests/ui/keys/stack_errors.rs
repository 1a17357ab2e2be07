use featurestore_runtime::source;

#[source(path = "pairs.csv")]
pub struct Pairs {
    pub id_a: i64,
    pub id_b: Option<String>,
    #[column(stack(id_a, id_b, id_c))]
    pub id: i64,
    #[column(stack(id, id_a))]
    pub again: i64,
    #[column(stack("id_a"))]
    pub quoted: i64,
    #[column(stack(id_a), epoch = "ms")]
    pub both: i64,
}

fn main() {}
