//! X12 functional acknowledgments through the agent and its SQLite ledger: every group sent waits
//! for its 997 (`status` lists the late ones), partners' 997s are recorded and their rejections
//! reach the error folder naming the orders, and received groups are answered with 997s once.

mod support;

use std::path::Path;

use cartferry::format::FormatError;
use cartferry::format::x12::envelope::{Envelopes, TransactionSet};

const PARTNER: &str = r#"
[partners.acme]
sender_id = "CARTFERRY"
receiver_id = "WAREHOUSE"
acknowledgment_due = "0s"
"#;

fn sets(bytes: &[u8]) -> Result<Vec<TransactionSet>, FormatError> {
    Envelopes::new(Box::new(bytes)).collect()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A 997 from the warehouse to cartferry, numbered `control`, of `body` (the 997 sets).
fn warehouse_997(control: u32, sets: u32, body: &str) -> String {
    format!(
        "ISA*00*          *00*          *ZZ*WAREHOUSE      *ZZ*CARTFERRY      *261122*1200*U*00401*{control:09}*0*P*>~\n\
         GS*FA*WAREHOUSE*CARTFERRY*20261122*1200*{control}*X*004010~\n{body}GE*{sets}*{control}~\nIEA*1*{control:09}~\n"
    )
}

/// A sandbox whose route `orders-940` sends 940s to the partner `acme` and whose route `acks`
/// reads its 997s from `warehouse/acks`.
fn sending_940s_and_reading_997s() -> support::Sandbox {
    let sandbox = support::Sandbox::with_routes(&format!(
        r#"{PARTNER}
[[routes]]
name = "orders-940"
from = {{ endpoint = "cart", dir = "orders", pattern = "*.csv" }}
reader = "canonical-orders-csv"
writer = "x12-940"
writer_options = {{ partner = "acme" }}
to = {{ endpoint = "warehouse", dir = "edi", name = "{{stem}}.edi" }}

[[routes]]
name = "acks"
from = {{ endpoint = "warehouse", dir = "acks", pattern = "*.997" }}
reader = "x12-997"
archive = "var/archive/acks"
errors = "var/errors/acks"
"#
    ));
    std::fs::create_dir_all(sandbox.path("warehouse/acks")).unwrap();
    sandbox
}

#[test]
fn sent_groups_wait_for_their_997_and_rejected_orders_reach_the_error_folder() {
    let sandbox = sending_940s_and_reading_997s();
    let alerts = sandbox.add_file_alerts("");
    sandbox.drop_file(
        "cart/orders",
        "two.csv",
        support::minimal_orders(&[("1001", "1"), ("1002", "1")]).as_bytes(),
    );
    sandbox.drop_file(
        "cart/orders",
        "one.csv",
        support::minimal_orders(&[("1003", "1")]).as_bytes(),
    );
    sandbox.once_expecting(0);

    // Which group carries which orders, as delivered.
    let mut groups = std::collections::BTreeMap::new();
    for name in sandbox.files("warehouse/edi") {
        let bytes = std::fs::read(sandbox.path(&format!("warehouse/edi/{name}"))).unwrap();
        let sets = sets(&bytes).unwrap();
        groups.insert(sets.len(), (sets[0].group.control.clone(), name));
    }
    let (two, two_file) = groups[&2].clone();
    let (one, _) = groups[&1].clone();

    let status = stdout(&sandbox.cmd(&["status"]));
    assert!(
        status.contains("2 X12 groups sent without the partner's 997")
            && status.contains(&format!(
                "group {two} (2 OW sets) in {two_file} from two.csv"
            )),
        "{status}"
    );

    // The warehouse takes 0001 of the two-order group, rejects 0002, takes the other group
    // whole (AK9 only), and acknowledges a group cartferry never sent.
    let body = format!(
        "ST*997*0001~\nAK1*OW*{two}~\nAK2*940*0001~\nAK5*A~\nAK2*940*0002~\nAK5*R*5~\nAK9*P*2*2*1~\nSE*8*0001~\n\
         ST*997*0002~\nAK1*OW*{one}~\nAK9*A*1*1*1~\nSE*4*0002~\n\
         ST*997*0003~\nAK1*OW*999~\nAK9*A*1*1*1~\nSE*4*0003~\n"
    );
    sandbox.drop_file(
        "warehouse/acks",
        "answer.997",
        warehouse_997(77, 3, &body).as_bytes(),
    );
    sandbox.once_expecting(1);

    let errors = sandbox.files("var/errors/acks");
    assert_eq!(errors, ["answer.997", "answer.997.error.txt"]);
    let report =
        std::fs::read_to_string(sandbox.path("var/errors/acks/answer.997.error.txt")).unwrap();
    assert!(
        report.contains("rejects documents cartferry sent")
            && report.contains("order 1002")
            && report.contains(&format!(
                "transaction set 0002 of group {two} sent in {two_file} (from two.csv"
            )),
        "{report}"
    );
    assert!(
        report.contains("code 5: one or more segments in error"),
        "{report}"
    );
    assert!(
        !report.contains("order 1001") && !report.contains("order 1003"),
        "{report}"
    );
    assert!(
        !report.contains("retry acks"),
        "a recorded 997 is not retried: {report}"
    );

    let status = stdout(&sandbox.cmd(&["status"]));
    assert!(!status.contains("without the partner's 997"), "{status}");

    // The partly rejected group is an alert, and so is the 997's file in the error folder.
    let said = support::alerts_in(&alerts);
    let rejected: Vec<&serde_json::Value> = said
        .iter()
        .flat_map(|m| m["events"].as_array().unwrap())
        .filter(|e| e["kind"] == "ack_rejected")
        .collect();
    assert_eq!(rejected.len(), 1, "{said:?}");
    assert_eq!(rejected[0]["route"], "orders-940");
    assert_eq!(rejected[0]["group"].as_u64(), Some(two.parse().unwrap()));
    assert_eq!(rejected[0]["status"], "P");
    assert!(
        support::alert_kinds(&said).contains(&"file_failed".to_string()),
        "{said:?}"
    );
    // The partner gives no time (`acknowledgment_due = "0s"`): both groups were late at the end
    // of the first run, and each was said once.
    let mut late: Vec<u64> = said
        .iter()
        .flat_map(|m| m["events"].as_array().unwrap())
        .filter(|e| e["kind"] == "ack_late")
        .map(|e| e["group"].as_u64().unwrap())
        .collect();
    late.sort();
    let mut expected: Vec<u64> = vec![two.parse().unwrap(), one.parse().unwrap()];
    expected.sort();
    assert_eq!(late, expected, "{said:?}");
}

#[test]
fn a_997_accepting_everything_is_archived_and_a_group_rejected_whole_names_each_order() {
    let sandbox = sending_940s_and_reading_997s();
    sandbox.drop_file(
        "cart/orders",
        "a.csv",
        support::minimal_orders(&[("2001", "1"), ("2002", "1")]).as_bytes(),
    );
    sandbox.once_expecting(0);
    sandbox.drop_file(
        "cart/orders",
        "b.csv",
        support::minimal_orders(&[("2003", "1"), ("2004", "1")]).as_bytes(),
    );
    sandbox.once_expecting(0);

    let accept = "ST*997*0001~\nAK1*OW*1~\nAK9*A*2*2*2~\nSE*4*0001~\n";
    sandbox.drop_file(
        "warehouse/acks",
        "a.997",
        warehouse_997(5, 1, accept).as_bytes(),
    );
    sandbox.once_expecting(0);
    assert_eq!(sandbox.all_files_below("var/archive/acks").len(), 1);
    let status = stdout(&sandbox.cmd(&["status"]));
    assert!(
        status.contains("1 X12 group sent") && status.contains("group 2 (2 OW sets) in b.edi"),
        "{status}"
    );

    let reject = "ST*997*0001~\nAK1*OW*2~\nAK9*R*2*2*0*5~\nSE*4*0001~\n";
    sandbox.drop_file(
        "warehouse/acks",
        "b.997",
        warehouse_997(6, 1, reject).as_bytes(),
    );
    sandbox.once_expecting(1);
    let report = std::fs::read_to_string(sandbox.path("var/errors/acks/b.997.error.txt")).unwrap();
    assert!(
        report.contains("order 2003") && report.contains("order 2004"),
        "{report}"
    );
    assert!(report.contains("rejected 2 documents"), "{report}");
    let status = stdout(&sandbox.cmd(&["status"]));
    assert!(!status.contains("X12 group"), "{status}");
}

#[test]
fn every_received_group_is_answered_with_one_997_even_when_its_file_is_refused() {
    let sandbox = support::Sandbox::with_routes(&format!(
        r#"{PARTNER}
[[routes]]
name = "shipments"
from = {{ endpoint = "warehouse", dir = "out", pattern = "*.edi" }}
reader = "x12-945"
writer = "canonical-shipments-csv"
to = {{ endpoint = "cart", dir = "shipments", name = "{{stem}}.csv" }}
acknowledge = {{ partner = "acme", folder = "outbox/997" }}
errors = "var/errors/shipments"
"#
    ));
    let fixture = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/x12/945/shipments.edi"),
    )
    .unwrap();
    sandbox.drop_file("warehouse/out", "good.edi", fixture.as_bytes());
    sandbox.once_expecting(0);
    assert_eq!(sandbox.files("cart/shipments"), ["good.csv"]);
    let answers = sandbox.files("outbox/997");
    assert_eq!(answers, ["997-000000001.edi"]);
    let first = sandbox.path("outbox/997/997-000000001.edi");
    let (report, ok) = support::bots_validate(std::slice::from_ref(&first));
    assert!(ok, "{report}");
    let text = std::fs::read_to_string(&first).unwrap();
    assert!(
        text.starts_with("ISA*00*          *00*          *ZZ*CARTFERRY      *ZZ*WAREHOUSE      *")
            && text.contains("\nGS*FA*CARTFERRY*WAREHOUSE*")
            && text.contains("AK1*SW*311~\nAK2*945*0001~\nAK5*A~\nAK2*945*0002~\nAK5*A~\nAK2*945*0003~\nAK5*A~\nAK9*A*3*3*3~"),
        "{text}"
    );

    // The same group again with a quantity that is not a number in its second set: the file
    // goes to the error folder, and the 997 says which set was refused.
    let bad = fixture
        .replace("W12*PR*3*2*1*EA", "W12*PR*3*two*1*EA")
        .replace("*000000311*", "*000000312*")
        .replace("*311*X*", "*312*X*")
        .replace("GE*3*311", "GE*3*312")
        .replace("IEA*1*000000311", "IEA*1*000000312");
    sandbox.drop_file("warehouse/out", "bad.edi", bad.as_bytes());
    sandbox.once_expecting(1);
    assert!(
        sandbox
            .files("var/errors/shipments")
            .contains(&"bad.edi".to_string())
    );
    let answers = sandbox.files("outbox/997");
    assert_eq!(answers, ["997-000000001.edi", "997-000000002.edi"]);
    let second = std::fs::read_to_string(sandbox.path("outbox/997/997-000000002.edi")).unwrap();
    assert!(
        second.contains("AK1*SW*312~\nAK2*945*0001~\nAK5*A~\nAK2*945*0002~\nAK5*R*5~\nAK2*945*0003~\nAK5*A~\nAK9*P*3*3*2~"),
        "{second}"
    );
    assert!(second.contains("*000000002*0*P*>~"), "{second}");

    // Nothing is answered twice.
    sandbox.once_expecting(0);
    assert_eq!(sandbox.files("outbox/997").len(), 2);
}

