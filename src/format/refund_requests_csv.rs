//! `refund-requests-csv`: return receipts as the cart's refund work list, one row per returned
//! line: `order_id,rma_id,sku,quantity_restocked,quantity_damaged,condition,received_date`. A
//! merchant (or a script against the cart's API) refunds from it; the quantities say what came
//! back in which state.

use std::io::{self, Write};

use super::canonical_returns::condition_name;
use super::{
    DocumentWriter, FormatError, FormatProblem, NoOptions, Options, WriteContext, WriterFormat,
    csv_io, parse_options, x12::writer::wrong_kind,
};
use crate::model::{Document, DocumentKind};

/// The format's name in configs.
pub const NAME: &str = "refund-requests-csv";

/// The columns, in order.
pub const COLUMNS: [&str; 7] = [
    "order_id",
    "rma_id",
    "sku",
    "quantity_restocked",
    "quantity_damaged",
    "condition",
    "received_date",
];

/// The refund requests writer.
pub struct RefundRequestsCsv;

impl RefundRequestsCsv {
    /// The writer; it takes no `writer_options`.
    pub fn writer(options: &Options) -> Result<RefundRequestsCsv, Vec<FormatProblem>> {
        parse_options::<NoOptions>(options, "writer_options")?;
        Ok(RefundRequestsCsv)
    }
}

impl WriterFormat for RefundRequestsCsv {
    fn accepts(&self) -> &'static [DocumentKind] {
        &[DocumentKind::ReturnReceipt]
    }

    fn begin<'a>(
        &self,
        output: Box<dyn Write + 'a>,
        _context: &WriteContext,
    ) -> Box<dyn DocumentWriter + 'a> {
        Box::new(RefundWriter {
            csv: csv::Writer::from_writer(output),
            header_written: false,
        })
    }
}

struct RefundWriter<'a> {
    csv: csv::Writer<Box<dyn Write + 'a>>,
    header_written: bool,
}

impl DocumentWriter for RefundWriter<'_> {
    fn write(&mut self, document: &Document) -> Result<(), FormatError> {
        let Document::ReturnReceipt(r) = document else {
            return Err(FormatError::Data(wrong_kind(
                document,
                NAME,
                "return receipts",
            )));
        };
        if !self.header_written {
            self.header_written = true;
            self.csv.write_record(COLUMNS).map_err(csv_io)?;
        }
        for line in &r.lines {
            self.csv
                .write_record([
                    r.order_id.as_str(),
                    &r.rma_id,
                    &line.sku,
                    &line.quantity_restocked.to_string(),
                    &line.quantity_damaged.to_string(),
                    condition_name(line.condition),
                    r.received_date.as_deref().unwrap_or_default(),
                ])
                .map_err(csv_io)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        if !self.header_written {
            self.csv.write_record(COLUMNS).map_err(csv_io)?;
        }
        self.csv.flush()
    }
}
