//! Expansion snapshots: the code generated for the chargeback declarations
//! of `features/src/lib.rs`, its catalog, and a pre-processed source, formatted, so
//! that a change to generated code shows in review as a diff of
//! `src/snapshots/`. After an intended change, refresh them with
//! `INSTA_UPDATE=always cargo test -p featurestore-macros` (or `cargo insta
//! review`) and read the diff.

use proc_macro2::TokenStream;
use quote::quote;

use crate::{catalog_inner, dataset_inner, feature_set_inner, source_inner};

/// Compares the expansion, as a person reads it (formatted, docs as `///`
/// comments), with the snapshot `name`.
fn assert_expansion(name: &str, tokens: TokenStream) {
    let file: syn::File = syn::parse2(tokens).expect("the expansion parses as items");
    let mut settings = insta::Settings::clone_current();
    // The declaration is in this file already.
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name, prettyplease::unparse(&file)));
}

#[test]
fn order_events() {
    assert_expansion(
        "order_events",
        source_inner(
            quote!(path = "data/order_events/input.csv", format = "csv"),
            quote! {
                /// Order events exported by the checkout service.
                #[derive(Debug)]
                pub struct OrderEvents {
                    /// Orders unique identifier.
                    pub order_id: String,
                    /// When the order was placed (UTC).
                    pub order_timestamp: NaiveDateTime,
                    /// User unique identifier (CPF), the user entity key.
                    pub cpf: String,
                    /// When the order was charged back (UTC), if it was.
                    pub chargeback_timestamp: Option<NaiveDateTime>,
                }
            },
        ),
    );
}

#[test]
fn user_orders() {
    assert_expansion(
        "user_orders",
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
                #[derive(Debug)]
                pub struct UserOrders {
                    /// Total of orders registered on the user's CPF.
                    #[feature(count(order_id))]
                    pub cpf_orders: i32,
                }
            },
        ),
    );
}

#[test]
fn user_chargebacks() {
    assert_expansion(
        "user_chargebacks",
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
                /// Aggregates the total of chargebacks from users in different time windows.
                #[derive(Debug)]
                pub struct UserChargebacks {
                    /// Total of chargebacks registered on the user's CPF.
                    #[feature(count(order_id))]
                    pub cpf_chargebacks: i32,
                }
            },
        ),
    );
}

#[test]
fn awesome_dataset() {
    assert_expansion(
        "awesome_dataset",
        dataset_inner(
            quote!(
                spine = OrderEvents,
                key = cpf,
                timestamp = order_timestamp,
                features(UserOrders, UserChargebacks),
                fill_null = 0,
                keep(order_id, order_timestamp, chargeback_timestamp, cpf)
            ),
            quote! {
                /// Dataset enriching orders events with aggregated features on total of
                /// orders and chargebacks by user, each as of the order's own time.
                #[derive(Debug)]
                pub struct AwesomeDataset;
            },
        ),
    );
}

#[test]
fn preprocessed_source() {
    assert_expansion(
        "preprocessed_source",
        source_inner(
            quote!(
                path = "data/amenities.csv",
                on_bad_rows = "skip",
                filter = "has IS NOT NULL",
                replace(amenity, {"piscina": "pool", "forno": "oven"}),
                explode_json(payload, columns(floor: Option<i64>)),
                pivot(on = amenity, value = last(has), keys(id), timestamp = ts,
                      columns(pool: Option<bool>, oven: Option<bool>), forward_fill),
                forward_fill(columns(pool), keys(id), timestamp = ts),
            ),
            quote! {
                /// Amenities of each listing, one row per amenity and change.
                pub struct Amenities {
                    pub id: String,
                    pub ts: NaiveDateTime,
                    pub amenity: String,
                    pub has: Option<bool>,
                    /// Details of the listing, as JSON.
                    pub payload: Option<String>,
                }
            },
        ),
    );
}

#[test]
fn catalog() {
    assert_expansion(
        "catalog",
        catalog_inner(quote! {
            // Written out of order: the catalog shows sources first.
            datasets(AwesomeDataset),
            sources(OrderEvents),
            feature_sets(UserOrders, crate::UserChargebacks),
        }),
    );
}
