//! `canonical-orders-csv`: cartferry's own order format, one row per order line.
//!
//! The order-level columns repeat on every line of an order (the writer fills them all; the reader
//! takes them from the order's first row and reports later rows that contradict it). Rows of one
//! order must be adjacent. Headers are matched case- and space-insensitively; extra columns are
//! ignored. The columns are documented in README.md.

use std::collections::VecDeque;
use std::io::{self, BufRead, Write};

use super::{DataProblem, DocumentWriter, Documents, FormatError, ReaderFormat, WriterFormat};
use crate::model::{Address, Document, DocumentKind, Order, OrderLine};

/// The format's name in configs.
pub const NAME: &str = "canonical-orders-csv";

/// The columns, in the order the writer emits them.
pub const COLUMNS: [&str; 21] = [
    "order_id",
    "order_date",
    "currency",
    "shipping_method",
    "ship_to_first_name",
    "ship_to_last_name",
    "ship_to_company",
    "ship_to_address1",
    "ship_to_address2",
    "ship_to_city",
    "ship_to_state",
    "ship_to_postal_code",
    "ship_to_country",
    "ship_to_email",
    "ship_to_phone",
    "notes",
    "line_number",
    "sku",
    "quantity",
    "unit_price",
    "description",
];

/// Columns without which no order can be read.
const REQUIRED: [Col; 10] = [
    Col::OrderId,
    Col::ShippingMethod,
    Col::FirstName,
    Col::LastName,
    Col::Address1,
    Col::City,
    Col::PostalCode,
    Col::Country,
    Col::Sku,
    Col::Quantity,
];

/// Countries whose addresses need a state or province.
const COUNTRIES_WITH_STATES: [&str; 3] = ["US", "CA", "AU"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum Col {
    OrderId,
    OrderDate,
    Currency,
    ShippingMethod,
    FirstName,
    LastName,
    Company,
    Address1,
    Address2,
    City,
    State,
    PostalCode,
    Country,
    Email,
    Phone,
    Notes,
    LineNumber,
    Sku,
    Quantity,
    UnitPrice,
    Description,
}

impl Col {
    fn name(self) -> &'static str {
        COLUMNS[self as usize]
    }
}

/// The canonical orders CSV format (reader and writer).
pub struct CanonicalOrdersCsv;

impl ReaderFormat for CanonicalOrdersCsv {
    fn read<'a>(&self, input: Box<dyn BufRead + 'a>) -> Documents<'a> {
        let csv = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(input);
        Box::new(OrderRows {
            csv,
            index: None,
            record: csv::StringRecord::new(),
            current: None,
            ready: VecDeque::new(),
            done: false,
        })
    }
}

impl WriterFormat for CanonicalOrdersCsv {
    fn accepts(&self) -> &'static [DocumentKind] {
        &[DocumentKind::Order]
    }

    fn begin<'a>(&self, output: Box<dyn Write + 'a>) -> Box<dyn DocumentWriter + 'a> {
        Box::new(OrdersCsvWriter {
            csv: csv::WriterBuilder::new().from_writer(output),
            header_written: false,
        })
    }
}

fn normalise_header(h: &str) -> String {
    h.trim_start_matches('\u{feff}')
        .trim()
        .to_ascii_lowercase()
        .replace([' ', '-'], "_")
}

/// An order being assembled from its adjacent rows.
struct PendingOrder {
    order: Order,
    bad: bool,
}

struct OrderRows<'a> {
    csv: csv::Reader<Box<dyn BufRead + 'a>>,
    /// Column index per [`Col`], once the header is read.
    index: Option<[Option<usize>; COLUMNS.len()]>,
    record: csv::StringRecord,
    current: Option<PendingOrder>,
    ready: VecDeque<Result<Document, FormatError>>,
    done: bool,
}

fn problem(line: u64, col: Col, id: &str, value: &str, problem: &str, fix: &str) -> FormatError {
    FormatError::data(DataProblem {
        line: Some(line),
        field: Some(col.name().to_string()),
        document_id: (!id.is_empty()).then(|| id.to_string()),
        value: (!value.is_empty()).then(|| value.to_string()),
        problem: problem.to_string(),
        fix: fix.to_string(),
    })
}

