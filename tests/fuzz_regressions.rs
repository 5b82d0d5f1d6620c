//! Hostile inputs through every reader, the way `scripts/fuzz.sh` drives them (the fuzz targets'
//! own `exercise`), and the limits that keep a hostile file from taking unbounded memory. A
//! crasher the fuzzer finds goes into `HOSTILE` (or gets a test of its own below).

// The fuzz targets' selector helper is not needed here.
#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod fuzz_exercise;

use cartferry::format::{self, Conversion, ConvertError, Item, OnInvalid, Options, convert};

/// Inputs that have broken readers elsewhere: empty, half a BOM, unclosed quotes, stray `\r`,
/// NULs, invalid UTF-8, huge numbers, deep and self-referencing XML, external entities, cut and
/// self-contradicting X12 envelopes.
const HOSTILE: &[&[u8]] = &[
    b"",
    b"\xef\xbb",
    b"\xef\xbb\xbf",
    b"\n\n\n",
    b"\"",
    b"a,b\n\"1,2\n",
    b"Name,Lineitem sku\r#1\r\r\r",
    b"\0\0\0,\0\n\0",
    b"\xff\xfe\xfd,\x80\n\xc3",
    b"order_id,line_number,sku,quantity\n1,99999999999999999999999,S,1e400\n1,-0,S,-1\n",
    b"order_id;order_id;order_id\n1;2;3\n",
    b"<orders><order><order_id>1</order_id><line><line><line><line><line><line><line><line><line><line><line><line><line><line><line><line><line><line>",
    b"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"&a;&a;\">]><orders><order><order_id>&a;</order_id></order></orders>",
    b"<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><inventory><record><sku>&x;</sku></record></inventory>",
    b"<inventory><record><sku>&#0;&#xFFFFFFFF;&#55296;</sku></record></inventory>",
    b"<inventory></orders>",
    b"<inventory><record><sku>A</sku><on_hand>3</on_hand></record>",
    b"ISA",
    // Found by `scripts/fuzz.sh` (x12): a non-ASCII element separator cut a decoded character.
    include_bytes!("../fixtures/hostile/x12-non-ascii-separator.edi"),
    b"ISA****************",
    b"ISA*00*          *00*          *ZZ*A              *ZZ*B              *261122*1405*U*00401*000000001*0*P*>~GS*SW~ST*945*1~W06*F*~W12*CC*99999999999*-1~W03*x~SE*5*1~GE*1*~IEA*1*1~",
    b"ISA*00*          *00*          *ZZ*A              *ZZ*B              *261122*1405*U*00401*000000001*0*P**~~~~",
    b"ISA*00*          *00*          *ZZ*A              *ZZ*B              *261122*1405*U*00401*000000001*0*P*>~GS*FA~ST*997*1~AK5*R~AK2~AK9*Q*x~AK1~AK9*R*-1*z*99999999999999999999~SE*7*1~GE*1*~IEA*1*1~",
];

/// Every reader that takes no options (all but the mapped ones), and the 997 reader (which
/// reads into the ledger, not into documents).
fn readers() -> Vec<&'static str> {
    format::catalog::reader_names()
        .into_iter()
        .filter(|name| *name == format::X12_997 || format::reader(name, &Options::new()).is_ok())
        .collect()
}

#[test]
fn every_reader_survives_every_hostile_input() {
    let readers = readers();
    assert_eq!(
        readers.len(),
        format::catalog::reader_names().len() - 3,
        "{readers:?}"
    );
    for reader in &readers {
        for input in HOSTILE {
            fuzz_exercise::exercise(reader, input);
        }
    }
    for (reader, mapping) in [
        ("mapped-csv", "mapped-csv/shop-orders-de.toml"),
        ("mapped-xml", "mapped-xml/shop-orders.toml"),
    ] {
        let path = format!("{}/fixtures/{mapping}", env!("CARGO_MANIFEST_DIR"));
        let options = fuzz_exercise::options(&std::fs::read_to_string(path).unwrap());
        for input in HOSTILE {
            fuzz_exercise::exercise_with(reader, &options, input);
        }
    }
}

/// `input` through `reader` into its own canonical writer, splitting.
fn split(reader: &str, writer: &str, input: &[u8]) -> Result<format::Converted, ConvertError> {
    let conversion = Conversion {
        reader: format::reader(reader, &Options::new()).unwrap(),
        writer: format::writer(writer, &Options::new()).unwrap(),
        on_invalid: OnInvalid::Split,
        shipping_methods: Default::default(),
    };
    convert(
        &conversion,
        &format::WriteContext::now(),
        Box::new(input),
        None,
        Box::new(std::io::sink()),
        20,
    )
}

#[test]
fn an_unclosed_quote_stops_at_the_row_limit_and_rejects_the_whole_file() {
    let mut input = b"sku,location,on_hand\nA,,1\nB,\"unclosed,2\n".to_vec();
    input.extend(std::iter::repeat_n(b"C,,3\n", 300_000).flatten());
    let Err(ConvertError::Data { problems, .. }) =
        split("canonical-inventory-csv", "canonical-inventory-csv", &input)
    else {
        panic!("an unclosed quote must reject the file");
    };
    let last = problems.last().unwrap();
    assert_eq!(last.line, Some(3), "{last:?}");
    assert!(last.problem.contains("longer than 1 MiB"), "{last:?}");
    assert!(last.fix.contains("quote"), "{last:?}");
}

#[test]
fn rows_just_under_the_row_limit_are_read() {
    let note = "n".repeat((format::shared::table::MAX_ROW_BYTES - 1000) as usize);
    let input = format!("sku,location,on_hand,note\nA,,1,{note}\nB,,2,\n");
    let reader = format::reader("canonical-inventory-csv", &Options::new()).unwrap();
    let documents = reader
        .read(Box::new(input.as_bytes()))
        .filter(|item| matches!(item, Ok(Item::Document(..))))
        .count();
    assert_eq!(documents, 2);
}

#[test]
fn a_document_whose_rows_never_end_is_rejected_not_held() {
    let header = "order_id,order_date,shipping_method,ship_to_first_name,ship_to_last_name,ship_to_address1,ship_to_city,ship_to_postal_code,ship_to_country,line_number,sku,quantity\n";
    let mut input = header.as_bytes().to_vec();
    let row_len = "1,2026-01-01,G,A,B,1 St,C,1,GB,1,SKU-0000000,1\n".len();
    let rows = (format::shared::grouped::MAX_DOCUMENT_BYTES as usize / row_len) + 10;
    for i in 0..rows {
        input.extend(format!("1,2026-01-01,G,A,B,1 St,C,1,GB,{},SKU-{i:07},1\n", i + 1).bytes());
    }
    input.extend(b"2,2026-01-01,G,A,B,1 St,C,1,GB,1,S,1\n");
    let converted = split("canonical-orders-csv", "canonical-orders-csv", &input).unwrap();
    assert_eq!(converted.written, 1, "order 2 still goes through");
    let rejected = converted.rejected.expect("order 1 is rejected");
    assert_eq!(rejected.spans.len(), 1);
    assert_eq!(rejected.spans[0].line, 2);
    assert!(
        rejected.problems[0].problem.contains("16 MiB"),
        "{:?}",
        rejected.problems
    );
}
