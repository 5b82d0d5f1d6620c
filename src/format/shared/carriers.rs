//! Carrier names as carts know them, from the codes warehouses send (SCACs such as `UPSN`), and
//! their public tracking pages. A route's writer options can add or override both.

use std::collections::BTreeMap;

use crate::format::shared::table::normalise;

/// Carrier codes and spellings → the name carts recognise (Shopify's tracking companies,
/// WooCommerce Shipment Tracking's providers).
const NAMES: [(&str, &str); 17] = [
    ("ups", "UPS"),
    ("upsn", "UPS"),
    ("upss", "UPS"),
    ("usps", "USPS"),
    ("fedex", "FedEx"),
    ("fdeg", "FedEx"),
    ("fdxe", "FedEx"),
    ("fxfe", "FedEx"),
    ("dhl", "DHL Express"),
    ("dhlexpress", "DHL Express"),
    ("dhle", "DHL Express"),
    ("canadapost", "Canada Post"),
    ("cnpr", "Canada Post"),
    ("royalmail", "Royal Mail"),
    ("rmal", "Royal Mail"),
    ("dpd", "DPD"),
    ("ontrac", "OnTrac"),
];

/// Tracking pages by carrier name; `{tracking}` is replaced by the tracking number.
const TRACKING_URLS: [(&str, &str); 6] = [
    ("UPS", "https://www.ups.com/track?tracknum={tracking}"),
    (
        "USPS",
        "https://tools.usps.com/go/TrackConfirmAction?tLabels={tracking}",
    ),
    (
        "FedEx",
        "https://www.fedex.com/fedextrack/?trknbr={tracking}",
    ),
    (
        "DHL Express",
        "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={tracking}",
    ),
    (
        "Canada Post",
        "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={tracking}",
    ),
    (
        "Royal Mail",
        "https://www.royalmail.com/track-your-item#/tracking-results/{tracking}",
    ),
];

/// Carrier names and tracking pages, the built-in ones with a route's additions.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct Carriers {
    /// Extra or overriding names: the warehouse's code → the cart's name.
    pub carrier_names: BTreeMap<String, String>,
    /// Extra or overriding tracking pages: carrier name → URL with `{tracking}`.
    pub tracking_urls: BTreeMap<String, String>,
}

impl Carriers {
    /// The cart's name for a carrier as the warehouse wrote it; unknown ones pass unchanged.
    pub fn name(&self, carrier: &str) -> String {
        let key = normalise(carrier);
        self.carrier_names
            .iter()
            .find(|(code, _)| normalise(code) == key)
            .map(|(_, name)| name.clone())
            .or_else(|| {
                NAMES
                    .iter()
                    .find(|(code, _)| *code == key)
                    .map(|(_, name)| name.to_string())
            })
            .unwrap_or_else(|| carrier.to_string())
    }

    /// The tracking page of a number with a carrier (as named by [`Carriers::name`]); empty when
    /// the carrier's page is unknown.
    pub fn tracking_url(&self, carrier_name: &str, tracking: &str) -> String {
        let template = self
            .tracking_urls
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(carrier_name))
            .map(|(_, url)| url.as_str())
            .or_else(|| {
                TRACKING_URLS
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(carrier_name))
                    .map(|(_, url)| *url)
            });
        template.map_or_else(String::new, |t| t.replace("{tracking}", tracking))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_become_cart_names_with_tracking_pages() {
        let carriers = Carriers::default();
        assert_eq!(carriers.name("UPSN"), "UPS");
        assert_eq!(carriers.name("fed ex"), "FedEx");
        assert_eq!(carriers.name("Local Courier"), "Local Courier");
        assert_eq!(
            carriers.tracking_url("UPS", "1Z999"),
            "https://www.ups.com/track?tracknum=1Z999"
        );
        assert_eq!(carriers.tracking_url("Local Courier", "1"), "");

        let custom: Carriers = toml::from_str(
            "carrier_names = { LCR = \"Local Courier\" }\ntracking_urls = { \"Local Courier\" = \"https://lc.example/t/{tracking}\" }",
        )
        .unwrap();
        assert_eq!(custom.name("lcr"), "Local Courier");
        assert_eq!(
            custom.tracking_url("Local Courier", "42"),
            "https://lc.example/t/42"
        );
    }
}
