//! Mappings for `mapped-csv` and `mapped-xml`: which of a merchant's columns (or XML paths) fill
//! which canonical column of a document kind, with constants, value maps, defaults and date
//! formats (`reader_options.fields`, README.md). A mapped format turns each input row or element
//! into a row of canonical columns and reads it exactly as the kind's canonical CSV reader does,
//! so every check of the canonical formats applies; reports name the merchant's own column.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::BufRead;
use std::sync::Arc;

use chrono::format::{Item as DateItem, StrftimeItems};
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use crate::format::canonical::{holds, inventory, layout, orders_csv, returns, rmas, shipments};
use crate::format::shared::grouped::Opener;
use crate::format::{FormatError, FormatProblem, Item, Items};

/// The document kind a mapping makes (`reader_options.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Orders (`canonical-orders-csv` columns).
    Orders,
    /// Holds, cancellations and releases (`canonical-holds-csv`).
    Holds,
    /// Shipment confirmations (`canonical-shipments-csv`).
    Shipments,
    /// Inventory snapshots (`canonical-inventory-csv`).
    Inventory,
    /// Return authorisations (`canonical-rmas-csv`).
    Rmas,
    /// Return receipts (`canonical-returns-csv`).
    Returns,
}

impl Kind {
    /// The canonical columns, in the canonical CSV's order.
    pub fn columns(self) -> Vec<&'static str> {
        match self {
            Kind::Orders => orders_csv::COLUMNS.to_vec(),
            Kind::Holds => holds::CSV.columns(),
            Kind::Shipments => shipments::CSV.columns(),
            Kind::Inventory => inventory::CSV.columns(),
            Kind::Rmas => rmas::CSV.columns(),
            Kind::Returns => returns::CSV.columns(),
        }
    }

    /// The columns every document needs.
    fn required(self) -> Vec<&'static str> {
        match self {
            Kind::Orders => orders_csv::required_columns(),
            Kind::Holds => holds::CSV.required_columns(),
            Kind::Shipments => shipments::CSV.required_columns(),
            Kind::Inventory => inventory::CSV.required_columns(),
            Kind::Rmas => rmas::CSV.required_columns(),
            Kind::Returns => returns::CSV.required_columns(),
        }
    }

    /// The lists of a document (what an item is called, and its columns): one row per item.
    pub fn lists(self) -> Vec<(&'static str, Vec<&'static str>)> {
        fn of<D>(layout: &'static layout::Layout<D>) -> Vec<(&'static str, Vec<&'static str>)> {
            layout
                .lists
                .iter()
                .map(|l| (l.noun, l.fields.iter().map(|f| f.name).collect()))
                .collect()
        }
        match self {
            Kind::Orders => vec![("line", orders_csv::line_columns().to_vec())],
            Kind::Holds => of(&holds::CSV),
            Kind::Shipments => of(&shipments::CSV),
            Kind::Inventory => of(&inventory::CSV),
            Kind::Rmas => of(&rmas::CSV),
            Kind::Returns => of(&returns::CSV),
        }
    }

    /// The documents of the table `opener` makes, read as this kind's canonical CSV.
    pub fn read_table<'a>(self, input: Box<dyn BufRead + 'a>, opener: Opener<'a>) -> Items<'a> {
        match self {
            Kind::Orders => orders_csv::read_table(input, opener),
            Kind::Holds => layout::read_table(&holds::CSV, input, opener),
            Kind::Shipments => layout::read_table(&shipments::CSV, input, opener),
            Kind::Inventory => layout::read_table(&inventory::CSV, input, opener),
            Kind::Rmas => layout::read_table(&rmas::CSV, input, opener),
            Kind::Returns => layout::read_table(&returns::CSV, input, opener),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Orders => "orders",
            Kind::Holds => "holds",
            Kind::Shipments => "shipments",
            Kind::Inventory => "inventory",
            Kind::Rmas => "rmas",
            Kind::Returns => "returns",
        }
    }
}

/// Where a canonical column's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A column (mapped CSV) or a path (mapped XML) of the input.
    From(String),
    /// The same text for every document.
    Constant(String),
}

