//! X12: syntax and envelopes on files other projects wrote and on broken ones, the transaction
//! set readers and writers, and control numbers through the agent.

mod support;

use std::path::Path;

use cartferry::format::shared::shipping::ShippingMethods;
use cartferry::format::x12::acknowledgment_997::{self, AckStatus, Acknowledger};
use cartferry::format::x12::envelope::{Envelopes, TransactionSet};
use cartferry::format::x12::writer::{Partner, PartnerOptions};
use cartferry::format::{
    self, ControlNumbers, Conversion, DataProblem, FormatError, Item, OnInvalid, Options,
    WriteContext, convert,
};
use cartferry::model::{Document, InventoryRecord, Order, OrderHold, ShipmentConfirmation};

fn external(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/x12/external")
            .join(name),
    )
    .unwrap()
}

fn sets(bytes: &[u8]) -> Result<Vec<TransactionSet>, FormatError> {
    Envelopes::new(Box::new(bytes)).collect()
}

/// The file's error as one sentence, and the element it names.
fn refusal(bytes: &[u8]) -> (String, Option<String>) {
    match sets(bytes) {
        Err(FormatError::Data(p)) => (p.problem.clone(), p.field.clone()),
        other => panic!("the file must be refused: {other:?}"),
    }
}

#[test]
fn other_projects_940s_read_with_their_envelopes() {
    for name in [
        "x12_940_edienginetest_940.OK.edi",
        "x12_940_edienginetest_940.2.OK.edi",
    ] {
        let sets = sets(&external(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(sets.len(), 1, "{name}");
        let set = &sets[0];
        assert_eq!(
            (set.id.as_str(), set.group.functional_id.as_str()),
            ("940", "OW")
        );
        assert!(set.interchange.version.starts_with("0040"), "{name}");
        assert_eq!(set.segments[0].id(), "W05");
    }
    let ok = &sets(&external("x12_940_edienginetest_940.OK.edi")).unwrap()[0];
    assert_eq!(ok.interchange.separators.segment, b'\n');
    assert_eq!(
        ok.interchange.sender,
        ("ZZ".into(), "ABCDEFGHIJKLMNO".into())
    );
    assert_eq!(ok.segments.len(), 27, "SE01 says 29, with ST and SE");
    assert_eq!(ok.segments.last().unwrap().id(), "W76");
    let w66 = ok.segments.iter().find(|s| s.id() == "W66").unwrap();
    assert_eq!((w66.element(1), w66.element(5)), ("PP", "MTEN"));
    assert_eq!(w66.line, 17);
}

#[test]
fn a_940_ship_to_given_as_the_consignee_reads_and_a_940_without_one_names_its_loops() {
    let bytes = fixture("940/consignee-ship-to.edi");
    let (orders, rejected) = read("x12-940", &bytes);
    let [Document::Order(order)] = orders.as_slice() else {
        panic!("one order: {orders:?}");
    };
    assert_eq!(order.order_id, "2001");
    assert_eq!(
        (
            order.ship_to.last_name.as_str(),
            order.ship_to.address1.as_str(),
            order.ship_to.city.as_str(),
            order.ship_to.postal_code.as_str()
        ),
        (
            "Foodservice",
            "Industrial Park Bldg 22",
            "Guilderland Center",
            "12085"
        ),
        "the ship-to is the N1*CN loop, not the warehouse's or the depositor's"
    );
    assert_eq!(order.lines[0].sku, "10071179009894");
    let [problems] = rejected.as_slice() else {
        panic!("the second order has no ship-to: {rejected:?}");
    };
    assert_eq!(
        problems.len(),
        1,
        "one problem, not one per field: {problems:?}"
    );
    assert_eq!(problems[0].field.as_deref(), Some("N1-01"));
    assert!(
        problems[0].problem.contains("ST or CN") && problems[0].problem.contains("WH, DE"),
        "{}",
        problems[0].problem
    );

    let (orders, rejected) = read_with("x12-940", "ship_to_qualifiers = [\"de\"]", &bytes);
    let [Document::Order(order)] = orders.as_slice() else {
        panic!("one order: {orders:?}");
    };
    assert_eq!(
        (order.order_id.as_str(), order.ship_to.city.as_str()),
        ("2002", "Boise"),
        "the route named the depositor's loop"
    );
    assert_eq!(rejected.len(), 1, "2001's depositor loop has no address");
    assert_eq!(
        support::refused_reader_option(
            "x12-940",
            "ship_to_qualifiers = []",
            "an empty list is refused"
        ),
        "reader_options.ship_to_qualifiers"
    );
}

#[test]
fn control_numbers_that_do_not_match_are_refused() {
    let (problem, field) = refusal(&external(
        "x12_940_edienginetest_ControlNumbersMismatch.edi",
    ));
    assert_eq!(field.as_deref(), Some("SE02"), "{problem}");
    assert!(problem.contains("control number"), "{problem}");
}

#[test]
fn wrong_segment_counts_are_refused_with_the_segment() {
    let (problem, field) = refusal(&external("x12_945_x12types_005010_testdata.edi"));
    assert_eq!(field.as_deref(), Some("SE01"));
    assert!(
        problem.starts_with("segment 18:")
            && problem.contains("says it has 12 segments, but it has 16"),
        "{problem}"
    );
    let (problem, _) = refusal(&external("x12_945_x12types_004010_test.edi"));
    assert!(
        problem.contains("ISA"),
        "a body without an envelope: {problem}"
    );
}

#[test]
fn a_minimal_846_reads() {
    let sets = sets(&external("x12_846_x12types_005010_testdata.edi")).unwrap();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].id, "846");
    assert_eq!(sets[0].segments[0].id(), "BIA");
}

