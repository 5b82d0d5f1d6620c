//! `shopify-fulfillments-csv`: shipment confirmations as fulfillments to import into Shopify,
//! in the columns of the Matrixify "Orders" sheet (the common bulk import app; EZ Fulfill and
//! similar apps map the same columns). One row per shipped SKU; every row repeats the order name,
//! carrier (as Shopify names it), tracking numbers and tracking URL. Lines shipped 0 are left out.

use std::io::{self, Write};

use serde::Deserialize;

use crate::format::shared::carriers::Carriers;
use crate::format::{
    DataProblem, DocumentWriter, FormatError, FormatProblem, Options, WriterFormat, parse_options,
};
use crate::model::{Document, DocumentKind};

/// The format's name in configs.
pub const NAME: &str = "shopify-fulfillments-csv";

/// The columns, in order.
pub const COLUMNS: [&str; 10] = [
    "Name",
    "Command",
    "Line: Type",
    "Line: SKU",
    "Line: Quantity",
    "Fulfillment: Status",
    "Fulfillment: Tracking Company",
    "Fulfillment: Tracking Number",
    "Fulfillment: Tracking URL",
    "Fulfillment: Send Receipt",
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FulfillmentOptions {
    carrier_names: std::collections::BTreeMap<String, String>,
    tracking_urls: std::collections::BTreeMap<String, String>,
    /// Ask Shopify to email the customer the shipping confirmation.
    notify_customer: bool,
}

/// The Shopify fulfillments writer.
pub struct ShopifyFulfillmentsCsv {
    carriers: Carriers,
    notify_customer: bool,
}

impl ShopifyFulfillmentsCsv {
    /// The writer, with a route's `writer_options`: `carrier_names`, `tracking_urls`,
    /// `notify_customer`.
    pub fn writer(options: &Options) -> Result<ShopifyFulfillmentsCsv, Vec<FormatProblem>> {
        let o: FulfillmentOptions = parse_options(options, "writer_options")?;
        Ok(ShopifyFulfillmentsCsv {
            carriers: Carriers {
                carrier_names: o.carrier_names,
                tracking_urls: o.tracking_urls,
            },
            notify_customer: o.notify_customer,
        })
    }
}

impl WriterFormat for ShopifyFulfillmentsCsv {
    fn accepts(&self) -> &'static [DocumentKind] {
        &[DocumentKind::ShipmentConfirmation]
    }

    fn begin<'a>(
        &self,
        output: Box<dyn Write + 'a>,
        _context: &crate::format::WriteContext,
    ) -> Box<dyn DocumentWriter + 'a> {
        Box::new(FulfillmentWriter {
            carriers: self.carriers.clone(),
            send_receipt: if self.notify_customer {
                "TRUE"
            } else {
                "FALSE"
            },
            csv: csv::Writer::from_writer(output),
            header_written: false,
        })
    }
}

struct FulfillmentWriter<'a> {
    carriers: Carriers,
    send_receipt: &'static str,
    csv: csv::Writer<Box<dyn Write + 'a>>,
    header_written: bool,
}

impl FulfillmentWriter<'_> {
    fn header(&mut self) -> io::Result<()> {
        self.header_written = true;
        self.csv
            .write_record(COLUMNS)
            .map_err(crate::format::shared::table::csv_io)
    }
}

impl DocumentWriter for FulfillmentWriter<'_> {
    fn write(&mut self, document: &Document) -> Result<(), FormatError> {
        let Document::ShipmentConfirmation(s) = document else {
            return Err(FormatError::data(DataProblem::whole_file(
                &format!("{NAME} cannot hold a {}.", document.kind()),
                "choose a writer for this kind of document.",
            )));
        };
        let shipped: Vec<_> = s.lines.iter().filter(|l| l.quantity_shipped > 0).collect();
        if shipped.is_empty() {
            return Err(FormatError::data(DataProblem {
                document_id: Some(s.order_id.clone()),
                problem: "the shipment ships nothing (every quantity shipped is 0).".into(),
                fix: "leave it out, or correct the shipped quantities.".into(),
                ..DataProblem::default()
            }));
        }
        if !self.header_written {
            self.header()?;
        }
        let carrier = self.carriers.name(&s.carrier);
        let numbers: Vec<&str> = s
            .packages
            .iter()
            .map(|p| p.tracking_number.as_str())
            .collect();
        let url = numbers
            .first()
            .map_or_else(String::new, |n| self.carriers.tracking_url(&carrier, n));
        let numbers = numbers.join(", ");
        let mut quantity = itoa::Buffer::new();
        for line in shipped {
            self.csv
                .write_record([
                    s.order_id.as_str(),
                    "UPDATE",
                    "Fulfillment Line",
                    &line.sku,
                    quantity.format(line.quantity_shipped),
                    "success",
                    &carrier,
                    &numbers,
                    &url,
                    self.send_receipt,
                ])
                .map_err(crate::format::shared::table::csv_io)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        if !self.header_written {
            self.header()?;
        }
        self.csv.flush()
    }
}
