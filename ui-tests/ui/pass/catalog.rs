//! `catalog!` with paths of every form: into a module, from the crate
//! root, and from a nested module.

pub mod declarations {
    use chrono::NaiveDateTime;
    use featurestore_runtime::{dataset, feature_set, source};

    /// Order events.
    #[source(path = "data/order_events/input.csv")]
    pub struct OrderEvents {
        pub order_id: String,
        pub order_timestamp: NaiveDateTime,
        pub cpf: String,
    }

    /// Orders per user.
    #[feature_set(entity = "cpf", window = "3d", source = OrderEvents, timestamp = order_timestamp)]
    pub struct UserOrders {
        #[feature(count(order_id))]
        pub cpf_orders: i32,
    }

    /// Orders with their user's counts.
    #[dataset(spine = OrderEvents, key = cpf, timestamp = order_timestamp, features(UserOrders))]
    pub struct Training;
}

featurestore_runtime::catalog! {
    datasets(crate::declarations::Training),
    sources(declarations::OrderEvents),
    feature_sets(self::declarations::UserOrders),
}

pub mod nested {
    featurestore_runtime::catalog! {
        feature_sets(super::declarations::UserOrders),
    }
}

fn main() {
    // The catalog re-exports the declarations, so they are also reachable there.
    let _ = catalog::datasets::Training;
    let _: Option<nested::catalog::feature_sets::UserOrders> = None;
    let _: Option<catalog::sources::OrderEvents> = None;
}
