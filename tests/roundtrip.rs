//! Property tests: any canonical document survives the canonical CSV and XML formats of its kind
//! (written, read back, equal), and fixtures of the cart formats survive a trip through them.

use cartferry::format::{self, Item, Options};
use cartferry::model::{
    Address, Document, HoldAction, InventoryRecord, ItemCondition, Order, OrderHold, OrderLine,
    Package, ReturnLine, ReturnReceipt, RmaAuthorization, RmaLine, ShipmentConfirmation,
    ShippedLine,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// Writes `documents` with `writer` and reads them back with the reader of the same name.
fn through(format_name: &str, documents: &[Document]) -> Vec<Document> {
    let writer = format::writer(format_name, &Options::new()).expect("writer exists");
    let mut bytes = Vec::new();
    let mut out = writer.begin(Box::new(&mut bytes), &format::WriteContext::now());
    for d in documents {
        out.write(d)
            .unwrap_or_else(|e| panic!("{format_name} writes {d:?}: {e}"));
    }
    out.finish().unwrap();
    let reader = format::reader(format_name, &Options::new()).expect("reader exists");
    reader
        .read(Box::new(&bytes[..]))
        .filter_map(|item| match item {
            Ok(Item::Document(d, _)) => Some(d),
            Ok(Item::Header(_)) => None,
            other => panic!(
                "{format_name} reads back what it wrote: {other:?}\n{}",
                String::from_utf8_lossy(&bytes)
            ),
        })
        .collect()
}

/// Text as the canonical model holds it: trimmed and non-empty, with commas, quotes, markup
/// characters, accents and inner line breaks.
fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9éüß][A-Za-z0-9 ,;\"'&<>éüß\n-]{0,12}[A-Za-z0-9éüß.]"
}

fn date() -> impl Strategy<Value = String> {
    prop_oneof![
        "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])",
        "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T(0[0-9]|1[0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z",
    ]
}

/// Gives each document its position as a suffix of its id, so adjacent documents never share
/// a key (which the CSV formats would read as one document).
fn unique<T>(mut items: Vec<T>, id: impl Fn(&mut T) -> &mut String) -> Vec<T> {
    for (i, item) in items.iter_mut().enumerate() {
        id(item).push_str(&format!("-{i}"));
    }
    items
}

fn address() -> impl Strategy<Value = Address> {
    let place = prop_oneof![
        Just(("US", Some("NY"))),
        Just(("US", Some("IL"))),
        Just(("CA", Some("QC"))),
        Just(("GB", None)),
        Just(("DE", None)),
    ];
    (
        (
            text(),
            text(),
            option::of(text()),
            text(),
            option::of(text()),
        ),
        (
            text(),
            place,
            "[0-9A-Z]{3,8}",
            option::of(text()),
            option::of(text()),
        ),
    )
        .prop_map(
            |(
                (first_name, last_name, company, address1, address2),
                (city, place, postal, email, phone),
            )| Address {
                first_name,
                last_name,
                company,
                address1,
                address2,
                city,
                state: place.1.map(str::to_string),
                postal_code: postal,
                country: place.0.into(),
                email,
                phone,
            },
        )
}

fn order() -> impl Strategy<Value = Order> {
    let line = (
        text(),
        1u32..1000,
        option::of("[0-9]{1,4}\\.[0-9]{2}"),
        option::of(text()),
    );
    let method = (text(), option::of("[A-Z]{4}"), option::of("[A-Z0-9]{2,4}"));
    (
        text(),
        option::of(date()),
        option::of("[A-Z]{3}"),
        method,
        address(),
        option::of(text()),
        vec(line, 1..4),
    )
        .prop_map(
            |(
                order_id,
                order_date,
                currency,
                (shipping_method, carrier, service),
                ship_to,
                notes,
                lines,
            )| Order {
                order_id,
                order_date,
                currency,
                shipping_method,
                carrier,
                service,
                ship_to,
                notes,
                lines: lines
                    .into_iter()
                    .enumerate()
                    .map(|(i, (sku, quantity, unit_price, description))| OrderLine {
                        line_number: i as u32 + 1,
                        sku,
                        quantity,
                        unit_price,
                        description,
                    })
                    .collect(),
            },
        )
}

fn hold() -> impl Strategy<Value = OrderHold> {
    let action = prop_oneof![
        Just(HoldAction::Hold),
        Just(HoldAction::Release),
        Just(HoldAction::Cancel)
    ];
    (text(), action, option::of(text()), option::of(date())).prop_map(
        |(order_id, action, reason, requested_at)| OrderHold {
            order_id,
            action,
            reason,
            requested_at,
        },
    )
}

fn shipment() -> impl Strategy<Value = ShipmentConfirmation> {
    let package = (text(), option::of(text())).prop_map(|(tracking_number, weight)| Package {
        tracking_number,
        weight,
    });
    let line = (text(), option::of(0u32..500), 0u32..500).prop_map(
        |(sku, quantity_ordered, quantity_shipped)| ShippedLine {
            sku,
            quantity_ordered,
            quantity_shipped,
        },
    );
    (
        (text(), option::of(text()), option::of(date())),
        (
            text(),
            option::of(text()),
            vec(package, 0..4),
            vec(line, 1..4),
        ),
    )
        .prop_map(
            |((order_id, shipment_id, ship_date), (carrier, service, packages, lines))| {
                ShipmentConfirmation {
                    order_id,
                    shipment_id,
                    ship_date,
                    carrier,
                    service,
                    packages,
                    lines,
                }
            },
        )
}

