use chrono::NaiveDateTime;
use featurestore_runtime::spec::{Aggregation, FillValue, Format, SourceKind, Window, WindowUnit};
use featurestore_runtime::{feature_set, source, FeatureSet, Source};

/// Order events exported by the checkout service.
#[source(path = "data/order_events/input.csv", format = "csv")]
pub struct OrderEvents {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
    /// The buyer's CPF.
    pub cpf: String,
    pub chargeback_timestamp: Option<NaiveDateTime>,
}

/// Aggregates the total of orders from users in different time windows.
#[feature_set(entity = "cpf", window = "3d,7d,30d", source = OrderEvents, timestamp = order_timestamp, fill_null = 0)]
pub struct UserOrders {
    /// Total of orders registered on the user's CPF.
    #[feature(count(order_id))]
    pub cpf_orders: i32,
}

#[feature_set(entity = "cpf", window = "3d,7d,30d", source = OrderEvents, timestamp = chargeback_timestamp, filter = "chargeback_timestamp IS NOT NULL", fill_null = 0)]
pub struct UserChargebacks {
    #[feature(count(order_id))]
    pub cpf_chargebacks: i32,
}

/// A derived source.
#[source(
    query = "SELECT * FROM order_events WHERE cpf <> ''",
    inputs(OrderEvents),
    name = "orders"
)]
pub struct Orders {
    pub order_id: String,
    pub cpf: String,
    pub order_timestamp: NaiveDateTime,
    pub amount: Option<f64>,
}

/// Several keys, functions and windows, no fill: nullable outputs. The
/// largest amount is truncated to an integer, knowingly.
#[feature_set(entity = "cpf, order_id", window = "1w, 1d", source = Orders, timestamp = order_timestamp)]
struct Nullable {
    #[feature(count(amount), max(amount), truncate)]
    spent: i64,
}

/// No windows.
#[feature_set(entity = "cpf", source = Orders, timestamp = order_timestamp, fill_null = 0.5)]
pub struct Spend {
    #[feature(sum(amount), avg(amount), stddev_pop(amount))]
    pub spend: f64,
}

fn main() {
    let source = &OrderEvents::SPEC;
    assert_eq!(source.name, "order_events");
    assert_eq!(
        source.description,
        "Order events exported by the checkout service."
    );
    assert_eq!(
        source.kind,
        SourceKind::File {
            path: "data/order_events/input.csv",
            format: Format::Csv
        }
    );
    assert_eq!(source.columns.len(), 4);
    assert_eq!(source.columns[2].name, OrderEvents::CPF);
    assert_eq!(source.columns[2].description, "The buyer's CPF.");
    assert!(source.columns[3].nullable);
    assert_eq!(OrderEvents::CHARGEBACK_TIMESTAMP, "chargeback_timestamp");

    let spec = &UserOrders::SPEC;
    assert_eq!(spec.name, "user_orders");
    assert_eq!(
        spec.outputs[0].name,
        UserOrders::CPF_ORDERS__COUNT_OVER_3_DAYS_ROLLING_WINDOWS
    );
    assert_eq!(
        spec.column_names(),
        [
            UserOrders::CPF,
            UserOrders::TIMESTAMP,
            "cpf_orders__count_over_3_days_rolling_windows",
            "cpf_orders__count_over_7_days_rolling_windows",
            "cpf_orders__count_over_30_days_rolling_windows",
        ]
    );
    assert_eq!(spec.keys[0].dtype, featurestore_runtime::DataType::String);
    assert_eq!(spec.timestamp, "order_timestamp");
    assert_eq!(spec.source, &OrderEvents::SPEC);
    assert_eq!(
        spec.windows[2],
        Window {
            amount: 30,
            unit: WindowUnit::Days
        }
    );
    assert_eq!(spec.fill_null, Some(FillValue::Int(0)));
    assert_eq!(spec.features[0].aggregations, &[Aggregation::Count]);
    assert!(!spec.outputs[0].nullable);

    let row = UserOrdersRow {
        cpf: "123".to_string(),
        timestamp: NaiveDateTime::default(),
        cpf_orders__count_over_3_days_rolling_windows: 1,
        cpf_orders__count_over_7_days_rolling_windows: 2,
        cpf_orders__count_over_30_days_rolling_windows: 3,
    };
    let _: &<UserOrders as FeatureSet>::Row = &row;
    assert_eq!(row.clone(), row);

    assert_eq!(
        UserChargebacks::SPEC.filter,
        Some("chargeback_timestamp IS NOT NULL")
    );
    assert_eq!(UserChargebacks::SPEC.timestamp, "chargeback_timestamp");

    let nullable = &Nullable::SPEC;
    assert_eq!(nullable.entity(), "cpf_order_id");
    assert_eq!(
        nullable.windows[0],
        Window {
            amount: 1,
            unit: WindowUnit::Weeks
        }
    );
    assert_eq!(
        nullable.outputs[1].name,
        "spent__count_over_1_day_rolling_windows"
    );
    assert_eq!(nullable.outputs[2].aggregation, Aggregation::Max);
    assert!(nullable.outputs[0].nullable);
    let row = NullableRow {
        cpf: String::new(),
        order_id: String::new(),
        timestamp: NaiveDateTime::default(),
        spent__count_over_1_week_rolling_windows: Some(1i64),
        spent__count_over_1_day_rolling_windows: None,
        spent__max_over_1_week_rolling_windows: None,
        spent__max_over_1_day_rolling_windows: None,
    };
    assert_eq!(row.spent__count_over_1_week_rolling_windows, Some(1));
    assert_eq!(
        Nullable::SPENT__MAX_OVER_1_DAY_ROLLING_WINDOWS,
        nullable.outputs[3].name
    );

    assert_eq!(Orders::SPEC.name, "orders");
    assert!(
        matches!(Orders::SPEC.kind, SourceKind::Query { inputs: [input], .. } if input.name == "order_events")
    );
    assert_eq!(Spend::SPEC.windows, &[]);
    assert_eq!(Spend::SPEC.fill_null, Some(FillValue::Float(0.5)));
    assert_eq!(Spend::SPEC.outputs[2].name, Spend::SPEND__STDDEV_POP);
    let _ = SpendRow {
        cpf: String::new(),
        timestamp: NaiveDateTime::default(),
        spend__sum: 0.0,
        spend__avg: 0.0,
        spend__stddev_pop: 0.0,
    };
}
