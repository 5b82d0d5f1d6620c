//! The cart's status file formats, for a route's `status_updates`:
//! - `canonical-status-csv`: `order_id,status,updated_at,detail`, every status.
//! - `woocommerce-order-status-csv`: `order_id,status` for an order import plugin (WebToffee's
//!   "Order Export & Order Import" updates existing orders by id); statuses are WooCommerce
//!   slugs from the `statuses` option, and statuses without one are left out.
//! - `shopify-order-tags-csv`: the Matrixify "Orders" sheet adding one tag per status
//!   (`Name,Command,Tags Command,Tags` with `UPDATE` and `MERGE`), since Shopify has no order
//!   status to import; a Shopify Flow on the tag can do the rest.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Deserialize;

use crate::format::shared::table::csv_io;
use crate::format::{FormatProblem, NoOptions, Options, parse_options};
use crate::model::{OrderStatus, StatusUpdate};

/// Names of the status formats, for messages.
pub const FORMATS: &[&str] = &[
    "canonical-status-csv",
    "woocommerce-order-status-csv",
    "shopify-order-tags-csv",
];

/// How a status format writes rows.
#[derive(Debug, Clone)]
enum Layout {
    Canonical,
    WooCommerce(BTreeMap<OrderStatus, String>),
    ShopifyTags { prefix: String },
}

/// A status format with its options, ready to write files.
#[derive(Debug, Clone)]
pub struct StatusFormat {
    layout: Layout,
}

#[derive(Debug, Deserialize)]
struct WooCommerceOptions {
    /// Our status name → WooCommerce status slug.
    #[serde(default = "woocommerce_statuses")]
    statuses: BTreeMap<String, String>,
}

fn woocommerce_statuses() -> BTreeMap<String, String> {
    [
        ("on_hold", "on-hold"),
        ("cancelled", "cancelled"),
        ("shipped", "completed"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

#[derive(Debug, Deserialize)]
struct ShopifyOptions {
    /// Put before each status to make the tag (`cartferry-shipped`).
    #[serde(default = "tag_prefix")]
    tag_prefix: String,
}

fn tag_prefix() -> String {
    "cartferry-".into()
}

impl StatusFormat {
    /// The status format `name` with its `options` (under `key` in the config); an unknown
    /// name is a problem of the key `format`.
    pub fn new(
        name: &str,
        options: &Options,
        key: &str,
    ) -> Result<StatusFormat, Vec<FormatProblem>> {
        let layout = match name {
            "canonical-status-csv" => {
                parse_options::<NoOptions>(options, key)?;
                Layout::Canonical
            }
            "woocommerce-order-status-csv" => {
                let o: WooCommerceOptions = parse_options(options, key)?;
                let mut map = BTreeMap::new();
                let mut problems = Vec::new();
                for (ours, theirs) in o.statuses {
                    match OrderStatus::ALL.iter().find(|s| s.name() == ours) {
                        Some(status) => {
                            map.insert(*status, theirs);
                        }
                        None => problems.push(FormatProblem {
                            key: format!("{key}.statuses.{ours}"),
                            message: format!(
                                "is not a status; the statuses are {}",
                                OrderStatus::ALL.map(OrderStatus::name).join(", ")
                            ),
                        }),
                    }
                }
                if !problems.is_empty() {
                    return Err(problems);
                }
                Layout::WooCommerce(map)
            }
            "shopify-order-tags-csv" => {
                let o: ShopifyOptions = parse_options(options, key)?;
                Layout::ShopifyTags {
                    prefix: o.tag_prefix,
                }
            }
            other => {
                return Err(vec![FormatProblem {
                    key: "format".into(),
                    message: format!(
                        "unknown status format \"{other}\"; known: {}",
                        FORMATS.join(", ")
                    ),
                }]);
            }
        };
        Ok(StatusFormat { layout })
    }

    /// Starts a status file in `out`; `updated_at` is the time every row states.
    pub fn begin<'a>(
        &self,
        out: Box<dyn Write + 'a>,
        updated_at: &str,
    ) -> io::Result<StatusWriter<'a>> {
        let mut csv = csv::Writer::from_writer(out);
        let header: &[&str] = match &self.layout {
            Layout::Canonical => &["order_id", "status", "updated_at", "detail"],
            Layout::WooCommerce(_) => &["order_id", "status"],
            Layout::ShopifyTags { .. } => &["Name", "Command", "Tags Command", "Tags"],
        };
        csv.write_record(header).map_err(csv_io)?;
        Ok(StatusWriter {
            csv,
            layout: self.layout.clone(),
            updated_at: updated_at.to_string(),
            rows: 0,
        })
    }
}

/// An open status file.
pub struct StatusWriter<'a> {
    csv: csv::Writer<Box<dyn Write + 'a>>,
    layout: Layout,
    updated_at: String,
    rows: u64,
}