fn csv_error(e: csv::Error) -> FormatError {
    let line = e.position().map(|p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(io) => FormatError::Io(io),
        csv::ErrorKind::Utf8 { .. } => FormatError::data(DataProblem {
            line,
            field: None,
            document_id: None,
            value: None,
            problem: "this line is not valid UTF-8 text.".into(),
            fix: "save the file as UTF-8 (in Excel: \"CSV UTF-8\").".into(),
        }),
        other => FormatError::data(DataProblem {
            line,
            field: None,
            document_id: None,
            value: None,
            problem: format!("the CSV structure is broken ({other:?})."),
            fix: "check quotes on this line: a quoted field must end with a quote.".into(),
        }),
    }
}

const ORDER_LEVEL: [Col; 16] = [
    Col::OrderId,
    Col::OrderDate,
    Col::Currency,
    Col::ShippingMethod,
    Col::FirstName,
    Col::LastName,
    Col::Company,
    Col::Address1,
    Col::Address2,
    Col::City,
    Col::State,
    Col::PostalCode,
    Col::Country,
    Col::Email,
    Col::Phone,
    Col::Notes,
];

impl OrderRows<'_> {
    fn field(&self, col: Col) -> &str {
        self.index
            .as_ref()
            .and_then(|ix| ix[col as usize])
            .and_then(|i| self.record.get(i))
            .unwrap_or("")
            .trim()
    }

    fn opt(&self, col: Col) -> Option<String> {
        Some(self.field(col))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    fn read_header(&mut self) -> Result<(), FormatError> {
        let mut index = [None; COLUMNS.len()];
        for (i, h) in self.record.iter().enumerate() {
            let h = normalise_header(h);
            if let Some(c) = COLUMNS.iter().position(|c| *c == h) {
                index[c].get_or_insert(i);
            }
        }
        let missing: Vec<&str> = REQUIRED
            .iter()
            .filter(|c| index[**c as usize].is_none())
            .map(|c| c.name())
            .collect();
        if !missing.is_empty() {
            self.done = true;
            return Err(FormatError::data(DataProblem {
                line: Some(1),
                field: None,
                document_id: None,
                value: None,
                problem: format!("the header lacks the column(s) {}.", missing.join(", ")),
                fix: format!(
                    "make the first line the header of {NAME}: {} (see README.md).",
                    COLUMNS.join(",")
                ),
            }));
        }
        self.index = Some(index);
        Ok(())
    }

    /// Handles one data row: starts or extends the pending order.
    fn take_row(&mut self, line: u64) {
        let id = self.field(Col::OrderId).to_string();
        if id.is_empty() {
            self.ready.push_back(Err(problem(
                line,
                Col::OrderId,
                "",
                "",
                "the order id is empty.",
                "give every row the id of the order it belongs to.",
            )));
            return;
        }
        if self
            .current
            .as_ref()
            .is_some_and(|p| p.order.order_id != id)
        {
            self.flush();
        }
        if self.current.is_none() {
            self.start_order(line, id.clone());
        } else {
            self.check_consistent(line, &id);
        }
        self.add_line(line, &id);
    }

    fn start_order(&mut self, line: u64, id: String) {
        let mut errors = Vec::new();
        let mut required = |col: Col, what: &str| {
            let v = self.field(col).to_string();
            if v.is_empty() {
                errors.push(problem(
                    line,
                    col,
                    &id,
                    "",
                    &format!("the {what} is empty."),
                    &format!("fill in the {what} of this order."),
                ));
            }
            v
        };
        let first_name = required(Col::FirstName, "ship-to first name");
        let last_name = required(Col::LastName, "ship-to last name");
        let address1 = required(Col::Address1, "ship-to address line 1");
        let city = required(Col::City, "ship-to city");
        let postal_code = required(Col::PostalCode, "ship-to postal code");
        let shipping_method = required(Col::ShippingMethod, "shipping method");
        let country_raw = self.field(Col::Country);
        let country = country_raw.to_ascii_uppercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            errors.push(problem(
                line,
                Col::Country,
                &id,
                country_raw,
                "the country is not a two-letter ISO 3166 code.",
                "write the country as two letters, such as US, CA, GB or DE.",
            ));
        }
        let state = self.opt(Col::State);
        if state.is_none() && COUNTRIES_WITH_STATES.contains(&country.as_str()) {
            errors.push(problem(
                line,
                Col::State,
                &id,
                "",
                &format!("addresses in {country} need a state or province."),
                "fill in the state or province code, such as CA or ON.",
            ));
        }
        let order_date = self.opt(Col::OrderDate);
        if let Some(d) = &order_date
            && !is_iso_date(d)
        {
            errors.push(problem(
                line,
                Col::OrderDate,
                &id,
                d,
                "the order date is not an ISO 8601 date.",
                "write it as 2026-11-22 or 2026-11-22T10:15:00Z.",
            ));
        }
        let currency = self.opt(Col::Currency);
        if let Some(c) = &currency
            && (c.len() != 3 || !c.bytes().all(|b| b.is_ascii_alphabetic()))
        {
            errors.push(problem(
                line,
                Col::Currency,
                &id,
                c,
                "the currency is not a three-letter ISO 4217 code.",
                "write it as USD, EUR, GBP …",
            ));
        }

        let order = Order {
            order_id: id,
            order_date,
            currency: currency.map(|c| c.to_ascii_uppercase()),
            shipping_method,
            ship_to: Address {
                first_name,
                last_name,
                company: self.opt(Col::Company),
                address1,
                address2: self.opt(Col::Address2),
                city,
                state,
                postal_code,
                country,
                email: self.opt(Col::Email),
                phone: self.opt(Col::Phone),
            },
            notes: self.opt(Col::Notes),
            lines: Vec::new(),
        };
        let bad = !errors.is_empty();
        self.ready.extend(errors.into_iter().map(Err));
        self.current = Some(PendingOrder { order, bad });
    }

    /// Later rows may leave order-level columns empty or repeat them; they may not contradict them.
    fn check_consistent(&mut self, line: u64, id: &str) {
        let mut errors = Vec::new();
        if let Some(pending) = &self.current {
            for col in ORDER_LEVEL {
                let v = self.field(col);
                let first = order_level_value(&pending.order, col);
                // Country and currency are stored upper-cased.
                let same = if matches!(col, Col::Country | Col::Currency) {
                    v.eq_ignore_ascii_case(first)
                } else {
                    v == first
                };
                if !v.is_empty() && !same {
                    errors.push(problem(line, col, id, v, "this row disagrees with the order's first row.", "give every row of an order the same order-level values, or leave them empty after the first row."));
                }
            }
        }
        self.mark_bad(errors);
    }

    fn add_line(&mut self, line: u64, id: &str) {
        let mut errors = Vec::new();
        let sku = self.field(Col::Sku).to_string();
        if sku.is_empty() {
            errors.push(problem(
                line,
                Col::Sku,
                id,
                "",
                "the SKU is empty.",
                "fill in the SKU of this line.",
            ));
        }
        let qty_text = self.field(Col::Quantity);
        let quantity = match qty_text.parse::<u32>() {
            Ok(q) if q > 0 => q,
            _ => {
                errors.push(problem(
                    line,
                    Col::Quantity,
                    id,
                    qty_text,
                    "the quantity is not a positive whole number.",
                    "write the quantity as a whole number of at least 1, such as 2.",
                ));
                0
            }
        };
        let unit_price = self.opt(Col::UnitPrice);
        if let Some(p) = &unit_price
            && !is_decimal(p)
        {
            errors.push(problem(
                line,
                Col::UnitPrice,
                id,
                p,
                "the unit price is not a decimal number.",
                "write the price with a dot and no currency sign, such as 19.90.",
            ));
        }
        let next_number = self
            .current
            .as_ref()
            .map_or(1, |p| p.order.lines.len() as u32 + 1);
        let number_text = self.field(Col::LineNumber);
        let line_number = if number_text.is_empty() {
            next_number
        } else {
            match number_text.parse::<u32>() {
                Ok(n) if n > 0 => n,
                _ => {
                    errors.push(problem(
                        line,
                        Col::LineNumber,
                        id,
                        number_text,
                        "the line number is not a positive whole number.",
                        "number the lines of an order 1, 2, 3 … or leave the column empty.",
                    ));
                    next_number
                }
            }
        };
        let order_line = OrderLine {
            line_number,
            sku,
            quantity,
            unit_price,
            description: self.opt(Col::Description),
        };
        if let Some(p) = &mut self.current {
            p.order.lines.push(order_line);
        }
        self.mark_bad(errors);
    }

    fn mark_bad(&mut self, errors: Vec<FormatError>) {
        if errors.is_empty() {
            return;
        }
        if let Some(p) = &mut self.current {
            p.bad = true;
        }
        self.ready.extend(errors.into_iter().map(Err));
    }

    fn flush(&mut self) {
        if let Some(p) = self.current.take()
            && !p.bad
        {
            self.ready.push_back(Ok(Document::Order(p.order)));
        }
    }
}

