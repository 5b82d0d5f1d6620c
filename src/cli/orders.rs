//! The order ledger's commands: `order ID` (one order's life) and `orders --late` (orders the
//! warehouse has not shipped in time), and the late list `status` ends with.

use std::process::ExitCode;

use super::{CmdResult, local_minute, say, shown};
use crate::config::Config;
use crate::ledger::{HistoryEntry, Ledger};
use crate::plugins::order_ledger::order_key;
use crate::report;

/// Late orders (and shipments of orders never sent) `status` lists; `orders --late` lists them
/// all.
pub const LATE_IN_STATUS: usize = 10;

/// Opens the ledger to read it, or says there is none yet.
fn existing_ledger(config: &Config) -> Result<Option<Ledger>, String> {
    let ledger = Ledger::open_existing(&config.agent.state_dir).map_err(|e| e.to_string())?;
    if ledger.is_none() {
        say!(
            "no ledger in {} yet: nothing was recorded there",
            config.agent.state_dir.display()
        );
    }
    Ok(ledger)
}

/// The keys order `id` may be recorded under: as given, and without the agent's prefix.
fn keys_of(config: &Config, id: &str) -> Vec<String> {
    let mut keys = vec![order_key(id, None)];
    let key = order_key(id, config.agent.order_id_prefix.as_deref());
    if !keys.contains(&key) {
        keys.push(key);
    }
    keys
}

/// `cartferry order ID`: every event of one order, oldest first.
pub fn order(config: &Config, id: &str, json: bool) -> CmdResult {
    let Some(ledger) = existing_ledger(config)? else {
        return Ok(ExitCode::FAILURE);
    };
    let mut history: Vec<HistoryEntry> = Vec::new();
    for key in keys_of(config, id) {
        history.extend(ledger.order_history(&key).map_err(|e| e.to_string())?);
    }
    history.sort_by_key(|e| e.at_ms);
    history.dedup();
    if json {
        let text = serde_json::to_string_pretty(&history).map_err(|e| e.to_string())?;
        say!("{text}");
    } else if history.is_empty() {
        say!("cartferry has no record of order {}", shown(id));
    } else {
        for entry in &history {
            say!("{}", describe(entry));
        }
    }
    Ok(if history.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// One line of an order's history, for people.
fn describe(e: &HistoryEntry) -> String {
    let when = local_minute(e.at_ms);
    let file = shown(&e.file);
    let what = match e.kind.as_str() {
        "order" => "the order",
        "hold" => "a hold",
        "release" => "a release",
        "cancel" => "a cancellation",
        "shipment" => "a shipment",
        "rma" => "a return authorization",
        "return" => "a return receipt",
        "accepted" => "the warehouse's 997 accepting it",
        "rejected" => "the warehouse's 997 rejecting it",
        other => other,
    };
    let detail = e
        .detail
        .as_deref()
        .map(|d| format!(" ({})", shown(d)))
        .unwrap_or_default();
    let journey = match (e.outcome.as_str(), e.file_state.as_str()) {
        ("left_out", _) => format!("left out of {file}"),
        ("refused", _) => format!(
            "refused in {file}, to the error folder{}",
            e.error_file
                .as_deref()
                .map(|p| format!(" as {}", shown(p)))
                .unwrap_or_default()
        ),
        (_, "done" | "delivered") if e.destination.is_empty() => format!("recorded from {file}"),
        (_, "done" | "delivered") => format!(
            "in {file}, delivered as {} to {}",
            shown(e.delivered_as.as_deref().unwrap_or("?")),
            shown(&e.destination)
        ),
        (_, "failed") => format!(
            "in {file}, which went to the error folder{}",
            e.error_file
                .as_deref()
                .map(|p| format!(" as {}", shown(p)))
                .unwrap_or_default()
        ),
        (_, "duplicate") => format!("in {file}, archived without delivery"),
        (_, state) => format!("in {file}, on its way ({state})"),
    };
    let resent = if e.outcome == "resent" {
        " (sent again on purpose)"
    } else {
        ""
    };
    format!(
        "{when}  {}: {what}{resent} {journey}{detail} [route {}]",
        shown(&e.order_id),
        shown(&e.route)
    )
}

/// `cartferry orders --late`: every order sent without a shipment in time, oldest first, and
/// shipments of orders cartferry never sent.
pub fn orders(config: &Config, late: bool, json: bool) -> CmdResult {
    if !late {
        return Err("say which orders: `cartferry orders --late` lists the orders sent to the warehouse without a shipment in time".into());
    }
    let Some(ledger) = existing_ledger(config)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let shipping = shipping(&ledger, usize::MAX)?;
    if json {
        let text =
            serde_json::to_string_pretty(&shipping.oldest_late).map_err(|e| e.to_string())?;
        say!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    if shipping.late_orders == 0 {
        say!("no late orders");
    }
    print_shipping(&shipping);
    Ok(ExitCode::SUCCESS)
}

/// Orders sent to the warehouse without a shipment in time, and shipments the warehouse
/// confirmed for orders cartferry never sent.
#[derive(Debug, serde::Serialize)]
pub struct Shipping {
    /// Late orders.
    pub late_orders: u64,
    /// The oldest of them, oldest first.
    pub oldest_late: Vec<crate::ledger::LateOrder>,
    /// Shipments of orders never sent.
    pub unknown_shipments: u64,
    /// The first of them.
    pub first_unknown: Vec<UnknownShipment>,
}

/// A shipment the warehouse confirmed for an order cartferry never sent.
#[derive(Debug, serde::Serialize)]
pub struct UnknownShipment {
    /// The order id it names.
    pub order_id: String,
    /// The file it came in.
    pub file: String,
}

/// What the ledger knows of shipping, the first `limit` of each list.
pub fn shipping(ledger: &Ledger, limit: usize) -> Result<Shipping, String> {
    let (late_orders, oldest_late) = ledger
        .late_orders(crate::ledger::now_ms(), limit)
        .map_err(|e| e.to_string())?;
    let (unknown_shipments, first) = ledger
        .shipments_of_unknown_orders(limit)
        .map_err(|e| e.to_string())?;
    Ok(Shipping {
        late_orders,
        oldest_late,
        unknown_shipments,
        first_unknown: first
            .into_iter()
            .map(|(order_id, file)| UnknownShipment { order_id, file })
            .collect(),
    })
}

/// `shipping`, for people.
pub fn print_shipping(shipping: &Shipping) {
    if shipping.late_orders > 0 {
        say!(
            "\n{} sent to the warehouse without a shipment in the agreed time, oldest first:",
            report::counted(shipping.late_orders, "order", "orders")
        );
        for order in &shipping.oldest_late {
            say!(
                "  {}: sent {} in {} (route {}), shipment due {}",
                shown(&order.order_id),
                local_minute(order.sent_at_ms),
                shown(&order.file),
                shown(&order.route),
                local_minute(order.sent_at_ms + order.due_ms)
            );
        }
        let more = shipping.late_orders - shipping.oldest_late.len() as u64;
        if more > 0 {
            say!("  … and {more} more: `cartferry orders --late` lists them all");
        }
    }
    if shipping.unknown_shipments > 0 {
        say!(
            "\n{} for orders cartferry never sent (the warehouse may have shipped the wrong order):",
            report::counted(shipping.unknown_shipments, "shipment", "shipments")
        );
        for unknown in &shipping.first_unknown {
            say!("  {} in {}", shown(&unknown.order_id), shown(&unknown.file));
        }
    }
}