const ISA: &str = "ISA*00*          *00*          *ZZ*CARTFERRY      *ZZ*WAREHOUSE      *261122*0930*U*00401*000000042*0*P*>~";

fn interchange(body: &str) -> String {
    format!("{ISA}\nGS*SW*WH*CF*20261122*0930*42*X*004010~\n{body}GE*1*42~\nIEA*1*000000042~\n")
}

#[test]
fn every_envelope_count_and_number_is_checked() {
    let good = interchange("ST*945*0001~W06*F*1001~SE*3*0001~\n");
    assert_eq!(sets(good.as_bytes()).unwrap().len(), 1);
    let cases = [
        (good.replace("GE*1*42", "GE*2*42"), "GE01"),
        (good.replace("GE*1*42", "GE*1*43"), "GE02"),
        (good.replace("IEA*1*", "IEA*3*"), "IEA01"),
        (good.replace("IEA*1*000000042", "IEA*1*000000041"), "IEA02"),
        (good.replace("SE*3*", "SE*4*"), "SE01"),
        (good.replace("W06*F*1001~", "W06*F*1001~GS*SW~"), "GS"),
        (good.replace("GE*1*42~\n", ""), "IEA"),
        (
            good.replace("ST*945*0001~", "ST*945*0001~ST*945*0002~"),
            "ST",
        ),
        (format!("W06*F*1~{good}"), ""),
    ];
    for (text, element) in cases {
        match sets(text.as_bytes()) {
            Err(FormatError::Data(p)) if element.is_empty() => {
                assert!(p.problem.contains("ISA"), "{text}: {p}")
            }
            Err(FormatError::Data(p)) => {
                assert_eq!(p.field.as_deref(), Some(element), "{text}: {p}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    let cut = good.split("SE*").next().unwrap().to_string();
    let (problem, _) = refusal(cut.as_bytes());
    assert!(
        problem.contains("ends inside transaction set 0001"),
        "{problem}"
    );
    let (problem, _) = refusal(b"  \n");
    assert!(problem.contains("empty"), "{problem}");
}

#[test]
fn several_interchanges_with_their_own_separators_read_in_one_file() {
    let first = interchange("ST*945*0001~W06*F*1001~SE*3*0001~\n");
    let second = interchange("ST*945*0001~W06*F*1002~W27*M*UPSN~SE*4*0001~\n")
        .replace('*', "|")
        .replace('~', "\n")
        .replace('>', "^");
    let sets = sets(format!("{first}{second}").as_bytes()).unwrap();
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[1].segments[0].element(2), "1002");
    assert_eq!(sets[1].segments[1].element(2), "UPSN");
    assert_eq!(sets[1].interchange.separators.element, b'|');
    assert_eq!(sets[1].interchange.separators.component, b'^');
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/x12")
            .join(path),
    )
    .unwrap()
}

/// Documents and rejected problems a reader finds in `bytes`.
fn read(reader: &str, bytes: &[u8]) -> (Vec<Document>, Vec<Vec<DataProblem>>) {
    read_with(reader, "", bytes)
}

/// The same with the route's `reader_options` (TOML).
fn read_with(
    reader: &str,
    reader_options: &str,
    bytes: &[u8],
) -> (Vec<Document>, Vec<Vec<DataProblem>>) {
    let options: Options = toml::from_str(reader_options).unwrap();
    let reader = format::reader(reader, &options).unwrap();
    let (mut documents, mut rejected) = (Vec::new(), Vec::new());
    for item in reader.read(Box::new(bytes)) {
        match item.unwrap() {
            Item::Document(d, span) => {
                assert_eq!(span, None, "X12 documents have no rows");
                documents.push(d);
            }
            Item::Rejected(problems, _) => rejected.push(problems),
            Item::Header(_) | Item::Warning(_) => {}
        }
    }
    (documents, rejected)
}

#[test]
fn a_945_gives_shipments_with_every_package_and_partial_quantities() {
    let (documents, rejected) = read("x12-945", &fixture("945/shipments.edi"));
    assert!(rejected.is_empty(), "{rejected:?}");
    let shipments: Vec<&ShipmentConfirmation> = documents
        .iter()
        .map(|d| match d {
            Document::ShipmentConfirmation(s) => s,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(shipments.len(), 3);
    let full = shipments[0];
    assert_eq!(
        (
            full.order_id.as_str(),
            full.shipment_id.as_deref(),
            full.ship_date.as_deref(),
            full.carrier.as_str(),
            full.service.as_deref()
        ),
        (
            "1001",
            Some("SH-7781"),
            Some("2026-11-21"),
            "UPSN",
            Some("UPS GROUND")
        )
    );
    let tracking: Vec<&str> = full
        .packages
        .iter()
        .map(|p| p.tracking_number.as_str())
        .collect();
    assert_eq!(tracking, ["1Z999AA10123456784", "1Z999AA10123456793"]);
    assert_eq!(full.lines.len(), 2);

    let partial = shipments[1];
    let lines: Vec<(&str, u32, Option<u32>)> = partial
        .lines
        .iter()
        .map(|l| (l.sku.as_str(), l.quantity_shipped, l.quantity_ordered))
        .collect();
    assert_eq!(lines, [("MUG-BLU", 2, Some(3)), ("CAP-GRN", 1, Some(1))]);
    assert_eq!(partial.packages.len(), 2);

    let pallet = shipments[2];
    assert_eq!(
        pallet.ship_date.as_deref(),
        Some("2026-11-22"),
        "from G62*11"
    );
    assert_eq!(
        (pallet.carrier.as_str(), pallet.service.as_deref()),
        ("LOCAL COURIER", None)
    );
    assert_eq!(pallet.packages[0].tracking_number, "00012345600000000018");
    assert_eq!(
        pallet.lines[0].sku, "012345678905",
        "the UPC when there is no product id"
    );
}

#[test]
fn a_bad_945_is_reported_at_its_element() {
    let text = String::from_utf8(fixture("945/shipments.edi")).unwrap();
    let bad = text
        .replace("W12*PR*3*2*1*EA", "W12*PR*3*two*1*EA")
        .replace("W03*24~", "W03*25~")
        .replace("W06*F*1001*20261121", "W06*F*1001*20261321");
    let (documents, rejected) = read("x12-945", bad.as_bytes());
    assert!(documents.is_empty(), "{documents:?}");
    let fields: Vec<(Option<&str>, Option<&str>, Option<u64>)> = rejected
        .iter()
        .flatten()
        .map(|p| (p.field.as_deref(), p.document_id.as_deref(), p.line))
        .collect();
    assert_eq!(
        fields,
        [
            (Some("W06-03"), Some("1001"), Some(4)),
            (Some("W12-03"), Some("1002"), Some(23)),
            (Some("W03-01"), Some("1003"), Some(36)),
        ]
    );
    let (_, wrong_set) = read("x12-945", &external("x12_846_x12types_005010_testdata.edi"));
    assert_eq!(wrong_set.len(), 1);
    assert!(
        wrong_set[0][0].problem.contains("is an 846"),
        "{wrong_set:?}"
    );
}

#[test]
fn an_846_with_hundreds_of_skus_gives_one_record_each() {
    let (documents, rejected) = read("x12-846", &fixture("846/inventory-300-skus.edi"));
    assert!(rejected.is_empty(), "{rejected:?}");
    let records: Vec<&InventoryRecord> = documents
        .iter()
        .map(|d| match d {
            Document::InventoryRecord(r) => r,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(records.len(), 300);
    let seventh = records[6];
    assert_eq!(
        (
            seventh.sku.as_str(),
            seventh.location.as_deref(),
            seventh.on_hand,
            seventh.available,
            seventh.as_of.as_deref()
        ),
        ("SKU-0007", Some("WH1"), 21, Some(21), Some("2026-11-22")),
        "VN over UP; on hand 17, available 33"
    );
    let only_available = records[49];
    assert_eq!(
        (
            only_available.sku.as_str(),
            only_available.on_hand,
            only_available.available
        ),
        ("SKU-0050", 50, Some(50))
    );

    let minimal = read("x12-846", &external("x12_846_x12types_005010_testdata.edi"));
    assert_eq!(minimal.0.len(), 1, "{minimal:?}");

    let text = String::from_utf8(fixture("846/inventory-300-skus.edi")).unwrap();
    let (_, rejected) = read(
        "x12-846",
        text.replace("QTY*17*6*EA", "QTY*17*six*EA").as_bytes(),
    );
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        (
            rejected[0][0].field.as_deref(),
            rejected[0][0].document_id.as_deref()
        ),
        (Some("QTY-02"), Some("SKU-0002"))
    );
    let (documents, rejected) = read("x12-846", text.replace("CTT*300", "CTT*299").as_bytes());
    assert!(documents.is_empty(), "a wrong count spoils the set");
    assert_eq!(rejected[0][0].field.as_deref(), Some("CTT-01"));
}

/// A 940 route's writer options: the partner's envelope.
const PARTNER: &str = r#"
sku_qualifier = "VN"
[partner]
sender_id = "CARTFERRY"
receiver_id = "WAREHOUSE"
application_receiver = "WH"
"#;

/// `input` read with `reader` and written as 940s with control numbers 42 at a fixed time.
fn to_940(reader: &str, input: &[u8], writer_options: &str, shipping: &str) -> Vec<u8> {
    let conversion = Conversion {
        reader: format::reader(reader, &Options::new()).unwrap(),
        writer: format::writer("x12-940", &toml::from_str(writer_options).unwrap()).unwrap(),
        on_invalid: OnInvalid::RejectFile,
        shipping_methods: toml::from_str::<ShippingMethods>(shipping).unwrap(),
    };
    let context = fixed_context();
    let mut out = Vec::new();
    convert(
        &conversion,
        &context,
        Box::new(input),
        None,
        Box::new(&mut out),
        20,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    out
}

/// Control numbers 42, written on 2026-11-22 at 09:30.
fn fixed_context() -> WriteContext {
    WriteContext {
        control_numbers: Some(ControlNumbers {
            interchange: 42,
            group: 42,
        }),
        time: chrono::NaiveDate::from_ymd_opt(2026, 11, 22)
            .unwrap()
            .and_hms_opt(9, 30, 0)
            .unwrap(),
    }
}

#[test]
fn orders_become_a_940_exactly_as_expected() {
    let orders = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/canonical-orders-csv/orders-good.csv"),
    )
    .unwrap();
    let shipping = r#"
        "UPS Ground" = { carrier = "UPSN", service = "GROUND" }
        "USPS Priority" = { carrier = "USPS", service = "PRIORITY" }
        "DHL Express" = { carrier = "DHL EXPRESS", service = "WORLDWIDE" }
    "#;
    let written = to_940("canonical-orders-csv", &orders, PARTNER, shipping);
    let expected = fixture("940/orders-good.edi");
    assert_eq!(
        String::from_utf8_lossy(&written),
        String::from_utf8_lossy(&expected),
        "regenerate fixtures/x12/940/orders-good.edi only after checking the difference by eye"
    );
    let isa = written.split(|b| *b == b'\n').next().unwrap();
    assert_eq!(isa.len(), 106, "the ISA keeps its fixed widths");
    let sets = sets(&written).unwrap();
    assert_eq!(
        sets.len(),
        3,
        "every order is a transaction set, and the envelope checks out"
    );
    assert_eq!(sets[0].interchange.control, "000000042");
}

#[test]
fn cancellations_travel_as_w05_f_and_what_a_940_cannot_carry_is_reported() {
    let holds =
        "order_id,action,reason\n1001,cancel,customer changed their mind\n1002,hold,fraud check\n";
    let conversion = Conversion {
        reader: format::reader("canonical-holds-csv", &Options::new()).unwrap(),
        writer: format::writer("x12-940", &toml::from_str(PARTNER).unwrap()).unwrap(),
        on_invalid: OnInvalid::Split,
        shipping_methods: ShippingMethods::default(),
    };
    let mut out = Vec::new();
    let converted = convert(
        &conversion,
        &WriteContext::now(),
        Box::new(holds.as_bytes()),
        None,
        Box::new(&mut out),
        20,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("ST*940*0001~\nW05*F*1001~\nN9*CO*1001~\nNTE*WHI*customer changed their mind~\nSE*5*0001~"),
        "{text}"
    );
    assert!(
        text.contains("*000000001*0*P*>~"),
        "a preview numbers its envelope 1: {text}"
    );
    let rejected = converted.rejected.expect("the hold is left out");
    assert!(
        rejected.problems[0].problem.contains("no standard 940"),
        "{:?}",
        rejected.problems
    );
}

#[test]
fn text_a_940_cannot_hold_is_a_problem_of_its_order() {
    let orders = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/canonical-orders-csv/orders-good.csv"),
    )
    .unwrap();
    let orders = String::from_utf8(orders)
        .unwrap()
        .replace("12 Analytical Way", "12 Analytical Way*Rear")
        .replace("1 Compiler Rd", &"1 Compiler Road ".repeat(5));
    let conversion = Conversion {
        reader: format::reader("canonical-orders-csv", &Options::new()).unwrap(),
        writer: format::writer("x12-940", &toml::from_str(PARTNER).unwrap()).unwrap(),
        on_invalid: OnInvalid::Split,
        shipping_methods: ShippingMethods::default(),
    };
    let converted = convert(
        &conversion,
        &WriteContext::now(),
        Box::new(orders.as_bytes()),
        None,
        Box::new(std::io::sink()),
        20,
    )
    .unwrap();
    assert_eq!(converted.written, 1);
    let problems = converted.rejected.unwrap().problems;
    let found: Vec<(Option<&str>, Option<&str>)> = problems
        .iter()
        .map(|p| (p.document_id.as_deref(), p.field.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            (Some("1001"), Some("address line 1 (N3-01)")),
            (Some("1002"), Some("address line 1 (N3-01)"))
        ]
    );
    assert!(problems[0].problem.contains("separator"), "{problems:?}");
    assert!(
        problems[1].problem.contains("55 characters"),
        "{problems:?}"
    );
}

#[test]
fn partner_settings_are_checked_with_their_keys() {
    let problems = format::writer(
        "x12-940",
        &toml::from_str(
            r#"
            transport_method = "TOO-LONG"
            [partner]
            sender_id = "A NAME LONGER THAN FIFTEEN"
            receiver_id = "WH*1"
            receiver_qualifier = "Z"
            separators = "*~~"
            "#,
        )
        .unwrap(),
    )
    .err()
    .unwrap();
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "writer_options.partner.sender_id",
            "writer_options.partner.receiver_qualifier",
            "writer_options.partner.separators",
            "writer_options.partner.receiver_id",
            "writer_options.transport_method",
        ],
        "{problems:?}"
    );
}

#[test]
fn every_file_the_agent_sends_has_the_next_control_numbers_even_after_a_restart() {
    let sandbox = support::Sandbox::with_routes(
        r#"
[[routes]]
name = "orders-940"
from = { endpoint = "cart", dir = "orders", pattern = "*.csv" }
reader = "canonical-orders-csv"
writer = "x12-940"
to = { endpoint = "warehouse", dir = "edi", name = "{stem}.edi" }
[routes.writer_options.partner]
sender_id = "CARTFERRY"
receiver_id = "WAREHOUSE"
"#,
    );
    let order = |id: u32| {
        format!(
            "order_id,shipping_method,ship_to_first_name,ship_to_last_name,ship_to_address1,ship_to_city,ship_to_state,ship_to_postal_code,ship_to_country,sku,quantity\n{id},Ground,Ada,Lovelace,1 Way,Springfield,IL,62701,US,MUG,1\n"
        )
    };
    let mut seen = Vec::new();
    for batch in 0..3u32 {
        for n in 0..2u32 {
            let id = 1000 + batch * 10 + n;
            sandbox.drop_file("cart/orders", &format!("o{id}.csv"), order(id).as_bytes());
        }
        // Each `once` is a new process: the numbers come from the ledger, not from memory.
        sandbox.once_expecting(0);
    }
    for name in sandbox.files("warehouse/edi") {
        let bytes = std::fs::read(sandbox.path(&format!("warehouse/edi/{name}"))).unwrap();
        let set = &sets(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))[0];
        assert_eq!(
            set.group.control.parse::<u64>().unwrap(),
            set.interchange.control.parse::<u64>().unwrap()
        );
        seen.push(set.interchange.control.clone());
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "000000001",
            "000000002",
            "000000003",
            "000000004",
            "000000005",
            "000000006"
        ]
    );
}

