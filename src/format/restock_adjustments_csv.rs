//! `restock-adjustments-csv`: return receipts as inventory adjustments for the cart, one row per
//! SKU put back on the shelf: `sku,adjustment,reason,reference` (`adjustment` is the quantity
//! restocked, to add to the cart's stock; `reason` is `return`; `reference` the RMA). Damaged
//! units are not restocked and do not appear.

use std::io::{self, Write};

use super::{
    DocumentWriter, FormatError, FormatProblem, NoOptions, Options, WriteContext, WriterFormat,
    csv_io, parse_options, x12::writer::wrong_kind,
};
use crate::model::{Document, DocumentKind};

/// The format's name in configs.
pub const NAME: &str = "restock-adjustments-csv";

/// The columns, in order.
pub const COLUMNS: [&str; 4] = ["sku", "adjustment", "reason", "reference"];

/// The restock adjustments writer.
pub struct RestockAdjustmentsCsv;

impl RestockAdjustmentsCsv {
    /// The writer; it takes no `writer_options`.
    pub fn writer(options: &Options) -> Result<RestockAdjustmentsCsv, Vec<FormatProblem>> {
        parse_options::<NoOptions>(options, "writer_options")?;
        Ok(RestockAdjustmentsCsv)
    }
}

impl WriterFormat for RestockAdjustmentsCsv {
    fn accepts(&self) -> &'static [DocumentKind] {
        &[DocumentKind::ReturnReceipt]
    }

    fn begin<'a>(
        &self,
        output: Box<dyn Write + 'a>,
        _context: &WriteContext,
    ) -> Box<dyn DocumentWriter + 'a> {
        Box::new(RestockWriter {
            csv: csv::Writer::from_writer(output),
            header_written: false,
        })
    }
}

struct RestockWriter<'a> {
    csv: csv::Writer<Box<dyn Write + 'a>>,
    header_written: bool,
}

impl DocumentWriter for RestockWriter<'_> {
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
        for line in r.lines.iter().filter(|l| l.quantity_restocked > 0) {
            self.csv
                .write_record([
                    line.sku.as_str(),
                    &line.quantity_restocked.to_string(),
                    "return",
                    &r.rma_id,
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
