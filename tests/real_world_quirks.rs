//! What other people's software writes: quirks seen in real exports and EDI files, each on a
//! fixture of this project's own that carries the same quirk.

mod support;

use cartferry::format::shared::shipping::ShippingMethods;
use cartferry::format::{self, Conversion, DataProblem, Item, OnInvalid, Options, convert};
use cartferry::model::{Document, Order};

/// What a reader found in a file.
#[derive(Debug, Default)]
struct Read {
    documents: Vec<Document>,
    /// Each rejected document's problems.
    rejected: Vec<Vec<DataProblem>>,
    warnings: Vec<DataProblem>,
}

/// What `reader` finds in `bytes`.
fn read(reader: &str, reader_options: &str, bytes: &[u8]) -> Read {
    let options: Options = toml::from_str(reader_options).unwrap();
    let reader = format::reader(reader, &options).expect("reader exists");
    let mut read = Read::default();
    for item in reader.read(Box::new(bytes)) {
        match item.expect("the file as a whole is readable") {
            Item::Header(_) => {}
            Item::Document(d, _) => read.documents.push(d),
            Item::Rejected(problems, _) => read.rejected.push(problems),
            Item::Warning(w) => read.warnings.push(w),
        }
    }
    read
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
    let Read {
        documents,
        rejected,
        ..
    } = read("shopify-orders-csv", "", export.as_bytes());
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
    let Read {
        documents,
        rejected,
        ..
    } = read("shopify-orders-csv", options, export.as_bytes());
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
    let delivered = read("canonical-orders-csv", "", &out).documents;
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

/// Our WebToffee fixture with its first order's `order_date` cells set to `date`.
fn webtoffee_with_date(date: &str) -> String {
    let fixture = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/woocommerce-orders-csv/webtoffee-order-export.csv"),
    )
    .unwrap();
    fixture.replacen(
        "3301,3301,2025-07-01 09:12:44,",
        &format!("3301,3301,{date},"),
        1,
    )
}

#[test]
fn woocommerce_plugin_dates_read_and_a_date_no_layout_fits_is_a_warning_not_a_refusal() {
    for (written, iso) in [
        ("16-05-2018 07:32:06", "2018-05-16T07:32:06"),
        ("16-05-2018 07:32", "2018-05-16T07:32:00"),
        ("1526455926", "2018-05-16T07:32:06Z"),
        ("2018-05-16 07:32", "2018-05-16T07:32:00"),
    ] {
        let read = read(
            "woocommerce-orders-csv",
            "",
            webtoffee_with_date(written).as_bytes(),
        );
        assert!(read.warnings.is_empty(), "{written}: {read:?}");
        let order = orders(&read.documents)[0];
        assert_eq!(order.order_id, "3301");
        assert_eq!(order.order_date.as_deref(), Some(iso), "{written}");
    }

    let ambiguous = webtoffee_with_date("11/05/2018 07:32");
    let kept = read("woocommerce-orders-csv", "", ambiguous.as_bytes());
    let order = orders(&kept.documents)[0];
    assert_eq!(
        (order.order_id.as_str(), order.order_date.as_deref()),
        ("3301", None),
        "an optional field never refuses an order"
    );
    let [warning] = kept.warnings.as_slice() else {
        panic!("one warning: {kept:?}");
    };
    assert_eq!(warning.field.as_deref(), Some("order_date"));
    assert!(warning.fix.contains("date_format"), "{}", warning.fix);
    assert!(
        !warning.summary().contains("11/05/2018"),
        "the summary for logs quotes no value: {}",
        warning.summary()
    );

    let named = read(
        "woocommerce-orders-csv",
        "date_format = \"%d/%m/%Y %H:%M\"",
        ambiguous.as_bytes(),
    );
    assert!(named.warnings.is_empty(), "{named:?}");
    assert_eq!(
        orders(&named.documents)[0].order_date.as_deref(),
        Some("2018-05-11T07:32:00")
    );
    assert_eq!(
        support::refused_reader_option(
            "woocommerce-orders-csv",
            "date_format = \"%Q\"",
            "a layout that is not one is refused"
        ),
        "reader_options.date_format"
    );
}