impl StatusWriter<'_> {
    /// Writes `update` (a format without a name for its status leaves it out).
    pub fn write(&mut self, update: &StatusUpdate) -> io::Result<()> {
        let written = match &self.layout {
            Layout::Canonical => self.csv.write_record([
                update.order_id.as_str(),
                update.status.name(),
                &self.updated_at,
                &update.detail,
            ]),
            Layout::WooCommerce(map) => match map.get(&update.status) {
                Some(slug) => self.csv.write_record([update.order_id.as_str(), slug]),
                None => return Ok(()),
            },
            Layout::ShopifyTags { prefix } => self.csv.write_record([
                update.order_id.as_str(),
                "UPDATE",
                "MERGE",
                &format!("{prefix}{}", update.status.name().replace('_', "-")),
            ]),
        };
        written.map_err(csv_io)?;
        self.rows += 1;
        Ok(())
    }

    /// Flushes; returns the rows written.
    pub fn finish(mut self) -> io::Result<u64> {
        self.csv.flush()?;
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Document, Package, ShipmentConfirmation, ShippedLine, status_of};

    fn write(format: &str, options: &str, updates: &[StatusUpdate]) -> String {
        let format = StatusFormat::new(format, &toml::from_str(options).unwrap(), "o").unwrap();
        let mut out = Vec::new();
        let mut w = format
            .begin(Box::new(&mut out), "2026-11-23T10:00:00")
            .unwrap();
        for u in updates {
            w.write(u).unwrap();
        }
        w.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_partial_shipment_is_partially_shipped_with_its_tracking_numbers() {
        let shipment = ShipmentConfirmation {
            order_id: "1001".into(),
            carrier: "UPSN".into(),
            packages: vec![
                Package {
                    tracking_number: "1Z1".into(),
                    ..Package::default()
                },
                Package {
                    tracking_number: "1Z2".into(),
                    ..Package::default()
                },
            ],
            lines: vec![ShippedLine {
                sku: "MUG".into(),
                quantity_ordered: Some(3),
                quantity_shipped: 2,
            }],
            ..ShipmentConfirmation::default()
        };
        let update = status_of(&Document::ShipmentConfirmation(shipment.clone())).unwrap();
        assert_eq!(
            (update.status, update.detail.as_str()),
            (OrderStatus::PartiallyShipped, "1Z1 1Z2")
        );
        let mut whole = shipment;
        whole.lines[0].quantity_shipped = 3;
        assert_eq!(
            status_of(&Document::ShipmentConfirmation(whole))
                .unwrap()
                .status,
            OrderStatus::Shipped
        );
    }

    #[test]
    fn each_format_writes_its_cart_import() {
        let updates = [
            StatusUpdate {
                order_id: "1001".into(),
                status: OrderStatus::Shipped,
                detail: "1Z1".into(),
            },
            StatusUpdate {
                order_id: "1002".into(),
                status: OrderStatus::SentToFulfillment,
                detail: String::new(),
            },
        ];
        assert_eq!(
            write("canonical-status-csv", "", &updates),
            "order_id,status,updated_at,detail\n1001,shipped,2026-11-23T10:00:00,1Z1\n1002,sent_to_fulfillment,2026-11-23T10:00:00,\n"
        );
        assert_eq!(
            write("woocommerce-order-status-csv", "", &updates),
            "order_id,status\n1001,completed\n"
        );
        assert_eq!(
            write(
                "woocommerce-order-status-csv",
                "statuses = { sent_to_fulfillment = \"sent-to-3pl\" }",
                &updates
            ),
            "order_id,status\n1002,sent-to-3pl\n"
        );
        assert_eq!(
            write("shopify-order-tags-csv", "", &updates),
            "Name,Command,Tags Command,Tags\n1001,UPDATE,MERGE,cartferry-shipped\n1002,UPDATE,MERGE,cartferry-sent-to-fulfillment\n"
        );
        let bad = StatusFormat::new(
            "woocommerce-order-status-csv",
            &toml::from_str("statuses = { shiped = \"completed\" }").unwrap(),
            "status_updates.options",
        )
        .unwrap_err();
        assert_eq!(bad[0].key, "status_updates.options.statuses.shiped");
    }
}