#[test]
fn the_940s_and_945s_cartferry_writes_validate_with_bots_grammars() {
    let dir = tempfile::tempdir().unwrap();
    let shopify = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/shopify-orders-csv/orders_export_1.csv"),
    )
    .unwrap();
    let shipping = r#"
        "Standard Shipping" = { carrier = "UPSN", service = "GROUND" }
        "Express Shipping" = { carrier = "FDEG", service = "2DAY" }
        "Free Shipping" = { carrier = "USPS" }
    "#;
    let conversion = Conversion {
        reader: format::reader("shopify-orders-csv", &Options::new()).unwrap(),
        writer: format::writer("x12-940", &toml::from_str(PARTNER).unwrap()).unwrap(),
        on_invalid: OnInvalid::Split,
        shipping_methods: toml::from_str::<ShippingMethods>(shipping).unwrap(),
    };
    let mut from_shopify = Vec::new();
    let converted = convert(
        &conversion,
        &WriteContext::now(),
        Box::new(&shopify[..]),
        None,
        Box::new(&mut from_shopify),
        20,
    )
    .unwrap();
    assert!(converted.written >= 40, "{}", converted.written);
    assert!(
        shopify.windows(2).any(|w| w == "é".as_bytes()),
        "the export has accented names"
    );
    assert!(
        from_shopify.is_ascii(),
        "004010's character sets are ASCII: accented letters are transliterated"
    );
    let text = String::from_utf8_lossy(&from_shopify);
    assert!(text.contains("N1*ST*Jose Nunez~"), "{text}");
    let shipments = read_csv_documents(
        "canonical-shipments-csv",
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/canonical-shipments-csv/shipments.csv"),
        )
        .unwrap(),
    );
    let writer = format::writer("x12-945", &toml::from_str(PARTNER).unwrap()).unwrap();
    let mut advice = Vec::new();
    let mut out = writer.begin(Box::new(&mut advice), &WriteContext::now());
    for s in &shipments {
        out.write(s).unwrap();
    }
    out.finish().unwrap();
    let files = [
        ("shopify.edi", from_shopify.clone()),
        ("golden.edi", fixture("940/orders-good.edi")),
        ("shipments-945.edi", advice),
    ];
    let paths: Vec<_> = files
        .iter()
        .map(|(name, bytes)| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect();
    let (report, ok) = support::bots_validate(&paths);
    assert!(ok, "{report}");
    assert!(
        report.contains(&format!("ok {} ", converted.written)),
        "{report}"
    );

    // The validator is a real one: a wrong count fails it.
    let text = String::from_utf8(from_shopify).unwrap();
    let broken = dir.path().join("broken.edi");
    std::fs::write(&broken, text.replacen("SE*", "SE*9", 1)).unwrap();
    let (report, ok) = support::bots_validate(&[broken]);
    assert!(!ok && report.contains("SE01"), "{report}");
}

