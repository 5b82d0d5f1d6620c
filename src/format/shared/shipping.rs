//! A route's shipping methods: the cart's names for them (`Standard Shipping`) mapped to the
//! warehouse's carrier and service codes (`UPSN`, `GND`). With a map, every order's method must be
//! in it, so no order reaches the warehouse without a carrier; without one, methods pass as named.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::format::DataProblem;
use crate::format::shared::table::normalise;
use crate::model::Order;

/// The carrier and service a shipping method stands for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarrierService {
    /// Carrier code (a SCAC such as `UPSN`, or the name the warehouse uses).
    pub carrier: String,
    /// Service level code, such as `GND`.
    #[serde(default)]
    pub service: Option<String>,
}

/// Shipping method name → carrier and service (`shipping_methods` in a route).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ShippingMethods(BTreeMap<String, CarrierService>);

impl ShippingMethods {
    /// True when the route maps no methods (and so requires none).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The carrier and service of a method, its name compared ignoring case and punctuation.
    pub fn get(&self, method: &str) -> Option<&CarrierService> {
        self.0.get(method).or_else(|| {
            let key = normalise(method);
            self.0
                .iter()
                .find(|(name, _)| normalise(name) == key)
                .map(|(_, cs)| cs)
        })
    }

    /// Sets the order's carrier and service from its shipping method; a problem when the map
    /// has methods and this one is not among them.
    pub fn apply(&self, order: &mut Order) -> Result<(), Box<DataProblem>> {
        if self.is_empty() {
            return Ok(());
        }
        match self.get(&order.shipping_method) {
            Some(cs) => {
                order.carrier = Some(cs.carrier.clone());
                order.service.clone_from(&cs.service);
                Ok(())
            }
            None => Err(Box::new(DataProblem {
                field: Some("shipping method".into()),
                document_id: Some(order.order_id.clone()),
                value: Some(order.shipping_method.clone()),
                problem: "the shipping method has no carrier and service in this route's shipping_methods.".into(),
                fix: format!(
                    "add it to the route's shipping_methods (known: {}), or change the order's method in the cart.",
                    self.0.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
                ..DataProblem::default()
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_map_to_carriers_or_are_reported() {
        let methods: ShippingMethods = toml::from_str::<toml::Table>(
            "m = { \"Standard Shipping\" = { carrier = \"UPSN\", service = \"GND\" }, Express = { carrier = \"FDEG\" } }",
        )
        .unwrap()["m"]
            .clone()
            .try_into()
            .unwrap();
        let mut order = Order {
            order_id: "#1".into(),
            shipping_method: "standard shipping".into(),
            ..Order::default()
        };
        methods.apply(&mut order).unwrap();
        assert_eq!(
            (order.carrier.as_deref(), order.service.as_deref()),
            (Some("UPSN"), Some("GND"))
        );
        order.shipping_method = "Pigeon".into();
        let problem = methods.apply(&mut order).unwrap_err();
        assert!(
            problem.fix.contains("Express, Standard Shipping"),
            "{}",
            problem.fix
        );
        assert!(ShippingMethods::default().apply(&mut order).is_ok());
    }
}
