//! Cart formats read from the fixtures under `fixtures/`, written as the carts export them.

use std::path::{Path, PathBuf};

use cartferry::format::{
    self, Conversion, ConvertError, DataProblem, Item, OnInvalid, Options, convert,
};
use cartferry::model::{Document, HoldAction, Order, ShipmentConfirmation};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path)
}

fn options(toml_text: &str) -> Options {
    toml::from_str(toml_text).expect("test options are valid TOML")
}

/// Everything a reader finds in a file: documents, and the problems of rejected ones.
#[derive(Debug, Default, PartialEq)]
struct Read {
    documents: Vec<Document>,
    rejected: Vec<Vec<DataProblem>>,
}

impl Read {
    fn orders(&self) -> Vec<&Order> {
        self.documents
            .iter()
            .filter_map(|d| match d {
                Document::Order(o) => Some(o),
                _ => None,
            })
            .collect()
    }

    fn order(&self, id: &str) -> &Order {
        self.orders()
            .into_iter()
            .find(|o| o.order_id == id)
            .unwrap_or_else(|| panic!("order {id} was not read"))
    }

    /// The problems of the rejected document with this id.
    fn problems_of(&self, id: &str) -> &[DataProblem] {
        self.rejected
            .iter()
            .find(|ps| ps.iter().any(|p| p.document_id.as_deref() == Some(id)))
            .unwrap_or_else(|| panic!("{id} was not rejected: {:?}", self.rejected))
    }
}

fn read_with(reader: &str, reader_options: &str, bytes: &[u8]) -> Read {
    let reader = format::reader(reader, &options(reader_options)).expect("reader exists");
    let mut read = Read::default();
    for item in reader.read(Box::new(bytes)) {
        match item.expect("the file as a whole is readable") {
            Item::Header(_) | Item::Warning(_) => {}
            Item::Document(d, _) => read.documents.push(d),
            Item::Rejected(problems, _) => read.rejected.push(problems),
        }
    }
    read
}

fn shopify_export() -> Vec<u8> {
    std::fs::read(fixture("shopify-orders-csv/orders_export_1.csv")).unwrap()
}

