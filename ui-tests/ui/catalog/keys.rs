featurestore_runtime::catalog! {
    source(OrderEvents),
    feature_sets(UserOrders, UserOrders),
    datasets(),
}

// The module exists despite the errors: this import resolves.
#[allow(unused_imports)]
pub use catalog as _;

fn main() {}
