//! Order status updates for the cart: what became of each order as cartferry moved its
//! documents (sent to the warehouse, accepted or rejected by it, held, shipped, returned …),
//! written in the cart's import format. Status files are a route's second output
//! (`status_updates`), made from the documents it writes (see [`status_of`]) or from a
//! partner's 997s.
//!
//! Formats:
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

use super::shared::table::csv_io;
use super::{FormatProblem, NoOptions, Options, parse_options};
use crate::model::{Document, HoldAction};

/// Names of the status formats, for messages.
pub const FORMATS: &[&str] = &[
    "canonical-status-csv",
    "woocommerce-order-status-csv",
    "shopify-order-tags-csv",
];

/// What became of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OrderStatus {
    /// Its order was delivered to the warehouse.
    SentToFulfillment,
    /// The warehouse's 997 accepted the order.
    AcceptedByWarehouse,
    /// The warehouse's 997 rejected the order.
    RejectedByWarehouse,
    /// A hold was delivered to the warehouse.
    OnHold,
    /// A release was delivered to the warehouse.
    Released,
    /// A cancellation was delivered to the warehouse.
    Cancelled,
    /// The warehouse shipped all of it.
    Shipped,
    /// The warehouse shipped part of it.
    PartiallyShipped,
    /// An RMA was delivered to the warehouse.
    ReturnAuthorized,
    /// The warehouse received a return.
    Returned,
}

impl OrderStatus {
    /// Every status, in order.
    pub const ALL: [OrderStatus; 10] = [
        OrderStatus::SentToFulfillment,
        OrderStatus::AcceptedByWarehouse,
        OrderStatus::RejectedByWarehouse,
        OrderStatus::OnHold,
        OrderStatus::Released,
        OrderStatus::Cancelled,
        OrderStatus::Shipped,
        OrderStatus::PartiallyShipped,
        OrderStatus::ReturnAuthorized,
        OrderStatus::Returned,
    ];

    /// Its name in files and configs: `sent_to_fulfillment` …
    pub fn name(self) -> &'static str {
        match self {
            OrderStatus::SentToFulfillment => "sent_to_fulfillment",
            OrderStatus::AcceptedByWarehouse => "accepted_by_warehouse",
            OrderStatus::RejectedByWarehouse => "rejected_by_warehouse",
            OrderStatus::OnHold => "on_hold",
            OrderStatus::Released => "released",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Shipped => "shipped",
            OrderStatus::PartiallyShipped => "partially_shipped",
            OrderStatus::ReturnAuthorized => "return_authorized",
            OrderStatus::Returned => "returned",
        }
    }
}

/// One order's new status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    /// The order.
    pub order_id: String,
    /// Its new status.
    pub status: OrderStatus,
    /// What goes with it: tracking numbers, the RMA, the warehouse's codes.
    pub detail: String,
}

/// The status an order reaches when `document` is delivered to the other side, if any.
pub fn status_of(document: &Document) -> Option<StatusUpdate> {
    let (order_id, status, detail) = match document {
        Document::Order(o) => (&o.order_id, OrderStatus::SentToFulfillment, String::new()),
        Document::OrderHold(h) => {
            let status = match h.action {
                HoldAction::Hold => OrderStatus::OnHold,
                HoldAction::Release => OrderStatus::Released,
                HoldAction::Cancel => OrderStatus::Cancelled,
            };
            (&h.order_id, status, String::new())
        }
        Document::ShipmentConfirmation(s) => {
            let partial = s
                .lines
                .iter()
                .any(|l| l.quantity_ordered.is_some_and(|o| l.quantity_shipped < o));
            let status = if partial {
                OrderStatus::PartiallyShipped
            } else {
                OrderStatus::Shipped
            };
            let tracking: Vec<&str> = s
                .packages
                .iter()
                .map(|p| p.tracking_number.as_str())
                .collect();
            (&s.order_id, status, tracking.join(" "))
        }
        Document::RmaAuthorization(r) => {
            (&r.order_id, OrderStatus::ReturnAuthorized, r.rma_id.clone())
        }
        Document::ReturnReceipt(r) => (&r.order_id, OrderStatus::Returned, r.rma_id.clone()),
        Document::InventoryRecord(_) => return None,
    };
    Some(StatusUpdate {
        order_id: order_id.clone(),
        status,
        detail,
    })
}

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
    use crate::model::{Package, ShipmentConfirmation, ShippedLine};

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
