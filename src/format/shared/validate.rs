//! What every order must have before it goes to a warehouse, whatever format it came in, and the
//! normalisation of countries and US/Canadian states to ISO codes. Readers call [`check_order`]
//! and turn its findings into problems with their own column names and line numbers.

use std::str::FromStr;

use crate::model::Order;

use crate::format::shared::table::normalise;

/// The canonical field a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The order id.
    OrderId,
    /// The recipient's name (first and last together).
    ShipToName,
    /// First address line.
    Address1,
    /// City.
    City,
    /// State or province.
    State,
    /// Postal code.
    PostalCode,
    /// Country.
    Country,
    /// Shipping method.
    ShippingMethod,
    /// The order has no lines.
    Lines,
    /// The SKU of the line at this index.
    Sku(usize),
    /// The quantity of the line at this index.
    Quantity(usize),
}

/// One thing wrong with an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Where.
    pub field: Field,
    /// The value found (customer data: never logged).
    pub value: String,
    /// What is wrong, one sentence.
    pub problem: String,
    /// What to change, one sentence.
    pub fix: String,
}

fn finding(field: Field, value: &str, problem: &str, fix: &str) -> Finding {
    Finding {
        field,
        value: value.to_string(),
        problem: problem.to_string(),
        fix: fix.to_string(),
    }
}

/// When an order needs a postal code (`require_postal_code` in a cart reader's options).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PostalCodeRule {
    /// In every country that has postal codes (not in [`WITHOUT_POSTAL_CODES`]).
    #[default]
    WhereUsed,
    /// In every country.
    Always,
}

/// The countries (ISO 3166 codes) without a postal code system, where an address has no postal
/// code: those for which Google's libaddressinput region data (the address metadata Chrome and
/// Android forms use; `cpp/src/region_data_constants.cc`) gives no postal code example
/// (`zipex`), as of its commit 9a36575e. Ireland is among them: its Eircodes are optional.
pub const WITHOUT_POSTAL_CODES: [&str; 72] = [
    "AE", "AG", "AO", "AQ", "AW", "BF", "BI", "BJ", "BO", "BQ", "BS", "BV", "BW", "BZ", "CD", "CF",
    "CG", "CI", "CK", "CM", "CW", "DJ", "DM", "ER", "FJ", "GA", "GD", "GH", "GM", "GQ", "GY", "HK",
    "HM", "IE", "JM", "KI", "KM", "KN", "LC", "LY", "ML", "MO", "MR", "MS", "MW", "NA", "NR", "NU",
    "PA", "PS", "QA", "RW", "SB", "SC", "SL", "SR", "SS", "ST", "SX", "TD", "TF", "TG", "TK", "TL",
    "TO", "TT", "TV", "UG", "VU", "WS", "YE", "ZW",
];

/// Whether addresses in `country` (an ISO code) have postal codes.
pub fn uses_postal_codes(country: &str) -> bool {
    !WITHOUT_POSTAL_CODES.contains(&country)
}

/// Checks the required fields of `order`, and rewrites its country and (for the US and Canada) its
/// state as ISO codes. Quantities of zero are findings; quantities that are not numbers are the
/// reader's to report, as it saw the text. A postal code is required where the country has them.
pub fn check_order(order: &mut Order) -> Vec<Finding> {
    check_order_with(order, PostalCodeRule::WhereUsed)
}

