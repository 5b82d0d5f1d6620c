//! Assembling orders from adjacent rows, shared by the order readers: problems found while
//! reading, the common checks of `validate.rs`, and the rows' span for splitting.

use super::validate::{Field, check_order};
use super::{DataProblem, Item, Span};
use crate::model::{Document, Order, OrderLine};

/// An order being read, row by row.
pub struct PendingOrder {
    /// The order so far.
    pub order: Order,
    problems: Vec<DataProblem>,
    first_line: u64,
    line_rows: Vec<u64>,
    start: u64,
}

impl PendingOrder {
    /// Starts an order whose first row is on `line`, starting at byte `start`.
    pub fn new(order: Order, line: u64, start: u64) -> PendingOrder {
        PendingOrder {
            order,
            problems: Vec::new(),
            first_line: line,
            line_rows: Vec::new(),
            start,
        }
    }

    /// Notes a problem the reader found on `line` in `column`.
    pub fn problem(&mut self, line: u64, column: &str, value: &str, problem: &str, fix: &str) {
        self.problems.push(DataProblem {
            line: Some(line),
            field: (!column.is_empty()).then(|| column.to_string()),
            document_id: (!self.order.order_id.is_empty()).then(|| self.order.order_id.clone()),
            value: (!value.is_empty()).then(|| value.to_string()),
            problem: problem.to_string(),
            fix: fix.to_string(),
        });
    }

    /// Notes a problem the reader already phrased (such as an unreadable row).
    pub fn push(&mut self, mut problem: DataProblem) {
        if problem.document_id.is_none() && !self.order.order_id.is_empty() {
            problem.document_id = Some(self.order.order_id.clone());
        }
        self.problems.push(problem);
    }

    /// Adds an order line read from the row on `line`.
    pub fn add_line(&mut self, order_line: OrderLine, line: u64) {
        self.order.lines.push(order_line);
        self.line_rows.push(line);
    }

    /// The number the next line gets when the input does not number lines.
    pub fn next_line_number(&self) -> u32 {
        self.order.lines.len() as u32 + 1
    }

    /// Ends the order at byte `end`: checks it, and gives the document, or its problems with the
    /// column names `column` gives for each field.
    pub fn finish(mut self, end: u64, column: impl Fn(Field) -> &'static str) -> Item {
        let span = Some(Span {
            start: self.start,
            end,
            line: self.first_line,
        });
        for f in check_order(&mut self.order) {
            let line = match f.field {
                Field::Sku(i) | Field::Quantity(i) => self.line_rows[i],
                _ => self.first_line,
            };
            // A quantity the reader could not read is reported once, by the reader.
            let label = column(f.field);
            let duplicate = self
                .problems
                .iter()
                .any(|p| p.line == Some(line) && p.field.as_deref() == Some(label));
            if !duplicate {
                self.problem(line, label, &f.value, &f.problem, &f.fix);
            }
        }
        if self.problems.is_empty() {
            Item::Document(Document::Order(self.order), span)
        } else {
            Item::Rejected(self.problems, span)
        }
    }

    /// Ends rows that make no order at all (such as rows without an order id) at byte `end`.
    pub fn reject(self, end: u64) -> Item {
        Item::Rejected(
            self.problems,
            Some(Span {
                start: self.start,
                end,
                line: self.first_line,
            }),
        )
    }
}
