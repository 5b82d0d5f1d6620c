//! Shopify: its order export read (orders and cancellations), and its fulfillment and inventory
//! imports written.

pub(crate) mod fulfillments_csv;
pub(crate) mod inventory_csv;
pub(crate) mod orders_csv;

use super::family::Format;

/// Shopify's formats.
pub(crate) static FORMATS: [Format; 3] = [
    Format::reads(orders_csv::NAME, |o| {
        Ok(Box::new(orders_csv::ShopifyOrdersCsv::reader(o)?))
    }),
    Format::writes(fulfillments_csv::NAME, |o| {
        Ok(Box::new(fulfillments_csv::ShopifyFulfillmentsCsv::writer(
            o,
        )?))
    }),
    Format::writes(inventory_csv::NAME, |o| {
        Ok(Box::new(inventory_csv::ShopifyInventoryCsv::writer(o)?))
    }),
];
