//! Expansion tests on the `_inner` functions: no compiler needed.

use proc_macro2::TokenStream;
use quote::quote;

use crate::{catalog_inner, dataset_inner, feature_set_inner, source_inner};

fn order_events() -> TokenStream {
    source_inner(
        quote!(path = "data/order_events/input.csv", format = "csv"),
        quote! {
            /// Order events exported by the checkout service.
            pub struct OrderEvents {
                pub order_id: String,
                pub order_timestamp: NaiveDateTime,
                /// The buyer's CPF.
                pub cpf: String,
                pub chargeback_timestamp: Option<NaiveDateTime>,
            }
        },
    )
}

fn user_orders() -> TokenStream {
    feature_set_inner(
        quote!(
            entity = "cpf",
            window = "3d,7d,30d",
            source = OrderEvents,
            timestamp = order_timestamp,
            fill_null = 0
        ),
        quote! {
            /// Aggregates the total of orders from users in different time windows.
            pub struct UserOrders {
                /// Total of orders registered on the user's CPF.
                #[feature(count(order_id))]
                pub cpf_orders: i32,
            }
        },
    )
}

fn user_chargebacks() -> TokenStream {
    feature_set_inner(
        quote!(
            entity = "cpf",
            window = "3d,7d,30d",
            source = OrderEvents,
            timestamp = chargeback_timestamp,
            filter = "chargeback_timestamp IS NOT NULL",
            fill_null = 0
        ),
        quote! {
            pub struct UserChargebacks { #[feature(count(order_id))] pub cpf_chargebacks: i32 }
        },
    )
}

/// The compile errors in an expansion, or an empty list.
fn errors(tokens: &TokenStream) -> Vec<String> {
    let file: syn::File = syn::parse2(tokens.clone()).expect("expansion parses as items");
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Macro(m)
                if m.mac
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "compile_error") =>
            {
                let lit: syn::LitStr = m.mac.parse_body().ok()?;
                Some(lit.value())
            }
            _ => None,
        })
        .collect()
}

