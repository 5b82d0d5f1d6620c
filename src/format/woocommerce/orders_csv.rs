//! `woocommerce-orders-csv`: WooCommerce order exports. WooCommerce itself exports no orders, so
//! this reads the two layouts the common export plugins write, telling them apart by header:
//!
//! - one row per line item with the order's columns on every row (Advanced Order Export's
//!   `Order Number`, `First Name (Shipping)`, `SKU`, `Quantity (- Refund)` … or the same fields
//!   in `snake_case`), rows of an order adjacent;
//! - one row per order with the items in `line_item_1`, `line_item_2` … cells (WebToffee's
//!   `order_id`, `shipping_first_name` … with cells such as
//!   `name:Hoodie|product_id:55|sku:HOOD-1|quantity:2|total:90.00`).
//!
//! Order status decides what an order becomes: `cancelled` a cancellation, a status outside
//! `paid_statuses` (default `processing`, `completed`) is held back or passed per `unpaid`.

use std::borrow::Cow;
use std::io::BufRead;

use crate::format::shared::grouped::{GroupedRows, Pending, RowDialect};
use crate::format::shared::orders::{self, ExportOptions, Unpaid};
use crate::format::shared::table::{self, CsvInput, CsvReader, Table};
use crate::format::shared::validate::Field;
use crate::format::{FormatError, FormatProblem, Item, Items, Options};
use crate::model::{Address, Document, HoldAction, Order, OrderHold, OrderLine};

/// The format's name in configs.
pub const NAME: &str = "woocommerce-orders-csv";

/// What to do about a line without a SKU: WooCommerce keeps SKUs on products and variations.
const SKU_FIX: &str = "set SKUs in WooCommerce (Products → the product → Inventory → SKU, or each variation's) and export again: a warehouse picks by SKU, and a line without one cannot be picked.";

/// The WooCommerce orders export reader.
pub struct WooCommerceOrdersCsv {
    input: CsvInput,
    options: ExportOptions,
}

impl WooCommerceOrdersCsv {
    /// The reader, with a route's `reader_options`: `encoding`, `delimiter`, `billing_fallback`,
    /// `unpaid` (`hold-back` or `pass`) and `paid_statuses`.
    pub fn reader(options: &Options) -> Result<WooCommerceOrdersCsv, Vec<FormatProblem>> {
        let (input, options) =
            ExportOptions::parse(options, &["processing", "completed"], status_key)?;
        Ok(WooCommerceOrdersCsv { input, options })
    }
}

impl CsvReader for WooCommerceOrdersCsv {
    fn csv_input(&self) -> &CsvInput {
        &self.input
    }

    fn read_csv<'a>(&self, input: Box<dyn BufRead + 'a>) -> Items<'a> {
        Box::new(GroupedRows::new(
            input,
            self.input,
            WooRows {
                options: self.options.clone(),
                index: [None; Col::COUNT],
                names: Default::default(),
                item_cells: Vec::new(),
                cell_names: Vec::new(),
            },
        ))
    }
}

/// The fields the reader uses; each has several spellings (see [`Col::aliases`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum Col {
    OrderId,
    Status,
    OrderDate,
    Currency,
    ShippingMethod,
    Email,
    Notes,
    Sku,
    Quantity,
    ItemName,
    ItemPrice,
    // Address fields: shipping first, then billing, in [`ADDRESS_FIELDS`] order.
    ShipFirstName,
    ShipLastName,
    ShipCompany,
    ShipAddress1,
    ShipAddress2,
    ShipCity,
    ShipState,
    ShipPostcode,
    ShipCountry,
    ShipPhone,
    BillFirstName,
    BillLastName,
    BillCompany,
    BillAddress1,
    BillAddress2,
    BillCity,
    BillState,
    BillPostcode,
    BillCountry,
    BillPhone,
}

/// Address fields: their `snake_case` suffix and the `Name (Side)` spellings.
const ADDRESS_FIELDS: [(&str, &[&str]); 10] = [
    ("first_name", &["First Name"]),
    ("last_name", &["Last Name"]),
    ("company", &["Company"]),
    ("address_1", &["Address 1", "Address 1&2"]),
    ("address_2", &["Address 2"]),
    ("city", &["City"]),
    ("state", &["State Code", "State"]),
    ("postcode", &["Postcode"]),
    ("country", &["Country Code", "Country"]),
    ("phone", &["Phone"]),
];

impl Col {
    const COUNT: usize = 31;

