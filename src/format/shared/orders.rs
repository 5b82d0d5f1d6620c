//! What the order readers share: reading quantities, prices and dates the same way, and ending an
//! order with the common checks of `validate.rs`, reported under each dialect's column names.

use serde::Deserialize;

use crate::format::shared::grouped::Pending;
use crate::format::shared::table::CsvInput;
use crate::format::shared::text::{Delimiter, TextEncoding};
use crate::format::shared::validate::{Field, PostalCodeRule, check_order_with};
use crate::format::{FormatProblem, Item, Options, parse_options};
use crate::model::{Document, Order, OrderLine};

/// What a cart reader does with an order that is not paid yet (`unpaid` in its options).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unpaid {
    /// Leave it out: it goes to the error folder with a report, to retry once paid.
    #[default]
    HoldBack,
    /// Send it like a paid order.
    Pass,
}

/// The `reader_options` every cart's order export reader takes, past its encoding and
/// delimiter.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Ship to the billing address when an order has no shipping address at all.
    pub billing_fallback: bool,
    /// What to do with an order whose payment status is not in `paid_statuses`.
    pub unpaid: Unpaid,
    /// The payment statuses that count as paid, normalised as the reader compares them.
    pub paid_statuses: Vec<String>,
    /// The shipping method of an order that has none (drafts, manual and app-created orders
    /// have no shipping line); the route's `shipping_methods` map applies to it as to any.
    pub default_shipping_method: Option<String>,
    /// The layout of the store's order dates (a strftime pattern), tried before the layouts
    /// cartferry knows.
    pub date_format: Option<String>,
    /// When an order needs a postal code.
    pub postal_codes: PostalCodeRule,
}

/// [`ExportOptions`] as a route writes them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawExportOptions {
    encoding: TextEncoding,
    delimiter: Delimiter,
    billing_fallback: bool,
    unpaid: Unpaid,
    paid_statuses: Option<Vec<String>>,
    default_shipping_method: Option<String>,
    date_format: Option<String>,
    require_postal_code: bool,
}

impl ExportOptions {
    /// A cart reader's `reader_options` (`encoding`, `delimiter`, `billing_fallback`, `unpaid`,
    /// `paid_statuses`, which are `paid` unless given, each put through `normalise`,
    /// `default_shipping_method`, `date_format` and `require_postal_code`).
    pub fn parse(
        options: &Options,
        paid: &[&str],
        normalise: fn(&str) -> String,
    ) -> Result<(CsvInput, ExportOptions), Vec<FormatProblem>> {
        let raw: RawExportOptions = parse_options(options, "reader_options")?;
        if let Some(format) = &raw.date_format
            && (format.trim().is_empty()
                || chrono::format::StrftimeItems::new(format)
                    .any(|i| i == chrono::format::Item::Error))
        {
            return Err(vec![FormatProblem {
                key: "reader_options.date_format".into(),
                message: format!(
                    "\"{format}\" is not a date layout: write it with strftime fields, such as \"%d/%m/%Y %H:%M\""
                ),
            }]);
        }
        let paid_statuses = match raw.paid_statuses {
            Some(statuses) => statuses.iter().map(|s| normalise(s)).collect(),
            None => paid.iter().map(|s| normalise(s)).collect(),
        };
        let input = CsvInput {
            encoding: raw.encoding,
            delimiter: raw.delimiter,
        };
        let options = ExportOptions {
            billing_fallback: raw.billing_fallback,
            unpaid: raw.unpaid,
            paid_statuses,
            default_shipping_method: raw
                .default_shipping_method
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty()),
            date_format: raw.date_format,
            postal_codes: if raw.require_postal_code {
                PostalCodeRule::Always
            } else {
                PostalCodeRule::WhereUsed
            },
        };
        Ok((input, options))
    }
}

/// Holds an unpaid order back: a problem on its first line naming its payment `status` cell.
pub fn hold_back_unpaid<T>(pending: &mut Pending<T>, column: &str, status: &str) {
    let line = pending.first_line();
    pending.problem(
        line,
        column,
        status,
        "the order is not paid, and this route holds unpaid orders back.",
        &format!("once it is paid, export it again (or set {column} to a paid status here) and retry; to ship unpaid orders, set the route's reader_options.unpaid = \"pass\"."),
    );
}