/// Documents written with `writer_name` (and `writer_options`) and read back with the X12 reader of
/// the same name.
fn through_x12(documents: &[Document], name: &str, writer_options: &str) -> Vec<Document> {
    let writer = format::writer(name, &toml::from_str(writer_options).unwrap()).unwrap();
    let mut bytes = Vec::new();
    let mut out = writer.begin(Box::new(&mut bytes), &fixed_context());
    for d in documents {
        out.write(d)
            .unwrap_or_else(|e| panic!("{name} writes {d:?}: {e}"));
    }
    out.finish().unwrap();
    let (read, rejected) = read(name, &bytes);
    assert!(
        rejected.is_empty(),
        "{rejected:?}\n{}",
        String::from_utf8_lossy(&bytes)
    );
    read
}

/// An order as a 940 carries it: the date without its time, the service as the method, no
/// currency or prices, notes with single spaces, descriptions of 45 characters.
fn as_940_carries(order: &Order) -> Order {
    let mut o = order.clone();
    o.order_date = o.order_date.map(|d| d[..10].to_string());
    o.currency = None;
    o.shipping_method = o.service.clone().unwrap_or(o.shipping_method);
    o.notes = o
        .notes
        .map(|n| n.split_whitespace().collect::<Vec<_>>().join(" "));
    for line in &mut o.lines {
        line.unit_price = None;
        line.description = line
            .description
            .take()
            .map(|d| d.chars().take(45).collect());
    }
    o
}

