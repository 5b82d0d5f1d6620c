//! `shopify-orders-csv`: Shopify's order export (Admin → Orders → Export), read as Shopify
//! writes it.
//!
//! One row per line item, rows of an order adjacent and sharing `Name` (the order id, such as
//! `#1001`); order-level fields (statuses, addresses, notes) only on the order's first row.
//! Columns are found by name, so older exports with fewer columns read the same. Quirks handled:
//! ZIPs and phones with Shopify's leading apostrophe, `Shipping Name` split into first and last
//! name, timestamps like `2025-05-11 09:55:16 -0400`, lines that need no shipping (gift cards,
//! digital goods) left out. A cancelled order (`Cancelled at`) becomes a cancellation; an unpaid
//! one (`Financial Status` not among `paid_statuses`) is held back or passed per `unpaid`.

use std::borrow::Cow;
use std::io::BufRead;

use crate::format::shared::grouped::{GroupedRows, Pending, RowDialect};
use crate::format::shared::orders::{self, ExportOptions, Unpaid};
use crate::format::shared::table::{self, CsvInput, CsvReader, Table};
use crate::format::shared::validate::Field;
use crate::format::{FormatError, FormatProblem, Item, Items, Options};
use crate::model::{Address, Document, HoldAction, Order, OrderHold, OrderLine};

/// The format's name in configs.
pub const NAME: &str = "shopify-orders-csv";

/// What to do about a line without a SKU: Shopify keeps SKUs on variants.
const SKU_FIX: &str = "set SKUs in Shopify (Products → the product → Variants → SKU) and export again: a warehouse picks by SKU, and a line without one cannot be picked.";

/// The Shopify orders export reader.
pub struct ShopifyOrdersCsv {
    input: CsvInput,
    options: ExportOptions,
}

impl ShopifyOrdersCsv {
    /// The reader, with a route's `reader_options`: `encoding`, `delimiter`, `billing_fallback`,
    /// `unpaid` (`hold-back` or `pass`) and `paid_statuses`.
    pub fn reader(options: &Options) -> Result<ShopifyOrdersCsv, Vec<FormatProblem>> {
        let (input, options) = ExportOptions::parse(options, &["paid"], table::normalise)?;
        Ok(ShopifyOrdersCsv { input, options })
    }
}

impl CsvReader for ShopifyOrdersCsv {
    fn csv_input(&self) -> &CsvInput {
        &self.input
    }

    fn read_csv<'a>(&self, input: Box<dyn BufRead + 'a>) -> Items<'a> {
        Box::new(GroupedRows::new(
            input,
            self.input,
            ShopifyRows {
                options: self.options.clone(),
                index: [None; Col::COUNT],
            },
        ))
    }
}

/// The columns the reader uses, by their names in Shopify's export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum Col {
    Name,
    Email,
    FinancialStatus,
    Currency,
    ShippingMethod,
    CreatedAt,
    Quantity,
    ItemName,
    Price,
    Sku,
    RequiresShipping,
    Notes,
    CancelledAt,
    Phone,
    BillingName,
    BillingAddress1,
    BillingAddress2,
    BillingCompany,
    BillingCity,
    BillingZip,
    BillingProvince,
    BillingCountry,
    BillingPhone,
    ShippingName,
    ShippingAddress1,
    ShippingAddress2,
    ShippingCompany,
    ShippingCity,
    ShippingZip,
    ShippingProvince,
    ShippingCountry,
    ShippingPhone,
}

impl Col {
    const COUNT: usize = 32;

    fn name(self) -> &'static str {
        NAMES[self as usize]
    }
}

/// Each column's name in Shopify's export, in [`Col`]'s order.
const NAMES: [&str; Col::COUNT] = [
    "Name",
    "Email",
    "Financial Status",
    "Currency",
    "Shipping Method",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Notes",
    "Cancelled at",
    "Phone",
    "Billing Name",
    "Billing Address1",
    "Billing Address2",
    "Billing Company",
    "Billing City",
    "Billing Zip",
    "Billing Province",
    "Billing Country",
    "Billing Phone",
    "Shipping Name",
    "Shipping Address1",
    "Shipping Address2",
    "Shipping Company",
    "Shipping City",
    "Shipping Zip",
    "Shipping Province",
    "Shipping Country",
    "Shipping Phone",
];

/// Columns without which no order can be read.
const REQUIRED: [Col; 11] = [
    Col::Name,
    Col::FinancialStatus,
    Col::ShippingMethod,
    Col::Quantity,
    Col::Sku,
    Col::CancelledAt,
    Col::ShippingName,
    Col::ShippingAddress1,
    Col::ShippingCity,
    Col::ShippingZip,
    Col::ShippingCountry,
];

/// One address block of the export: the shipping or the billing columns.
struct AddressColumns {
    name: Col,
    address1: Col,
    address2: Col,
    company: Col,
    city: Col,
    zip: Col,
    province: Col,
    country: Col,
    phone: Col,
}

