//! The canonical model: the six kinds of business document every format maps to and from.
//!
//! No format knows another; each reads into these types or writes from them. Text fields keep the
//! partner's spelling (trimmed); dates are ISO 8601 text (`2026-11-22` or `2026-11-22T10:15:00Z`);
//! money is decimal text, so nothing is lost to floating point.

use serde::{Deserialize, Serialize};

/// One business document, of any of the six kinds.
// Documents stream one at a time, so the size of the largest variant costs nothing; boxing it
// would cost an allocation per document.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Document {
    /// An order to ship (cart → 3PL).
    Order(Order),
    /// A hold, cancellation or release of an order (cart → 3PL).
    OrderHold(OrderHold),
    /// A shipment confirmation with tracking (3PL → cart).
    ShipmentConfirmation(ShipmentConfirmation),
    /// Stock of one SKU at one location (3PL → cart).
    InventoryRecord(InventoryRecord),
    /// A return the merchant has authorised (cart → 3PL).
    RmaAuthorization(RmaAuthorization),
    /// What the warehouse received back for a return (3PL → cart).
    ReturnReceipt(ReturnReceipt),
}

impl Document {
    /// The id a merchant knows the document by: the order id, the SKU of an inventory record,
    /// the RMA number of a return.
    pub fn id(&self) -> &str {
        match self {
            Document::Order(o) => &o.order_id,
            Document::OrderHold(h) => &h.order_id,
            Document::ShipmentConfirmation(s) => &s.order_id,
            Document::InventoryRecord(i) => &i.sku,
            Document::RmaAuthorization(r) => &r.rma_id,
            Document::ReturnReceipt(r) => &r.rma_id,
        }
    }

    /// What [`Document::id`] names, for messages: `order`, `SKU` or `RMA`.
    pub fn id_noun(&self) -> &'static str {
        match self {
            Document::InventoryRecord(_) => "SKU",
            Document::RmaAuthorization(_) | Document::ReturnReceipt(_) => "RMA",
            _ => "order",
        }
    }

    /// The kind of this document, for messages and writer checks.
    pub fn kind(&self) -> DocumentKind {
        match self {
            Document::Order(_) => DocumentKind::Order,
            Document::OrderHold(_) => DocumentKind::OrderHold,
            Document::ShipmentConfirmation(_) => DocumentKind::ShipmentConfirmation,
            Document::InventoryRecord(_) => DocumentKind::InventoryRecord,
            Document::RmaAuthorization(_) => DocumentKind::RmaAuthorization,
            Document::ReturnReceipt(_) => DocumentKind::ReturnReceipt,
        }
    }
}

/// The six document kinds, without their data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// See [`Order`].
    Order,
    /// See [`OrderHold`].
    OrderHold,
    /// See [`ShipmentConfirmation`].
    ShipmentConfirmation,
    /// See [`InventoryRecord`].
    InventoryRecord,
    /// See [`RmaAuthorization`].
    RmaAuthorization,
    /// See [`ReturnReceipt`].
    ReturnReceipt,
}

impl std::fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DocumentKind::Order => "order",
            DocumentKind::OrderHold => "order hold",
            DocumentKind::ShipmentConfirmation => "shipment confirmation",
            DocumentKind::InventoryRecord => "inventory record",
            DocumentKind::RmaAuthorization => "RMA authorization",
            DocumentKind::ReturnReceipt => "return receipt",
        })
    }
}

/// A postal address with the contact who receives the parcel. Holds customer PII: never log it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Given name of the recipient.
    pub first_name: String,
    /// Family name of the recipient.
    pub last_name: String,
    /// Company, when shipping to a business.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// First address line (street and number).
    pub address1: String,
    /// Second address line (suite, floor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address2: Option<String>,
    /// City or town.
    pub city: String,
    /// State or province code, where the country has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Postal or ZIP code, as text (leading zeros matter).
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// Recipient email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Recipient phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// An order the warehouse must pick, pack and ship.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The cart's order id (for example Shopify's `#1001`).
    pub order_id: String,
    /// When the order was placed, ISO 8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_date: Option<String>,
    /// ISO 4217 currency of the prices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The shipping method as the cart names it.
    pub shipping_method: String,
    /// The warehouse's carrier code for the method, from the route's `shipping_methods`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// The carrier's service level code, from the route's `shipping_methods`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Where the parcel goes.
    pub ship_to: Address,
    /// Free-text notes for the warehouse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The order lines, at least one.
    #[serde(rename = "line", default)]
    pub lines: Vec<OrderLine>,
}