#[test]
fn orders_and_cancellations_survive_a_940_and_shipments_a_945() {
    let shopify = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/shopify-orders-csv/orders_export_1.csv"),
    )
    .unwrap();
    let methods: ShippingMethods = toml::from_str(
        r#"
        "Standard Shipping" = { carrier = "UPSN", service = "GROUND" }
        "Express Shipping" = { carrier = "FDEG", service = "2DAY" }
        "Free Shipping" = { carrier = "USPS", service = "FIRST CLASS" }
        "#,
    )
    .unwrap();
    let reader = format::reader("shopify-orders-csv", &Options::new()).unwrap();
    let mut orders = Vec::new();
    let mut holds = Vec::new();
    for item in reader.read(Box::new(&shopify[..])) {
        match item.unwrap() {
            Item::Document(Document::Order(mut o), _) => {
                methods.apply(&mut o).unwrap();
                orders.push(Document::Order(o));
            }
            Item::Document(hold @ Document::OrderHold(_), _) => holds.push(hold),
            _ => {}
        }
    }
    assert!(orders.len() >= 40 && holds.len() == 2);
    // A partner that takes UTF-8 gets every letter back as it was.
    let utf8_partner = format!("{PARTNER}character_set = \"utf-8\"\n");
    let back = through_x12(&orders, "x12-940", &utf8_partner);
    let expected: Vec<Document> = orders
        .iter()
        .map(|d| match d {
            Document::Order(o) => Document::Order(as_940_carries(o)),
            other => other.clone(),
        })
        .collect();
    assert_eq!(back, expected);
    let without_times: Vec<Document> = holds
        .iter()
        .map(|d| match d {
            Document::OrderHold(h) => Document::OrderHold(OrderHold {
                requested_at: None,
                ..h.clone()
            }),
            other => other.clone(),
        })
        .collect();
    assert_eq!(
        through_x12(&holds, "x12-940", PARTNER),
        without_times,
        "a W05*F carries the order and the reason, not when it was asked"
    );

    let shipments: Vec<Document> = read_csv_documents(
        "canonical-shipments-csv",
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/canonical-shipments-csv/shipments.csv"),
        )
        .unwrap(),
    );
    assert!(shipments.len() >= 3);
    let expected: Vec<Document> = shipments
        .iter()
        .map(|d| match d {
            Document::ShipmentConfirmation(s) => {
                let mut s = s.clone();
                // A 945 carries the ship date without its time, and no package weights.
                s.ship_date = s.ship_date.map(|d| d[..10].to_string());
                s.packages.iter_mut().for_each(|p| p.weight = None);
                Document::ShipmentConfirmation(s)
            }
            other => other.clone(),
        })
        .collect();
    assert_eq!(through_x12(&shipments, "x12-945", PARTNER), expected);
}