/// Reads a quantity cell; a problem (and 0) when it is not a whole number.
pub fn quantity<T>(pending: &mut Pending<T>, line: u64, column: &str, text: &str) -> u32 {
    match text.parse::<u32>() {
        Ok(q) => q,
        Err(_) => {
            pending.problem(
                line,
                column,
                text,
                "the quantity is not a positive whole number.",
                "write the quantity as a whole number of at least 1, such as 2.",
            );
            0
        }
    }
}

/// Reads an optional price cell; a problem when it is not a decimal number.
pub fn price<T>(pending: &mut Pending<T>, line: u64, column: &str, text: &str) -> Option<String> {
    if text.is_empty() {
        return None;
    }
    if !is_decimal(text) {
        pending.problem(
            line,
            column,
            text,
            "the price is not a decimal number.",
            "write the price with a dot and no currency sign, such as 19.90.",
        );
    }
    Some(text.to_string())
}

/// Adds a line read from the row on `line`.
pub fn add_line(pending: &mut Pending<Order>, order_line: OrderLine, line: u64) {
    pending.doc.lines.push(order_line);
    pending.item_from(line);
}

/// The number the next line gets when the input does not number lines.
pub fn next_line_number(pending: &Pending<Order>) -> u32 {
    pending.doc.lines.len() as u32 + 1
}

/// Ends an order at byte `end`: runs the common checks (reported under the dialect's `column`
/// for each field) and gives the order, or every problem found in it.
pub fn finish<'c>(pending: Pending<Order>, end: u64, column: impl Fn(Field) -> &'c str) -> Item {
    finish_with(pending, end, None, PostalCodeRule::WhereUsed, column)
}

/// [`finish`] for an order of a cart's export: one without a shipping method gets the route's
/// `default_shipping_method`, and without one the problem says how to set it; a line without a
/// SKU is fixed as `sku_fix` says (where the cart keeps SKUs).
pub fn finish_export<'c>(
    mut pending: Pending<Order>,
    end: u64,
    (options, sku_fix): (&ExportOptions, &str),
    column: impl Fn(Field) -> &'c str,
) -> Item {
    if pending.doc.shipping_method.trim().is_empty()
        && let Some(default) = &options.default_shipping_method
    {
        pending.doc.shipping_method.clone_from(default);
    }
    let fixes = Fixes {
        shipping_method: "orders without a shipping line (drafts, manual and app-created orders) have none in the export: set the route's reader_options.default_shipping_method (such as \"Standard\") to send them with that method.",
        sku: sku_fix,
    };
    finish_with(pending, end, Some(fixes), options.postal_codes, column)
}

/// What a cart's reader says to do about fields only the cart can fill in.
struct Fixes<'a> {
    shipping_method: &'a str,
    sku: &'a str,
}

/// [`finish`], with a cart's `fixes` for an empty shipping method or SKU when given, and a postal
/// code required as `postal_codes` says.
fn finish_with<'c>(
    mut pending: Pending<Order>,
    end: u64,
    fixes: Option<Fixes<'_>>,
    postal_codes: PostalCodeRule,
    column: impl Fn(Field) -> &'c str,
) -> Item {
    for mut f in check_order_with(&mut pending.doc, postal_codes) {
        match (f.field, &fixes) {
            (Field::ShippingMethod, Some(fixes)) => f.fix = fixes.shipping_method.to_string(),
            (Field::Sku(_), Some(fixes)) => f.fix = fixes.sku.to_string(),
            _ => {}
        }
        let line = match f.field {
            Field::Sku(i) | Field::Quantity(i) => pending.item_line(i),
            _ => pending.first_line(),
        };
        // A quantity the reader could not read is reported once, by the reader.
        let label = column(f.field);
        if !pending.has_problem(line, label) {
            pending.problem(line, label, &f.value, &f.problem, &f.fix);
        }
    }
    pending.into_item(end, Document::Order)
}

