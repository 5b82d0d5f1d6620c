//! What the order readers share: reading quantities, prices and dates the same way, and ending an
//! order with the common checks of `validate.rs`, reported under each dialect's column names.

use super::Item;
use super::grouped::Pending;
use super::validate::{Field, check_order};
use crate::model::{Document, Order, OrderLine};

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
pub fn finish(
    mut pending: Pending<Order>,
    end: u64,
    column: impl Fn(Field) -> &'static str,
) -> Item {
    for f in check_order(&mut pending.doc) {
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