    const ALL: [Col; Col::COUNT] = [
        Col::OrderId,
        Col::Status,
        Col::OrderDate,
        Col::Currency,
        Col::ShippingMethod,
        Col::Email,
        Col::Notes,
        Col::Sku,
        Col::Quantity,
        Col::ItemName,
        Col::ItemPrice,
        Col::ShipFirstName,
        Col::ShipLastName,
        Col::ShipCompany,
        Col::ShipAddress1,
        Col::ShipAddress2,
        Col::ShipCity,
        Col::ShipState,
        Col::ShipPostcode,
        Col::ShipCountry,
        Col::ShipPhone,
        Col::BillFirstName,
        Col::BillLastName,
        Col::BillCompany,
        Col::BillAddress1,
        Col::BillAddress2,
        Col::BillCity,
        Col::BillState,
        Col::BillPostcode,
        Col::BillCountry,
        Col::BillPhone,
    ];

    /// The header names this field goes by, preferred first.
    fn aliases(self) -> Vec<String> {
        let fixed: &[&str] = match self {
            Col::OrderId => &["order_id", "Order ID", "Order Number"],
            Col::Status => &["status", "Order Status"],
            Col::OrderDate => &["order_date", "Order Date"],
            Col::Currency => &["order_currency", "Currency", "Order Currency"],
            Col::ShippingMethod => &[
                "shipping_method",
                "Shipping Method Title",
                "Shipping Method",
            ],
            Col::Email => &[
                "billing_email",
                "customer_email",
                "Email (Billing)",
                "Customer Email",
            ],
            Col::Notes => &["customer_note", "Customer Note"],
            Col::Sku => &["sku", "Item SKU", "Product SKU"],
            Col::Quantity => &["Quantity (- Refund)", "quantity", "qty", "Item Quantity"],
            Col::ItemName => &["Item Name", "item_name", "Product Name"],
            Col::ItemPrice => &["Item Cost", "item_cost", "Item Price"],
            _ => &[],
        };
        if !fixed.is_empty() {
            return fixed.iter().map(|s| s.to_string()).collect();
        }
        let i = self as usize - Col::ShipFirstName as usize;
        let (snake, titled) = if i < ADDRESS_FIELDS.len() {
            ("shipping", "Shipping")
        } else {
            ("billing", "Billing")
        };
        let (suffix, names) = ADDRESS_FIELDS[i % ADDRESS_FIELDS.len()];
        std::iter::once(format!("{snake}_{suffix}"))
            .chain(names.iter().map(|n| format!("{n} ({titled})")))
            .collect()
    }

    /// The address column `field_index` (in [`ADDRESS_FIELDS`] order) of one side.
    fn address(billing: bool, field_index: usize) -> Col {
        let base = if billing {
            Col::BillFirstName
        } else {
            Col::ShipFirstName
        };
        Col::ALL[base as usize + field_index]
    }
}

/// Columns without which no order can be read (items may come as cells instead).
const REQUIRED: [Col; 7] = [
    Col::OrderId,
    Col::Status,
    Col::ShippingMethod,
    Col::ShipAddress1,
    Col::ShipCity,
    Col::ShipPostcode,
    Col::ShipCountry,
];

/// An order as read so far, with what decides whether it ships.
#[derive(Default)]
struct WooOrder {
    order: Order,
    /// The status, reduced to its key (`wc-on-hold` → `onhold`).
    status: String,
    /// The status as written.
    status_text: String,
    /// The address came from the billing columns.
    billed_address: bool,
}

/// The rows of a WooCommerce export.
struct WooRows {
    options: ExportOptions,
    index: [Option<usize>; Col::COUNT],
    /// The header's name of each found column, for reports.
    names: [String; Col::COUNT],
    /// The `line_item_N` columns, in N order; empty when items come one per row.
    item_cells: Vec<usize>,
    /// Their names in the header.
    cell_names: Vec<String>,
}

impl WooRows {
    fn field<'t>(&self, table: &'t Table<'_>, col: Col) -> &'t str {
        table.get(self.index[col as usize])
    }

