//! X12 syntax and envelopes, on files other projects wrote and on broken ones.

use std::path::Path;

use cartferry::format::x12::envelope::{Envelopes, TransactionSet};
use cartferry::format::{self, DataProblem, FormatError, Item, Options};
use cartferry::model::{Document, InventoryRecord, ShipmentConfirmation};

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
    let reader = format::reader(reader, &Options::new()).unwrap();
    let (mut documents, mut rejected) = (Vec::new(), Vec::new());
    for item in reader.read(Box::new(bytes)) {
        match item.unwrap() {
            Item::Document(d, span) => {
                assert_eq!(span, None, "X12 documents have no rows");
                documents.push(d);
            }
            Item::Rejected(problems, _) => rejected.push(problems),
            Item::Header(_) => {}
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
        wrong_set[0][0].problem.contains("is a 846"),
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