/// One line of an order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// 1-based position of the line in the order.
    pub line_number: u32,
    /// Stock keeping unit.
    pub sku: String,
    /// Units ordered, at least 1.
    pub quantity: u32,
    /// Price of one unit, decimal text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<String>,
    /// Product name or description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What a hold document asks the warehouse to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldAction {
    /// Stop the order until released.
    #[default]
    Hold,
    /// Let a held order ship.
    Release,
    /// Never ship the order.
    Cancel,
}

/// A hold, release or cancellation of one order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderHold {
    /// The order it applies to.
    pub order_id: String,
    /// What to do with it.
    pub action: HoldAction,
    /// Why, in the merchant's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the cart asked for it, ISO 8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<String>,
}

/// One parcel of a shipment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// The carrier's tracking number.
    pub tracking_number: String,
    /// Weight with its unit, as text (for example `1.2 kg`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<String>,
}

/// Quantities shipped for one SKU.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippedLine {
    /// Stock keeping unit.
    pub sku: String,
    /// Units ordered, when the warehouse reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity_ordered: Option<u32>,
    /// Units that left the warehouse in this shipment.
    pub quantity_shipped: u32,
}

/// The warehouse's confirmation that (part of) an order shipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentConfirmation {
    /// The cart's order id.
    pub order_id: String,
    /// The warehouse's shipment id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment_id: Option<String>,
    /// Ship date, ISO 8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_date: Option<String>,
    /// Carrier code or name.
    pub carrier: String,
    /// Carrier service level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The parcels, each with its tracking number.
    #[serde(rename = "package", default)]
    pub packages: Vec<Package>,
    /// What shipped, per SKU.
    #[serde(rename = "line", default)]
    pub lines: Vec<ShippedLine>,
}

/// Stock of one SKU at one warehouse location.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryRecord {
    /// Stock keeping unit.
    pub sku: String,
    /// Warehouse or location code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Units physically on hand.
    pub on_hand: i64,
    /// Units available to sell (on hand less allocated), when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<i64>,
    /// When the count was taken, ISO 8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
}

/// One line of a return authorization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RmaLine {
    /// Stock keeping unit.
    pub sku: String,
    /// Units the customer may send back.
    pub quantity: u32,
    /// Why the customer returns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A return the merchant authorised, so the warehouse knows whose parcel arrives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RmaAuthorization {
    /// The RMA number.
    pub rma_id: String,
    /// The order being returned.
    pub order_id: String,
    /// Who sends the parcel back (PII).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// What may come back.
    #[serde(rename = "line", default)]
    pub lines: Vec<RmaLine>,
}

/// The state in which a returned item arrived.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemCondition {
    /// Unused; back to stock.
    #[default]
    Resellable,
    /// Damaged; to the damaged bin.
    Damaged,
    /// Not what was authorised or not identifiable.
    Other,
}

/// One line of a return receipt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnLine {
    /// Stock keeping unit.
    pub sku: String,
    /// Units put back into sellable stock.
    pub quantity_restocked: u32,
    /// Units received damaged.
    pub quantity_damaged: u32,
    /// Overall condition of the line.
    pub condition: ItemCondition,
}

/// What the warehouse received back for an RMA.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnReceipt {
    /// The RMA number.
    pub rma_id: String,
    /// The order being returned.
    pub order_id: String,
    /// When the parcel was received, ISO 8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_date: Option<String>,
    /// What arrived, per SKU.
    #[serde(rename = "line", default)]
    pub lines: Vec<ReturnLine>,
}

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
    /// It was left out of a file: it had been sent to the warehouse before, unchanged.
    AlreadySent,
}

impl OrderStatus {
    /// Every status, in order.
    pub const ALL: [OrderStatus; 11] = [
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
        OrderStatus::AlreadySent,
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
            OrderStatus::AlreadySent => "already_sent",
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