    fn opt(&self, table: &Table<'_>, col: Col) -> Option<String> {
        Some(self.field(table, col))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// The column's name in this file's header (its usual name when the file lacks it).
    fn label(&self, col: Col) -> &str {
        &self.names[col as usize]
    }

    fn address(&self, t: &Table<'_>, billing: bool) -> Address {
        let get = |i| self.field(t, Col::address(billing, i)).to_string();
        let opt = |i| self.opt(t, Col::address(billing, i));
        Address {
            first_name: get(0),
            last_name: get(1),
            company: opt(2),
            address1: get(3),
            address2: opt(4),
            city: get(5),
            state: opt(6),
            postal_code: get(7),
            country: get(8),
            email: self.opt(t, Col::Email),
            phone: opt(9).or_else(|| self.opt(t, Col::BillPhone)),
        }
    }

    fn start_order(&self, t: &Table<'_>, pending: &mut Pending<WooOrder>) {
        let line = t.line();
        let billed_address = self.options.billing_fallback
            && [0, 1, 3, 5, 7, 8]
                .iter()
                .all(|i| self.field(t, Col::address(false, *i)).is_empty());
        let order_date = orders::order_date(
            pending,
            line,
            self.label(Col::OrderDate),
            self.field(t, Col::OrderDate),
            &self.options,
        );
        let status_text = self.field(t, Col::Status).to_string();
        pending.doc = WooOrder {
            order: Order {
                order_id: pending.key.clone(),
                order_date,
                currency: self.opt(t, Col::Currency).map(|c| c.to_ascii_uppercase()),
                shipping_method: self.field(t, Col::ShippingMethod).to_string(),
                carrier: None,
                service: None,
                ship_to: self.address(t, billed_address),
                notes: self.opt(t, Col::Notes),
                lines: Vec::new(),
            },
            status: status_key(&status_text),
            status_text,
            billed_address,
        };
    }

    /// The item of a one-row-per-item export.
    fn add_row_item(&self, t: &Table<'_>, pending: &mut Pending<WooOrder>) {
        let line = t.line();
        let quantity = orders::quantity(
            pending,
            line,
            self.label(Col::Quantity),
            self.field(t, Col::Quantity),
        );
        let unit_price = orders::price(
            pending,
            line,
            self.label(Col::ItemPrice),
            self.field(t, Col::ItemPrice),
        );
        self.push_line(
            pending,
            line,
            self.field(t, Col::Sku),
            quantity,
            unit_price,
            self.opt(t, Col::ItemName),
        );
    }

    /// The items of a one-row-per-order export, one per non-empty `line_item_N` cell.
    fn add_cell_items(&self, t: &Table<'_>, pending: &mut Pending<WooOrder>) {
        let line = t.line();
        for &cell in &self.item_cells {
            let text = t.get(Some(cell));
            if text.is_empty() {
                continue;
            }
            let item = ItemCell::parse(text);
            let column = t.name(cell);
            let quantity = match item.quantity {
                Some(q) => orders::quantity(pending, line, column, q),
                None => {
                    pending.problem(
                        line,
                        column,
                        text,
                        "the item has no quantity.",
                        "write the item as name:…|sku:…|quantity:2, as the export plugin does.",
                    );
                    0
                }
            };
            let name = item.name.map(str::to_string);
            self.push_line(pending, line, item.sku.unwrap_or(""), quantity, None, name);
        }
    }

    fn push_line(
        &self,
        pending: &mut Pending<WooOrder>,
        line: u64,
        sku: &str,
        quantity: u32,
        unit_price: Option<String>,
        description: Option<String>,
    ) {
        let lines = &mut pending.doc.order.lines;
        lines.push(OrderLine {
            line_number: lines.len() as u32 + 1,
            sku: sku.to_string(),
            quantity,
            unit_price,
            description,
        });
        pending.item_from(line);
    }

    /// The column each checked field is reported under.
    fn column_of(&self, field: Field, billing: bool) -> &str {
        let address = |i| self.label(Col::address(billing, i));
        match field {
            Field::OrderId => self.label(Col::OrderId),
            Field::ShipToName => address(1),
            Field::Address1 => address(3),
            Field::City => address(5),
            Field::State => address(6),
            Field::PostalCode => address(7),
            Field::Country => address(8),
            Field::ShippingMethod => self.label(Col::ShippingMethod),
            Field::Sku(i) | Field::Quantity(i) if !self.cell_names.is_empty() => {
                self.cell_names.get(i).unwrap_or(&self.cell_names[0])
            }
            Field::Lines if !self.cell_names.is_empty() => &self.cell_names[0],
            Field::Lines | Field::Sku(_) => self.label(Col::Sku),
            Field::Quantity(_) => self.label(Col::Quantity),
        }
    }
}

impl RowDialect for WooRows {
    type Doc = WooOrder;

    fn open(&mut self, table: &Table<'_>) -> Result<(), FormatError> {
        for col in Col::ALL {
            let aliases = col.aliases();
            let names: Vec<&str> = aliases.iter().map(String::as_str).collect();
            let found = table.column(&names);
            self.index[col as usize] = found;
            self.names[col as usize] = found.map_or(aliases[0].clone(), |i| table.name(i).into());
        }
        let mut cells: Vec<(u32, usize)> = table
            .header()
            .iter()
            .enumerate()
            .filter_map(|(i, name)| Some((name.strip_prefix("lineitem")?.parse().ok()?, i)))
            .collect();
        cells.sort_unstable();
        self.item_cells = cells.into_iter().map(|(_, i)| i).collect();
        self.cell_names = self
            .item_cells
            .iter()
            .map(|i| table.name(*i).into())
            .collect();
        let items = if self.item_cells.is_empty() {
            &[Col::Sku, Col::Quantity][..]
        } else {
            &[]
        };
        let missing: Vec<&str> = REQUIRED
            .iter()
            .chain(items)
            .filter(|c| self.index[**c as usize].is_none())
            .map(|c| self.names[*c as usize].as_str())
            .collect();
        table::require_columns(
            &missing,
            ", so this is not a WooCommerce orders export cartferry knows",
            "export with the order id, status, shipping method, shipping address and either SKU and quantity columns (one row per item) or line_item_1, line_item_2 … columns (one row per order); README.md lists the names.".into(),
        )
    }