/// [`check_order`], requiring a postal code as `postal_codes` says.
pub fn check_order_with(order: &mut Order, postal_codes: PostalCodeRule) -> Vec<Finding> {
    let mut found = Vec::new();
    let a = &mut order.ship_to;
    let mut require = |field, value: &str, what: &str| {
        if value.trim().is_empty() {
            found.push(finding(
                field,
                "",
                &format!("the {what} is empty."),
                &format!("fill in the {what} of this order."),
            ));
        }
    };
    require(Field::OrderId, &order.order_id, "order id");
    require(
        Field::ShipToName,
        &format!("{}{}", a.first_name, a.last_name),
        "ship-to name",
    );
    require(Field::Address1, &a.address1, "ship-to address line 1");
    require(Field::City, &a.city, "ship-to city");
    require(
        Field::ShippingMethod,
        &order.shipping_method,
        "shipping method",
    );
    match country_code(&a.country) {
        Some(code) => a.country = code.to_string(),
        None if a.country.trim().is_empty() => found.push(finding(
            Field::Country,
            "",
            "the ship-to country is empty.",
            "fill in the country, such as US, CA, GB or DE.",
        )),
        None => found.push(finding(
            Field::Country,
            &a.country,
            "the country is not a country name or ISO 3166 code cartferry knows.",
            "write the country as its two-letter ISO code, such as US, CA, GB or DE.",
        )),
    }
    let needs_postal_code = postal_codes == PostalCodeRule::Always || uses_postal_codes(&a.country);
    if needs_postal_code && a.postal_code.trim().is_empty() {
        found.push(finding(
            Field::PostalCode,
            "",
            "the ship-to postal code is empty.",
            "fill in the ship-to postal code of this order.",
        ));
    }
    let needs_state = ["US", "CA", "AU"].contains(&a.country.as_str());
    match a.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None if needs_state => found.push(finding(
            Field::State,
            "",
            &format!("addresses in {} need a state or province.", a.country),
            "fill in the state or province code, such as CA or ON.",
        )),
        None => a.state = None,
        Some(state) => match a.country.as_str() {
            "US" | "CA" => match subdivision_code(&a.country, state) {
                Some(code) => a.state = Some(code.to_string()),
                None => found.push(finding(
                    Field::State,
                    state,
                    &format!("this is not a state or province of {}.", a.country),
                    "write the two-letter postal code of the state or province, such as NY or ON.",
                )),
            },
            _ => a.state = Some(state.to_string()),
        },
    }
    if order.lines.is_empty() {
        found.push(finding(
            Field::Lines,
            "",
            "the order has no lines.",
            "add at least one line with a SKU and a quantity.",
        ));
    }
    for (i, line) in order.lines.iter().enumerate() {
        if line.sku.trim().is_empty() {
            found.push(finding(
                Field::Sku(i),
                "",
                "the SKU is empty, so the warehouse cannot pick this line.",
                "give the product a SKU in the cart (or fill it in here) and export again.",
            ));
        }
        if line.quantity == 0 {
            found.push(finding(
                Field::Quantity(i),
                "0",
                "the quantity is not a positive whole number.",
                "write the quantity as a whole number of at least 1, such as 2.",
            ));
        }
    }
    found
}

/// The ISO 3166-1 alpha-2 code for a country code (alpha-2 or alpha-3) or English name.
pub fn country_code(text: &str) -> Option<&'static str> {
    // The usual case, a two-letter code, without allocating.
    if let [a, b] = text.trim().as_bytes()
        && a.is_ascii_alphabetic()
        && b.is_ascii_alphabetic()
    {
        let lower = [a.to_ascii_lowercase(), b.to_ascii_lowercase()];
        if let Ok(code) = std::str::from_utf8(&lower)
            && let Ok(country) = celes::Country::from_alpha2(code)
        {
            return Some(country.alpha2);
        }
    }
    let key = normalise(text);
    if key.is_empty() {
        return None;
    }
    if matches!(key.as_str(), "uk" | "england" | "scotland" | "wales") {
        return Some("GB");
    }
    celes::Country::from_str(&key).ok().map(|c| c.alpha2)
}

/// US states, districts and territories, and Canadian provinces and territories: code, name.
const SUBDIVISIONS: &[(&str, &str, &str)] = &[
    ("US", "AL", "Alabama"),
    ("US", "AK", "Alaska"),
    ("US", "AZ", "Arizona"),
    ("US", "AR", "Arkansas"),
    ("US", "CA", "California"),
    ("US", "CO", "Colorado"),
    ("US", "CT", "Connecticut"),
    ("US", "DE", "Delaware"),
    ("US", "DC", "District of Columbia"),
    ("US", "FL", "Florida"),
    ("US", "GA", "Georgia"),
    ("US", "HI", "Hawaii"),
    ("US", "ID", "Idaho"),
    ("US", "IL", "Illinois"),
    ("US", "IN", "Indiana"),
    ("US", "IA", "Iowa"),
    ("US", "KS", "Kansas"),
    ("US", "KY", "Kentucky"),
    ("US", "LA", "Louisiana"),
    ("US", "ME", "Maine"),
    ("US", "MD", "Maryland"),
    ("US", "MA", "Massachusetts"),
    ("US", "MI", "Michigan"),
    ("US", "MN", "Minnesota"),
    ("US", "MS", "Mississippi"),
    ("US", "MO", "Missouri"),
    ("US", "MT", "Montana"),
    ("US", "NE", "Nebraska"),
    ("US", "NV", "Nevada"),
    ("US", "NH", "New Hampshire"),
    ("US", "NJ", "New Jersey"),
    ("US", "NM", "New Mexico"),
    ("US", "NY", "New York"),
    ("US", "NC", "North Carolina"),
    ("US", "ND", "North Dakota"),
    ("US", "OH", "Ohio"),
    ("US", "OK", "Oklahoma"),
    ("US", "OR", "Oregon"),
    ("US", "PA", "Pennsylvania"),
    ("US", "RI", "Rhode Island"),
    ("US", "SC", "South Carolina"),
    ("US", "SD", "South Dakota"),
    ("US", "TN", "Tennessee"),
    ("US", "TX", "Texas"),
    ("US", "UT", "Utah"),
    ("US", "VT", "Vermont"),
    ("US", "VA", "Virginia"),
    ("US", "WA", "Washington"),
    ("US", "WV", "West Virginia"),
    ("US", "WI", "Wisconsin"),
    ("US", "WY", "Wyoming"),
    ("US", "AS", "American Samoa"),
    ("US", "GU", "Guam"),
    ("US", "MP", "Northern Mariana Islands"),
    ("US", "PR", "Puerto Rico"),
    ("US", "VI", "Virgin Islands"),
    ("US", "UM", "United States Minor Outlying Islands"),
    ("US", "AA", "Armed Forces Americas"),
    ("US", "AE", "Armed Forces Europe"),
    ("US", "AP", "Armed Forces Pacific"),
    ("CA", "AB", "Alberta"),
    ("CA", "BC", "British Columbia"),
    ("CA", "MB", "Manitoba"),
    ("CA", "NB", "New Brunswick"),
    ("CA", "NL", "Newfoundland and Labrador"),
    ("CA", "NS", "Nova Scotia"),
    ("CA", "NT", "Northwest Territories"),
    ("CA", "NU", "Nunavut"),
    ("CA", "ON", "Ontario"),
    ("CA", "PE", "Prince Edward Island"),
    ("CA", "QC", "Quebec"),
    ("CA", "SK", "Saskatchewan"),
    ("CA", "YT", "Yukon"),
];