/// How one canonical column is filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The canonical column.
    pub column: &'static str,
    /// Where its value comes from.
    pub source: Source,
    /// Input value (lower-case) → canonical value.
    values: HashMap<String, String>,
    /// The value when the input is empty or not in `values`.
    default: Option<String>,
    /// The input's date format (chrono's `strftime` syntax), to write dates as ISO 8601.
    date_format: Option<String>,
    /// The input writes numbers with a decimal comma (`1.234,50`).
    decimal_comma: bool,
}

impl Rule {
    /// A column that is always empty.
    fn empty(column: &'static str) -> Rule {
        Rule {
            column,
            source: Source::Constant(String::new()),
            values: HashMap::new(),
            default: None,
            date_format: None,
            decimal_comma: false,
        }
    }

    /// The canonical value for the input text `raw` (ignored for a constant).
    pub fn apply<'v>(&'v self, raw: &'v str) -> Cow<'v, str> {
        let raw = match &self.source {
            Source::Constant(value) => return Cow::Borrowed(value),
            Source::From(_) => raw.trim(),
        };
        let value = if self.values.is_empty() {
            Some(raw).filter(|v| !v.is_empty())
        } else {
            self.values.get(&raw.to_lowercase()).map(String::as_str)
        };
        let value = match (value, &self.default) {
            (Some(v), _) => v,
            (None, Some(default)) => default,
            (None, None) => raw,
        };
        match &self.date_format {
            Some(format) if !value.is_empty() => {
                iso_date(value, format).map_or(Cow::Borrowed(value), Cow::Owned)
            }
            _ if self.decimal_comma && value.contains(',') => {
                Cow::Owned(value.replace(['.', ' '], "").replace(',', "."))
            }
            _ => Cow::Borrowed(value),
        }
    }

    /// How a report names this column: the merchant's column or path, then the canonical one.
    pub fn described(&self) -> String {
        match &self.source {
            Source::From(from) if from == self.column => from.clone(),
            Source::From(from) => format!("{from} (mapped to {})", self.column),
            Source::Constant(value) => format!("{} (the constant \"{value}\")", self.column),
        }
    }
}

/// `value` read with `format` and written as ISO 8601; `None` when it does not match.
fn iso_date(value: &str, format: &str) -> Option<String> {
    if let Ok(t) = chrono::DateTime::parse_from_str(value, format) {
        return Some(t.to_rfc3339());
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(value, format) {
        return Some(t.format("%Y-%m-%dT%H:%M:%S").to_string());
    }
    chrono::NaiveDate::parse_from_str(value, format)
        .ok()
        .map(|d| d.format("%Y-%m-%d").to_string())
}

/// A field of `reader_options.fields` as written: a source name, or a table.
#[derive(Debug)]
pub enum FieldSpec {
    /// `sku = "Item SKU"`.
    From(String),
    /// `currency = { value = "USD" }`, `country = { from = "Country", values = { … } }`.
    Table(FieldTable),
}

/// The table form of a field.
#[derive(Debug, Default, Deserialize)]
pub struct FieldTable {
    /// The column or path.
    from: Option<String>,
    /// A constant.
    value: Option<String>,
    /// Input value → canonical value; matched case-insensitively.
    #[serde(default)]
    values: BTreeMap<String, String>,
    /// The value when the input is empty or not in `values`.
    default: Option<String>,
    /// The input's date format, such as `%d/%m/%Y %H:%M`.
    date_format: Option<String>,
    /// The input's decimal separator: `.` (the default) or `,`.
    decimal: Option<String>,
}

impl<'de> Deserialize<'de> for FieldSpec {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpecVisitor;
        impl<'de> Visitor<'de> for SpecVisitor {
            type Value = FieldSpec;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a column name, or a table with from, value, values, default, date_format or decimal",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldSpec, E> {
                Ok(FieldSpec::From(v.to_string()))
            }

            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<FieldSpec, M::Error> {
                FieldTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(FieldSpec::Table)
            }
        }
        deserializer.deserialize_any(SpecVisitor)
    }
}

/// A mapping: the rules of the canonical columns it fills, in the canonical CSV's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The document kind.
    pub kind: Kind,
    /// One rule per mapped canonical column.
    pub rules: Vec<Rule>,
}