#[test]
fn shopify_export_gives_orders_cancellations_and_reports() {
    let read = read_with("shopify-orders-csv", "", &shopify_export());
    let ids: Vec<&str> = read.orders().iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(
        ids.len(),
        44,
        "50 orders less 2 cancelled, 2 unpaid, 2 broken: {ids:?}"
    );
    assert!(
        ids.iter()
            .all(|id| !["#1013", "#1037", "#1024", "#1041", "#1017", "#1033"].contains(id))
    );

    let cancels: Vec<_> = read
        .documents
        .iter()
        .filter_map(|d| match d {
            Document::OrderHold(h) => {
                Some((h.order_id.as_str(), h.action, h.requested_at.as_deref()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        cancels,
        [
            (
                "#1013",
                HoldAction::Cancel,
                Some("2025-05-14T16:02:11-04:00")
            ),
            (
                "#1037",
                HoldAction::Cancel,
                Some("2025-06-02T08:30:00-04:00")
            ),
        ]
    );

    // Accents, the apostrophe ZIP and phone, the name split, the state and country codes.
    let jose = read.order("#1002");
    assert_eq!(
        (
            jose.ship_to.first_name.as_str(),
            jose.ship_to.last_name.as_str()
        ),
        ("José", "Núñez")
    );
    assert_eq!(jose.ship_to.postal_code, "02134");
    assert_eq!(jose.ship_to.phone.as_deref(), Some("0617 555 0134"));
    assert_eq!(
        jose.order_date.as_deref(),
        Some("2025-05-11T10:54:06-04:00")
    );
    let francois = read.order("#1004");
    assert_eq!(
        (
            francois.ship_to.city.as_str(),
            francois.ship_to.state.as_deref(),
            francois.ship_to.country.as_str()
        ),
        ("Montréal", Some("QC"), "CA")
    );
    assert_eq!(read.order("#1007").ship_to.city, "München");
    // Multi-line orders keep every line, numbered in file order; the gift card is left out.
    let skus = |id| {
        read.order(id)
            .lines
            .iter()
            .map(|l| (l.line_number, l.sku.as_str(), l.quantity))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        skus("#1002"),
        [(1, "TOWEL-LIN", 1), (2, "BOARD-OAK", 2), (3, "MUG-BLU", 3)]
    );
    assert_eq!(
        skus("#1008"),
        [(1, "MUG-BLU", 1), (2, "PAN-CI-26", 2), (3, "KETTLE-ENA", 3)]
    );
    // Quoted newlines and quotes in notes.
    assert_eq!(
        read.order("#1005").notes.as_deref(),
        Some("Leave at the back door.\nRing twice, the bell is broken.")
    );
    assert!(
        read.order("#1020")
            .notes
            .as_deref()
            .unwrap()
            .contains("\"Mum\" — no invoice in the box,\nplease.")
    );

    // Each rejected order names its line, column and fix.
    let pos = |p: &DataProblem| (p.line, p.field.clone().unwrap_or_default());
    assert_eq!(read.rejected.len(), 4);
    assert_eq!(
        read.problems_of("#1017")
            .iter()
            .map(pos)
            .collect::<Vec<_>>(),
        [(Some(29), "Lineitem sku".to_string())]
    );
    assert_eq!(
        read.problems_of("#1033")
            .iter()
            .map(pos)
            .collect::<Vec<_>>(),
        [(Some(55), "Shipping Zip".to_string())]
    );
    for (id, line) in [("#1024", 41), ("#1041", 66)] {
        let problems = read.problems_of(id);
        assert_eq!(
            problems.iter().map(pos).collect::<Vec<_>>(),
            [(Some(line), "Financial Status".to_string())]
        );
        assert!(
            problems[0].fix.contains("unpaid = \"pass\""),
            "{}",
            problems[0].fix
        );
    }
}

#[test]
fn the_excel_windows_1252_copy_reads_the_same() {
    let excel = std::fs::read(fixture(
        "shopify-orders-csv/orders_export_1-excel-windows-1252.csv",
    ))
    .unwrap();
    assert!(
        std::str::from_utf8(&excel).is_err(),
        "the fixture really is Windows-1252"
    );
    assert_eq!(
        read_with("shopify-orders-csv", "", &excel),
        read_with("shopify-orders-csv", "", &shopify_export())
    );
}

#[test]
fn unpaid_orders_pass_when_the_route_says_so() {
    let read = read_with("shopify-orders-csv", "unpaid = \"pass\"", &shopify_export());
    assert_eq!(read.orders().len(), 46);
    assert_eq!(read.order("#1024").lines.len(), 1);
    let read = read_with(
        "shopify-orders-csv",
        "paid_statuses = [\"paid\", \"Authorized\"]",
        &shopify_export(),
    );
    assert_eq!(
        read.orders().len(),
        45,
        "authorized counts as paid, pending does not"
    );
    read.order("#1041");
}

/// A two-order Shopify file: the second has no shipping address, only a billing one.
const BILLING_ONLY: &str = "Name,Financial Status,Shipping Method,Lineitem quantity,Lineitem sku,Cancelled at,Billing Name,Billing Address1,Billing City,Billing Zip,Billing Province,Billing Country,Shipping Name,Shipping Address1,Shipping City,Shipping Zip,Shipping Province,Shipping Country\n\
#1,paid,Standard,1,A,,Bo Li,1 St,Town,10001,NY,US,Bo Li,2 Rd,City,10002,NY,US\n\
#2,paid,Standard,1,A,,Cy Ng,3 Ave,Ville,H3B 1K1,QC,CA,,,,,,\n";

#[test]
fn billing_address_is_used_only_when_the_route_allows() {
    let read = read_with("shopify-orders-csv", "", BILLING_ONLY.as_bytes());
    assert_eq!(read.order("#1").ship_to.address1, "2 Rd", "shipping wins");
    let problems = read.problems_of("#2");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].fix.contains("billing_fallback = true"));

    let read = read_with(
        "shopify-orders-csv",
        "billing_fallback = true",
        BILLING_ONLY.as_bytes(),
    );
    assert_eq!(read.order("#1").ship_to.address1, "2 Rd");
    let two = read.order("#2");
    assert_eq!(
        (two.ship_to.address1.as_str(), two.ship_to.country.as_str()),
        ("3 Ave", "CA")
    );
}

#[test]
fn a_split_shopify_export_delivers_the_good_orders_and_keeps_the_rest_as_shopify_rows() {
    let conversion = Conversion {
        reader: format::reader("shopify-orders-csv", &Options::new()).unwrap(),
        writer: format::writer("canonical-orders-csv", &Options::new()).unwrap(),
        on_invalid: OnInvalid::Split,
        shipping_methods: Default::default(),
    };
    let input = shopify_export();
    let mut out = Vec::new();
    let converted = convert(
        &conversion,
        &format::WriteContext::now(),
        Box::new(&input[..]),
        None,
        Box::new(&mut out),
        50,
    )
    .unwrap_or_else(|e| panic!("split: {e:?}"));
    assert_eq!(converted.written, 44);
    let delivered = read_with("canonical-orders-csv", "", &out);
    assert_eq!(delivered.orders().len(), 44);
    assert_eq!(delivered.order("#1002").ship_to.postal_code, "02134");

    // The left-out rows, copied under the header, are a Shopify export of just those orders:
    // 4 rejected, and 2 cancellations this writer cannot carry.
    let rejected = converted.rejected.expect("something was left out");
    let mut rows = Vec::new();
    conversion
        .reader
        .copy_rows(
            Box::new(&input[..]),
            rejected.header,
            &rejected.spans,
            &mut rows,
        )
        .unwrap();
    assert!(
        rows.starts_with(b"\xef\xbb\xbfName,Email,"),
        "BOM and header kept"
    );
    let again = read_with("shopify-orders-csv", "", &rows);
    let mut ids: Vec<String> = again
        .rejected
        .iter()
        .filter_map(|ps| ps[0].document_id.clone())
        .chain(again.documents.iter().map(|d| match d {
            Document::OrderHold(h) => h.order_id.clone(),
            other => panic!("only cancellations are readable here: {other:?}"),
        }))
        .collect();
    ids.sort();
    assert_eq!(ids, ["#1013", "#1017", "#1024", "#1033", "#1037", "#1041"]);
    assert!(
        rejected
            .problems
            .iter()
            .any(|p| p.document_id.as_deref() == Some("#1013")
                && p.problem.contains("does not write order holds")),
        "{:?}",
        rejected.problems
    );
}

#[test]
fn a_file_that_is_not_a_shopify_export_is_named_as_such() {
    let conversion = Conversion {
        reader: format::reader("shopify-orders-csv", &Options::new()).unwrap(),
        writer: format::writer("canonical-orders-csv", &Options::new()).unwrap(),
        on_invalid: OnInvalid::Split,
        shipping_methods: Default::default(),
    };
    let input = b"order_id,sku,quantity\n1,A,1\n";
    let Err(ConvertError::Data { problems, .. }) = convert(
        &conversion,
        &format::WriteContext::now(),
        Box::new(&input[..]),
        None,
        Box::new(Vec::new()),
        50,
    ) else {
        panic!("expected a data error");
    };
    assert!(
        problems[0].problem.contains("not a Shopify orders export"),
        "{}",
        problems[0].problem
    );
}

#[test]
fn woocommerce_products_as_rows_export_reads_with_its_own_column_names() {
    let bytes = std::fs::read(fixture(
        "woocommerce-orders-csv/advanced-order-export-products-as-rows.csv",
    ))
    .unwrap();
    let read = read_with("woocommerce-orders-csv", "", &bytes);
    let ids: Vec<&str> = read.orders().iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(ids, ["2101", "2102", "2106"]);
    let first = read.order("2101");
    assert_eq!(
        first
            .lines
            .iter()
            .map(|l| (l.sku.as_str(), l.quantity, l.unit_price.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("HOOD-BLK-M", 1, Some("45.00")),
            ("CAP-GRY", 2, Some("16.00"))
        ]
    );
    assert_eq!(first.order_date.as_deref(), Some("2025-06-02T10:15:00"));
    let tesla = read.order("2102");
    assert_eq!(
        tesla.notes.as_deref(),
        Some("Please deliver after 5pm,\nthe office closes at 4.")
    );
    assert_eq!(
        tesla.lines[0].description.as_deref(),
        Some("Mug \"Classic\" White")
    );
    assert_eq!(
        (
            tesla.ship_to.state.as_deref(),
            tesla.shipping_method.as_str()
        ),
        (Some("NY"), "UPS Ground")
    );
    assert!(matches!(
        &read.documents[..],
        [_, _, Document::OrderHold(h), _] if h.order_id == "2104" && h.action == HoldAction::Cancel
    ));

    let held = read.problems_of("2103");
    assert_eq!(
        (held[0].line, held[0].field.as_deref()),
        (Some(6), Some("Order Status"))
    );
    let bad = read.problems_of("2105");
    assert_eq!(
        (
            bad[0].line,
            bad[0].field.as_deref(),
            bad[0].value.as_deref()
        ),
        (Some(9), Some("Quantity (- Refund)"), Some("two"))
    );
    assert_eq!(bad.len(), 1, "{bad:?}");
}

#[test]
fn woocommerce_one_row_per_order_export_reads_its_item_cells() {
    let bytes =
        std::fs::read(fixture("woocommerce-orders-csv/webtoffee-order-export.csv")).unwrap();
    let read = read_with("woocommerce-orders-csv", "", &bytes);
    let ids: Vec<&str> = read.orders().iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(ids, ["3301", "3302"]);
    let ida = read.order("3301");
    assert_eq!(
        ida.lines
            .iter()
            .map(|l| (
                l.line_number,
                l.sku.as_str(),
                l.quantity,
                l.description.as_deref()
            ))
            .collect::<Vec<_>>(),
        [
            (1, "TEE-ORG-M", 2, Some("T-Shirt | Organic")),
            (2, "TOTE-NAT", 1, Some("Tote Bag"))
        ]
    );
    assert_eq!(
        (ida.ship_to.city.as_str(), ida.currency.as_deref()),
        ("Karlsruhe", Some("EUR"))
    );
    assert_eq!(
        read.order("3302").notes.as_deref(),
        Some("Ring the bell: \"Meitner\"")
    );
    let pending = read.problems_of("3303");
    assert_eq!(
        (
            pending[0].line,
            pending[0].field.as_deref(),
            pending[0].value.as_deref()
        ),
        (Some(4), Some("status"), Some("pending"))
    );
    let no_sku = read.problems_of("3304");
    assert_eq!(
        no_sku
            .iter()
            .map(|p| (p.line, p.field.clone()))
            .collect::<Vec<_>>(),
        [(Some(5), Some("line_item_2".to_string()))]
    );

    let read = read_with("woocommerce-orders-csv", "unpaid = \"pass\"", &bytes);
    assert_eq!(read.order("3303").lines[0].quantity, 5);
}

/// Converts a fixture with a reader and a writer (with writer options) and compares the output
/// with the expected file byte for byte.
fn golden(reader: &str, input: &str, writer: &str, writer_options: &str, expected: &str) {
    let conversion = Conversion {
        reader: format::reader(reader, &Options::new()).unwrap(),
        writer: format::writer(writer, &options(writer_options)).unwrap(),
        on_invalid: OnInvalid::RejectFile,
        shipping_methods: Default::default(),
    };
    let bytes = std::fs::read(fixture(input)).unwrap();
    let mut out = Vec::new();
    convert(
        &conversion,
        &format::WriteContext::now(),
        Box::new(&bytes[..]),
        None,
        Box::new(&mut out),
        50,
    )
    .unwrap_or_else(|e| panic!("{input} → {writer}: {e:?}"));
    let expected = std::fs::read_to_string(fixture(expected)).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        expected,
        "{input} → {writer}"
    );
}

#[test]
fn shipments_become_shopify_fulfillments() {
    golden(
        "canonical-shipments-csv",
        "canonical-shipments-csv/shipments.csv",
        "shopify-fulfillments-csv",
        "",
        "shopify-fulfillments-csv/shipments.expected.csv",
    );
}

#[test]
fn shipments_become_woocommerce_tracking_rows() {
    golden(
        "canonical-shipments-csv",
        "canonical-shipments-csv/shipments.csv",
        "woocommerce-shipment-tracking-csv",
        "date_format = \"%d/%m/%Y\"",
        "woocommerce-shipment-tracking-csv/shipments.expected.csv",
    );
}

#[test]
fn inventory_becomes_shopify_inventory_per_location() {
    golden(
        "canonical-inventory-csv",
        "canonical-inventory-csv/inventory.csv",
        "shopify-inventory-csv",
        "locations = { WH1 = \"Main Warehouse\" }\ndefault_location = \"Overflow\"",
        "shopify-inventory-csv/inventory.expected.csv",
    );
}

#[test]
fn cart_writers_explain_what_they_cannot_write() {
    let problems = |writer: &str, options_text: &str| {
        format::writer(writer, &options(options_text))
            .err()
            .unwrap_or_default()
    };
    assert_eq!(
        problems("woocommerce-shipment-tracking-csv", "date_format = \"%Q\"")[0].key,
        "writer_options.date_format"
    );
    assert_eq!(
        problems("shopify-inventory-csv", "default_locaton = \"x\"")[0].key,
        "writer_options.default_locaton"
    );
    let conversion = Conversion {
        reader: format::reader("canonical-inventory-csv", &Options::new()).unwrap(),
        writer: format::writer("shopify-inventory-csv", &Options::new()).unwrap(),
        on_invalid: OnInvalid::Split,
        shipping_methods: Default::default(),
    };
    let bytes = std::fs::read(fixture("canonical-inventory-csv/inventory.csv")).unwrap();
    let mut out = Vec::new();
    let converted = convert(
        &conversion,
        &format::WriteContext::now(),
        Box::new(&bytes[..]),
        None,
        Box::new(&mut out),
        50,
    )
    .unwrap();
    assert_eq!(converted.written, 2);
    let rejected = converted.rejected.unwrap();
    assert_eq!(
        (
            rejected.problems[0].document_id.as_deref(),
            rejected.spans[0].line
        ),
        (Some("TOWEL-LIN"), 4)
    );
    assert!(rejected.problems[0].fix.contains("default_location"));
}

fn mapped_options(path: &str) -> String {
    std::fs::read_to_string(fixture(path)).unwrap()
}

#[test]
fn a_mapped_csv_reads_a_cart_nobody_wrote_a_reader_for() {
    let bytes = std::fs::read(fixture("mapped-csv/shop-orders-de.csv")).unwrap();
    let read = read_with(
        "mapped-csv",
        &mapped_options("mapped-csv/shop-orders-de.toml"),
        &bytes,
    );
    let ids: Vec<&str> = read.orders().iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(ids, ["B-24001", "B-24002", "B-24004", "B-24005"]);

    let first = read.order("B-24001");
    assert_eq!(first.order_date.as_deref(), Some("2026-11-21T09:14:00"));
    assert_eq!(first.currency.as_deref(), Some("EUR"));
    assert_eq!(
        (first.carrier.as_deref(), first.service.as_deref()),
        (Some("DHL"), Some("PAKET"))
    );
    assert_eq!(first.ship_to.first_name, "");
    assert_eq!(first.ship_to.last_name, "Jürgen Müller");
    assert_eq!(first.ship_to.country, "DE");
    assert_eq!(first.lines.len(), 2);
    assert_eq!(first.lines[0].unit_price.as_deref(), Some("12.50"));
    assert_eq!(first.lines[1].sku, "TEE-M-BLK");

    let vienna = read.order("B-24002");
    assert_eq!(vienna.ship_to.country, "AT");
    assert_eq!(vienna.ship_to.company.as_deref(), Some("Weiß & Söhne GmbH"));
    assert_eq!(
        vienna.notes.as_deref(),
        Some("Bitte klingeln;\nnicht vor 10 Uhr")
    );
    let pickup = read.order("B-24004");
    assert_eq!(
        (pickup.carrier.as_deref(), pickup.service.as_deref()),
        (Some("PICKUP"), None)
    );

    let problems = read.problems_of("B-24003");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].line, Some(6));
    assert_eq!(
        problems[0].field.as_deref(),
        Some("Menge (mapped to quantity)")
    );
    assert_eq!(problems[0].value.as_deref(), Some("zwei"));
}