/// The postal code of a US state or Canadian province given as a code (`NY`, `US-NY`) or name.
pub fn subdivision_code(country: &str, text: &str) -> Option<&'static str> {
    // The usual case, a two-letter code, without allocating.
    let trimmed = text.trim();
    if trimmed.len() == 2
        && let Some((_, code, _)) = SUBDIVISIONS
            .iter()
            .find(|(c, code, _)| *c == country && code.eq_ignore_ascii_case(trimmed))
    {
        return Some(code);
    }
    let key = normalise(text);
    let key = key
        .strip_prefix(&country.to_ascii_lowercase())
        .filter(|rest| rest.len() == 2 && text.contains('-'))
        .unwrap_or(&key);
    // Québec and its accent-free spellings are all "quebec" once accents are dropped.
    let key = key.replace('é', "e");
    SUBDIVISIONS
        .iter()
        .find(|(c, code, name)| {
            *c == country && (code.eq_ignore_ascii_case(&key) || normalise(name) == key)
        })
        .map(|(_, code, _)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Address, OrderLine};

    #[test]
    fn countries_and_states_become_iso_codes() {
        assert_eq!(country_code("United States"), Some("US"));
        assert_eq!(country_code("usa"), Some("US"));
        assert_eq!(country_code("DEU"), Some("DE"));
        assert_eq!(country_code("Canada"), Some("CA"));
        assert_eq!(country_code("UK"), Some("GB"));
        assert_eq!(country_code("Atlantis"), None);
        assert_eq!(subdivision_code("US", "new york"), Some("NY"));
        assert_eq!(subdivision_code("US", "US-CA"), Some("CA"));
        assert_eq!(subdivision_code("CA", "Québec"), Some("QC"));
        assert_eq!(subdivision_code("CA", "ny"), None);
    }

    #[test]
    fn every_required_field_is_checked_and_the_address_normalised() {
        let mut order = Order {
            order_id: "#1001".into(),
            shipping_method: "Standard".into(),
            ship_to: Address {
                last_name: "Lovelace".into(),
                address1: "1 Main St".into(),
                city: "Springfield".into(),
                state: Some("Illinois".into()),
                postal_code: "62701".into(),
                country: "United States".into(),
                ..Address::default()
            },
            lines: vec![OrderLine {
                line_number: 1,
                sku: "MUG".into(),
                quantity: 1,
                ..OrderLine::default()
            }],
            ..Order::default()
        };
        assert_eq!(check_order(&mut order), []);
        assert_eq!(
            (
                order.ship_to.country.as_str(),
                order.ship_to.state.as_deref()
            ),
            ("US", Some("IL"))
        );
        order.ship_to.state = None;
        order.lines[0].sku.clear();
        order.lines[0].quantity = 0;
        let fields: Vec<Field> = check_order(&mut order).iter().map(|f| f.field).collect();
        assert_eq!(fields, [Field::State, Field::Sku(0), Field::Quantity(0)]);
    }
}