fn read_csv_documents(reader: &str, bytes: &[u8]) -> Vec<Document> {
    let reader = format::reader(reader, &Options::new()).unwrap();
    reader
        .read(Box::new(bytes))
        .filter_map(|item| match item.unwrap() {
            Item::Document(d, _) => Some(d),
            _ => None,
        })
        .collect()
}

#[test]
fn a_997_answers_a_received_group_set_by_set_and_reads_back() {
    let received = sets(&fixture("945/shipments.edi")).unwrap();
    let partner: PartnerOptions = toml::from_str(
        r#"
        sender_id = "CARTFERRY"
        receiver_id = "WAREHOUSE"
        "#,
    )
    .unwrap();
    let mut bytes = Vec::new();
    let mut acknowledger = Acknowledger::new(
        Box::new(&mut bytes),
        Partner::new(partner).unwrap(),
        &WriteContext::now(),
    );
    for set in &received {
        let (status, codes): (_, &[&str]) = if set.control == "0002" {
            (AckStatus::Rejected, &["5"])
        } else {
            (AckStatus::Accepted, &[])
        };
        acknowledger.set(set, status, codes).unwrap();
    }
    assert_eq!(acknowledger.finish(true).unwrap(), 1);
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.contains("ST*997*0001~\nAK1*SW*311~\nAK2*945*0001~\nAK5*A~\nAK2*945*0002~\nAK5*R*5~\nAK2*945*0003~\nAK5*A~\nAK9*P*3*3*2~\nSE*10*0001~"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ack.edi");
    std::fs::write(&path, &bytes).unwrap();
    let (report, ok) = support::bots_validate(&[path]);
    assert!(ok, "{report}");

    let answer = sets(&bytes).unwrap();
    assert_eq!(
        (
            answer[0].id.as_str(),
            answer[0].group.functional_id.as_str()
        ),
        ("997", "FA")
    );
    let ack = acknowledgment_997::read(&answer[0]).unwrap();
    assert_eq!(
        (
            ack.functional_id.as_str(),
            ack.control.as_str(),
            ack.status,
            ack.received,
            ack.accepted
        ),
        ("SW", "311", AckStatus::PartiallyAccepted, 3, 2)
    );
    assert_eq!(
        ack.sets
            .iter()
            .map(|s| (s.control.as_str(), s.status, s.codes.clone()))
            .collect::<Vec<_>>(),
        vec![
            ("0001", AckStatus::Accepted, vec![]),
            ("0002", AckStatus::Rejected, vec!["5".to_string()]),
            ("0003", AckStatus::Accepted, vec![]),
        ]
    );

    let garbled = sets(text.replace("AK5*R*5~", "AK5*Z~").as_bytes()).unwrap();
    let problems = acknowledgment_997::read(&garbled[0]).unwrap_err();
    assert_eq!(problems[0].field.as_deref(), Some("AK5-01"), "{problems:?}");
}

#[test]
fn the_same_945_with_newline_pipe_and_caret_separators_reads_the_same() {
    let (standard, _) = read("x12-945", &fixture("945/shipments.edi"));
    let (other, rejected) = read("x12-945", &fixture("945/shipments-newline-pipe-caret.edi"));
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(other, standard);
    let separators = sets(&fixture("945/shipments-newline-pipe-caret.edi")).unwrap()[0]
        .interchange
        .separators;
    assert_eq!(
        (separators.element, separators.component, separators.segment),
        (b'|', b'^', b'\n')
    );
}

#[test]
fn a_945_with_a_byte_order_mark_crlf_and_indentation_reads_the_same() {
    let (standard, _) = read("x12-945", &fixture("945/shipments.edi"));
    let bytes = fixture("945/shipments-bom-crlf-indented.edi");
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "the fixture keeps its quirk"
    );
    let (other, rejected) = read("x12-945", &bytes);
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(other, standard);
}

