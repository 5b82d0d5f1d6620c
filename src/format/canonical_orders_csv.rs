//! `canonical-orders-csv`: cartferry's own order format, one row per order line.
//!
//! The order-level columns repeat on every line of an order (the writer fills them all; the reader
//! takes them from the order's first row and reports later rows that contradict it). Rows of one
//! order must be adjacent. Headers are matched case- and space-insensitively; extra columns are
//! ignored. The columns are documented in README.md.

use std::collections::VecDeque;
use std::io::{self, BufRead, Write};

use super::orders::PendingOrder;
use super::table::{self, CsvInput, Table};
use super::validate::Field;
use super::{
    DataProblem, DocumentWriter, FormatError, FormatProblem, Item, Items, NoOptions, Options,
    ReaderFormat, Span, WriterFormat, parse_options,
};
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

/// The column each checked field is reported under.
fn column_of(field: Field) -> &'static str {
    match field {
        Field::OrderId => Col::OrderId,
        Field::ShipToName => Col::LastName,
        Field::Address1 => Col::Address1,
        Field::City => Col::City,
        Field::State => Col::State,
        Field::PostalCode => Col::PostalCode,
        Field::Country => Col::Country,
        Field::ShippingMethod => Col::ShippingMethod,
        Field::Lines | Field::Sku(_) => Col::Sku,
        Field::Quantity(_) => Col::Quantity,
    }
    .name()
}

/// The canonical orders CSV format (reader and writer).
pub struct CanonicalOrdersCsv {
    input: CsvInput,
}

impl CanonicalOrdersCsv {
    /// The reader, with a route's `reader_options` (`encoding`, `delimiter`).
    pub fn reader(options: &Options) -> Result<CanonicalOrdersCsv, Vec<FormatProblem>> {
        Ok(CanonicalOrdersCsv {
            input: parse_options(options, "reader_options")?,
        })
    }

    /// The writer, with a route's `writer_options` (none yet).
    pub fn writer(options: &Options) -> Result<CanonicalOrdersCsv, Vec<FormatProblem>> {
        parse_options::<NoOptions>(options, "writer_options")?;
        Ok(CanonicalOrdersCsv {
            input: CsvInput::default(),
        })
    }
}

