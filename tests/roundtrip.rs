//! Property tests: any canonical document survives the canonical CSV and XML formats of its kind
//! (written, read back, equal), orders, cancellations and shipments survive X12 940s and 945s
//! (as far as those sets carry them), and fixtures of the cart formats survive a trip through them.

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

/// A partner whose separators (`|`, `^`, `~`) never occur in generated text and who takes
/// UTF-8, so every document can be sent and the whole of it compared.
const X12_PARTNER: &str = "[partner]\nsender_id = \"CARTFERRY\"\nreceiver_id = \"WAREHOUSE\"\nseparators = \"|^~\"\ncharacter_set = \"utf-8\"\n";

/// Writes `documents` as X12 with the writer `name` (on 2026-11-22) and reads them back with its
/// reader.
fn through_x12(name: &str, documents: &[Document]) -> Vec<Document> {
    let writer =
        format::writer(name, &toml::from_str(X12_PARTNER).unwrap()).expect("writer exists");
    let mut bytes = Vec::new();
    let context = format::WriteContext {
        control_numbers: None,
        time: chrono::NaiveDate::from_ymd_opt(2026, 11, 22)
            .unwrap()
            .and_hms_opt(9, 30, 0)
            .unwrap(),
    };
    let mut out = writer.begin(Box::new(&mut bytes), &context);
    for d in documents {
        out.write(d)
            .unwrap_or_else(|e| panic!("{name} writes {d:?}: {e}"));
    }
    out.finish().unwrap();
    if documents.is_empty() {
        assert!(bytes.is_empty(), "no documents, no interchange");
        return Vec::new();
    }
    through_reader(name, &bytes)
}

fn through_reader(name: &str, bytes: &[u8]) -> Vec<Document> {
    let reader = format::reader(name, &Options::new()).expect("reader exists");
    reader
        .read(Box::new(bytes))
        .filter_map(|item| match item {
            Ok(Item::Document(d, _)) => Some(d),
            Ok(Item::Header(_)) => None,
            other => panic!(
                "{name} reads back what it wrote: {other:?}\n{}",
                String::from_utf8_lossy(bytes)
            ),
        })
        .collect()
}

