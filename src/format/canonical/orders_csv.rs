//! `canonical-orders-csv`: cartferry's own order format, one row per order line.
//!
//! The order-level columns repeat on every line of an order (the writer fills them all; the reader
//! takes them from the order's first row and reports later rows that contradict it). Rows of one
//! order must be adjacent. Headers are matched case- and space-insensitively; extra columns are
//! ignored. The columns are documented in README.md.

use std::borrow::Cow;
use std::io::{self, BufRead, Write};

use crate::format::shared::grouped::{GroupedRows, Opener, Pending, RowDialect};
use crate::format::shared::orders::{self, is_iso_date};
use crate::format::shared::table::{self, CsvInput, CsvReader, Table};
use crate::format::shared::validate::Field;
use crate::format::{
    DataProblem, DocumentWriter, FormatError, FormatProblem, Item, Items, NoOptions, Options,
    WriterFormat, parse_options,
};
use crate::model::{Address, Document, DocumentKind, Order, OrderLine};

/// The format's name in configs.
pub const NAME: &str = "canonical-orders-csv";

/// The columns, in the order the writer emits them.
pub const COLUMNS: [&str; 23] = [
    "order_id",
    "order_date",
    "currency",
    "shipping_method",
    "carrier",
    "service",
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
    Carrier,
    Service,
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

/// The names of the columns without which no order can be read.
pub fn required_columns() -> Vec<&'static str> {
    REQUIRED.iter().map(|c| c.name()).collect()
}

/// The columns of an order's lines (the rest are the order's own).
pub fn line_columns() -> &'static [&'static str] {
    &COLUMNS[Col::LineNumber as usize..]
}

/// The orders of the table `opener` makes of `input`, whose columns are named as this format's.
pub fn read_table<'a>(input: Box<dyn BufRead + 'a>, opener: Opener<'a>) -> Items<'a> {
    Box::new(GroupedRows::with_opener(
        input,
        opener,
        CanonicalRows {
            index: [None; COLUMNS.len()],
        },
    ))
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

impl CsvReader for CanonicalOrdersCsv {
    fn csv_input(&self) -> &CsvInput {
        &self.input
    }

    fn read_csv<'a>(&self, input: Box<dyn BufRead + 'a>) -> Items<'a> {
        let options = self.input;
        read_table(input, Box::new(move |input| Table::open(input, &options)))
    }
}

impl WriterFormat for CanonicalOrdersCsv {
    fn accepts(&self) -> &'static [DocumentKind] {
        &[DocumentKind::Order]
    }

    fn begin<'a>(
        &self,
        output: Box<dyn Write + 'a>,
        _context: &crate::format::WriteContext,
    ) -> Box<dyn DocumentWriter + 'a> {
        Box::new(OrdersCsvWriter {
            csv: csv::WriterBuilder::new().from_writer(output),
            header_written: false,
        })
    }
}

/// The rows of the canonical orders CSV.
struct CanonicalRows {
    /// Column index per [`Col`].
    index: [Option<usize>; COLUMNS.len()],
}