#[test]
fn acknowledgment_settings_are_checked() {
    let sandbox = support::Sandbox::with_routes(&format!(
        r#"{PARTNER}
[[routes]]
name = "shipments"
from = {{ endpoint = "warehouse", dir = "out", pattern = "*.csv" }}
reader = "canonical-shipments-csv"
writer = "canonical-shipments-csv"
to = {{ endpoint = "cart", dir = "shipments" }}
acknowledge = {{ partner = "nobody" }}

[[routes]]
name = "acks"
from = {{ endpoint = "warehouse", dir = "acks" }}
reader = "x12-997"
writer = "canonical-shipments-csv"
to = {{ endpoint = "cart", dir = "x" }}
"#
    ));
    let check = sandbox.cmd(&["check"]);
    assert_eq!(check.status.code(), Some(2));
    let said = String::from_utf8_lossy(&check.stderr).to_string() + &stdout(&check);
    for expected in [
        "routes[0].acknowledge: only routes reading X12",
        "routes[0].acknowledge.folder",
        "routes[0].acknowledge.partner: there is no [partners.nobody]",
        "routes[1].to: a route reading x12-997",
        "routes[1].writer: a route reading x12-997",
    ] {
        assert!(said.contains(expected), "{expected} in:\n{said}");
    }
}

