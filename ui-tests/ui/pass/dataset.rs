use chrono::NaiveDateTime;
use featurestore_runtime::__private::Prefixed;
use featurestore_runtime::spec::{
    ColumnOrigin, DataType, DatasetColumn, FillValue, Window, WindowUnit,
};
use featurestore_runtime::{dataset, feature_set, source, Dataset, FeatureSet, Source};

/// Order events exported by the checkout service.
#[source(path = "data/order_events/input.csv", format = "csv")]
pub struct OrderEvents {
    pub order_id: String,
    pub order_timestamp: NaiveDateTime,
    pub cpf: String,
    pub chargeback_timestamp: Option<NaiveDateTime>,
}

/// Aggregates the total of orders from users in different time windows.
#[feature_set(entity = "cpf", window = "3d,7d,30d", source = OrderEvents,
              timestamp = order_timestamp, fill_null = 0)]
pub struct UserOrders {
    /// Total of orders registered on the user's CPF.
    #[feature(count(order_id))]
    pub cpf_orders: i32,
}

#[feature_set(entity = "cpf", window = "3d,7d,30d", source = OrderEvents,
              timestamp = chargeback_timestamp, filter = "chargeback_timestamp IS NOT NULL",
              fill_null = 0)]
pub struct UserChargebacks {
    #[feature(count(order_id))]
    pub cpf_chargebacks: i32,
}

/// Orders enriched with both feature sets as of each order's time.
#[dataset(spine = OrderEvents, key = cpf, timestamp = order_timestamp,
          features(UserOrders, UserChargebacks), fill_null = 0,
          keep(order_id, order_timestamp, chargeback_timestamp, cpf))]
pub struct AwesomeDataset;

/// The same feature set twice: their columns would collide (see
/// `dataset/collision.rs`) but for the second one's prefix. It also has a time
/// to live. Every spine column; no fill.
#[dataset(spine = OrderEvents, key = "cpf", timestamp = order_timestamp,
          features(UserOrders, UserOrders(ttl = "30d", prefix = "recent_")),
          filter = "cpf <> ''", name = "recent_orders")]
struct Recent {}

fn main() {
    let spec = &AwesomeDataset::SPEC;
    assert_eq!(spec.name, "awesome_dataset");
    assert_eq!(
        spec.description,
        "Orders enriched with both feature sets as of each order's time."
    );
    assert_eq!(spec.spine, &OrderEvents::SPEC);
    assert_eq!(spec.keys, ["cpf"]);
    assert_eq!(spec.timestamp, "order_timestamp");
    assert_eq!(spec.joins.len(), 2);
    assert_eq!(spec.joins[0].feature_set, &UserOrders::SPEC);
    assert_eq!(spec.joins[1].feature_set, &UserChargebacks::SPEC);
    assert_eq!(spec.joins[0].ttl, None);
    assert_eq!(spec.joins[0].prefix, "");
    assert_eq!(spec.fill_null, Some(FillValue::Int(0)));
    assert_eq!(spec.filter, None);
    assert_eq!(
        spec.spine_columns,
        [
            DatasetColumn {
                name: AwesomeDataset::ORDER_ID,
                dtype: DataType::String,
                nullable: false,
                origin: ColumnOrigin::Spine { column: "order_id" },
            },
            DatasetColumn {
                name: AwesomeDataset::TIMESTAMP,
                dtype: DataType::Timestamp,
                nullable: false,
                origin: ColumnOrigin::Timestamp {
                    column: "order_timestamp"
                },
            },
            DatasetColumn {
                name: "chargeback_timestamp",
                dtype: DataType::Timestamp,
                nullable: true,
                origin: ColumnOrigin::Spine {
                    column: "chargeback_timestamp"
                },
            },
            DatasetColumn {
                name: AwesomeDataset::CPF,
                dtype: DataType::String,
                nullable: false,
                origin: ColumnOrigin::Spine { column: "cpf" },
            },
        ]
    );
    let names: Vec<String> = spec.columns().into_iter().map(|c| c.name).collect();
    assert_eq!(names.len(), 4 + 3 + 3);
    assert_eq!(names[4], "cpf_orders__count_over_3_days_rolling_windows");
    assert_eq!(names[9], "cpf_chargebacks__count_over_30_days_rolling_windows");

    let row = AwesomeDatasetRow {
        order_id: "o1".to_string(),
        timestamp: NaiveDateTime::default(),
        chargeback_timestamp: None,
        cpf: "123".to_string(),
        user_orders: UserOrdersFeatures {
            cpf_orders__count_over_3_days_rolling_windows: 1,
            cpf_orders__count_over_7_days_rolling_windows: 2,
            cpf_orders__count_over_30_days_rolling_windows: 3,
        },
        user_chargebacks: UserChargebacksFeatures {
            cpf_chargebacks__count_over_3_days_rolling_windows: 0,
            cpf_chargebacks__count_over_7_days_rolling_windows: 0,
            cpf_chargebacks__count_over_30_days_rolling_windows: 1,
        },
    };
    let _: &<AwesomeDataset as Dataset>::Row = &row;
    let _: &<UserOrders as FeatureSet>::Features = &row.user_orders;
    assert_eq!(row.clone(), row);
    assert!(format!("{row:?}").contains("cpf_chargebacks__count_over_30_days_rolling_windows"));

    let recent = &Recent::SPEC;
    assert_eq!(recent.name, "recent_orders");
    assert_eq!(recent.filter, Some("cpf <> ''"));
    assert_eq!(recent.fill_null, None);
    assert_eq!(
        recent.joins[1].ttl,
        Some(Window {
            amount: 30,
            unit: WindowUnit::Days
        })
    );
    assert_eq!(recent.joins[1].prefix, "recent_");
    // Without `keep`: every spine column, in field order.
    let names: Vec<&str> = recent.spine_columns.iter().map(|c| c.name).collect();
    assert_eq!(names, ["order_id", "timestamp", "cpf", "chargeback_timestamp"]);
    assert_eq!(
        recent.spine_columns[1].origin,
        ColumnOrigin::Timestamp {
            column: "order_timestamp"
        }
    );
    let columns = recent.columns();
    assert_eq!(columns[7].name, "recent_cpf_orders__count_over_3_days_rolling_windows");
    assert!(columns[7].nullable);
    let features = UserOrdersFeatures {
        cpf_orders__count_over_3_days_rolling_windows: 4,
        cpf_orders__count_over_7_days_rolling_windows: 5,
        cpf_orders__count_over_30_days_rolling_windows: 6,
    };
    let row = RecentRow {
        cpf: "123".to_string(),
        timestamp: NaiveDateTime::default(),
        user_orders: features.clone(),
        recent_user_orders: Prefixed::new(features),
    };
    assert_eq!(row.recent_user_orders.cpf_orders__count_over_30_days_rolling_windows, 6);
    assert_eq!(Recent::CPF, "cpf");
    assert_eq!(Recent::TIMESTAMP, "timestamp");
}
