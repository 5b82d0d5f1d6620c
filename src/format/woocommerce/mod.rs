//! WooCommerce: its order exports read (two plugin layouts), and shipment tracking written for
//! its tracking import.

pub(crate) mod orders_csv;
pub(crate) mod tracking_csv;

use super::family::Format;

/// WooCommerce's formats.
pub(crate) static FORMATS: [Format; 2] = [
    Format::reads(orders_csv::NAME, |o| {
        Ok(Box::new(orders_csv::WooCommerceOrdersCsv::reader(o)?))
    }),
    Format::writes(tracking_csv::NAME, |o| {
        Ok(Box::new(tracking_csv::WooCommerceTrackingCsv::writer(o)?))
    }),
];
