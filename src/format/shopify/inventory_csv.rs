//! `shopify-inventory-csv`: stock as Shopify's inventory import (Products → Inventory → Import),
//! one row per SKU and location, writing `On hand (new)`. Shopify's columns that describe the
//! product (handle, title, options) are left empty: Shopify matches rows by SKU. The warehouse's
//! location codes become Shopify location names through `locations`; a record without a location
//! goes to `default_location`.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Deserialize;

use crate::format::{
    DataProblem, DocumentWriter, FormatError, FormatProblem, Options, WriterFormat, parse_options,
};
use crate::model::{Document, DocumentKind};

/// The format's name in configs.
pub const NAME: &str = "shopify-inventory-csv";

/// The columns of Shopify's inventory file, in order.
pub const COLUMNS: [&str; 19] = [
    "Handle",
    "Title",
    "Option1 Name",
    "Option1 Value",
    "Option2 Name",
    "Option2 Value",
    "Option3 Name",
    "Option3 Value",
    "SKU",
    "HS Code",
    "COO",
    "Location",
    "Bin name",
    "Incoming (not editable)",
    "Unavailable (not editable)",
    "Committed (not editable)",
    "Available (not editable)",
    "On hand (current)",
    "On hand (new)",
];

const SKU: usize = 8;
const LOCATION: usize = 11;
const ON_HAND_NEW: usize = 18;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct InventoryOptions {
    /// Warehouse location code → Shopify location name.
    locations: BTreeMap<String, String>,
    /// The Shopify location of records that name none.
    default_location: Option<String>,
}

/// The Shopify inventory writer.
pub struct ShopifyInventoryCsv {
    locations: BTreeMap<String, String>,
    default_location: Option<String>,
}

impl ShopifyInventoryCsv {
    /// The writer, with a route's `writer_options`: `locations`, `default_location`.
    pub fn writer(options: &Options) -> Result<ShopifyInventoryCsv, Vec<FormatProblem>> {
        let o: InventoryOptions = parse_options(options, "writer_options")?;
        Ok(ShopifyInventoryCsv {
            locations: o.locations,
            default_location: o.default_location,
        })
    }
}

impl WriterFormat for ShopifyInventoryCsv {
    fn accepts(&self) -> &'static [DocumentKind] {
        &[DocumentKind::InventoryRecord]
    }

    fn begin<'a>(
        &self,
        output: Box<dyn Write + 'a>,
        _context: &crate::format::WriteContext,
    ) -> Box<dyn DocumentWriter + 'a> {
        Box::new(InventoryWriter {
            locations: self.locations.clone(),
            default_location: self.default_location.clone(),
            csv: csv::Writer::from_writer(output),
            header_written: false,
            row: vec![String::new(); COLUMNS.len()],
        })
    }
}

struct InventoryWriter<'a> {
    locations: BTreeMap<String, String>,
    default_location: Option<String>,
    csv: csv::Writer<Box<dyn Write + 'a>>,
    header_written: bool,
    row: Vec<String>,
}

impl InventoryWriter<'_> {
    fn header(&mut self) -> io::Result<()> {
        self.header_written = true;
        self.csv
            .write_record(COLUMNS)
            .map_err(crate::format::shared::table::csv_io)
    }
}

impl DocumentWriter for InventoryWriter<'_> {
    fn write(&mut self, document: &Document) -> Result<(), FormatError> {
        let Document::InventoryRecord(r) = document else {
            return Err(FormatError::data(DataProblem::whole_file(
                &format!("{NAME} cannot hold a {}.", document.kind()),
                "choose a writer for this kind of document.",
            )));
        };
        let location = match (&r.location, &self.default_location) {
            (Some(code), _) => self.locations.get(code).unwrap_or(code).clone(),
            (None, Some(default)) => default.clone(),
            (None, None) => {
                return Err(FormatError::data(DataProblem {
                    document_id: Some(r.sku.clone()),
                    field: Some("location".into()),
                    problem: "the stock has no location, and Shopify needs one per row.".into(),
                    fix: "set the route's writer_options.default_location to your Shopify location's name.".into(),
                    ..DataProblem::default()
                }));
            }
        };
        if !self.header_written {
            self.header()?;
        }
        self.row[SKU].clone_from(&r.sku);
        self.row[LOCATION] = location;
        self.row[ON_HAND_NEW] = r.on_hand.to_string();
        self.csv
            .write_record(&self.row)
            .map_err(crate::format::shared::table::csv_io)?;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        if !self.header_written {
            self.header()?;
        }
        self.csv.flush()
    }
}