#[test]
fn a_mapped_csv_split_keeps_the_bad_order_in_the_carts_own_layout() {
    let bytes = std::fs::read(fixture("mapped-csv/shop-orders-de.csv")).unwrap();
    let conversion = Conversion {
        reader: format::reader(
            "mapped-csv",
            &options(&mapped_options("mapped-csv/shop-orders-de.toml")),
        )
        .unwrap(),
        writer: format::writer("canonical-orders-csv", &Options::new()).unwrap(),
        on_invalid: OnInvalid::Split,
        shipping_methods: Default::default(),
    };
    let mut out = Vec::new();
    let converted = convert(
        &conversion,
        &format::WriteContext::now(),
        Box::new(&bytes[..]),
        Some(bytes.len() as u64),
        Box::new(&mut out),
        20,
    )
    .unwrap();
    assert_eq!(converted.written, 4);
    let rejected = converted.rejected.unwrap();
    let mut rows = Vec::new();
    conversion
        .reader
        .copy_rows(
            Box::new(&bytes[..]),
            rejected.header,
            &rejected.spans,
            &mut rows,
        )
        .unwrap();
    let rows = String::from_utf8(rows).unwrap();
    assert!(
        rows.starts_with("\u{feff}Bestellnummer;Bestelldatum;"),
        "{rows}"
    );
    assert!(rows.ends_with("B-24003;21.11.2026 11:40;Standard;François Dubois;;Bahnhofstrasse 1;;8001;Zürich;Schweiz;;;MUG-BLU;zwei;12,50;Tasse blau;\r\n"), "{rows}");
    assert_eq!(rows.lines().count(), 2);
}