    fn key<'t>(&self, table: &'t Table<'_>) -> Cow<'t, str> {
        Cow::Borrowed(self.field(table, Col::OrderId))
    }

    fn keyless(&self) -> [&'static str; 3] {
        [
            "order_id",
            "the order id is empty.",
            "give every row the id of the order it belongs to.",
        ]
    }

    fn add_row(&self, t: &Table<'_>, pending: &mut Pending<WooOrder>, first: bool) {
        if first {
            self.start_order(t, pending);
        }
        if self.item_cells.is_empty() {
            self.add_row_item(t, pending);
        } else {
            self.add_cell_items(t, pending);
        }
    }

    fn finish(&self, mut pending: Pending<WooOrder>, end: u64) -> Item {
        if pending.doc.status == "cancelled" {
            let cancel = OrderHold {
                order_id: pending.key.clone(),
                action: HoldAction::Cancel,
                reason: Some("cancelled in WooCommerce".into()),
                requested_at: None,
            };
            return Item::Document(Document::OrderHold(cancel), Some(pending.span(end)));
        }
        if self.options.unpaid == Unpaid::HoldBack
            && !self.options.paid_statuses.contains(&pending.doc.status)
        {
            let status = pending.doc.status_text.clone();
            orders::hold_back_unpaid(&mut pending, self.label(Col::Status), &status);
        }
        let billing = pending.doc.billed_address;
        orders::finish_export(
            pending.map(|d| d.order),
            end,
            (&self.options, SKU_FIX),
            |f| self.column_of(f, billing),
        )
    }
}

/// An order status as a key: `wc-on-hold`, `On hold` and `on-hold` are all `onhold`.
fn status_key(status: &str) -> String {
    let status = status.trim();
    table::normalise(status.strip_prefix("wc-").unwrap_or(status))
}

/// The parts of a `line_item_N` cell this reader uses.
#[derive(Debug, Default, PartialEq, Eq)]
struct ItemCell<'a> {
    name: Option<&'a str>,
    sku: Option<&'a str>,
    quantity: Option<&'a str>,
}

/// The keys a `line_item_N` cell has; a `|` not followed by one of them is part of a value.
const ITEM_KEYS: [&str; 11] = [
    "name",
    "product_id",
    "variation_id",
    "sku",
    "quantity",
    "total",
    "sub_total",
    "tax",
    "tax_data",
    "meta",
    "item_meta",
];

impl<'a> ItemCell<'a> {
    /// Reads `name:Hoodie|product_id:55|sku:HOOD-1|quantity:2|total:90.00`.
    fn parse(text: &'a str) -> ItemCell<'a> {
        let mut cell = ItemCell::default();
        let mut parts: Vec<(&str, usize, usize)> = Vec::new();
        let mut start = 0;
        for (at, _) in text.match_indices('|').chain([(text.len(), "")]) {
            let part = &text[start..at];
            match part.split_once(':') {
                Some((key, _)) if ITEM_KEYS.contains(&key.trim()) => {
                    parts.push((key.trim(), start + key.len() + 1, at));
                }
                _ => {
                    if let Some(last) = parts.last_mut() {
                        last.2 = at;
                    }
                }
            }
            start = at + 1;
        }
        for (key, from, to) in parts {
            let value = Some(text[from..to].trim()).filter(|v| !v.is_empty());
            match key {
                "name" => cell.name = value,
                "sku" => cell.sku = value,
                "quantity" => cell.quantity = value,
                _ => {}
            }
        }
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_cells_keep_pipes_inside_values() {
        assert_eq!(
            ItemCell::parse("name:Mug | Blue|product_id:5|sku:MUG-B|quantity:2|total:28.00"),
            ItemCell {
                name: Some("Mug | Blue"),
                sku: Some("MUG-B"),
                quantity: Some("2"),
            }
        );
        assert_eq!(
            ItemCell::parse("quantity:1"),
            ItemCell {
                quantity: Some("1"),
                ..ItemCell::default()
            }
        );
    }

    #[test]
    fn statuses_reduce_to_keys() {
        assert_eq!(status_key("wc-on-hold"), "onhold");
        assert_eq!(status_key("On hold"), "onhold");
        assert_eq!(status_key("Processing"), "processing");
    }
}