/// A cart's timestamp as ISO 8601: Shopify's `2025-05-11 09:55:16 -0400`, WooCommerce's
/// `2025-05-11 09:55:16` or `2025-05-11 09:55` (Advanced Order Export), WebToffee's day-first
/// `16-05-2018 07:32:06` (dashes are day first, as PHP reads them), a Unix timestamp (WP All
/// Export's option), or ISO 8601 already; `None` for anything else (such as Excel's
/// `11/05/2025 09:55`, which could be either day first or month first: a route names its
/// `date_format` for those).
pub fn cart_time(text: &str) -> Option<String> {
    if let Some(iso) = shopify_time_fast(text) {
        return Some(iso);
    }
    if let Ok(t) = chrono::DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S %z") {
        return Some(t.to_rfc3339());
    }
    if text.len() == 10
        && text.bytes().all(|b| b.is_ascii_digit())
        && let Some(t) = text
            .parse()
            .ok()
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
    {
        return Some(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%d-%m-%Y %H:%M:%S",
        "%d-%m-%Y %H:%M",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
    .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
    .or_else(|| {
        chrono::NaiveDate::parse_from_str(text, "%d-%m-%Y")
            .ok()
            .map(|d| d.format("%Y-%m-%d").to_string())
    })
    .or_else(|| is_iso_date(text).then(|| text.to_string()))
}

/// A cart's timestamp in the route's `date_format` (a strftime pattern, with or without a time
/// and a zone) as ISO 8601, else as [`cart_time`] reads it.
pub fn cart_time_as(text: &str, date_format: Option<&str>) -> Option<String> {
    let Some(format) = date_format else {
        return cart_time(text);
    };
    chrono::DateTime::parse_from_str(text, format)
        .map(|t| t.to_rfc3339())
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(text, format)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        })
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(text, format)
                .map(|d| d.format("%Y-%m-%d").to_string())
        })
        .ok()
        .or_else(|| cart_time(text))
}

/// Reads an order's date cell: ISO 8601, or `None` with a warning when it holds what is not a
/// date the route reads (the order is kept without its date: the date is optional).
pub fn order_date<T>(
    pending: &mut Pending<T>,
    line: u64,
    column: &str,
    text: &str,
    options: &ExportOptions,
) -> Option<String> {
    if text.is_empty() {
        return None;
    }
    let read = cart_time_as(text, options.date_format.as_deref());
    if read.is_none() {
        pending.warn(
            line,
            column,
            text,
            "the order date is not a date this route reads; the order was sent without it.",
            "if the dates are right, name their layout in the route's reader_options.date_format, such as \"%d/%m/%Y %H:%M\".",
        );
    }
    read
}

/// `2025-05-11 09:55:16 -0400` as `2025-05-11T09:55:16-04:00`, read by hand: a Shopify export
/// has one per row, and chrono's general parser would be a tenth of the conversion time.
fn shopify_time_fast(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let shape = b.len() == 25
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b' '
        && matches!(b[20], b'+' | b'-');
    if !shape {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let digits = &text[r];
        digits
            .bytes()
            .all(|d| d.is_ascii_digit())
            .then(|| digits.parse().ok())
            .flatten()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let (oh, om) = (num(21..23)?, num(23..25)?);
    chrono::NaiveDate::from_ymd_opt(y as i32, mo, d)?;
    if h > 23 || mi > 59 || s > 60 || oh > 23 || om > 59 {
        return None;
    }
    Some(format!(
        "{}T{}{}{}:{}",
        &text[..10],
        &text[11..19],
        b[20] as char,
        &text[21..23],
        &text[23..25]
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cart_timestamps_become_iso_8601() {
        assert_eq!(
            cart_time("2025-05-11 09:55:16 -0400").as_deref(),
            Some("2025-05-11T09:55:16-04:00")
        );
        assert_eq!(
            cart_time("2025-05-11 09:55").as_deref(),
            Some("2025-05-11T09:55:00")
        );
        assert_eq!(cart_time("2025-05-11").as_deref(), Some("2025-05-11"));
        assert_eq!(cart_time("11/05/2025 09:55"), None);
        assert_eq!(
            cart_time("2025-02-29 09:55:16 -0400"),
            None,
            "not a leap year"
        );
        assert_eq!(
            cart_time("2024-02-29 23:59:59 +0530").as_deref(),
            Some("2024-02-29T23:59:59+05:30")
        );
    }
}