#[test]
fn a_mapped_csv_names_what_its_mapping_or_the_file_gets_wrong() {
    let mistakes = format::reader(
        "mapped-csv",
        &options(
            r#"
            kind = "inventory"
            fields = { sku = { form = "Article" }, location = "Store" }
            "#,
        ),
    )
    .err()
    .unwrap();
    let keys: Vec<&str> = mistakes.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["reader_options.fields.sku.form"], "{mistakes:?}");

    let reader = format::reader(
        "mapped-csv",
        &options(
            r#"
            kind = "inventory"
            fields = { sku = "Article", location = "Store", on_hand = "Qty" }
            "#,
        ),
    )
    .unwrap();
    let Some(Err(format::FormatError::Data(problem))) = reader
        .read(Box::new(&b"Article;Warehouse;Qty\nA;W1;3\n"[..]))
        .find(|i| i.is_err())
    else {
        panic!("a missing column rejects the file");
    };
    assert!(problem.problem.contains("Store"), "{problem:?}");
    assert!(
        problem.fix.contains("Article, Warehouse, Qty"),
        "{problem:?}"
    );
}

#[test]
fn a_mapped_xml_reads_elements_attributes_and_items_by_path() {
    let bytes = std::fs::read(fixture("mapped-xml/shop-orders.xml")).unwrap();
    let read = read_with(
        "mapped-xml",
        &mapped_options("mapped-xml/shop-orders.toml"),
        &bytes,
    );
    let ids: Vec<&str> = read.orders().iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(ids, ["W-9001", "W-9002", "W-9004"]);

    let ada = read.order("W-9001");
    assert_eq!(ada.order_date.as_deref(), Some("2026-11-21"));
    assert_eq!(ada.currency.as_deref(), Some("USD"));
    assert_eq!(ada.shipping_method, "Ground");
    assert_eq!(ada.ship_to.last_name, "Ada Lovelace");
    assert_eq!(ada.ship_to.email.as_deref(), Some("ada@example.com"));
    assert_eq!(ada.ship_to.address2.as_deref(), Some("Suite 3"));
    assert_eq!(ada.ship_to.country, "US");
    assert_eq!(
        ada.notes.as_deref(),
        Some("Leave at the back door,\nring twice")
    );
    let lines: Vec<(u32, &str, u32, Option<&str>)> = ada
        .lines
        .iter()
        .map(|l| {
            (
                l.line_number,
                l.sku.as_str(),
                l.quantity,
                l.description.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (1, "MUG-RED", 2, Some("Red mug & saucer")),
            (2, "TEE-M-BLK", 1, Some("Black tee <M>"))
        ]
    );

    let emilie = read.order("W-9002");
    assert_eq!(emilie.currency.as_deref(), Some("CAD"));
    assert_eq!(emilie.ship_to.last_name, "Émilie du Châtelet");
    assert_eq!(
        (
            emilie.ship_to.country.as_str(),
            emilie.ship_to.state.as_deref()
        ),
        ("CA", Some("ON"))
    );

    let problems = read.problems_of("W-9003");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].line, Some(64), "the line of its <Item>");
    assert_eq!(
        problems[0].field.as_deref(),
        Some("Qty (mapped to quantity)")
    );
    assert_eq!(problems[0].value.as_deref(), Some("0"));
}