#[test]
fn broken_envelope_fixtures_are_refused_naming_the_element() {
    for (file, element, line) in [
        ("broken/se-count-wrong.edi", "SE01", 17),
        ("broken/ge-control-wrong.edi", "GE02", 38),
        ("broken/iea-missing.edi", "", 1),
        ("broken/st-inside-st.edi", "ST", 19),
    ] {
        let bytes = fixture(file);
        let Err(FormatError::Data(problem)) = sets(&bytes) else {
            panic!("{file} must be refused");
        };
        assert_eq!(
            problem.field.as_deref().unwrap_or(""),
            element,
            "{file}: {problem}"
        );
        assert_eq!(problem.line, Some(line), "{file}: {problem}");
        assert!(problem.problem.starts_with("segment "), "{file}: {problem}");
    }
}

#[test]
fn inventory_survives_an_846_and_validates_with_bots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut records = read_csv_documents(
        "canonical-inventory-csv",
        &std::fs::read(root.join("fixtures/canonical-inventory-csv/inventory.csv")).unwrap(),
    );
    let (from_846, _) = read("x12-846", &fixture("846/inventory-300-skus.edi"));
    records.extend(from_846);
    let back = through_x12(&records, "x12-846", PARTNER);
    // A record without a date comes back with the date of the file (BIA-04 is required).
    let expected: Vec<Document> = records
        .iter()
        .map(|d| match d {
            Document::InventoryRecord(r) => Document::InventoryRecord(InventoryRecord {
                as_of: Some(r.as_of.clone().unwrap_or_else(|| "2026-11-22".into())),
                ..r.clone()
            }),
            other => other.clone(),
        })
        .collect();
    assert_eq!(back.len(), expected.len());
    let first_difference = back.iter().zip(&expected).find(|(a, b)| a != b);
    assert!(first_difference.is_none(), "{first_difference:?}");

    let writer = format::writer("x12-846", &toml::from_str(PARTNER).unwrap()).unwrap();
    let mut bytes = Vec::new();
    let mut out = writer.begin(Box::new(&mut bytes), &WriteContext::now());
    for r in &records {
        out.write(r).unwrap();
    }
    out.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.edi");
    std::fs::write(&path, &bytes).unwrap();
    let (report, ok) = support::bots_validate(&[path]);
    assert!(ok, "{report}");
    assert_eq!(
        sets(&bytes).unwrap().len(),
        4,
        "one set per run of location and date: WH1, WH2, none, then the 846's WH1"
    );
}