#[test]
fn a_partners_997_fixture_validates_with_bots_and_reads_set_by_set() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/x12/997/partly-rejected.edi");
    let (report, ok) = support::bots_validate(std::slice::from_ref(&path));
    assert!(ok, "{report}");
    let sets = sets(&std::fs::read(&path).unwrap()).unwrap();
    let acks: Vec<_> = sets
        .iter()
        .map(|set| cartferry::format::x12::acknowledgment_997::read(set).unwrap())
        .collect();
    use cartferry::format::x12::acknowledgment_997::AckStatus;
    assert_eq!(
        acks.iter()
            .map(|a| (a.control.as_str(), a.status, a.sets.len(), a.accepted))
            .collect::<Vec<_>>(),
        [
            ("2", AckStatus::PartiallyAccepted, 2, 1),
            ("1", AckStatus::Accepted, 0, 1)
        ]
    );
    assert_eq!(acks[0].sets[1].status, AckStatus::Rejected);
    assert_eq!(acks[0].sets[1].codes, ["5"]);
}

#[test]
fn a_997_for_another_kind_of_group_or_set_is_reported_as_not_matching_and_never_applied() {
    let sandbox = sending_940s_and_reading_997s();
    sandbox.drop_file(
        "cart/orders",
        "a.csv",
        support::minimal_orders(&[("3001", "1"), ("3002", "1"), ("3003", "1")]).as_bytes(),
    );
    sandbox.once_expecting(0);

    // A 997 of a 204 (motor carrier) group 1, and one of 810s (invoices) numbered like our
    // group 1's sets: neither is about the 940s cartferry sent as group 1.
    let other_group = "ST*997*0001~\nAK1*SM*1~\nAK9*A*3*3*3~\nSE*4*0001~\n";
    let other_sets = "ST*997*0001~\nAK1*OW*1~\nAK2*810*0001~\nAK5*A~\nAK2*810*0002~\nAK5*R*5~\nAK9*P*2*2*1~\nSE*8*0001~\n";
    for (name, control, body, element) in [
        ("sm.997", 8, other_group, "AK1-01"),
        ("invoices.997", 9, other_sets, "AK2-01"),
    ] {
        sandbox.drop_file(
            "warehouse/acks",
            name,
            warehouse_997(control, 1, body).as_bytes(),
        );
        sandbox.once_expecting(1);
        let report =
            std::fs::read_to_string(sandbox.path(&format!("var/errors/acks/{name}.error.txt")))
                .unwrap();
        assert!(
            report.contains("does not match what cartferry sent as group 1")
                && report.contains("nothing it says was applied")
                && report.contains(&format!("field \"{element}\"")),
            "{name}:\n{report}"
        );
        assert!(
            !report.contains("order 300"),
            "{name}: no order is named as rejected:\n{report}"
        );
        let status = stdout(&sandbox.cmd(&["status"]));
        assert!(
            status.contains("1 X12 group sent without the partner's 997")
                && status.contains("group 1 (3 OW sets)"),
            "{name}: the group still waits for its own 997:\n{status}"
        );
    }
}

#[test]
fn a_999_is_read_like_a_997() {
    let sandbox = sending_940s_and_reading_997s();
    sandbox.drop_file(
        "cart/orders",
        "a.csv",
        support::minimal_orders(&[("4001", "1"), ("4002", "1")]).as_bytes(),
    );
    sandbox.once_expecting(0);
    let body = "ST*999*0001*005010X231A1~\nAK1*OW*1*004010~\nAK2*940*0001~\nIK5*A~\nAK2*940*0002~\nIK3*W01*12**8~\nIK5*R*5~\nAK9*P*2*2*1~\nSE*9*0001~\n";
    sandbox.drop_file(
        "warehouse/acks",
        "answer.997",
        warehouse_997(10, 1, body).as_bytes(),
    );
    sandbox.once_expecting(1);
    let report =
        std::fs::read_to_string(sandbox.path("var/errors/acks/answer.997.error.txt")).unwrap();
    assert!(
        report.contains("order 4002") && !report.contains("order 4001"),
        "{report}"
    );
    let status = stdout(&sandbox.cmd(&["status"]));
    assert!(!status.contains("without the partner's 997"), "{status}");
}