fn inventory() -> impl Strategy<Value = InventoryRecord> {
    (
        text(),
        option::of(text()),
        -1000i64..1_000_000,
        option::of(-1000i64..1_000_000),
        option::of(date()),
    )
        .prop_map(
            |(sku, location, on_hand, available, as_of)| InventoryRecord {
                sku,
                location,
                on_hand,
                available,
                as_of,
            },
        )
}

fn rma() -> impl Strategy<Value = RmaAuthorization> {
    let line =
        (text(), 1u32..100, option::of(text())).prop_map(|(sku, quantity, reason)| RmaLine {
            sku,
            quantity,
            reason,
        });
    (text(), text(), option::of(text()), vec(line, 1..4)).prop_map(
        |(rma_id, order_id, customer_name, lines)| RmaAuthorization {
            rma_id,
            order_id,
            customer_name,
            lines,
        },
    )
}

fn receipt() -> impl Strategy<Value = ReturnReceipt> {
    let condition = prop_oneof![
        Just(ItemCondition::Resellable),
        Just(ItemCondition::Damaged),
        Just(ItemCondition::Other)
    ];
    let line = (text(), 0u32..100, 0u32..100, condition).prop_map(
        |(sku, quantity_restocked, quantity_damaged, condition)| ReturnLine {
            sku,
            quantity_restocked,
            quantity_damaged,
            condition,
        },
    );
    (text(), text(), option::of(date()), vec(line, 1..4)).prop_map(
        |(rma_id, order_id, received_date, lines)| ReturnReceipt {
            rma_id,
            order_id,
            received_date,
            lines,
        },
    )
}

/// Checks that `documents` survive the CSV and XML formats named `canonical-<kind>-csv/xml`.
fn survives(kind: &str, documents: Vec<Document>) -> Result<(), TestCaseError> {
    for syntax in ["csv", "xml"] {
        let name = format!("canonical-{kind}-{syntax}");
        prop_assert_eq!(&through(&name, &documents), &documents, "{}", name);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn orders_survive(orders in vec(order(), 0..5)) {
        let orders = unique(orders, |o| &mut o.order_id);
        survives("orders", orders.into_iter().map(Document::Order).collect())?;
    }

    #[test]
    fn holds_survive(holds in vec(hold(), 0..5)) {
        // Holds are never merged, so equal adjacent order ids must stay apart as they are.
        survives("holds", holds.into_iter().map(Document::OrderHold).collect())?;
    }

    #[test]
    fn shipments_survive(shipments in vec(shipment(), 0..5)) {
        let shipments = unique(shipments, |s| &mut s.order_id);
        survives("shipments", shipments.into_iter().map(Document::ShipmentConfirmation).collect())?;
    }

    #[test]
    fn inventory_survives(records in vec(inventory(), 0..8)) {
        survives("inventory", records.into_iter().map(Document::InventoryRecord).collect())?;
    }

    #[test]
    fn rmas_survive(rmas in vec(rma(), 0..5)) {
        let rmas = unique(rmas, |r| &mut r.rma_id);
        survives("rmas", rmas.into_iter().map(Document::RmaAuthorization).collect())?;
    }

    #[test]
    fn returns_survive(receipts in vec(receipt(), 0..5)) {
        let receipts = unique(receipts, |r| &mut r.rma_id);
        survives("returns", receipts.into_iter().map(Document::ReturnReceipt).collect())?;
    }
}

/// The documents a cart export gives survive the canonical formats of their kinds.
#[test]
fn cart_fixtures_survive_the_canonical_formats() {
    let fixtures = [
        (
            "shopify-orders-csv",
            "shopify-orders-csv/orders_export_1.csv",
            None,
        ),
        (
            "woocommerce-orders-csv",
            "woocommerce-orders-csv/advanced-order-export-products-as-rows.csv",
            None,
        ),
        (
            "woocommerce-orders-csv",
            "woocommerce-orders-csv/webtoffee-order-export.csv",
            None,
        ),
        (
            "mapped-csv",
            "mapped-csv/shop-orders-de.csv",
            Some("mapped-csv/shop-orders-de.toml"),
        ),
        (
            "mapped-xml",
            "mapped-xml/shop-orders.xml",
            Some("mapped-xml/shop-orders.toml"),
        ),
    ];
    let fixture = |path: &str| {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures")
                .join(path),
        )
        .unwrap()
    };
    for (reader_name, path, mapping) in fixtures {
        let bytes = fixture(path);
        let options: Options = mapping.map_or_else(Options::new, |m| {
            toml::from_str(&String::from_utf8(fixture(m)).unwrap()).unwrap()
        });
        let reader = format::reader(reader_name, &options).unwrap();
        let documents: Vec<Document> = reader
            .read(Box::new(&bytes[..]))
            .filter_map(|item| match item.unwrap() {
                Item::Document(d, _) => Some(d),
                _ => None,
            })
            .collect();
        let (orders, holds): (Vec<Document>, Vec<Document>) = documents
            .into_iter()
            .partition(|d| matches!(d, Document::Order(_)));
        assert!(orders.len() >= 2, "{path} gives orders");
        for syntax in ["csv", "xml"] {
            assert_eq!(
                through(&format!("canonical-orders-{syntax}"), &orders),
                orders,
                "{path}"
            );
            assert_eq!(
                through(&format!("canonical-holds-{syntax}"), &holds),
                holds,
                "{path}"
            );
        }
    }
}
