//! Return receipts for the cart, as CSV rows made per receipt:
//! - `refund-requests-csv`: the refund work list, one row per returned line:
//!   `order_id,rma_id,sku,quantity_restocked,quantity_damaged,condition,received_date`. A
//!   merchant (or a script against the cart's API) refunds from it; the quantities say what came
//!   back in which state.
//! - `restock-adjustments-csv`: inventory adjustments, one row per SKU put back on the shelf:
//!   `sku,adjustment,reason,reference` (`adjustment` is the quantity restocked, to add to the
//!   cart's stock; `reason` is `return`; `reference` the RMA). Damaged units do not appear.

use std::io::{self, Write};

use crate::format::canonical::returns::CONDITIONS;
use crate::format::{
    DocumentWriter, FormatError, FormatProblem, NoOptions, Options, WriteContext, WriterFormat,
    parse_options, shared::table::csv_io, x12::writer::wrong_kind,
};
use crate::model::{Document, DocumentKind, ReturnReceipt};

/// A CSV format of return receipts: its name, its columns, and the rows of one receipt.
#[derive(Debug, Clone, Copy)]
pub struct ReceiptRowsCsv {
    /// The format's name in configs.
    pub name: &'static str,
    columns: &'static [&'static str],
    rows: fn(&ReturnReceipt) -> Vec<Vec<String>>,
}

/// `refund-requests-csv`.
pub const REFUND_REQUESTS: ReceiptRowsCsv = ReceiptRowsCsv {
    name: "refund-requests-csv",
    columns: &[
        "order_id",
        "rma_id",
        "sku",
        "quantity_restocked",
        "quantity_damaged",
        "condition",
        "received_date",
    ],
    rows: |r| {
        r.lines
            .iter()
            .map(|line| {
                vec![
                    r.order_id.clone(),
                    r.rma_id.clone(),
                    line.sku.clone(),
                    line.quantity_restocked.to_string(),
                    line.quantity_damaged.to_string(),
                    CONDITIONS.name(line.condition).to_string(),
                    r.received_date.clone().unwrap_or_default(),
                ]
            })
            .collect()
    },
};

/// `restock-adjustments-csv`.
pub const RESTOCK_ADJUSTMENTS: ReceiptRowsCsv = ReceiptRowsCsv {
    name: "restock-adjustments-csv",
    columns: &["sku", "adjustment", "reason", "reference"],
    rows: |r| {
        r.lines
            .iter()
            .filter(|l| l.quantity_restocked > 0)
            .map(|line| {
                vec![
                    line.sku.clone(),
                    line.quantity_restocked.to_string(),
                    "return".to_string(),
                    r.rma_id.clone(),
                ]
            })
            .collect()
    },
};

impl ReceiptRowsCsv {
    /// The writer; it takes no `writer_options`.
    pub fn writer(self, options: &Options) -> Result<ReceiptRowsCsv, Vec<FormatProblem>> {
        parse_options::<NoOptions>(options, "writer_options")?;
        Ok(self)
    }
}

impl WriterFormat for ReceiptRowsCsv {
    fn accepts(&self) -> &'static [DocumentKind] {
        &[DocumentKind::ReturnReceipt]
    }

    fn begin<'a>(
        &self,
        output: Box<dyn Write + 'a>,
        _context: &WriteContext,
    ) -> Box<dyn DocumentWriter + 'a> {
        Box::new(ReceiptWriter {
            format: *self,
            csv: csv::Writer::from_writer(output),
            header_written: false,
        })
    }
}

struct ReceiptWriter<'a> {
    format: ReceiptRowsCsv,
    csv: csv::Writer<Box<dyn Write + 'a>>,
    header_written: bool,
}

impl ReceiptWriter<'_> {
    fn header(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.header_written = true;
            self.csv.write_record(self.format.columns).map_err(csv_io)?;
        }
        Ok(())
    }
}

impl DocumentWriter for ReceiptWriter<'_> {
    fn write(&mut self, document: &Document) -> Result<(), FormatError> {
        let Document::ReturnReceipt(r) = document else {
            return Err(FormatError::Data(wrong_kind(
                document,
                self.format.name,
                "return receipts",
            )));
        };
        self.header()?;
        for row in (self.format.rows)(r) {
            self.csv.write_record(&row).map_err(csv_io)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.header()?;
        self.csv.flush()
    }
}
