//! The order ledger's commands: `order ID` (one order's life) and `orders --late` (orders the
//! warehouse has not shipped in time), and the late list `status` ends with.

use std::process::ExitCode;

use super::{CmdResult, local_minute, say, shown};
use crate::config::Config;
use crate::ledger::{HistoryEntry, Ledger};
use crate::plugins::order_ledger::order_key;
use crate::report;

/// Late orders `status` lists; `orders --late` lists them all.
const LATE_IN_STATUS: usize = 10;

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
    let (count, all) = ledger
        .late_orders(crate::ledger::now_ms(), usize::MAX)
        .map_err(|e| e.to_string())?;
    if json {
        let text = serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?;
        say!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    if count == 0 {
        say!("no late orders");
    } else {
        print_late(&ledger, count, &all)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The late orders `status` ends with: how many, and the oldest few.
pub fn print_late_orders(ledger: &Ledger) -> Result<(), String> {
    let (count, oldest) = ledger
        .late_orders(crate::ledger::now_ms(), LATE_IN_STATUS)
        .map_err(|e| e.to_string())?;
    if count > 0 {
        print_late(ledger, count, &oldest)?;
        if count > oldest.len() as u64 {
            say!(
                "  … and {} more: `cartferry orders --late` lists them all",
                count - oldest.len() as u64
            );
        }
    } else {
        print_unknown_shipments(ledger)?;
    }
    Ok(())
}

fn print_late(
    ledger: &Ledger,
    count: u64,
    late: &[crate::ledger::LateOrder],
) -> Result<(), String> {
    say!(
        "\n{} sent to the warehouse without a shipment in the agreed time, oldest first:",
        report::counted(count, "order", "orders")
    );
    for order in late {
        say!(
            "  {}: sent {} in {} (route {}), shipment due {}",
            shown(&order.order_id),
            local_minute(order.sent_at_ms),
            shown(&order.file),
            shown(&order.route),
            local_minute(order.sent_at_ms + order.due_ms)
        );
    }
    print_unknown_shipments(ledger)
}

/// Shipments the warehouse confirmed for orders cartferry never sent.
fn print_unknown_shipments(ledger: &Ledger) -> Result<(), String> {
    let (count, first) = ledger
        .shipments_of_unknown_orders(LATE_IN_STATUS)
        .map_err(|e| e.to_string())?;
    if count == 0 {
        return Ok(());
    }
    say!(
        "\n{} for orders cartferry never sent (the warehouse may have shipped the wrong order):",
        report::counted(count, "shipment", "shipments")
    );
    for (order, file) in first {
        say!("  {} in {}", shown(&order), shown(&file));
    }
    Ok(())
}