#[test]
fn rmas_go_out_as_180s_and_return_notifications_come_back_as_receipts() {
    use cartferry::model::{ItemCondition, ReturnLine, ReturnReceipt, RmaAuthorization, RmaLine};
    let rma = Document::RmaAuthorization(RmaAuthorization {
        rma_id: "RMA-77".into(),
        order_id: "#1001".into(),
        customer_name: Some("Ada Lovelace".into()),
        lines: vec![
            RmaLine {
                sku: "MUG-RED".into(),
                quantity: 2,
                reason: Some("arrived chipped".into()),
            },
            RmaLine {
                sku: "TEE-M-BLK".into(),
                quantity: 1,
                reason: None,
            },
        ],
    });
    let writer = format::writer("x12-180", &toml::from_str(PARTNER).unwrap()).unwrap();
    let mut bytes = Vec::new();
    let mut out = writer.begin(Box::new(&mut bytes), &fixed_context());
    out.write(&rma).unwrap();
    out.finish().unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.contains("ST*180*0001~\nBGN*00*RMA-77*20261122~\nN9*CO*#1001~\nN1*BY*Ada Lovelace~\nBLI*VN*MUG-RED*2*EA~\nRDR*RA***arrived chipped~\nBLI*VN*TEE-M-BLK*1*EA~\nRDR*RA~\nSE*9*0001~"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rma.edi");
    std::fs::write(&path, &bytes).unwrap();
    let (report, ok) = support::bots_validate(&[path]);
    assert!(ok, "{report}");

    let receipts = vec![Document::ReturnReceipt(ReturnReceipt {
        rma_id: "RMA-77".into(),
        order_id: "#1001".into(),
        received_date: Some("2026-11-25".into()),
        lines: vec![
            ReturnLine {
                sku: "MUG-RED".into(),
                quantity_restocked: 1,
                quantity_damaged: 1,
                condition: ItemCondition::Damaged,
            },
            ReturnLine {
                sku: "TEE-M-BLK".into(),
                quantity_restocked: 1,
                quantity_damaged: 0,
                condition: ItemCondition::Resellable,
            },
            ReturnLine {
                sku: "CAP-GRN".into(),
                quantity_restocked: 0,
                quantity_damaged: 0,
                condition: ItemCondition::Other,
            },
        ],
    })];
    assert_eq!(through_x12(&receipts, "x12-180", PARTNER), receipts);

    let notification = format!(
        "{ISA}\nGS*AN*WH*CF*20261125*1000*9*X*004010~\nST*180*0001~\nBGN*00*RMA-78*20261125~\nN9*CO*#1002~\nBLI*VN*MUG-BLU*3*EA~\nRDR*DI*DT~\nBLI*SK*BOARD-OAK*1*EA~\nSE*7*0001~\nGE*1*9~\nIEA*1*000000042~\n"
    );
    let (read_back, rejected) = read("x12-180", notification.as_bytes());
    assert!(rejected.is_empty(), "{rejected:?}");
    let Document::ReturnReceipt(r) = &read_back[0] else {
        panic!("{read_back:?}");
    };
    let lines: Vec<(&str, u32, u32, ItemCondition)> = r
        .lines
        .iter()
        .map(|l| {
            (
                l.sku.as_str(),
                l.quantity_restocked,
                l.quantity_damaged,
                l.condition,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("MUG-BLU", 0, 3, ItemCondition::Damaged),
            ("BOARD-OAK", 1, 0, ItemCondition::Resellable)
        ]
    );
}

#[test]
fn a_947_gives_the_units_restocked_and_written_off_after_returns() {
    use cartferry::model::{ItemCondition, ReturnReceipt};
    let bytes = fixture("947/returns-adjustments.edi");
    let (report, ok) = support::bots_validate(&[
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/x12/947/returns-adjustments.edi")
    ]);
    assert!(ok, "the fixture is a valid 947: {report}");
    let (documents, rejected) = read("x12-947", &bytes);
    assert!(rejected.is_empty(), "{rejected:?}");
    let receipts: Vec<&ReturnReceipt> = documents
        .iter()
        .map(|d| match d {
            Document::ReturnReceipt(r) => r,
            other => panic!("{other:?}"),
        })
        .collect();
    let first = receipts[0];
    assert_eq!(
        (
            first.rma_id.as_str(),
            first.order_id.as_str(),
            first.received_date.as_deref()
        ),
        ("RMA-77", "#1001", Some("2026-11-25"))
    );
    let lines: Vec<(&str, u32, u32, ItemCondition)> = first
        .lines
        .iter()
        .map(|l| {
            (
                l.sku.as_str(),
                l.quantity_restocked,
                l.quantity_damaged,
                l.condition,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("MUG-RED", 1, 1, ItemCondition::Damaged),
            ("TEE-M-BLK", 1, 0, ItemCondition::Resellable)
        ]
    );
    assert_eq!(
        receipts[1].rma_id, "RMA-78",
        "the adjustment number when there is no N9*RZ"
    );
    assert_eq!(receipts[1].lines[0].quantity_damaged, 3);

    let without_order = String::from_utf8(bytes)
        .unwrap()
        .replace("N9*CO*#1002~\n", "")
        .replace("SE*6*0002", "SE*5*0002");
    let (_, rejected) = read("x12-947", without_order.as_bytes());
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0][0].fix.contains("N9*CO"), "{:?}", rejected[0]);

    let huge = String::from_utf8(fixture("947/returns-adjustments.edi"))
        .unwrap()
        .replace("W19*AV*-3*EA", "W19*AV*-99999999999*EA");
    let (_, rejected) = read("x12-947", huge.as_bytes());
    assert_eq!(
        rejected[0][0].field.as_deref(),
        Some("W19-02"),
        "a quantity beyond any stock is reported, not dropped"
    );
}

#[test]
fn routes_name_a_trading_partner_defined_once_in_the_config() {
    let route = |partner: &str| {
        format!(
            r#"
[[routes]]
name = "orders-940"
from = {{ endpoint = "cart", dir = "orders", pattern = "*.csv" }}
reader = "canonical-orders-csv"
writer = "x12-940"
writer_options = {{ partner = "{partner}" }}
to = {{ endpoint = "warehouse", dir = "edi", name = "{{stem}}.edi" }}

[partners.acme]
sender_id = "CARTFERRY"
receiver_id = "ACME3PL"
receiver_qualifier = "01"
"#
        )
    };
    let sandbox = support::Sandbox::with_routes(&route("acme"));
    sandbox.drop_file(
        "cart/orders",
        "o.csv",
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/canonical-orders-csv/orders-good.csv"),
        )
        .unwrap()
        .as_slice(),
    );
    sandbox.once_expecting(0);
    let edi = std::fs::read(sandbox.path("warehouse/edi/o.edi")).unwrap();
    let set = &sets(&edi).unwrap()[0];
    assert_eq!(set.interchange.receiver, ("01".into(), "ACME3PL".into()));

    let wrong = support::Sandbox::with_routes(&route("acme3pl"));
    let check = wrong.cmd(&["check"]);
    assert_eq!(check.status.code(), Some(2));
    let said = String::from_utf8_lossy(&check.stderr).to_string()
        + &String::from_utf8_lossy(&check.stdout);
    assert!(
        said.contains("routes[0].writer_options.partner") && said.contains("the partners are acme"),
        "{said}"
    );
}
