//! `woocommerce-shipment-tracking-csv`: shipment confirmations as the tracking import of the
//! Advanced Shipment Tracking plugin: `order_id,tracking_provider,tracking_number,date_shipped,
//! status_shipped,sku,qty`, one row per tracking number. `status_shipped` is 1 (shipped) or 2
//! (partially shipped, when a line shipped less than was ordered); `sku` and `qty` list the
//! shipment's SKUs and quantities, comma-separated, on the first row of a shipment.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde::Deserialize;

use crate::format::shared::carriers::Carriers;
use crate::format::{
    DataProblem, DocumentWriter, FormatError, FormatProblem, Options, WriterFormat, parse_options,
};
use crate::model::{Document, DocumentKind};

/// The format's name in configs.
pub const NAME: &str = "woocommerce-shipment-tracking-csv";

/// The columns, in order.
pub const COLUMNS: [&str; 7] = [
    "order_id",
    "tracking_provider",
    "tracking_number",
    "date_shipped",
    "status_shipped",
    "sku",
    "qty",
];

#[derive(Debug, Deserialize)]
#[serde(default)]
struct TrackingOptions {
    carrier_names: std::collections::BTreeMap<String, String>,
    /// How `date_shipped` is written (chrono `strftime` syntax); the plugin reads the store's
    /// date format.
    date_format: String,
}

impl Default for TrackingOptions {
    fn default() -> Self {
        TrackingOptions {
            carrier_names: Default::default(),
            date_format: "%Y-%m-%d".into(),
        }
    }
}

/// The WooCommerce shipment tracking writer.
pub struct WooCommerceTrackingCsv {
    carriers: Carriers,
    date_format: String,
}

impl WooCommerceTrackingCsv {
    /// The writer, with a route's `writer_options`: `carrier_names`, `date_format`.
    pub fn writer(options: &Options) -> Result<WooCommerceTrackingCsv, Vec<FormatProblem>> {
        let o: TrackingOptions = parse_options(options, "writer_options")?;
        let mut check = String::new();
        if write!(check, "{}", chrono::NaiveDate::MIN.format(&o.date_format)).is_err() {
            return Err(bad_date_format());
        }
        Ok(WooCommerceTrackingCsv {
            carriers: Carriers {
                carrier_names: o.carrier_names,
                tracking_urls: Default::default(),
            },
            date_format: o.date_format,
        })
    }
}

fn bad_date_format() -> Vec<FormatProblem> {
    vec![FormatProblem {
        key: "writer_options.date_format".into(),
        message: "is not a date format such as \"%Y-%m-%d\" or \"%d/%m/%Y\"".into(),
    }]
}

impl WriterFormat for WooCommerceTrackingCsv {
    fn accepts(&self) -> &'static [DocumentKind] {
        &[DocumentKind::ShipmentConfirmation]
    }

    fn begin<'a>(
        &self,
        output: Box<dyn Write + 'a>,
        _context: &crate::format::WriteContext,
    ) -> Box<dyn DocumentWriter + 'a> {
        Box::new(TrackingWriter {
            carriers: self.carriers.clone(),
            date_format: self.date_format.clone(),
            csv: csv::Writer::from_writer(output),
            header_written: false,
        })
    }
}

struct TrackingWriter<'a> {
    carriers: Carriers,
    date_format: String,
    csv: csv::Writer<Box<dyn Write + 'a>>,
    header_written: bool,
}

impl TrackingWriter<'_> {
    fn header(&mut self) -> io::Result<()> {
        self.header_written = true;
        self.csv
            .write_record(COLUMNS)
            .map_err(crate::format::shared::table::csv_io)
    }

    /// The ship date in the store's format; empty when unknown.
    fn date(&self, iso: Option<&str>) -> String {
        let Some(iso) = iso else {
            return String::new();
        };
        let date = chrono::NaiveDate::parse_from_str(iso.get(..10).unwrap_or(iso), "%Y-%m-%d");
        date.map_or_else(
            |_| iso.to_string(),
            |d| d.format(&self.date_format).to_string(),
        )
    }
}

impl DocumentWriter for TrackingWriter<'_> {
    fn write(&mut self, document: &Document) -> Result<(), FormatError> {
        let Document::ShipmentConfirmation(s) = document else {
            return Err(FormatError::data(DataProblem::whole_file(
                &format!("{NAME} cannot hold a {}.", document.kind()),
                "choose a writer for this kind of document.",
            )));
        };
        if s.packages.is_empty() {
            return Err(FormatError::data(DataProblem {
                document_id: Some(s.order_id.clone()),
                problem: "the shipment has no tracking number, and the tracking import needs one."
                    .into(),
                fix: "ask the warehouse for the tracking number, or mark the order shipped in WooCommerce by hand.".into(),
                ..DataProblem::default()
            }));
        }
        if !self.header_written {
            self.header()?;
        }
        let partial = s
            .lines
            .iter()
            .any(|l| l.quantity_ordered.is_some_and(|o| l.quantity_shipped < o));
        let status = if partial { "2" } else { "1" };
        let shipped: Vec<_> = s.lines.iter().filter(|l| l.quantity_shipped > 0).collect();
        let skus = shipped
            .iter()
            .map(|l| l.sku.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let quantities = shipped
            .iter()
            .map(|l| l.quantity_shipped.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let provider = self.carriers.name(&s.carrier);
        let date = self.date(s.ship_date.as_deref());
        for (i, package) in s.packages.iter().enumerate() {
            let (skus, quantities) = if i == 0 {
                (skus.as_str(), quantities.as_str())
            } else {
                ("", "")
            };
            self.csv
                .write_record([
                    s.order_id.as_str(),
                    &provider,
                    &package.tracking_number,
                    &date,
                    status,
                    skus,
                    quantities,
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