#[test]
fn a_file_delivered_with_warnings_says_so_in_the_log_and_in_status() {
    let sandbox = support::Sandbox::with_routes(
        r#"
[[routes]]
name = "woo"
from = { endpoint = "cart", dir = "orders", pattern = "*.csv" }
reader = "woocommerce-orders-csv"
writer = "canonical-orders-csv"
to = { endpoint = "warehouse", dir = "orders", name = "{stem}.csv" }
"#,
    );
    sandbox.drop_file(
        "cart/orders",
        "webtoffee.csv",
        webtoffee_with_date("11/05/2018 07:32").as_bytes(),
    );
    // The fixture's orders 3303 (unpaid) and 3304 (no SKU) go to the error folder.
    let once = sandbox.once_expecting(1);
    let log = String::from_utf8_lossy(&once.stderr);
    assert!(
        log.contains("file read with warnings") && log.contains("warnings=1"),
        "{log}"
    );
    assert!(
        !log.contains("11/05/2018"),
        "no value from the file in the log: {log}"
    );
    assert_eq!(sandbox.files("warehouse/orders"), ["webtoffee.csv"]);
    let status = String::from_utf8_lossy(&sandbox.cmd(&["status"]).stdout).into_owned();
    assert!(
        status.contains("last file of route woo with warnings")
            && status.contains("webtoffee.csv: sent with 1 warning")
            && status.contains("order_date"),
        "{status}"
    );
}

/// `csv` re-saved as a spreadsheet does when each row sits in one cell: every data row becomes
/// one quoted field.
fn each_row_in_one_cell(csv: &str) -> String {
    let mut lines = csv.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for line in lines {
        out.push_str(&format!("\"{}\"\n", line.replace('"', "\"\"")));
    }
    out
}

#[test]
fn a_file_with_each_row_in_one_cell_is_named_once_and_no_customer_data_reaches_the_log() {
    let export = support::shopify_export(&[
        ("#3001", "MUG", 1, "Standard"),
        ("#3002", "TEE", 2, "Standard"),
    ]);
    let template = support::shopify_export(&[("#3001", "MUG", 1, "Standard")]);
    let mut rows = csv::Reader::from_reader(template.as_bytes());
    let header = rows.headers().unwrap().clone();
    let row = rows.records().next().unwrap().unwrap();
    let cell = |name: &str| {
        row[header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .unwrap()]
        .to_string()
    };
    let customer = [
        cell("Email"),
        cell("Shipping Name"),
        cell("Shipping Address1"),
    ];
    assert!(
        customer.iter().all(|v| !v.is_empty()),
        "the fixture row has customer data: {customer:?}"
    );

    let sandbox = support::Sandbox::with_routes(
        r#"
[[routes]]
name = "shop"
from = { endpoint = "cart", dir = "orders", pattern = "*.csv" }
reader = "shopify-orders-csv"
writer = "canonical-orders-csv"
to = { endpoint = "warehouse", dir = "orders", name = "{stem}.csv" }
"#,
    );
    sandbox.drop_file(
        "cart/orders",
        "mangled.csv",
        each_row_in_one_cell(&export).as_bytes(),
    );
    let once = sandbox.once_expecting(1);
    let log = String::from_utf8_lossy(&once.stderr).into_owned();
    for value in &customer {
        assert!(
            !log.contains(value.as_str()),
            "{value:?} reached the log:\n{log}"
        );
    }
    assert!(sandbox.files("warehouse/orders").is_empty());
    let report =
        std::fs::read_to_string(sandbox.path("var/errors/shop/mangled.csv.error.txt")).unwrap();
    assert!(
        report.contains("looks re-saved by a spreadsheet with each row in one cell")
            && report.contains("\n  1. ")
            && !report.contains("\n  2. "),
        "said once for the file, not once per row:\n{report}"
    );
    assert!(
        report.contains("row 2 has 1 field, the header has"),
        "{report}"
    );
}

#[test]
fn a_document_id_that_does_not_look_like_one_stays_out_of_log_lines() {
    let mangled = DataProblem {
        line: Some(2),
        field: Some("Name".into()),
        document_id: Some("#1001,ada@example.com,paid,Ada Lovelace,12 Analytical Way".into()),
        problem: "the quantity is not a positive whole number.".into(),
        ..DataProblem::default()
    };
    let logged = mangled.summary();
    assert!(
        !logged.contains("ada@example.com") && !logged.contains("Lovelace"),
        "{logged}"
    );
    assert!(logged.contains("line 2"), "{logged}");
    let plain = DataProblem {
        document_id: Some("#1001".into()),
        ..mangled.clone()
    };
    assert!(
        plain.summary().contains("order #1001"),
        "{}",
        plain.summary()
    );
}

#[test]
fn an_846_problem_names_the_sku_as_a_sku() {
    let isa = "ISA*00*          *00*          *ZZ*WAREHOUSE      *ZZ*CARTFERRY      *261122*1405*U*00401*000000071*0*P*>~";
    let body = "GS*IB*WAREHOUSE*CARTFERRY*20261122*1405*71*X*004010~ST*846*0001~BIA*00*MM*SNAP-1*20261122~LIN**SK*MUG-RED~QTY*17*many*EA~CTT*1~SE*6*0001~GE*1*71~IEA*1*000000071~";
    let read = read("x12-846", "", format!("{isa}\n{body}").as_bytes());
    let problem = &read.rejected[0][0];
    assert!(
        problem.position().contains("SKU MUG-RED") && !problem.position().contains("order"),
        "{}",
        problem.position()
    );
}