#[test]
fn a_mapped_xml_with_a_bad_document_is_rejected_whole() {
    let bytes = std::fs::read(fixture("mapped-xml/shop-orders.xml")).unwrap();
    let reader = || {
        format::reader(
            "mapped-xml",
            &options(&mapped_options("mapped-xml/shop-orders.toml")),
        )
        .unwrap()
    };
    assert_eq!(reader().default_on_invalid(), OnInvalid::RejectFile);
    for on_invalid in [OnInvalid::RejectFile, OnInvalid::Split] {
        let conversion = Conversion {
            on_invalid,
            reader: reader(),
            writer: format::writer("canonical-orders-csv", &Options::new()).unwrap(),
            shipping_methods: Default::default(),
        };
        let Err(ConvertError::Data { problems, total }) = convert(
            &conversion,
            &format::WriteContext::now(),
            Box::new(&bytes[..]),
            None,
            Box::new(std::io::sink()),
            20,
        ) else {
            panic!("{on_invalid:?}: one bad order rejects an XML file");
        };
        assert_eq!(total, 1);
        assert_eq!(problems[0].document_id.as_deref(), Some("W-9003"));
    }
}

#[test]
fn a_mapped_xml_says_what_its_mapping_or_the_file_gets_wrong() {
    let mistakes = format::reader(
        "mapped-xml",
        &options(
            r#"
            kind = "shipments"
            document = "Shipments/@Shipment"
            lists = { parcel = "Parcels/Parcel" }
            fields = { order_id = "@order", carrier = "Carrier", tracking_number = "Tracking[1]", sku = "Sku", quantity_shipped = "Qty" }
            "#,
        ),
    )
    .err()
    .unwrap();
    let keys: Vec<&str> = mistakes.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "reader_options.document",
            "reader_options.lists.parcel",
            "reader_options.fields.tracking_number",
            "reader_options.lists.line",
            "reader_options.lists.package",
        ],
        "{mistakes:?}"
    );

    let reader = format::reader(
        "mapped-xml",
        &options(
            r#"
            kind = "inventory"
            document = "Stock/Item"
            fields = { sku = "@sku", location = { value = "WH1" }, on_hand = "OnHand" }
            "#,
        ),
    )
    .unwrap();
    let file_error = |xml: &str| -> DataProblem {
        match reader.read(Box::new(xml.as_bytes())).find(|i| i.is_err()) {
            Some(Err(format::FormatError::Data(problem))) => *problem,
            other => panic!("{xml}: {other:?}"),
        }
    };
    let wrong_root = file_error("<Inventory><Item sku=\"A\"><OnHand>1</OnHand></Item></Inventory>");
    assert!(
        wrong_root.problem.contains("no Stock/Item element"),
        "{wrong_root:?}"
    );
    let entity = file_error(
        "<!DOCTYPE s [<!ENTITY e \"boom\">]>\n<Stock>\n<Item sku=\"A\"><OnHand>&e;</OnHand></Item></Stock>",
    );
    assert_eq!(entity.line, Some(3));
    assert!(entity.problem.contains("&e;"), "{entity:?}");
    let deep = format!("<Stock><Item sku=\"A\">{}</Item></Stock>", "<x>".repeat(40));
    assert!(file_error(&deep).problem.contains("nested"));
    let big = format!(
        "<Stock><Item sku=\"A\">{}</Item></Stock>",
        "<OnHand>1</OnHand>".repeat(70_000)
    );
    assert!(file_error(&big).problem.contains("larger than 1 MiB"));

    let good: Vec<Document> = reader
        .read(Box::new(
            &b"<Stock><Item sku=\"A\"><OnHand>3</OnHand></Item><Item sku=\"B\"/></Stock>"[..],
        ))
        .filter_map(|i| match i.unwrap() {
            Item::Document(d, None) => Some(d),
            Item::Document(_, Some(span)) => panic!("an XML document has no rows: {span:?}"),
            _ => None,
        })
        .collect();
    assert_eq!(good.len(), 1, "B has no on_hand and is rejected: {good:?}");

    let nothing_mapped = read_with(
        "mapped-xml",
        r#"
        kind = "inventory"
        document = "Stock/Item"
        fields = { sku = "@sku", on_hand = "OnHand" }
        "#,
        b"<Stock><Item><Qty>1</Qty></Item></Stock>",
    );
    assert!(nothing_mapped.documents.is_empty());
    assert_eq!(
        nothing_mapped.rejected.len(),
        1,
        "an element the paths find nothing in is reported, not skipped"
    );
}