impl Iterator for OrderRows<'_> {
    type Item = Result<Document, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            match self.csv.read_record(&mut self.record) {
                Ok(false) => {
                    self.done = true;
                    if self.index.is_none() {
                        self.ready.push_back(Err(FormatError::data(DataProblem {
                            line: Some(1),
                            field: None,
                            document_id: None,
                            value: None,
                            problem: "the file is empty.".into(),
                            fix: format!("export at least a header line and one order in {NAME}."),
                        })));
                    }
                    self.flush();
                }
                Ok(true) => {
                    let line = self.record.position().map_or(0, |p| p.line());
                    if self.record.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    if self.index.is_none() {
                        if let Err(e) = self.read_header() {
                            return Some(Err(e));
                        }
                    } else {
                        self.take_row(line);
                    }
                }
                Err(e) => {
                    let e = csv_error(e);
                    if matches!(e, FormatError::Io(_)) {
                        self.done = true;
                    }
                    if let Some(p) = &mut self.current {
                        p.bad = true;
                    }
                    return Some(Err(e));
                }
            }
        }
    }
}

/// The order's stored value of an order-level column.
/// An optional text as written: empty when absent.
fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn order_level_value(o: &Order, col: Col) -> &str {
    let a = &o.ship_to;
    match col {
        Col::OrderId => &o.order_id,
        Col::OrderDate => opt(&o.order_date),
        Col::Currency => opt(&o.currency),
        Col::ShippingMethod => &o.shipping_method,
        Col::FirstName => &a.first_name,
        Col::LastName => &a.last_name,
        Col::Company => opt(&a.company),
        Col::Address1 => &a.address1,
        Col::Address2 => opt(&a.address2),
        Col::City => &a.city,
        Col::State => opt(&a.state),
        Col::PostalCode => &a.postal_code,
        Col::Country => &a.country,
        Col::Email => opt(&a.email),
        Col::Phone => opt(&a.phone),
        Col::Notes => opt(&o.notes),
        Col::LineNumber | Col::Sku | Col::Quantity | Col::UnitPrice | Col::Description => "",
    }
}