impl Mapping {
    /// Checks `fields` (found under the key `key`) against `kind`'s columns.
    pub fn new(
        kind: Kind,
        fields: BTreeMap<String, FieldSpec>,
        key: &str,
    ) -> Result<Mapping, Vec<FormatProblem>> {
        let columns = kind.columns();
        let mut problems = Vec::new();
        let mut problem =
            |at: String, message: String| problems.push(FormatProblem { key: at, message });
        let mut rules = Vec::new();
        for (name, spec) in fields {
            let at = format!("{key}.{name}");
            let Some(column) = columns.iter().copied().find(|c| *c == name) else {
                problem(
                    at,
                    format!(
                        "is not a column of {}; the columns are {}",
                        kind.name(),
                        columns.join(", ")
                    ),
                );
                continue;
            };
            let table = match spec {
                FieldSpec::From(from) => FieldTable {
                    from: Some(from),
                    ..FieldTable::default()
                },
                FieldSpec::Table(table) => table,
            };
            let source = match (table.from, table.value) {
                (Some(from), None) if !from.trim().is_empty() => Source::From(from.trim().into()),
                (None, Some(value)) => {
                    if !table.values.is_empty()
                        || table.default.is_some()
                        || table.date_format.is_some()
                        || table.decimal.is_some()
                    {
                        problem(
                            at.clone(),
                            "a constant value takes no values, default, date_format or decimal"
                                .into(),
                        );
                    }
                    Source::Constant(value)
                }
                (Some(_), Some(_)) => {
                    problem(
                        at,
                        "give either from (a column) or value (a constant), not both".into(),
                    );
                    continue;
                }
                _ => {
                    problem(
                        at,
                        "needs from (the column it comes from) or value (a constant)".into(),
                    );
                    continue;
                }
            };
            let decimal_comma = match table.decimal.as_deref() {
                None | Some(".") => false,
                Some(",") => true,
                Some(other) => {
                    problem(
                        format!("{at}.decimal"),
                        format!("\"{other}\" is not a decimal separator; write \".\" or \",\""),
                    );
                    false
                }
            };
            if let Some(format) = &table.date_format
                && (format.is_empty() || StrftimeItems::new(format).any(|i| i == DateItem::Error))
            {
                problem(
                    format!("{at}.date_format"),
                    format!("\"{format}\" is not a date format; write it like \"%d/%m/%Y %H:%M\""),
                );
            }
            rules.push(Rule {
                column,
                source,
                values: table
                    .values
                    .into_iter()
                    .map(|(from, to)| (from.trim().to_lowercase(), to))
                    .collect(),
                default: table.default,
                date_format: table.date_format,
                decimal_comma,
            });
        }
        if kind == Kind::Orders {
            // A cart with one name column maps it to either name; the other stays empty.
            let [first, last] = ["ship_to_first_name", "ship_to_last_name"];
            let mapped = |c: &str| rules.iter().any(|r: &Rule| r.column == c);
            match (mapped(first), mapped(last)) {
                (true, false) => rules.push(Rule::empty(last)),
                (false, true) => rules.push(Rule::empty(first)),
                _ => {}
            }
        }
        let missing: Vec<&str> = kind
            .required()
            .into_iter()
            .filter(|c| !rules.iter().any(|r| r.column == *c))
            .collect();
        if !missing.is_empty() {
            problem(
                key.to_string(),
                format!(
                    "lacks {}: every document of {} needs them",
                    missing.join(", "),
                    kind.name()
                ),
            );
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        rules.sort_by_key(|r| columns.iter().position(|c| *c == r.column));
        Ok(Mapping { kind, rules })
    }

    /// The canonical column names of the rows this mapping makes.
    pub fn columns(&self) -> Vec<String> {
        self.rules.iter().map(|r| r.column.to_string()).collect()
    }

    /// Reads the table `opener` makes as the kind's canonical CSV, naming the merchant's own
    /// columns in problems.
    pub fn read<'a>(
        self: &Arc<Self>,
        input: Box<dyn BufRead + 'a>,
        opener: Opener<'a>,
    ) -> Items<'a> {
        let mapping = Arc::clone(self);
        Box::new(self.kind.read_table(input, opener).map(move |item| {
            item.map(|item| match item {
                Item::Rejected(mut problems, span) => {
                    problems.iter_mut().for_each(|p| mapping.describe(p));
                    Item::Rejected(problems, span)
                }
                other => other,
            })
            .map_err(|e| match e {
                FormatError::Data(mut p) => {
                    mapping.describe(&mut p);
                    FormatError::Data(p)
                }
                other => other,
            })
        }))
    }

    /// Names the merchant's column in a problem found in a canonical one.
    fn describe(&self, problem: &mut crate::format::DataProblem) {
        let Some(rule) = problem
            .field
            .as_deref()
            .and_then(|f| self.rules.iter().find(|r| r.column == f))
        else {
            return;
        };
        problem.field = Some(rule.described());
        if let Some(format) = &rule.date_format {
            problem.fix = format!(
                "write the date as the route's date_format \"{format}\" describes (reader_options.fields.{}.date_format).",
                rule.column
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(kind: Kind, toml_fields: &str) -> Result<Mapping, Vec<FormatProblem>> {
        let fields: BTreeMap<String, FieldSpec> = toml::from_str(toml_fields).unwrap();
        Mapping::new(kind, fields, "reader_options.fields")
    }

    #[test]
    fn rules_map_values_fill_defaults_and_read_dates() {
        let m = mapping(
            Kind::Inventory,
            r#"
            sku = "Item"
            on_hand = { from = "Stock", default = "0" }
            location = { from = "Where", values = { "Main Store" = "WH1", "back room" = "WH2" }, default = "WH9" }
            as_of = { from = "Date", date_format = "%d/%m/%Y" }
            available = { value = "5" }
            "#,
        )
        .unwrap();
        let prices = mapping(
            Kind::Orders,
            r#"
            order_id = "Nr"
            shipping_method = "Via"
            ship_to_last_name = "Name"
            ship_to_address1 = "Street"
            ship_to_city = "City"
            ship_to_postal_code = "Zip"
            ship_to_country = "Country"
            sku = "Sku"
            quantity = "Qty"
            unit_price = { from = "Price", decimal = "," }
            "#,
        )
        .unwrap();
        let price = prices
            .rules
            .iter()
            .find(|r| r.column == "unit_price")
            .unwrap();
        assert_eq!(price.apply("1.234,50"), "1234.50");
        assert_eq!(price.apply("7"), "7");
        assert!(
            prices
                .rules
                .iter()
                .any(|r| r.column == "ship_to_first_name" && r.apply("x").is_empty()),
            "one name column is enough"
        );
        let rule = |c: &str| m.rules.iter().find(|r| r.column == c).unwrap();
        assert_eq!(rule("on_hand").apply(" "), "0");
        assert_eq!(rule("on_hand").apply(" 7 "), "7");
        assert_eq!(rule("location").apply("MAIN STORE"), "WH1");
        assert_eq!(rule("location").apply("Back Room"), "WH2");
        assert_eq!(rule("location").apply("attic"), "WH9");
        assert_eq!(rule("as_of").apply("21/11/2026"), "2026-11-21");
        assert_eq!(rule("as_of").apply("2026-11-21 oops"), "2026-11-21 oops");
        assert_eq!(rule("available").apply("whatever"), "5");
        assert_eq!(
            m.columns(),
            ["sku", "location", "on_hand", "available", "as_of"]
        );
        assert_eq!(rule("location").described(), "Where (mapped to location)");
    }

    #[test]
    fn mistakes_in_a_mapping_name_their_key() {
        let problems = mapping(
            Kind::Orders,
            r#"
            order_id = "Order"
            qty = "Qty"
            sku = { from = "SKU", value = "X" }
            notes = {}
            order_date = { from = "Date", date_format = "%d/%Q" }
            "#,
        )
        .unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "reader_options.fields.notes",
                "reader_options.fields.order_date.date_format",
                "reader_options.fields.qty",
                "reader_options.fields.sku",
                "reader_options.fields",
            ]
        );
        assert!(problems[2].message.contains("ship_to_city"), "{problems:?}");
        assert!(problems[4].message.contains("quantity"), "{problems:?}");
        assert!(!problems[4].message.contains("order_id"), "{problems:?}");
    }
}
