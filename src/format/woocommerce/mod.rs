//! WooCommerce: its order exports read (two plugin layouts), and shipment tracking written for
//! its tracking import.

pub(crate) mod orders_csv;
pub(crate) mod tracking_csv;

use super::catalog::Format;

/// WooCommerce's formats.
pub(crate) static FORMATS: [Format; 2] = [
    Format {
        name: orders_csv::NAME,
        reader: Some(|o| Ok(Box::new(orders_csv::WooCommerceOrdersCsv::reader(o)?))),
        writer: None,
    },
    Format {
        name: tracking_csv::NAME,
        reader: None,
        writer: Some(|o| Ok(Box::new(tracking_csv::WooCommerceTrackingCsv::writer(o)?))),
    },
];