fn is_iso_date(text: &str) -> bool {
    // The common plain date first, without chrono's general-purpose parser.
    let b = text.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().ok();
        return match (num(0..4), num(5..7), num(8..10)) {
            (Some(y), Some(m), Some(d)) => {
                chrono::NaiveDate::from_ymd_opt(y as i32, m, d).is_some()
            }
            _ => false,
        };
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
        || chrono::DateTime::parse_from_rfc3339(text).is_ok()
        || chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").is_ok()
}

fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !frac.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

struct OrdersCsvWriter<'a> {
    csv: csv::Writer<Box<dyn Write + 'a>>,
    header_written: bool,
}

impl DocumentWriter for OrdersCsvWriter<'_> {
    fn write(&mut self, document: &Document) -> Result<(), FormatError> {
        let Document::Order(o) = document else {
            return Err(FormatError::data(DataProblem {
                line: None,
                field: None,
                document_id: None,
                value: None,
                problem: format!("{NAME} cannot hold a {}.", document.kind()),
                fix: "choose a writer for this kind of document.".into(),
            }));
        };
        if !self.header_written {
            self.csv.write_record(COLUMNS).map_err(into_io)?;
            self.header_written = true;
        }
        let a = &o.ship_to;
        let (mut number, mut quantity) = (itoa::Buffer::new(), itoa::Buffer::new());
        for l in &o.lines {
            self.csv
                .write_record([
                    o.order_id.as_str(),
                    opt(&o.order_date),
                    opt(&o.currency),
                    &o.shipping_method,
                    &a.first_name,
                    &a.last_name,
                    opt(&a.company),
                    &a.address1,
                    opt(&a.address2),
                    &a.city,
                    opt(&a.state),
                    &a.postal_code,
                    &a.country,
                    opt(&a.email),
                    opt(&a.phone),
                    opt(&o.notes),
                    number.format(l.line_number),
                    &l.sku,
                    quantity.format(l.quantity),
                    opt(&l.unit_price),
                    opt(&l.description),
                ])
                .map_err(into_io)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        if !self.header_written {
            self.csv.write_record(COLUMNS).map_err(into_io)?;
        }
        self.csv.flush()
    }
}