#[test]
fn a_mapped_xml_zips_a_shipments_packages_and_lines_like_the_canonical_csv() {
    let xml = br#"<ShipConfirms>
  <Shipment order="1001" id="S1" shipped="2026-11-22">
    <Carrier code="UPSN"/>
    <Packages>
      <Package><Tracking>1Z001</Tracking></Package>
      <Package><Tracking>1Z002</Tracking><Weight>2.5</Weight></Package>
    </Packages>
    <Lines>
      <Line><Sku>MUG-RED</Sku><Shipped>2</Shipped><Ordered>2</Ordered></Line>
      <Line><Sku>TEE-M-BLK</Sku><Shipped>1</Shipped></Line>
      <Line><Sku>CAP-GRN</Sku><Shipped>1</Shipped><Ordered>3</Ordered></Line>
    </Lines>
  </Shipment>
  <Shipment order="1002"><Carrier code="FDEG"/><Lines><Line><Sku>A</Sku><Shipped>1</Shipped></Line></Lines></Shipment>
</ShipConfirms>"#;
    let read = read_with(
        "mapped-xml",
        r#"
        kind = "shipments"
        document = "ShipConfirms/Shipment"
        lists = { package = "Packages/Package", line = "Lines/Line" }
        [fields]
        order_id = "@order"
        shipment_id = "@id"
        ship_date = "@shipped"
        carrier = "Carrier/@code"
        tracking_number = "Tracking"
        weight = "Weight"
        sku = "Sku"
        quantity_shipped = "Shipped"
        quantity_ordered = "Ordered"
        "#,
        xml,
    );
    assert!(read.rejected.is_empty(), "{:?}", read.rejected);
    let shipments: Vec<&ShipmentConfirmation> = read
        .documents
        .iter()
        .map(|d| match d {
            Document::ShipmentConfirmation(s) => s,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(shipments.len(), 2);
    let first = shipments[0];
    assert_eq!(
        (
            first.order_id.as_str(),
            first.shipment_id.as_deref(),
            first.carrier.as_str()
        ),
        ("1001", Some("S1"), "UPSN")
    );
    let tracking: Vec<(&str, Option<&str>)> = first
        .packages
        .iter()
        .map(|p| (p.tracking_number.as_str(), p.weight.as_deref()))
        .collect();
    assert_eq!(tracking, [("1Z001", None), ("1Z002", Some("2.5"))]);
    let lines: Vec<(&str, u32, Option<u32>)> = first
        .lines
        .iter()
        .map(|l| (l.sku.as_str(), l.quantity_shipped, l.quantity_ordered))
        .collect();
    assert_eq!(
        lines,
        [
            ("MUG-RED", 2, Some(2)),
            ("TEE-M-BLK", 1, None),
            ("CAP-GRN", 1, Some(3))
        ]
    );
    assert!(shipments[1].packages.is_empty());
}

#[test]
fn a_warehouse_with_its_own_csv_layout_is_a_mapping_too() {
    let bytes = std::fs::read(fixture("mapped-csv/3pl-ship-confirm.csv")).unwrap();
    let read = read_with(
        "mapped-csv",
        &mapped_options("mapped-csv/3pl-ship-confirm.toml"),
        &bytes,
    );
    assert!(read.rejected.is_empty(), "{:?}", read.rejected);
    let shipments: Vec<&ShipmentConfirmation> = read
        .documents
        .iter()
        .map(|d| match d {
            Document::ShipmentConfirmation(s) => s,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(shipments.len(), 2);
    assert_eq!(shipments[0].ship_date.as_deref(), Some("2026-11-21"));
    assert_eq!(shipments[0].packages.len(), 2);
    assert_eq!(shipments[0].lines.len(), 2);
    let partial = &shipments[1].lines[0];
    assert_eq!(
        (partial.quantity_shipped, partial.quantity_ordered),
        (2, Some(3))
    );
}