/// Text as an X12 element carries it: on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Informational text as the X12 writers shorten it.
fn note(text: &str, max: usize) -> String {
    one_line(text)
        .chars()
        .take(max)
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// An order as a 940 gives it back: names split at the last space, text on one line, the date
/// without its time, no currency or prices, the routing (W66-05) as the method.
fn as_940(o: &Order) -> Order {
    let a = &o.ship_to;
    let name = one_line(&format!("{} {}", a.first_name, a.last_name));
    let (first, last) = name.rsplit_once(' ').unwrap_or(("", &name));
    let routing = note(o.service.as_deref().unwrap_or(&o.shipping_method), 35);
    let routing = Some(routing).filter(|r| !r.is_empty());
    let opt = |v: &Option<String>| v.as_deref().map(one_line);
    Order {
        order_id: one_line(&o.order_id),
        order_date: o.order_date.as_ref().map(|d| d[..10].to_string()),
        currency: None,
        shipping_method: routing.clone().or(o.carrier.clone()).unwrap_or_default(),
        carrier: o.carrier.clone(),
        service: routing.filter(|_| o.carrier.is_some()),
        ship_to: Address {
            first_name: first.to_string(),
            last_name: last.to_string(),
            company: opt(&a.company),
            address1: one_line(&a.address1),
            address2: opt(&a.address2),
            city: one_line(&a.city),
            state: a.state.clone(),
            postal_code: one_line(&a.postal_code),
            country: a.country.clone(),
            email: opt(&a.email),
            phone: opt(&a.phone),
        },
        notes: o.notes.as_deref().map(|n| note(n, usize::MAX)),
        lines: o
            .lines
            .iter()
            .map(|l| OrderLine {
                line_number: l.line_number,
                sku: one_line(&l.sku),
                quantity: l.quantity,
                unit_price: None,
                description: l.description.as_deref().map(|d| note(d, 45)),
            })
            .collect(),
    }
}

/// A shipment as a 945 gives it back: text on one line, the date without its time, no weights,
/// each tracking number once; a carrier that is no SCAC comes back with its service as the
/// carrier's routing.
fn as_945(s: &ShipmentConfirmation) -> ShipmentConfirmation {
    let carrier = one_line(&s.carrier);
    let scac =
        (2..=4).contains(&carrier.len()) && carrier.bytes().all(|b| b.is_ascii_alphanumeric());
    let service = s
        .service
        .as_deref()
        .map(|v| note(v, 35))
        .filter(|v| !v.is_empty());
    let (carrier, service) = if scac {
        (carrier, service)
    } else {
        let routing = format!("{carrier} {}", service.unwrap_or_default());
        (note(&routing, 35), None)
    };
    let mut packages: Vec<Package> = Vec::new();
    for p in &s.packages {
        let tracking_number = one_line(&p.tracking_number);
        if !packages
            .iter()
            .any(|k| k.tracking_number == tracking_number)
        {
            packages.push(Package {
                tracking_number,
                weight: None,
            });
        }
    }
    ShipmentConfirmation {
        order_id: one_line(&s.order_id),
        shipment_id: s.shipment_id.as_deref().map(one_line),
        ship_date: s.ship_date.as_ref().map(|d| d[..10].to_string()),
        carrier,
        service,
        packages,
        lines: s
            .lines
            .iter()
            .map(|l| ShippedLine {
                sku: one_line(&l.sku),
                ..l.clone()
            })
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn orders_survive_a_940(orders in vec(order(), 0..4)) {
        let orders = unique(orders, |o| &mut o.order_id);
        let documents: Vec<Document> = orders.iter().cloned().map(Document::Order).collect();
        let expected: Vec<Document> = orders.iter().map(|o| Document::Order(as_940(o))).collect();
        prop_assert_eq!(through_x12("x12-940", &documents), expected);
    }

    #[test]
    fn cancellations_survive_a_940(holds in vec(hold(), 0..4)) {
        let cancellations: Vec<Document> = holds
            .into_iter()
            .map(|h| Document::OrderHold(OrderHold { action: HoldAction::Cancel, ..h }))
            .collect();
        let expected: Vec<Document> = cancellations
            .iter()
            .map(|d| match d {
                Document::OrderHold(h) => Document::OrderHold(OrderHold {
                    order_id: one_line(&h.order_id),
                    reason: h.reason.as_deref().map(|r| note(r, usize::MAX)),
                    requested_at: None,
                    ..h.clone()
                }),
                other => other.clone(),
            })
            .collect();
        prop_assert_eq!(through_x12("x12-940", &cancellations), expected);
    }

    #[test]
    fn shipments_survive_a_945(shipments in vec(shipment(), 0..4)) {
        let documents: Vec<Document> =
            shipments.iter().cloned().map(Document::ShipmentConfirmation).collect();
        let expected: Vec<Document> =
            shipments.iter().map(|s| Document::ShipmentConfirmation(as_945(s))).collect();
        prop_assert_eq!(through_x12("x12-945", &documents), expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn inventory_survives_an_846(records in vec(inventory(), 0..6)) {
        let documents: Vec<Document> =
            records.iter().cloned().map(Document::InventoryRecord).collect();
        let today = "2026-11-22".to_string(); // the date `through_x12` writes on
        let expected: Vec<Document> = records
            .iter()
            .map(|r| {
                Document::InventoryRecord(InventoryRecord {
                    sku: one_line(&r.sku),
                    location: r.location.as_deref().map(one_line),
                    // A record without a date takes the file's (BIA-04 is required).
                    as_of: Some(r.as_of.as_ref().map_or(today.clone(), |d| d[..10].to_string())),
                    ..r.clone()
                })
            })
            .collect();
        prop_assert_eq!(through_x12("x12-846", &documents), expected);
    }
}