const ORDER_LEVEL: [Col; 18] = [
    Col::OrderId,
    Col::OrderDate,
    Col::Currency,
    Col::ShippingMethod,
    Col::Carrier,
    Col::Service,
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

impl CanonicalRows {
    fn field<'t>(&self, table: &'t Table<'_>, col: Col) -> &'t str {
        table.get(self.index[col as usize])
    }

    fn opt(&self, table: &Table<'_>, col: Col) -> Option<String> {
        Some(self.field(table, col))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// The order-level fields, from an order's first row.
    fn start_order(&self, t: &Table<'_>, pending: &mut Pending<Order>) {
        let line = t.line();
        pending.doc = Order {
            order_id: pending.key.clone(),
            order_date: self.opt(t, Col::OrderDate),
            currency: self.opt(t, Col::Currency).map(|c| c.to_ascii_uppercase()),
            shipping_method: self.field(t, Col::ShippingMethod).to_string(),
            carrier: self.opt(t, Col::Carrier),
            service: self.opt(t, Col::Service),
            ship_to: Address {
                first_name: self.field(t, Col::FirstName).to_string(),
                last_name: self.field(t, Col::LastName).to_string(),
                company: self.opt(t, Col::Company),
                address1: self.field(t, Col::Address1).to_string(),
                address2: self.opt(t, Col::Address2),
                city: self.field(t, Col::City).to_string(),
                state: self.opt(t, Col::State),
                postal_code: self.field(t, Col::PostalCode).to_string(),
                country: self.field(t, Col::Country).to_string(),
                email: self.opt(t, Col::Email),
                phone: self.opt(t, Col::Phone),
            },
            notes: self.opt(t, Col::Notes),
            lines: Vec::new(),
        };
        if let Some(d) = pending.doc.order_date.clone()
            && !is_iso_date(&d)
        {
            pending.problem(
                line,
                Col::OrderDate.name(),
                &d,
                "the order date is not an ISO 8601 date.",
                "write it as 2026-11-22 or 2026-11-22T10:15:00Z.",
            );
        }
        if let Some(c) = pending.doc.currency.clone()
            && (c.len() != 3 || !c.bytes().all(|b| b.is_ascii_alphabetic()))
        {
            pending.problem(
                line,
                Col::Currency.name(),
                &c,
                "the currency is not a three-letter ISO 4217 code.",
                "write it as USD, EUR, GBP …",
            );
        }
    }

    /// Later rows may leave order-level columns empty or repeat them; they may not contradict them.
    fn check_consistent(&self, t: &Table<'_>, pending: &mut Pending<Order>) {
        for col in ORDER_LEVEL {
            let v = self.field(t, col);
            let first = order_level_value(&pending.doc, col);
            // Country and currency may differ in case only.
            let same = if matches!(col, Col::Country | Col::Currency) {
                v.eq_ignore_ascii_case(first)
            } else {
                v == first
            };
            if !v.is_empty() && !same {
                pending.problem(
                    t.line(),
                    col.name(),
                    v,
                    "this row disagrees with the order's first row.",
                    "give every row of an order the same order-level values, or leave them empty after the first row.",
                );
            }
        }
    }
}

impl RowDialect for CanonicalRows {
    type Doc = Order;

    fn open(&mut self, table: &Table<'_>) -> Result<(), FormatError> {
        for (i, name) in COLUMNS.iter().enumerate() {
            self.index[i] = table.column(&[name]);
        }
        let missing: Vec<&str> = REQUIRED
            .iter()
            .filter(|c| self.index[**c as usize].is_none())
            .map(|c| c.name())
            .collect();
        let fix = format!(
            "make the first line the header of {NAME}: {} (see README.md).",
            COLUMNS.join(",")
        );
        table::require_columns(&missing, "", fix)
    }

    fn key<'t>(&self, table: &'t Table<'_>) -> Cow<'t, str> {
        Cow::Borrowed(self.field(table, Col::OrderId))
    }

    fn keyless(&self) -> [&'static str; 3] {
        [
            Col::OrderId.name(),
            "the order id is empty.",
            "give every row the id of the order it belongs to.",
        ]
    }

    fn add_row(&self, t: &Table<'_>, pending: &mut Pending<Order>, first: bool) {
        if first {
            self.start_order(t, pending);
        } else {
            self.check_consistent(t, pending);
        }
        let line = t.line();
        let quantity = orders::quantity(
            pending,
            line,
            Col::Quantity.name(),
            self.field(t, Col::Quantity),
        );
        let unit_price = orders::price(
            pending,
            line,
            Col::UnitPrice.name(),
            self.field(t, Col::UnitPrice),
        );
        let next_number = orders::next_line_number(pending);
        let number_text = self.field(t, Col::LineNumber);
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
            sku: self.field(t, Col::Sku).to_string(),
            quantity,
            unit_price,
            description: self.opt(t, Col::Description),
        };
        orders::add_line(pending, order_line, line);
    }

    fn finish(&self, pending: Pending<Order>, end: u64) -> Item {
        orders::finish(pending, end, column_of)
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
        Col::Carrier => opt(&o.carrier),
        Col::Service => opt(&o.service),
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
            self.csv
                .write_record(COLUMNS)
                .map_err(crate::format::shared::table::csv_io)?;
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
                    opt(&o.carrier),
                    opt(&o.service),
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
                .map_err(crate::format::shared::table::csv_io)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        if !self.header_written {
            self.csv
                .write_record(COLUMNS)
                .map_err(crate::format::shared::table::csv_io)?;
        }
        self.csv.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Conversion, ConvertError, Converted, OnInvalid, Span, convert};

    const HEADER: &str = "order_id,order_date,currency,shipping_method,ship_to_first_name,ship_to_last_name,ship_to_company,ship_to_address1,ship_to_address2,ship_to_city,ship_to_state,ship_to_postal_code,ship_to_country,ship_to_email,ship_to_phone,notes,line_number,sku,quantity,unit_price,description\n";

    fn run_with(input: &str, input_len: Option<u64>) -> Result<String, ConvertError> {
        let conversion = Conversion {
            reader: Box::new(CanonicalOrdersCsv::reader(&Options::new()).unwrap()),
            writer: Box::new(CanonicalOrdersCsv::writer(&Options::new()).unwrap()),
            on_invalid: OnInvalid::RejectFile,
            shipping_methods: Default::default(),
        };
        let mut out = Vec::new();
        convert(
            &conversion,
            &crate::format::WriteContext::now(),
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
            shipping_methods: Default::default(),
        };
        let mut out = Vec::new();
        let converted = convert(
            &conversion,
            &crate::format::WriteContext::now(),
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