impl ReaderFormat for CanonicalOrdersCsv {
    fn read<'a>(&self, input: Box<dyn BufRead + 'a>) -> Items<'a> {
        Box::new(OrderRows {
            input: Some(input),
            options: self.input,
            table: None,
            index: [None; COLUMNS.len()],
            current: None,
            ready: VecDeque::new(),
        })
    }

    fn copy_rows(
        &self,
        input: Box<dyn BufRead + '_>,
        header: Span,
        spans: &[Span],
        output: &mut dyn Write,
    ) -> io::Result<Vec<u64>> {
        table::copy_rows(input, &self.input, header, spans, output)
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

struct OrderRows<'a> {
    /// The input, until the table is opened on the first call.
    input: Option<Box<dyn BufRead + 'a>>,
    options: CsvInput,
    table: Option<Table<'a>>,
    /// Column index per [`Col`].
    index: [Option<usize>; COLUMNS.len()],
    current: Option<PendingOrder>,
    ready: VecDeque<Result<Item, FormatError>>,
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

impl<'a> OrderRows<'a> {
    fn table(&self) -> &Table<'a> {
        self.table.as_ref().expect("opened before rows are read")
    }

    fn field(&self, col: Col) -> &str {
        self.table().get(self.index[col as usize])
    }

    fn opt(&self, col: Col) -> Option<String> {
        Some(self.field(col))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// Opens the table and maps its columns; gives the header item.
    fn open(&mut self, input: Box<dyn BufRead + 'a>) -> Result<Item, FormatError> {
        let table = Table::open(input, &self.options)?;
        for (i, name) in COLUMNS.iter().enumerate() {
            self.index[i] = table.column(&[name]);
        }
        let header = table.header_span();
        self.table = Some(table);
        let missing: Vec<&str> = REQUIRED
            .iter()
            .filter(|c| self.index[**c as usize].is_none())
            .map(|c| c.name())
            .collect();
        if !missing.is_empty() {
            return Err(FormatError::data(DataProblem {
                line: Some(1),
                problem: format!("the header lacks the column(s) {}.", missing.join(", ")),
                fix: format!(
                    "make the first line the header of {NAME}: {} (see README.md).",
                    COLUMNS.join(",")
                ),
                ..DataProblem::default()
            }));
        }
        Ok(Item::Header(header))
    }

    /// Ends the pending order (or orphan rows) at byte `end`.
    fn flush(&mut self, end: u64) {
        if let Some(p) = self.current.take() {
            let item = if p.order.order_id.is_empty() {
                p.reject(end)
            } else {
                p.finish(end, column_of)
            };
            self.ready.push_back(Ok(item));
        }
    }

    /// Handles one data row: starts or extends the pending order.
    fn take_row(&mut self) {
        let (line, start) = (self.table().line(), self.table().row_start());
        let id = self.field(Col::OrderId).to_string();
        let continues = self
            .current
            .as_ref()
            .is_some_and(|p| !id.is_empty() && p.order.order_id == id);
        if !continues {
            self.flush(start);
        }
        if id.is_empty() {
            let mut orphan = PendingOrder::new(Order::default(), line, start);
            orphan.problem(
                line,
                Col::OrderId.name(),
                "",
                "the order id is empty.",
                "give every row the id of the order it belongs to.",
            );
            self.current = Some(orphan);
            return;
        }
        if continues {
            self.check_consistent(line);
        } else {
            self.start_order(line, start, id);
        }
        self.add_line(line);
    }

    fn start_order(&mut self, line: u64, start: u64, id: String) {
        let order = Order {
            order_id: id,
            order_date: self.opt(Col::OrderDate),
            currency: self.opt(Col::Currency).map(|c| c.to_ascii_uppercase()),
            shipping_method: self.field(Col::ShippingMethod).to_string(),
            ship_to: Address {
                first_name: self.field(Col::FirstName).to_string(),
                last_name: self.field(Col::LastName).to_string(),
                company: self.opt(Col::Company),
                address1: self.field(Col::Address1).to_string(),
                address2: self.opt(Col::Address2),
                city: self.field(Col::City).to_string(),
                state: self.opt(Col::State),
                postal_code: self.field(Col::PostalCode).to_string(),
                country: self.field(Col::Country).to_string(),
                email: self.opt(Col::Email),
                phone: self.opt(Col::Phone),
            },
            notes: self.opt(Col::Notes),
            lines: Vec::new(),
        };
        let mut pending = PendingOrder::new(order, line, start);
        if let Some(d) = &pending.order.order_date
            && !is_iso_date(d)
        {
            let d = d.clone();
            pending.problem(
                line,
                Col::OrderDate.name(),
                &d,
                "the order date is not an ISO 8601 date.",
                "write it as 2026-11-22 or 2026-11-22T10:15:00Z.",
            );
        }
        if let Some(c) = &pending.order.currency
            && (c.len() != 3 || !c.bytes().all(|b| b.is_ascii_alphabetic()))
        {
            let c = c.clone();
            pending.problem(
                line,
                Col::Currency.name(),
                &c,
                "the currency is not a three-letter ISO 4217 code.",
                "write it as USD, EUR, GBP …",
            );
        }
        self.current = Some(pending);
    }

    /// Later rows may leave order-level columns empty or repeat them; they may not contradict them.
    fn check_consistent(&mut self, line: u64) {
        let Some(mut pending) = self.current.take() else {
            return;
        };
        for col in ORDER_LEVEL {
            let v = self.field(col);
            let first = order_level_value(&pending.order, col);
            // Country and currency may differ in case only.
            let same = if matches!(col, Col::Country | Col::Currency) {
                v.eq_ignore_ascii_case(first)
            } else {
                v == first
            };
            if !v.is_empty() && !same {
                pending.problem(
                    line,
                    col.name(),
                    v,
                    "this row disagrees with the order's first row.",
                    "give every row of an order the same order-level values, or leave them empty after the first row.",
                );
            }
        }
        self.current = Some(pending);
    }

    fn add_line(&mut self, line: u64) {
        let Some(mut pending) = self.current.take() else {
            return;
        };
        let qty_text = self.field(Col::Quantity);
        let quantity = match qty_text.parse::<u32>() {
            Ok(q) => q,
            Err(_) => {
                pending.problem(
                    line,
                    Col::Quantity.name(),
                    qty_text,
                    "the quantity is not a positive whole number.",
                    "write the quantity as a whole number of at least 1, such as 2.",
                );
                0
            }
        };
        let unit_price = self.opt(Col::UnitPrice);
        if let Some(p) = &unit_price
            && !is_decimal(p)
        {
            pending.problem(
                line,
                Col::UnitPrice.name(),
                p,
                "the unit price is not a decimal number.",
                "write the price with a dot and no currency sign, such as 19.90.",
            );
        }
        let next_number = pending.next_line_number();
        let number_text = self.field(Col::LineNumber);
        let line_number = match number_text.parse::<u32>() {
            _ if number_text.is_empty() => next_number,
            Ok(n) if n > 0 => n,
            _ => {
                pending.problem(
                    line,
                    Col::LineNumber.name(),
                    number_text,
                    "the line number is not a positive whole number.",
                    "number the lines of an order 1, 2, 3 … or leave the column empty.",
                );
                next_number
            }
        };
        let order_line = OrderLine {
            line_number,
            sku: self.field(Col::Sku).to_string(),
            quantity,
            unit_price,
            description: self.opt(Col::Description),
        };
        pending.add_line(order_line, line);
        self.current = Some(pending);
    }
}

impl Iterator for OrderRows<'_> {
    type Item = Result<Item, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(input) = self.input.take() {
            return Some(self.open(input));
        }
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            let table = self.table.as_mut()?;
            let before = table.position();
            match table.next_row() {
                None => {
                    let end = table.position();
                    self.flush(end);
                    self.table = None;
                }
                Some(Ok(_)) => self.take_row(),
                Some(Err(FormatError::Data(problem))) => {
                    // An unreadable row: part of the order before it, or rows of their own.
                    let line = problem.line.unwrap_or(0);
                    self.current
                        .get_or_insert_with(|| PendingOrder::new(Order::default(), line, before))
                        .push(*problem);
                }
                Some(Err(e)) => {
                    self.table = None;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// An optional text as written: empty when absent.
fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

/// The order's stored value of an order-level column.
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

/// True for `2026-11-22`, `2026-11-22T10:15:00Z` and the like.
pub fn is_iso_date(text: &str) -> bool {
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

/// True for decimal numbers written with a dot: `19.90`, `-3`, `0.5`.
pub fn is_decimal(text: &str) -> bool {
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
            return Err(FormatError::data(DataProblem::whole_file(
                &format!("{NAME} cannot hold a {}.", document.kind()),
                "choose a writer for this kind of document.",
            )));
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
    use crate::format::{Conversion, ConvertError, Converted, OnInvalid, convert};

    const HEADER: &str = "order_id,order_date,currency,shipping_method,ship_to_first_name,ship_to_last_name,ship_to_company,ship_to_address1,ship_to_address2,ship_to_city,ship_to_state,ship_to_postal_code,ship_to_country,ship_to_email,ship_to_phone,notes,line_number,sku,quantity,unit_price,description\n";

    fn run_with(input: &str, input_len: Option<u64>) -> Result<String, ConvertError> {
        let conversion = Conversion {
            reader: Box::new(CanonicalOrdersCsv::reader(&Options::new()).unwrap()),
            writer: Box::new(CanonicalOrdersCsv::writer(&Options::new()).unwrap()),
            on_invalid: OnInvalid::RejectFile,
        };
        let mut out = Vec::new();
        convert(
            &conversion,
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

    fn split(input: &str) -> Result<(String, Converted), ConvertError> {
        let conversion = Conversion {
            reader: Box::new(CanonicalOrdersCsv::reader(&Options::new()).unwrap()),
            writer: Box::new(CanonicalOrdersCsv::writer(&Options::new()).unwrap()),
            on_invalid: OnInvalid::Split,
        };
        let mut out = Vec::new();
        let converted = convert(
            &conversion,
            Box::new(input.as_bytes()),
            None,
            Box::new(&mut out),
            50,
        )?;
        Ok((String::from_utf8(out).unwrap(), converted))
    }

    #[test]
    fn a_split_keeps_good_orders_and_gives_the_bad_ones_rows() {
        let good = "1,,,ground,A,B,,1 St,,Town,,X1,GB,,,,,S,1,,\n";
        let bad = "2,,,ground,A,B,,1 St,,Town,,X1,GB,,,,,S,0,,\n2,,,,,,,,,,,,,,,,,T,1,,\n";
        let input = format!("{HEADER}{good}{bad}{good}");
        let (out, converted) = split(&input).unwrap();
        assert_eq!(converted.written, 2);
        assert_eq!(out.lines().count(), 3);
        let rejected = converted.rejected.unwrap();
        let start = (HEADER.len() + good.len()) as u64;
        assert_eq!(
            rejected.spans,
            [Span {
                start,
                end: start + bad.len() as u64,
                line: 3
            }]
        );
        assert_eq!(
            rejected.header,
            Span {
                start: 0,
                end: HEADER.len() as u64,
                line: 1
            }
        );
        assert_eq!(rejected.problems[0].field.as_deref(), Some("quantity"));

        let all_bad = format!("{HEADER}{bad}");
        assert!(
            matches!(split(&all_bad), Err(ConvertError::Data { total: 1, .. })),
            "nothing good: the whole file"
        );
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