fn expect_errors(tokens: TokenStream, expected: &[&str]) {
    let found = errors(&tokens);
    for e in expected {
        assert!(
            found.iter().any(|f| f.contains(e)),
            "no error containing {e:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}

fn compact(tokens: &TokenStream) -> String {
    tokens.to_string().replace(' ', "")
}

#[test]
fn legiti_source_expands() {
    let out = order_events();
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    let text = compact(&out);
    assert!(text.contains("name:\"order_events\""));
    assert!(text.contains("format:::featurestore_runtime::spec::Format::Csv"));
    assert!(text.contains("pubconstORDER_ID:&'staticstr=\"order_id\""));
    assert!(text.contains("HasColumn<{::featurestore_runtime::__private::column_hash(\"cpf\")}>forOrderEvents{typeType=String;}"));
    assert!(text.contains("description:\"Thebuyer'sCPF.\""));
    assert!(text.contains("|`chargeback_timestamp`|`Option<NaiveDateTime>`|yes||"));
}

#[test]
fn legiti_feature_sets_expand() {
    let out = user_orders();
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    let text = out.to_string();
    for name in [
        "cpf_orders__count_over_3_days_rolling_windows",
        "cpf_orders__count_over_7_days_rolling_windows",
        "cpf_orders__count_over_30_days_rolling_windows",
        "CPF_ORDERS__COUNT_OVER_30_DAYS_ROLLING_WINDOWS",
        "UserOrdersRow",
        "## Online row",
        "- **Primary key**: `cpf`",
        "  - `cpf`: the type of [`OrderEvents.cpf`](OrderEvents#structfield.cpf)",
        "  - `cpf_orders__count_over_30_days_rolling_windows`: `i32`",
        "3 days, 7 days, 30 days, sliding daily",
    ] {
        assert!(text.contains(name), "{name} not in {text}");
    }
    assert!(!text.contains("# [feature"), "#[feature] not stripped");
    assert!(
        !text.contains("CREATE TABLE"),
        "the docs name no backend's DDL"
    );

    let out = user_chargebacks();
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    let text = compact(&out);
    assert!(text.contains("filter:::core::option::Option::Some(\"chargeback_timestampISNOTNULL\")"));
    assert!(text.contains("cpf_chargebacks__count_over_7_days_rolling_windows"));
}

#[test]
fn outputs_in_declaration_order() {
    let out = feature_set_inner(
        quote!(entity = "a,b", window = "1w,1d", source = S, timestamp = t),
        quote! {
            struct F {
                #[feature(avg(x), max(x))] x: f64,
                #[feature(count(y))] y: i64,
            }
        },
    );
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    let text = out.to_string();
    let names = [
        "x__avg_over_1_week_rolling_windows",
        "x__avg_over_1_day_rolling_windows",
        "x__max_over_1_week_rolling_windows",
        "x__max_over_1_day_rolling_windows",
        "y__count_over_1_week_rolling_windows",
        "y__count_over_1_day_rolling_windows",
    ];
    let positions: Vec<usize> = names
        .iter()
        .map(|n| text.find(&format!("name : \"{n}\"")).expect(n))
        .collect();
    assert!(positions.windows(2).all(|p| p[0] < p[1]), "{positions:?}");
    assert!(text.contains("- **Primary key**: `a`, `b`"));
    // No fill: nullable outputs, Option in the row.
    assert!(compact(&out).contains("nullable:true"));
    assert!(compact(&out).contains(
        "::core::option::Option<<f64as::featurestore_runtime::__private::FeatureType>::Inner>"
    ));
}

#[test]
fn no_windows() {
    let out = feature_set_inner(
        quote!(
            entity = "cpf",
            source = OrderEvents,
            timestamp = order_timestamp
        ),
        quote!(
            pub struct S {
                #[feature(count(order_id))]
                pub n: i64,
            }
        ),
    );
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    let text = compact(&out);
    assert!(text.contains("name:\"n__count\""));
    assert!(text.contains("windows:&[]"));
    assert!(text.contains("window:::core::option::Option::None"));
}

#[test]
fn window_errors() {
    let fs = |window: &str| {
        feature_set_inner(
            quote!(entity = "cpf", window = #window, source = S, timestamp = t),
            quote!(
                pub struct F {
                    #[feature(count(x))]
                    pub x: i32,
                }
            ),
        )
    };
    expect_errors(fs("3x"), &["unknown unit `x`"]);
    expect_errors(fs(""), &["`window` is empty"]);
    expect_errors(fs("7d,1w"), &["`1w` has the same length as `7d`"]);
    expect_errors(fs("12h"), &["`slide`"]);
}

#[test]
fn slides() {
    let fs = |args: TokenStream| {
        feature_set_inner(
            quote!(entity = "cpf", #args, source = S, timestamp = t),
            quote!(
                pub struct F {
                    #[feature(count(x))]
                    pub x: i32,
                }
            ),
        )
    };
    let out = fs(quote!(window = "1h,6h,1d", slide = "1h"));
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    let text = compact(&out);
    assert!(text.contains(
        "slide:::featurestore_runtime::spec::Window{amount:1,unit:::featurestore_runtime::spec::WindowUnit::Hours,}"
    ), "{text}");
    assert!(text.contains("x__count_over_6_hours_rolling_windows"));
    assert!(text.contains("1hour,6hours,1day,slidingevery1hour"));
    // The default slide, written out, is the default.
    let text = compact(&fs(quote!(window = "3d", slide = "24h")));
    assert!(text.contains("slide:::featurestore_runtime::spec::Window::DAY"));
    assert!(text.contains("slidingdaily"));

    expect_errors(
        fs(quote!(window = "1h,90m", slide = "1h")),
        &["window `90m` is not a multiple of the slide `1h`"],
    );
    expect_errors(
        fs(quote!(window = "1h", slide = "0h")),
        &["slide `0h` is empty"],
    );
    expect_errors(
        fs(quote!(window = "1w", slide = "2d")),
        &["slide `2d` is longer than a day"],
    );
    expect_errors(
        fs(quote!(window = "1d", slide = "7h")),
        &["slide `7h` does not divide a day"],
    );
    expect_errors(fs(quote!(slide = "1h")), &["there is no `window`"]);
    expect_errors(
        fs(quote!(window = "6h,12h")),
        &[
            "window `6h` is not a whole number",
            "window `12h` is not a whole number",
        ],
    );
}

#[test]
fn attribute_errors_are_collected() {
    let out = feature_set_inner(
        quote!(windows = "3d", filter = "a = = 1", fill_null = 1.0e999),
        quote!(
            pub struct F {
                #[feature(medain(x), count(y))]
                pub x: i32,
                pub z: i32,
            }
        ),
    );
    expect_errors(
        out.clone(),
        &[
            "unknown key `windows` in `#[feature_set]`: did you mean `window`?",
            "missing `entity`",
            "missing `source`",
            "missing `timestamp`",
            "invalid SQL in `filter`",
            "not a finite `f64`",
            "unknown aggregation `medain`",
            "`z` has no `#[feature(...)]`",
        ],
    );
    // The fallback keeps the struct and stubs the trait.
    let text = compact(&out);
    assert!(text.contains("FALLBACK_FEATURE_SET"));
    assert!(text.contains("typeRow=();"));
    let file: syn::File = syn::parse2(out).unwrap();
    let strct = file
        .items
        .iter()
        .find_map(|i| match i {
            syn::Item::Struct(s) => Some(s),
            _ => None,
        })
        .unwrap();
    assert!(strct.fields.iter().all(|f| f.attrs.is_empty()));
}

#[test]
fn cross_checks() {
    let out = feature_set_inner(
        quote!(entity = "cpf,cpf", source = S, timestamp = t),
        quote!(
            pub struct F {
                #[feature(count(a), count(a), sum(b))]
                pub a: i32,
            }
        ),
    );
    expect_errors(
        out,
        &[
            "`cpf` is listed twice in `entity`",
            "duplicate output column `a__count`",
        ],
    );
    // Which of `a` and `b` is at fault only rustc knows, from the source's
    // columns: "the same column" only if both are the source's.
    let out = feature_set_inner(
        quote!(entity = "cpf", source = S, timestamp = t),
        quote!(
            pub struct F {
                #[feature(sum(amout), avg(amount))]
                pub a: f64,
            }
        ),
    );
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    let text = compact(&out);
    assert!(text.contains(
        "has_column(&<__FSourceas::featurestore_runtime::Source>::SPEC,\"amout\")&&\
         ::featurestore_runtime::__private::has_column(&<__FSourceas::featurestore_runtime::Source>::SPEC,\"amount\")"
    ), "{text}");
    assert!(text.contains(
        "unknown_column(&<__FSourceas::featurestore_runtime::Source>::SPEC,\"S\",\"amout\",\"\")"
    ));
}

#[test]
fn non_structs_are_refused() {
    let out = feature_set_inner(
        quote!(entity = "cpf", source = S, timestamp = t),
        quote!(
            pub enum F {
                A,
            }
        ),
    );
    expect_errors(out.clone(), &["not an enum"]);
    assert!(compact(&out).contains("impl::featurestore_runtime::FeatureSetforF"));
    let out = source_inner(
        quote!(path = "a.csv"),
        quote!(
            fn f() {}
        ),
    );
    expect_errors(out, &["not a function"]);
    let out = source_inner(
        quote!(path = "a.csv"),
        quote!(
            struct T(i32);
        ),
    );
    expect_errors(out, &["not a tuple struct"]);
}

#[test]
fn source_errors() {
    expect_errors(
        source_inner(
            quote!(path = "data/x"),
            quote!(
                struct S {
                    a: i32,
                }
            ),
        ),
        &["cannot tell the format of `data/x`"],
    );
    expect_errors(
        source_inner(
            quote!(),
            quote!(
                struct S {
                    a: i32,
                }
            ),
        ),
        &["missing `path` or `query`"],
    );
    expect_errors(
        source_inner(
            quote!(query = "SELECT * FROM"),
            quote!(
                struct S {
                    a: i32,
                }
            ),
        ),
        &["invalid SQL in `query`", "`query` needs `inputs(...)`"],
    );
    expect_errors(
        source_inner(
            quote!(path = "a.csv", format = "xls", nme = "x"),
            quote!(
                struct S {
                    a: i32,
                    A: i32,
                }
            ),
        ),
        &[
            "unknown format `xls`",
            "unknown key `nme` in `#[source]`: did you mean `name`?",
        ],
    );
    // Errors: the struct still exposes its columns to feature sets.
    let out = source_inner(
        quote!(path = "data/x"),
        quote!(
            struct S {
                a: i32,
            }
        ),
    );
    assert!(compact(&out)
        .contains("HasColumn<{::featurestore_runtime::__private::column_hash(\"a\")}>forS"));
}

#[test]
fn derived_source() {
    let out = source_inner(
        quote!(
            query = "SELECT o.*, u.segment FROM order_events o JOIN users u ON o.cpf = u.cpf",
            inputs(OrderEvents, Users)
        ),
        quote!(
            pub struct OrdersWithSegment {
                pub cpf: String,
                pub segment: Option<String>,
            }
        ),
    );
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    let text = compact(&out);
    assert!(text.contains("inputs:&[&<OrderEventsas::featurestore_runtime::Source>::SPEC,&<Usersas::featurestore_runtime::Source>::SPEC]"));
    assert!(text.contains("name:\"orders_with_segment\""));
}

fn awesome_dataset(args: TokenStream) -> TokenStream {
    dataset_inner(
        args,
        quote! {
            /// Orders enriched with both feature sets as of each order's time.
            pub struct AwesomeDataset;
        },
    )
}

#[test]
fn legiti_dataset_expands() {
    let out = awesome_dataset(quote!(
        spine = OrderEvents,
        key = cpf,
        timestamp = order_timestamp,
        features(UserOrders, UserChargebacks),
        fill_null = 0,
        keep(order_id, order_timestamp, chargeback_timestamp, cpf)
    ));
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    let text = compact(&out);
    for needle in [
        "impl::featurestore_runtime::DatasetforAwesomeDataset",
        "name:\"awesome_dataset\"",
        "keys:&[\"cpf\"]",
        "timestamp:\"order_timestamp\"",
        "feature_set:&<__AwesomeDatasetJoin0as::featurestore_runtime::FeatureSet>::SPEC",
        "ttl:::core::option::Option::None,prefix:\"\"",
        "fill_null:::core::option::Option::Some(::featurestore_runtime::spec::FillValue::Int(0i64))",
        "name:\"timestamp\"",
        "origin:::featurestore_runtime::spec::ColumnOrigin::Timestamp{column:\"order_timestamp\"}",
        "origin:::featurestore_runtime::spec::ColumnOrigin::Spine{column:\"chargeback_timestamp\"}",
        "typeRow=AwesomeDatasetRow<<__AwesomeDatasetJoin0as::featurestore_runtime::FeatureSet>::Features,<__AwesomeDatasetJoin1as::featurestore_runtime::FeatureSet>::Features>;",
        "pubstructAwesomeDatasetRow",
        "pubstructAwesomeDatasetRow<UserOrdersFeatures=<__AwesomeDatasetJoin0as::featurestore_runtime::FeatureSet>::Features,UserChargebacksFeatures=<__AwesomeDatasetJoin1as::featurestore_runtime::FeatureSet>::Features>",
        "pubuser_orders:UserOrdersFeatures,",
        "impl<UserOrdersFeatures:::core::clone::Clone,UserChargebacksFeatures:::core::clone::Clone>::core::clone::CloneforAwesomeDatasetRow<UserOrdersFeatures,UserChargebacksFeatures>",
        "#[serde(flatten)]user_chargebacks:__T5",
        "pubconstTIMESTAMP:&'staticstr=\"timestamp\"",
        "pubconstORDER_ID:&'staticstr=\"order_id\"",
        "assert_same_key::<<<__AwesomeDatasetJoin1as::featurestore_runtime::FeatureSet>::Rowas::featurestore_runtime::__private::KeyAt<0usize>>::Type,<<::featurestore_runtime::__private::Col<{::featurestore_runtime::__private::column_code(&<__AwesomeDatasetSpineas::featurestore_runtime::Source>::SPEC,\"cpf\")}>as::featurestore_runtime::__private::ColumnOf>::Typeas::featurestore_runtime::__private::ColumnType>::Inner>",
        "key_name(&<__AwesomeDatasetJoin1as::featurestore_runtime::FeatureSet>::SPEC,0usize),\"cpf\")",
        "outputs_collide(&<__AwesomeDatasetJoin0as::featurestore_runtime::FeatureSet>::SPEC,\"\",&<__AwesomeDatasetJoin1as::featurestore_runtime::FeatureSet>::SPEC,\"\")",
        "#Dataset`awesome_dataset`",
        "Then every output column of [`UserOrders`], as of the row's `timestamp`;",
        "then every output column of [`UserChargebacks`], as of the row's `timestamp`;",
    ] {
        let needle = needle.replace(' ', "");
        assert!(text.contains(&needle), "{needle} not in {text}");
    }
    // The row's fields: kept columns in `keep` order, then the joins.
    let file: syn::File = syn::parse2(out).unwrap();
    let row = file
        .items
        .iter()
        .find_map(|i| match i {
            syn::Item::Struct(s) if s.ident == "AwesomeDatasetRow" => Some(s),
            _ => None,
        })
        .unwrap();
    let fields: Vec<String> = row
        .fields
        .iter()
        .map(|f| f.ident.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(
        fields,
        [
            "order_id",
            "timestamp",
            "chargeback_timestamp",
            "cpf",
            "user_orders",
            "user_chargebacks"
        ]
    );
}

#[test]
fn prefixed_joins_and_default_keep() {
    let out = awesome_dataset(quote!(
        spine = OrderEvents,
        key = "cpf",
        timestamp = order_timestamp,
        features(UserOrders, UserOrders(ttl = "12h", prefix = "recent_"))
    ));
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    let text = compact(&out);
    for needle in [
        "pubstructAwesomeDatasetRow<UserOrdersFeatures=<__AwesomeDatasetJoin0as::featurestore_runtime::FeatureSet>::Features>{",
        "pubrecent_user_orders:::featurestore_runtime::__private::Prefixed<<__AwesomeDatasetJoin1as::featurestore_runtime::FeatureSet>::Features,__AwesomeDatasetPrefix1>,",
        "pubstruct__AwesomeDatasetPrefix1;",
        "impl::featurestore_runtime::__private::PrefixMarkerfor__AwesomeDatasetPrefix1{constPREFIX:&'staticstr=\"recent_\";}",
        "ttl:::core::option::Option::Some(::featurestore_runtime::spec::Window{amount:12,unit:::featurestore_runtime::spec::WindowUnit::Hours,})",
        "spine_columns:&::featurestore_runtime::__private::spine_columns::<{<__AwesomeDatasetSpineas::featurestore_runtime::Source>::SPEC.columns.len()}>(&<__AwesomeDatasetSpineas::featurestore_runtime::Source>::SPEC,\"order_timestamp\")",
        "columns_unique",
        "Every column of [`OrderEvents`], in field order",
        "columns prefixed `recent_`",
        "rows older than 12 hours count as missing",
    ] {
        let needle = needle.replace(' ', "");
        assert!(text.contains(&needle), "{needle} not in {text}");
    }
    assert!(!text.contains("__AwesomeDatasetPrefix0"));
}

#[test]
fn dataset_errors_are_collected() {
    let out = awesome_dataset(quote!(
        spine = OrderEvents,
        keys = cpf,
        timestamp = "order_timestamp",
        features(UserOrders(ttl = "30x", prefix = "1_", size = 2), UserOrders),
        filter = "cpf = = 1",
        keep(order_id, order_id)
    ));
    expect_errors(
        out.clone(),
        &[
            "unknown key `keys` in `#[dataset]`: did you mean `key`?",
            "`timestamp` takes a column name of the source, without quotes",
            "unknown key `size` in `UserOrders(...)`: the keys are `key`, `ttl`, `prefix`",
            "unknown unit `x` in ttl `30x`",
            "`prefix = \"1_\"` cannot start a column name",
            "invalid SQL in `filter`",
        ],
    );
    let text = compact(&out);
    assert!(text.contains("FALLBACK_DATASET"));
    assert!(text.contains("typeRow=();"));
    assert!(text.contains("pubstructAwesomeDataset;"));
}

#[test]
fn dataset_cross_checks() {
    let out = awesome_dataset(quote!(
        spine = OrderEvents,
        key = "cpf,cpf",
        timestamp = order_timestamp,
        features(
            UserOrders,
            UserOrders,
            a::UserOrders(prefix = "o_"),
            b::UserOrders(prefix = "o_")
        ),
        keep(order_id, order_id, order_timestamp, timestamp)
    ));
    expect_errors(
        out,
        &[
            "`cpf` is listed twice in `key`",
            "`order_id` is listed twice in `keep`",
            "the spine column `timestamp` clashes with `order_timestamp`",
            "the key column `cpf` is not in `keep`",
            "`UserOrders` is joined twice",
            "the row's field for `b::UserOrders` would be `o_user_orders`",
        ],
    );
    expect_errors(
        awesome_dataset(quote!(spine = S, key = k, timestamp = t, features())),
        &["`features` is empty"],
    );
    expect_errors(
        awesome_dataset(quote!(
            spine = S,
            key = k,
            timestamp = t,
            features(F),
            keep()
        )),
        &["`keep` is empty"],
    );
    expect_errors(
        awesome_dataset(quote!()),
        &[
            "missing `spine`",
            "missing `key`",
            "missing `timestamp`",
            "missing `features`",
        ],
    );
}

#[test]
fn datasets_are_unit_structs() {
    let args = quote!(spine = S, key = k, timestamp = t, features(F));
    let out = dataset_inner(
        args.clone(),
        quote!(
            pub struct D {
                pub a: i32,
            }
        ),
    );
    expect_errors(
        out.clone(),
        &["`#[dataset]` goes on a unit struct, e.g. `pub struct D;`"],
    );
    assert!(compact(&out).contains("impl::featurestore_runtime::DatasetforD"));
    let out = dataset_inner(
        args.clone(),
        quote!(
            enum D {}
        ),
    );
    expect_errors(out, &["`#[dataset]` goes on a unit struct, not an enum"]);
    let out = dataset_inner(
        args.clone(),
        quote!(
            struct D {}
        ),
    );
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    let out = dataset_inner(
        args,
        quote!(
            struct D();
        ),
    );
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
}

#[test]
fn feature_sets_have_features_and_key_types() {
    let out = user_orders();
    let text = compact(&out);
    for needle in [
        "pubstructUserOrdersFeatures{",
        "typeFeatures=UserOrdersFeatures;",
        "impl::featurestore_runtime::__private::KeyAt<0usize>forUserOrdersRow{typeType=<<::featurestore_runtime::__private::Col<{::featurestore_runtime::__private::column_code(&<__UserOrdersSourceas::featurestore_runtime::Source>::SPEC,\"cpf\")}>as::featurestore_runtime::__private::ColumnOf>::Typeas::featurestore_runtime::__private::ColumnType>::Inner;}",
    ] {
        assert!(text.contains(needle), "{needle} not in {text}");
    }
    let file: syn::File = syn::parse2(out).unwrap();
    let features = file
        .items
        .iter()
        .find_map(|i| match i {
            syn::Item::Struct(s) if s.ident == "UserOrdersFeatures" => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(features.fields.len(), 3);
}

#[test]
fn catalog_aggregations_expand() {
    let out = feature_set_inner(
        quote!(entity = "k", window = "2d", source = S, timestamp = t),
        quote! {
            struct F {
                #[feature(count_distinct(x), approx_count_distinct(x, 0.05), var_pop(x),
                          stddev_samp(x), var_samp(x), percentile(x, 0.5), percentile(x, 0.999),
                          percentile(x, 1))]
                x: f64,
                #[feature(first(s), last(s), mode(s))]
                s: String,
                #[feature(most_frequent_set(s))]
                m: Vec<String>,
            }
        },
    );
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    let text = compact(&out);
    for name in [
        "x__count_distinct_over_2_days_rolling_windows",
        "x__approx_count_distinct_over_2_days_rolling_windows",
        "x__var_pop_over_2_days_rolling_windows",
        "x__stddev_samp_over_2_days_rolling_windows",
        "x__var_samp_over_2_days_rolling_windows",
        "x__percentile_50_over_2_days_rolling_windows",
        "x__percentile_99_9_over_2_days_rolling_windows",
        "x__percentile_100_over_2_days_rolling_windows",
        "s__first_over_2_days_rolling_windows",
        "s__last_over_2_days_rolling_windows",
        "s__mode_over_2_days_rolling_windows",
        "m__most_frequent_set_over_2_days_rolling_windows",
    ] {
        assert!(text.contains(&format!("name:\"{name}\"")), "{name}");
    }
    assert!(
        text.contains("Percentile(::featurestore_runtime::spec::Percentage{millionths:500000u32})")
    );
    // Value functions check the declared type against the column's, and
    // need no numeric output.
    assert!(text.contains("assert_value_of::<String,"));
    assert!(!text.contains("assert_numeric_output::<String>"));
    assert!(text.contains("assert_numeric_output::<f64>"));
    assert!(text.contains("assert_set_of::<Vec<String>,"));
    assert!(!text.contains("assert_numeric_output::<Vec<String>>"));
    assert!(out
        .to_string()
        .contains("  - `m__most_frequent_set_over_2_days_rolling_windows`: `Option<Vec<String>>`"));
    // Docs say what each function computes.
    assert!(out
        .to_string()
        .contains("most frequent value (ties: the smallest value)"));
}

#[test]
fn catalog_aggregation_arguments() {
    let fs = |feature: TokenStream| {
        feature_set_inner(
            quote!(entity = "k", window = "2d", source = S, timestamp = t),
            quote!(
                struct F {
                    #[feature(#feature)]
                    x: f64,
                }
            ),
        )
    };
    expect_errors(
        fs(quote!(percentile(x))),
        &["`percentile` needs a percentage"],
    );
    expect_errors(fs(quote!(percentile(x, 1.5))), &["a number from 0 to 1"]);
    expect_errors(
        fs(quote!(percentile(x, 0.1234567))),
        &["at most 6 decimals"],
    );
    expect_errors(
        fs(quote!(percentile(x, 0.5, 0.6))),
        &["a column and a percentage"],
    );
    expect_errors(fs(quote!(approx_count_distinct(x, 2))), &["relative error"]);
    expect_errors(fs(quote!(mode(x, 2))), &["`mode` takes only a column"]);
    expect_errors(fs(quote!(sum(x, y))), &["declare it on another field"]);
    expect_errors(
        fs(quote!(first("x"))),
        &["takes a column name of the source first"],
    );
    expect_errors(
        fs(quote!(percentile(x, 0.5), percentile(x, 0.50))),
        &["duplicate output column `x__percentile_50"],
    );
}

#[test]
fn plain_feature_sets() {
    let out = feature_set_inner(
        quote!(entity = "k", source = S, timestamp = t),
        quote! {
            struct F {
                #[feature(column = amount)] a: f64,
                #[feature(sql = "amount * 2")] b: i64,
                #[feature(function = crate::f, column = amount)] c: i64,
            }
        },
    );
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    let text = compact(&out);
    for name in ["name:\"a\"", "name:\"b\"", "name:\"c\""] {
        assert!(text.contains(name), "{name}");
    }
    assert!(text.contains("PlainSpec::Sql(\"amount*2\")"));
    assert!(text.contains("ExprFunction{name:\"crate::f\",run:crate::f}"));
    assert!(out
        .to_string()
        .contains("one per event, without aggregation"));

    let fs = |args: TokenStream, fields: TokenStream| {
        feature_set_inner(args, quote!(struct F { #fields }))
    };
    let args = || quote!(entity = "k", source = S, timestamp = t);
    expect_errors(
        fs(
            args(),
            quote!(#[feature(column = x)] a: i64, #[feature(count(x))] b: i64,),
        ),
        &["`a` is a plain feature (one row per event) but `b` aggregates"],
    );
    expect_errors(
        fs(
            quote!(entity = "k", source = S, timestamp = t, window = "1d"),
            quote!(#[feature(column = x)] a: i64,),
        ),
        &["a plain feature set has one row per event: remove `window`"],
    );
    expect_errors(
        fs(args(), quote!(#[feature(function = f)] a: i64,)),
        &["`function` needs the column it receives"],
    );
    expect_errors(
        fs(args(), quote!(#[feature(sql = "x +", column = x)] a: i64,)),
        &["`sql` computes the value from the row alone"],
    );
    expect_errors(
        fs(args(), quote!(#[feature(sql = "x +")] a: i64,)),
        &["invalid SQL in `sql`"],
    );
    expect_errors(
        fs(args(), quote!(#[feature(count(x), column = x)] a: i64,)),
        &["a plain feature (`column`, `sql` or `function`) takes no aggregation"],
    );
}

#[test]
fn window_functions_of_plain_feature_sets() {
    let fs = |fields: TokenStream| {
        feature_set_inner(
            quote!(entity = "k", source = S, timestamp = t),
            quote!(struct F { #fields }),
        )
    };
    let out = fs(quote!(
        #[feature(avg(x), over = "2m")] a: f64,
        #[feature(sum(x), rows = 1)] b: i64,
        #[feature(lag(x), lead(x, 3))] c: i64,
    ));
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    let text = compact(&out);
    for name in [
        "a__avg_over_2_minutes_fixed_windows",
        "b__sum_over_1_event_row_windows",
        "c__lag_1",
        "c__lead_3",
    ] {
        assert!(text.contains(&format!("name:\"{name}\"")), "{name}");
    }
    assert!(text.contains("Frame::Rows(1u32)"));
    expect_errors(
        fs(quote!(#[feature(mode(x), over = "2m")] a: f64,)),
        &["`mode` is no window function"],
    );
    expect_errors(
        fs(quote!(#[feature(sum(x), over = "2m", rows = 2)] a: f64,)),
        &["either a time window (`over`) or a row window (`rows`)"],
    );
    expect_errors(
        fs(quote!(#[feature(sum(x), over = "2x")] a: f64,)),
        &["unknown unit `x`"],
    );
    expect_errors(
        fs(quote!(#[feature(lag(x, 0))] a: f64,)),
        &["`lag` moves by at least 1 event"],
    );
    expect_errors(
        feature_set_inner(
            quote!(entity = "k", source = S, timestamp = t, window = "1d"),
            quote!(
                struct F {
                    #[feature(count(x), lag(x))]
                    a: i64,
                }
            ),
        ),
        &["`lag` is a window function of plain feature sets"],
    );
}

#[test]
fn keys_and_times_are_documented_and_specified() {
    let out = source_inner(
        quote!(path = "visits.csv"),
        quote! {
            pub struct Visits {
                pub user: String,
                #[column(epoch = "ms")]
                pub at: i64,
                #[column(format = "%d/%m/%Y")]
                pub day: Option<String>,
                pub lat: f64,
                pub lng: f64,
                #[column(h3(lat = lat, lng = lng, resolutions = "6..=8"))]
                pub h3_id: String,
                #[column(stack(user, user))]
                pub who: String,
            }
        },
    );
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    let text = compact(&out);
    // The columns as read are times, and the attributes are gone.
    assert!(text.contains("typeType=<i64as::featurestore_runtime::__private::EpochColumn>::Time;"));
    assert!(text.contains("TimeEncoding::Epoch(::featurestore_runtime::spec::EpochUnit::Millis)"));
    assert!(text.contains("TimeEncoding::Format(\"%d/%m/%Y\")"));
    assert!(text.contains("resolutions:&[6u8,7u8,8u8]"));
    assert!(text.contains("Derivation::Stack{columns:&[\"user\",\"user\"]}"));
    assert!(!text.contains("#[column"));
    // The rustdoc says what each does, in words.
    assert!(text.contains("|`at`|`i64`→`NaiveDateTime`|no|Millisecondssince1970-01-0100:00:00UTC,readasaUTCtimestamp.|"), "{text}");
    assert!(text.contains("Textintheformat`%d/%m/%Y`,readasaUTCtimestamp."));
    assert!(text.contains("Computed:theH3cell(hexadecimalid)of`lat`,`lng`atresolutions6,7,8;onerowperresolutionforeachrowread."));
    assert!(text.contains("Computed:thevaluesof`user`,`user`stacked"));
}

#[test]
fn key_and_time_attribute_errors_are_collected() {
    let out = source_inner(
        quote!(path = "visits.csv"),
        quote! {
            pub struct Visits {
                #[column(epoch = "ns")]
                pub at: i64,
                #[column(format = "%Y-%m-%d %Q")]
                pub day: String,
                #[column(h3(lat = la, lng = at, resolutions = "6..12"))]
                pub h3_id: String,
                #[column(unit = "ms")]
                pub other: i64,
            }
        },
    );
    let errors = errors(&out);
    let expected = [
        "unknown epoch unit `ns`",
        "invalid time format `%Y-%m-%d %Q`",
        "write an inclusive range, `\"6..=12\"`",
        "unknown key `unit` in `#[column]`",
        "no column `la` in this source",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:?}");
    for (error, start) in errors.iter().zip(expected) {
        assert!(error.starts_with(start), "{errors:?}");
    }
}

fn amenities(args: TokenStream) -> TokenStream {
    source_inner(
        args,
        quote!(
            pub struct Amenities {
                pub id: String,
                pub ts: NaiveDateTime,
                pub amenity: String,
                pub has: Option<bool>,
                pub payload: Option<String>,
            }
        ),
    )
}

#[test]
fn preprocessed_sources_expose_the_columns_after_their_steps() {
    let out = amenities(quote!(
        path = "a.csv",
        filter = "has IS NOT NULL",
        replace(amenity, {"piscina": "pool"}),
        explode_json(payload, columns(floor: Option<i64>)),
        pivot(on = amenity, value = last(has), keys(id), timestamp = ts,
              columns(pool: Option<bool>, oven: Option<bool>), forward_fill),
        forward_fill(columns(pool), keys(id), timestamp = ts),
    ));
    assert!(errors(&out).is_empty(), "{:?}", errors(&out));
    let text = compact(&out);
    // Feature sets see the pivot's rows; the fields are what is read.
    assert!(text.contains("HasColumn<{::featurestore_runtime::__private::column_hash(\"pool\")}>forAmenities{typeType=Option<bool>;}"));
    assert!(!text.contains("column_hash(\"amenity\")"));
    assert!(!text.contains("column_hash(\"floor\")"));
    assert!(text.contains("read:&[::featurestore_runtime::spec::ColumnSpec{name:\"id\""));
    assert!(text.contains("aggregation:::featurestore_runtime::spec::PivotAggregation::Last"));
    assert!(text.contains("pubconstAMENITY:&'staticstr=\"amenity\""));
    assert!(text.contains("pubconstPOOL:&'staticstr=\"pool\""));
    assert!(text.contains("assert_replace::<String,str>()"));
    assert!(text.contains("assert_pivot_column::<Option<bool>,Option<bool>>()"));
    // The steps in words, in order.
    assert!(text.contains("1.**filter**:keepstherowswhere`hasISNOTNULL`."));
    assert!(text.contains("2.**replace**in`amenity`:`\\\"piscina\\\"`→`\\\"pool\\\"`"));
    assert!(text.contains("4.**pivot**:onerowper`id`and`ts`"));
    assert!(text.contains("5.**forward_fill**`pool`"));
}

#[test]
fn preprocessing_errors_are_collected() {
    expect_errors(
        amenities(quote!(
            path = "a.csv",
            filter = "has IS",
            replace(amenty, {"a": "b"}),
            pivot(on = amenity, value = mean(has), keys(id), timestamp = ts, columns(pool: Option<bool>)),
            pivot(on = amenity, value = first(has), key(id), columns(pool: Option<bool>)),
            explode_json(payload, columns(id: Option<String>)),
            forward_fill(columns(id), keys(id), timestamp = ts),
        )),
        &[
            "invalid SQL in `filter`",
            "no column `amenty` in the rows `replace` receives: they have `id`, `ts`, `amenity`, `has`, `payload`",
            "unknown aggregation `mean` in `pivot`: the aggregations are `first`, `last`, `sum`, `min`, `max`",
            "unknown option `key` in `pivot`: did you mean `keys`?",
            "`pivot` needs `keys(...)`",
            "`pivot` needs `timestamp = column`",
            "column `id` is declared twice",
            "`id` orders or groups the rows of `forward_fill`",
        ],
    );
}

#[test]
fn catalog_errors_are_reported_together() {
    let out = catalog_inner(quote! {
        source(OrderEvents),
        feature_sets(UserOrders, UserOrders),
        datasets(),
    });
    assert_eq!(
        errors(&out),
        [
            "unknown key `source` in `catalog!`: did you mean `sources`? the keys are \
             `sources`, `feature_sets`, `datasets`",
            "`UserOrders` is listed twice: list it once",
            "`datasets` is empty: list the crate's `#[dataset]` structs, or remove it",
        ]
    );
    // The module stays, so links to it from the crate's docs still resolve.
    assert!(out.to_string().contains("pub mod catalog"));

    let out = catalog_inner(quote!());
    assert_eq!(
        errors(&out),
        [
            "`catalog!` lists nothing: write `sources`, `feature_sets`, `datasets`, e.g. \
          `catalog! { sources(OrderEvents), feature_sets(UserOrders) }`"
        ]
    );
}