#[test]
fn a_set_of_another_kind_is_named_with_the_right_article() {
    let isa = "ISA*00*          *00*          *ZZ*BUYER          *ZZ*SELLER         *261122*1405*U*00401*000000081*0*P*>~";
    let file = format!(
        "{isa}\nGS*PC*BUYER*SELLER*20261122*1405*81*X*004010~\nST*860*0001~\nBCH*01*SA*PO-1**20261122~\nSE*3*0001~\nGE*1*81~\nIEA*1*000000081~\n"
    );
    let read = read("x12-940", "", file.as_bytes());
    let problem = &read.rejected[0][0];
    assert!(
        problem
            .problem
            .contains("is an 860, and this route reads 940s"),
        "{}",
        problem.problem
    );
}

/// `orders` (canonical CSV) written as a 940 for a partner with `partner_options` added.
fn as_940(orders: &str, partner_options: &str) -> Vec<u8> {
    let options = format!(
        "[partner]\nsender_id = \"CARTFERRY\"\nreceiver_id = \"WAREHOUSE\"\n{partner_options}"
    );
    let conversion = Conversion {
        reader: format::reader("canonical-orders-csv", &Options::new()).unwrap(),
        writer: format::writer("x12-940", &toml::from_str(&options).unwrap()).unwrap(),
        on_invalid: OnInvalid::RejectFile,
        shipping_methods: ShippingMethods::default(),
    };
    let mut out = Vec::new();
    convert(
        &conversion,
        &format::WriteContext::now(),
        Box::new(orders.as_bytes()),
        None,
        Box::new(&mut out),
        10,
    )
    .unwrap();
    out
}

#[test]
fn accented_names_go_into_a_940_as_ascii_unless_the_partner_takes_utf8() {
    let orders = support::minimal_orders(&[("5001", "1")]).replace(
        "Ada,Lovelace,1 Way,Springfield",
        "Jürgen,Müller,Große Straße 5,Köln",
    );
    let ascii = as_940(&orders, "");
    assert!(ascii.is_ascii(), "{}", String::from_utf8_lossy(&ascii));
    let text = String::from_utf8(ascii).unwrap();
    assert!(
        text.contains("N1*ST*Jurgen Muller~")
            && text.contains("N3*Grosse Strasse 5~")
            && text.contains("N4*Koln*"),
        "{text}"
    );
    let utf8 = String::from_utf8(as_940(&orders, "character_set = \"utf-8\"\n")).unwrap();
    assert!(utf8.contains("N1*ST*Jürgen Müller~"), "{utf8}");
}

#[test]
fn a_postal_code_is_required_only_where_the_country_has_them_unless_the_route_says_always() {
    let export = support::shopify_export(&[
        ("#6001", "MUG", 1, "Standard"),
        ("#6002", "MUG", 1, "Standard"),
    ]);
    let mut rows = csv::Reader::from_reader(export.as_bytes());
    let header = rows.headers().unwrap().clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .unwrap()
    };
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&header).unwrap();
    for (record, country) in rows.records().zip(["AE", "DE"]) {
        let mut row: Vec<String> = record.unwrap().iter().map(str::to_string).collect();
        row[column("Shipping Zip")] = String::new();
        row[column("Shipping Country")] = country.to_string();
        row[column("Shipping Province")] = String::new();
        out.write_record(&row).unwrap();
    }
    let file = out.into_inner().unwrap();

    let found = read("shopify-orders-csv", "", &file);
    let dubai: Vec<&str> = orders(&found.documents)
        .iter()
        .map(|o| o.order_id.as_str())
        .collect();
    assert_eq!(
        dubai,
        ["#6001"],
        "the Emirates have no postal codes: {found:?}"
    );
    let [problems] = found.rejected.as_slice() else {
        panic!("{found:?}");
    };
    assert_eq!(
        (
            problems[0].document_id.as_deref(),
            problems[0].field.as_deref()
        ),
        (Some("#6002"), Some("Shipping Zip")),
        "Germany has postal codes"
    );

    let always = read("shopify-orders-csv", "require_postal_code = true", &file);
    assert!(always.documents.is_empty(), "{always:?}");
    assert_eq!(always.rejected.len(), 2);
}