const SHIPPING: AddressColumns = AddressColumns {
    name: Col::ShippingName,
    address1: Col::ShippingAddress1,
    address2: Col::ShippingAddress2,
    company: Col::ShippingCompany,
    city: Col::ShippingCity,
    zip: Col::ShippingZip,
    province: Col::ShippingProvince,
    country: Col::ShippingCountry,
    phone: Col::ShippingPhone,
};

const BILLING: AddressColumns = AddressColumns {
    name: Col::BillingName,
    address1: Col::BillingAddress1,
    address2: Col::BillingAddress2,
    company: Col::BillingCompany,
    city: Col::BillingCity,
    zip: Col::BillingZip,
    province: Col::BillingProvince,
    country: Col::BillingCountry,
    phone: Col::BillingPhone,
};

impl AddressColumns {
    /// The column each checked field is reported under.
    fn column_of(&self, field: Field) -> &'static str {
        match field {
            Field::OrderId => Col::Name,
            Field::ShipToName => self.name,
            Field::Address1 => self.address1,
            Field::City => self.city,
            Field::State => self.province,
            Field::PostalCode => self.zip,
            Field::Country => self.country,
            Field::ShippingMethod => Col::ShippingMethod,
            Field::Lines | Field::Sku(_) => Col::Sku,
            Field::Quantity(_) => Col::Quantity,
        }
        .name()
    }
}

/// An order as read so far, with what decides whether it ships.
#[derive(Default)]
struct ShopifyOrder {
    order: Order,
    /// `Cancelled at`, when the order was cancelled.
    cancelled_at: Option<String>,
    /// `Financial Status` as written.
    financial_status: String,
    /// The order's address came from the billing columns.
    billed_address: bool,
    /// Lines left out because they need no shipping.
    unshipped_lines: u32,
}

/// The rows of a Shopify export.
struct ShopifyRows {
    options: ExportOptions,
    index: [Option<usize>; Col::COUNT],
}

impl ShopifyRows {
    fn field<'t>(&self, table: &'t Table<'_>, col: Col) -> &'t str {
        table.get(self.index[col as usize])
    }

    fn opt(&self, table: &Table<'_>, col: Col) -> Option<String> {
        Some(self.field(table, col))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// A cell Shopify may prefix with an apostrophe to keep Excel from eating leading zeros.
    fn unquoted<'t>(&self, table: &'t Table<'_>, col: Col) -> &'t str {
        let v = self.field(table, col);
        v.strip_prefix('\'').unwrap_or(v).trim()
    }

    fn address(&self, t: &Table<'_>, cols: &AddressColumns) -> Address {
        let (first_name, last_name) = split_name(self.field(t, cols.name));
        let phone = Some(self.unquoted(t, cols.phone))
            .filter(|p| !p.is_empty())
            .or_else(|| Some(self.unquoted(t, Col::Phone)).filter(|p| !p.is_empty()));
        Address {
            first_name,
            last_name,
            company: self.opt(t, cols.company),
            address1: self.field(t, cols.address1).to_string(),
            address2: self.opt(t, cols.address2),
            city: self.field(t, cols.city).to_string(),
            state: self.opt(t, cols.province),
            postal_code: self.unquoted(t, cols.zip).to_string(),
            country: self.field(t, cols.country).to_string(),
            email: self.opt(t, Col::Email),
            phone: phone.map(str::to_string),
        }
    }

    /// True when the row has none of the address block's main cells.
    fn lacks(&self, t: &Table<'_>, cols: &AddressColumns) -> bool {
        [cols.name, cols.address1, cols.city, cols.zip, cols.country]
            .iter()
            .all(|c| self.field(t, *c).is_empty())
    }

    /// The order-level fields, from an order's first row.
    fn start_order(&self, t: &Table<'_>, pending: &mut Pending<ShopifyOrder>) {
        let line = t.line();
        let billed_address = self.options.billing_fallback && self.lacks(t, &SHIPPING);
        let created = self.field(t, Col::CreatedAt);
        let order_date =
            orders::order_date(pending, line, Col::CreatedAt.name(), created, &self.options);
        pending.doc = ShopifyOrder {
            order: Order {
                order_id: pending.key.clone(),
                order_date,
                currency: self.opt(t, Col::Currency).map(|c| c.to_ascii_uppercase()),
                shipping_method: self.field(t, Col::ShippingMethod).to_string(),
                carrier: None,
                service: None,
                ship_to: self.address(t, if billed_address { &BILLING } else { &SHIPPING }),
                notes: self.opt(t, Col::Notes),
                lines: Vec::new(),
            },
            cancelled_at: self.opt(t, Col::CancelledAt),
            financial_status: self.field(t, Col::FinancialStatus).to_string(),
            billed_address,
            unshipped_lines: 0,
        };
    }

    fn add_line(&self, t: &Table<'_>, pending: &mut Pending<ShopifyOrder>) {
        if self
            .field(t, Col::RequiresShipping)
            .eq_ignore_ascii_case("false")
        {
            pending.doc.unshipped_lines += 1;
            return;
        }
        let line = t.line();
        let quantity = orders::quantity(
            pending,
            line,
            Col::Quantity.name(),
            self.field(t, Col::Quantity),
        );
        let unit_price = orders::price(pending, line, Col::Price.name(), self.field(t, Col::Price));
        let order = &mut pending.doc.order;
        order.lines.push(OrderLine {
            line_number: order.lines.len() as u32 + 1,
            sku: self.field(t, Col::Sku).to_string(),
            quantity,
            unit_price,
            description: self.opt(t, Col::ItemName),
        });
        pending.item_from(line);
    }

    fn is_paid(&self, status: &str) -> bool {
        let status = table::normalise(status);
        self.options.paid_statuses.contains(&status)
    }
}

impl RowDialect for ShopifyRows {
    type Doc = ShopifyOrder;

