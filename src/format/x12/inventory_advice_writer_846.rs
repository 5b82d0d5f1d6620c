//! `x12-846` as a writer: inventory records as Inventory Inquiry/Advice, the inverse of the reader
//! in `inventory_advice_846.rs`. Consecutive records of one location and date share a transaction
//! set (at most [`MAX_ITEMS`] LINs each): `BIA*00*MM` (a reference and the date), `DTM*405`,
//! `N1*WH` (the location), then per record `LIN` (the SKU), `QTY*17` (on hand) and `QTY*33`
//! (available, when known), and `CTT` (the count).

use std::io::{self, Write};

use serde::Deserialize;

use super::syntax::Segment;
use super::writer::{
    Elements, InterchangeWriter, Partner, PartnerOptions, check_code, vendor_item, with_partner,
    x12_date,
};
use crate::format::{
    DocumentWriter, FormatError, FormatProblem, Options, WriteContext, WriterFormat, parse_options,
};
use crate::model::{Document, DocumentKind, InventoryRecord};

/// Most LIN items in one transaction set (the 004010 standard's limit).
pub const MAX_ITEMS: usize = 10_000;

/// The writer's options: the partner's envelope and the SKU's qualifier.
#[derive(Debug, Deserialize)]
struct InventoryAdviceOptions {
    partner: PartnerOptions,
    /// LIN-02: the qualifier of the SKU in LIN-03.
    #[serde(default = "vendor_item")]
    sku_qualifier: String,
}

/// The 846 writer.
pub struct InventoryAdvice846 {
    partner: Partner,
    sku_qualifier: String,
}

impl InventoryAdvice846 {
    /// The writer, with a route's `writer_options` (`partner`, `sku_qualifier`).
    pub fn writer(options: &Options) -> Result<InventoryAdvice846, Vec<FormatProblem>> {
        let options: InventoryAdviceOptions = parse_options(options, "writer_options")?;
        let mut problems = Vec::new();
        check_code("sku_qualifier", &options.sku_qualifier, &mut problems);
        Ok(InventoryAdvice846 {
            partner: with_partner(options.partner, problems)?,
            sku_qualifier: options.sku_qualifier,
        })
    }
}

impl WriterFormat for InventoryAdvice846 {
    fn accepts(&self) -> &'static [DocumentKind] {
        &[DocumentKind::InventoryRecord]
    }

    fn control_key(&self) -> Option<String> {
        Some(self.partner.control_key())
    }

    fn acknowledgment_due(&self) -> Option<std::time::Duration> {
        self.partner.acknowledgment_due()
    }

    fn begin<'a>(
        &self,
        output: Box<dyn Write + 'a>,
        context: &WriteContext,
    ) -> Box<dyn DocumentWriter + 'a> {
        Box::new(AdviceWriter {
            interchange: InterchangeWriter::new(
                output,
                self.partner.clone(),
                ("846", "IB"),
                context,
            ),
            sku_qualifier: self.sku_qualifier.clone(),
            key: None,
            items: Vec::new(),
            count: 0,
            sets: 0,
        })
    }
}

/// Gathers one transaction set's records, writing it when the location or date changes.
struct AdviceWriter<'a> {
    interchange: InterchangeWriter<'a>,
    sku_qualifier: String,
    /// The location and date of the set being gathered.
    key: Option<(Option<String>, Option<String>)>,
    /// Its LIN and QTY segments.
    items: Vec<Segment>,
    /// Its LINs.
    count: usize,
    /// Sets written.
    sets: u64,
}

impl AdviceWriter<'_> {
    fn flush(&mut self) -> io::Result<()> {
        let Some((location, date)) = self.key.take() else {
            return Ok(());
        };
        self.sets += 1;
        let date = date.unwrap_or_else(|| self.interchange.date().to_string());
        let mut body = vec![
            Segment::new("BIA", &["00", "MM", &format!("INV{:04}", self.sets), &date]),
            Segment::new("DTM", &["405", &date]),
        ];
        if let Some(location) = &location {
            body.push(Segment::new("N1", &["WH", location]));
        }
        body.append(&mut self.items);
        body.push(Segment::new("CTT", &[&self.count.to_string()]));
        self.count = 0;
        self.interchange.write_set(&body)
    }

    fn add(&mut self, record: &InventoryRecord) -> Result<(), FormatError> {
        let e = Elements::new(self.interchange.partner(), &record.sku);
        let sku = e
            .text("LIN-03", "SKU", &record.sku, 48)
            .map_err(FormatError::Data)?;
        let location = match &record.location {
            Some(location) => Some(
                e.text("N1-02", "location", location, 60)
                    .map_err(FormatError::Data)?,
            ),
            None => None,
        };
        let date = record.as_of.as_deref().and_then(x12_date);
        let key = (location, date);
        if self.key.as_ref() != Some(&key) || self.count == MAX_ITEMS {
            self.flush()?;
            self.key = Some(key);
        }
        self.count += 1;
        self.items.push(Segment::new(
            "LIN",
            &[&self.count.to_string(), &self.sku_qualifier, &sku],
        ));
        self.items.push(Segment::new(
            "QTY",
            &["17", &record.on_hand.to_string(), "EA"],
        ));
        if let Some(available) = record.available {
            self.items
                .push(Segment::new("QTY", &["33", &available.to_string(), "EA"]));
        }
        Ok(())
    }
}

impl DocumentWriter for AdviceWriter<'_> {
    fn write(&mut self, document: &Document) -> Result<(), FormatError> {
        match document {
            Document::InventoryRecord(record) => self.add(record),
            other => Err(FormatError::Data(super::writer::wrong_kind(
                other,
                "846",
                "inventory records",
            ))),
        }
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.flush()?;
        self.interchange.finish()
    }
}
