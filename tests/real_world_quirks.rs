//! What other people's software writes: quirks seen in real exports and EDI files, each on a
//! fixture of this project's own that carries the same quirk.

mod support;

use cartferry::format::shared::shipping::ShippingMethods;
use cartferry::format::{self, Conversion, DataProblem, Item, OnInvalid, Options, convert};
use cartferry::model::{Document, Order};

/// The documents and the rejected documents' problems `reader` finds in `bytes`.
fn read_with(
    reader: &str,
    reader_options: &str,
    bytes: &[u8],
) -> (Vec<Document>, Vec<Vec<DataProblem>>) {
    let options: Options = toml::from_str(reader_options).unwrap();
    let reader = format::reader(reader, &options).expect("reader exists");
    let (mut documents, mut rejected) = (Vec::new(), Vec::new());
    for item in reader.read(Box::new(bytes)) {
        match item.expect("the file as a whole is readable") {
            Item::Header(_) => {}
            Item::Document(d, _) => documents.push(d),
            Item::Rejected(problems, _) => rejected.push(problems),
        }
    }
    (documents, rejected)
}

fn orders(documents: &[Document]) -> Vec<&Order> {
    documents
        .iter()
        .filter_map(|d| match d {
            Document::Order(o) => Some(o),
            _ => None,
        })
        .collect()
}

#[test]
fn a_shopify_order_without_a_shipping_line_takes_the_routes_default_method() {
    let export =
        support::shopify_export(&[("#2001", "MUG", 1, ""), ("#2002", "MUG", 1, "Express")]);
    let (documents, rejected) = read_with("shopify-orders-csv", "", export.as_bytes());
    assert_eq!(orders(&documents).len(), 1);
    let [problems] = rejected.as_slice() else {
        panic!("{rejected:?}");
    };
    assert_eq!(problems[0].field.as_deref(), Some("Shipping Method"));
    assert!(
        problems[0].fix.contains("default_shipping_method"),
        "the fix is something the merchant can do: {}",
        problems[0].fix
    );

    let options = "default_shipping_method = \"Standard\"";
    let (documents, rejected) = read_with("shopify-orders-csv", options, export.as_bytes());
    assert!(rejected.is_empty(), "{rejected:?}");
    let methods: Vec<&str> = orders(&documents)
        .iter()
        .map(|o| o.shipping_method.as_str())
        .collect();
    assert_eq!(methods, ["Standard", "Express"], "a method given is kept");

    let conversion = Conversion {
        reader: format::reader("shopify-orders-csv", &toml::from_str(options).unwrap()).unwrap(),
        writer: format::writer("canonical-orders-csv", &Options::new()).unwrap(),
        on_invalid: OnInvalid::RejectFile,
        shipping_methods: toml::from_str::<ShippingMethods>(
            "Standard = { carrier = \"UPSN\", service = \"GND\" }\nExpress = { carrier = \"FDEG\" }",
        )
        .unwrap(),
    };
    let mut out = Vec::new();
    convert(
        &conversion,
        &format::WriteContext::now(),
        Box::new(export.as_bytes()),
        None,
        Box::new(&mut out),
        10,
    )
    .unwrap();
    let (delivered, _) = read_with("canonical-orders-csv", "", &out);
    let first = orders(&delivered)[0];
    assert_eq!(
        (
            first.order_id.as_str(),
            first.carrier.as_deref(),
            first.service.as_deref()
        ),
        ("#2001", Some("UPSN"), Some("GND")),
        "the route's shipping_methods map applies to the default"
    );
}