    fn open(&mut self, table: &Table<'_>) -> Result<(), FormatError> {
        for (i, name) in NAMES.iter().enumerate() {
            self.index[i] = table.column(&[name]);
        }
        let missing: Vec<&str> = REQUIRED
            .iter()
            .filter(|c| self.index[**c as usize].is_none())
            .map(|c| c.name())
            .collect();
        table::require_columns(
            &missing,
            ", so this is not a Shopify orders export",
            "export the orders again from Shopify (Orders → Export → CSV for Excel or plain CSV) without removing columns.".into(),
        )
    }

    fn key<'t>(&self, table: &'t Table<'_>) -> Cow<'t, str> {
        Cow::Borrowed(self.field(table, Col::Name))
    }

    fn keyless(&self) -> [&'static str; 3] {
        [
            Col::Name.name(),
            "the order name is empty.",
            "give every row the Name of the order it belongs to, such as #1001.",
        ]
    }

    fn add_row(&self, t: &Table<'_>, pending: &mut Pending<ShopifyOrder>, first: bool) {
        if first {
            self.start_order(t, pending);
        }
        self.add_line(t, pending);
    }

    fn finish(&self, mut pending: Pending<ShopifyOrder>, end: u64) -> Item {
        let line = pending.first_line();
        if let Some(at) = pending.doc.cancelled_at.take() {
            let cancel = OrderHold {
                order_id: pending.key.clone(),
                action: HoldAction::Cancel,
                reason: Some("cancelled in Shopify".into()),
                requested_at: orders::cart_time(&at),
            };
            return Item::Document(Document::OrderHold(cancel), Some(pending.span(end)));
        }
        if self.options.unpaid == Unpaid::HoldBack && !self.is_paid(&pending.doc.financial_status) {
            let status = pending.doc.financial_status.clone();
            orders::hold_back_unpaid(&mut pending, Col::FinancialStatus.name(), &status);
        }
        if pending.doc.order.lines.is_empty() && pending.doc.unshipped_lines > 0 {
            pending.problem(
                line,
                Col::RequiresShipping.name(),
                "false",
                "none of the order's lines needs shipping (gift cards or digital goods).",
                "nothing is to be shipped: leave this order out of the warehouse's files.",
            );
            return pending.reject(end);
        }
        let order = &pending.doc.order;
        let no_address = [
            order.ship_to.first_name.as_str(),
            &order.ship_to.last_name,
            &order.ship_to.address1,
            &order.ship_to.city,
            &order.ship_to.postal_code,
            &order.ship_to.country,
        ]
        .iter()
        .all(|v| v.is_empty());
        if no_address {
            pending.problem(
                line,
                SHIPPING.address1.name(),
                "",
                "the order has no shipping address.",
                "enter the shipping address in Shopify and export again; to ship such orders to the billing address, set the route's reader_options.billing_fallback = true.",
            );
            return pending.reject(end);
        }
        let cols = if pending.doc.billed_address {
            &BILLING
        } else {
            &SHIPPING
        };
        let pending = pending.map(|d| d.order);
        orders::finish_export(pending, end, (&self.options, SKU_FIX), |f| {
            cols.column_of(f)
        })
    }
}

/// Splits `Ada King Lovelace` into `Ada King` and `Lovelace`; one word is a first name.
fn split_name(name: &str) -> (String, String) {
    match name.trim().rsplit_once(char::is_whitespace) {
        Some((first, last)) => (first.trim().to_string(), last.to_string()),
        None => (name.trim().to_string(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_the_last_space() {
        assert_eq!(
            split_name(" Ada King  Lovelace "),
            ("Ada King".into(), "Lovelace".into())
        );
        assert_eq!(split_name("Cher"), ("Cher".into(), String::new()));
    }
}