#[test]
fn a_180_takes_its_order_from_prf_or_a_line_level_n9_and_names_what_it_looked_for() {
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/x12/180/retailer-order-in-prf-or-line-n9.edi"),
    )
    .unwrap();
    let found = read("x12-180", "", &bytes);
    let orders: Vec<(&str, &str)> = found
        .documents
        .iter()
        .map(|d| match d {
            Document::ReturnReceipt(r) => (r.rma_id.as_str(), r.order_id.as_str()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(orders, [("RMA-71", "PO-7001"), ("RMA-72", "PO-7002")]);
    let [problems] = found.rejected.as_slice() else {
        panic!("{found:?}");
    };
    assert_eq!(problems[0].field.as_deref(), Some("N9*CO"));
    assert!(
        problems[0].problem.contains("has no N9*CO or PRF or N9*PO")
            && problems[0].position().contains("RMA RMA-73"),
        "{}: {}",
        problems[0].position(),
        problems[0].problem
    );

    let named = read("x12-180", "order_references = [\"N9*IA\"]", &bytes);
    let orders: Vec<(&str, &str)> = named
        .documents
        .iter()
        .map(|d| match d {
            Document::ReturnReceipt(r) => (r.rma_id.as_str(), r.order_id.as_str()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(orders, [("RMA-71", "123456"), ("RMA-73", "123456")]);
    assert_eq!(named.rejected.len(), 1, "RMA-72 has no N9*IA");
    assert_eq!(
        support::refused_reader_option(
            "x12-180",
            "order_references = [\"CO\"]",
            "a reference that is neither PRF nor N9*… is refused"
        ),
        "reader_options.order_references"
    );
}

#[test]
fn an_x12_report_names_isa11_in_00401_and_does_not_suggest_excel() {
    let sandbox = support::Sandbox::with_routes(
        r#"
[[routes]]
name = "stock"
from = { endpoint = "warehouse", dir = "in", pattern = "*.edi" }
reader = "x12-846"
writer = "canonical-inventory-csv"
to = { endpoint = "cart", dir = "out", name = "{stem}.csv" }
"#,
    );
    // ISA11 is a space, as one EDI library's example writes it: in 00401 it must be U.
    let isa = "ISA*00*          *00*          *ZZ*WAREHOUSE      *ZZ*CARTFERRY      *261122*1405* *00401*000000071*0*P*>~";
    let body = "GS*IB*WAREHOUSE*CARTFERRY*20261122*1405*71*X*004010~ST*846*0001~BIA*00*MM*SNAP-1*20261122~LIN**SK*MUG-RED~QTY*17*5*EA~CTT*1~SE*6*0001~GE*1*71~IEA*1*000000071~";
    sandbox.drop_file(
        "warehouse/in",
        "stock.edi",
        format!("{isa}\n{body}").as_bytes(),
    );
    sandbox.once_expecting(1);
    let report =
        std::fs::read_to_string(sandbox.path("var/errors/stock/stock.edi.error.txt")).unwrap();
    assert!(
        report.contains("ISA11 must be U in version 00401") && report.contains("field \"ISA11\""),
        "{report}"
    );
    assert!(
        !report.contains("Excel"),
        "an X12 file is not edited in Excel:\n{report}"
    );
    assert!(report.contains("in a text editor"), "{report}");
}

#[test]
fn a_small_stores_export_without_skus_is_told_so_once_for_the_file() {
    let rows: Vec<(String, &str, u32, &str)> = (0..40)
        .map(|i| {
            (
                format!("#{}", 7000 + i),
                if i < 37 { "" } else { "MUG" },
                1,
                "Standard",
            )
        })
        .collect();
    let rows: Vec<(&str, &str, u32, &str)> = rows
        .iter()
        .map(|(id, sku, q, m)| (id.as_str(), *sku, *q, *m))
        .collect();
    let export = support::shopify_export(&rows);
    let sandbox = support::Sandbox::with_routes(
        r#"
[[routes]]
name = "shop"
from = { endpoint = "cart", dir = "orders", pattern = "*.csv" }
reader = "shopify-orders-csv"
writer = "canonical-orders-csv"
on_invalid = "split"
to = { endpoint = "warehouse", dir = "orders", name = "{stem}.csv" }
"#,
    );
    sandbox.drop_file("cart/orders", "small.csv", export.as_bytes());
    sandbox.once_expecting(1);
    let delivered = std::fs::read_to_string(sandbox.path("warehouse/orders/small.csv")).unwrap();
    assert_eq!(
        delivered.lines().count(),
        4,
        "the 3 orders with SKUs go: {delivered}"
    );
    let report =
        std::fs::read_to_string(sandbox.path("var/errors/shop/small.csv.error.txt")).unwrap();
    assert_eq!(
        report.matches("the SKU is empty").count(),
        2,
        "once in the reason, once among the problems:\n{report}"
    );
    assert!(
        report.contains("The same on 37 rows in all (lines 2, 3, 4, 5, 6, 7, 8, 9, …)")
            && report.contains("Products → the product → Variants → SKU"),
        "{report}"
    );
    assert!(!report.contains("\n  2. "), "one problem listed:\n{report}");
    assert!(
        !report.contains("more; fix these"),
        "the rows summarised are not said to be hidden:\n{report}"
    );
}