fn into_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => io::Error::other(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{ConvertError, convert};

    const HEADER: &str = "order_id,order_date,currency,shipping_method,ship_to_first_name,ship_to_last_name,ship_to_company,ship_to_address1,ship_to_address2,ship_to_city,ship_to_state,ship_to_postal_code,ship_to_country,ship_to_email,ship_to_phone,notes,line_number,sku,quantity,unit_price,description\n";

    fn run_with(input: &str, input_len: Option<u64>) -> Result<String, ConvertError> {
        let mut out = Vec::new();
        convert(
            &CanonicalOrdersCsv,
            &CanonicalOrdersCsv,
            Box::new(input.as_bytes()),
            input_len,
            Box::new(&mut out),
            50,
        )?;
        Ok(String::from_utf8(out).unwrap())
    }

    /// Converts on the calling thread and on two threads; both must agree.
    fn run(input: &str) -> Result<String, ConvertError> {
        let inline = run_with(input, Some(input.len() as u64));
        let threaded = run_with(input, None);
        assert_eq!(format!("{inline:?}"), format!("{threaded:?}"));
        threaded
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let input = format!(
            "{HEADER}1001,2026-11-20,USD,ground,Ada,Lovelace,,1 Main St,Apt 2,Springfield,IL,06201,US,a@example.com,555,\"gift, wrap\nplease\",1,SKU-1,2,19.90,Mug\n1001,,,,,,,,,,,,,,,,2,SKU-2,1,,\n"
        );
        let out = run(&input).unwrap();
        assert_eq!(
            out.lines().count(),
            1 + 2 * 2,
            "header + 2 rows, each with the quoted newline: {out}"
        );
        assert!(out.contains("06201"), "leading zero kept");
        assert_eq!(
            run(&out).unwrap(),
            out,
            "writing what was read gives the same bytes"
        );
    }

    #[test]
    fn bad_quantity_names_line_field_and_order() {
        let input = format!(
            "{HEADER}1001,,,ground,Ada,Lovelace,,1 Main St,,Springfield,IL,62701,US,,,,1,SKU-1,two,,\n"
        );
        let ConvertError::Data { problems, total } = run(&input).unwrap_err() else {
            panic!("expected a data problem")
        };
        assert_eq!(total, 1);
        let p = &problems[0];
        assert_eq!(
            (p.line, p.field.as_deref(), p.document_id.as_deref()),
            (Some(2), Some("quantity"), Some("1001"))
        );
        assert!(!p.summary().contains("two"), "summaries carry no values");
    }

    #[test]
    fn missing_columns_are_listed() {
        let ConvertError::Data { problems, .. } = run("order_id,sku\n1,A\n").unwrap_err() else {
            panic!()
        };
        assert!(
            problems[0].problem.contains("quantity"),
            "{}",
            problems[0].problem
        );
    }

    #[test]
    fn headers_match_case_and_space_insensitively_with_bom() {
        let header = HEADER
            .replace("order_id", "\u{feff}Order ID")
            .replace("ship_to_city", "Ship To City");
        let input = format!("{header}9,,,ground,A,B,,1 St,,Town,,X1,GB,,,,,S,1,,\n");
        assert!(run(&input).unwrap().contains("Town"));
    }

    #[test]
    fn contradicting_rows_are_reported() {
        let input = format!(
            "{HEADER}7,,,ground,A,B,,1 St,,Town,,X1,GB,,,,,S,1,,\n7,,,air,,,,,,,,,,,,,,T,1,,\n"
        );
        let ConvertError::Data { problems, .. } = run(&input).unwrap_err() else {
            panic!()
        };
        assert_eq!(problems[0].field.as_deref(), Some("shipping_method"));
        assert_eq!(problems[0].line, Some(3));
    }
}
