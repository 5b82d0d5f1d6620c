//! A small test-only 3PL working on its SFTP server's folders the way a warehouse's back office
//! does: it takes the 940s, 180s and 997s that arrive in `in/`, answers every 940 and 180 group
//! with a 997, and writes 945s, 846s, 180 return notifications and 947s into `out/` (written
//! under a hidden name, then renamed, as careful senders do).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use cartferry::format::x12::acknowledgment_997::{self, AckStatus, Acknowledger};
use cartferry::format::x12::envelope::Envelopes;
use cartferry::format::x12::writer::Partner;
use cartferry::format::{self, ControlNumbers, Item, WriteContext};
use cartferry::model::{
    Document, HoldAction, InventoryRecord, Order, ReturnReceipt, ShipmentConfirmation,
};

/// The warehouse's view of what it was sent, and its own envelope.
pub struct Warehouse {
    root: PathBuf,
    /// Its envelope toward the store (ISA06 = the warehouse).
    options: toml::Table,
    next_control: u64,
    /// Orders received, by id.
    pub orders: BTreeMap<String, Order>,
    /// Order ids cancelled (W05*F, or a cancel in a holds CSV) after or before their order
    /// arrived.
    pub cancelled: BTreeSet<String>,
    /// Order ids on hold now (holds CSV: a hold not yet released).
    pub held: BTreeSet<String>,
    /// RMA numbers received in 180s.
    pub rmas: BTreeSet<String>,
    /// Groups the store acknowledged with its 997s: (GS01, GS06, AK9 status).
    pub acknowledged: Vec<(String, String, AckStatus)>,
    /// Order ids whose 940 set the warehouse rejects in its 997.
    pub reject: BTreeSet<String>,
    /// Files taken from `in/`, in the order taken.
    pub received: Vec<String>,
}

impl Warehouse {
    /// A warehouse with id `us` working on the server folder `root` for the store `store`.
    pub fn new(root: &Path, us: &str, store: &str) -> Warehouse {
        for dir in ["in", "out", "in/done"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        let options: toml::Table = toml::from_str(&format!(
            "sender_id = \"{us}\"\nreceiver_id = \"{store}\"\n"
        ))
        .unwrap();
        Warehouse {
            root: root.to_path_buf(),
            options,
            next_control: 500,
            orders: BTreeMap::new(),
            cancelled: BTreeSet::new(),
            held: BTreeSet::new(),
            rmas: BTreeSet::new(),
            acknowledged: Vec::new(),
            reject: BTreeSet::new(),
            received: Vec::new(),
        }
    }

    fn partner(&self) -> Partner {
        Partner::from_options(&self.options).unwrap()
    }

    fn context(&mut self) -> WriteContext {
        self.next_control += 1;
        WriteContext {
            control_numbers: Some(ControlNumbers {
                interchange: self.next_control,
                group: self.next_control,
            }),
            ..WriteContext::now()
        }
    }

    /// Writes `bytes` into `out/` as `name`, under a hidden name first.
    fn publish(&self, name: &str, bytes: &[u8]) {
        let out = self.root.join("out");
        let hidden = out.join(format!(".{name}.tmp"));
        fs::write(&hidden, bytes).unwrap();
        fs::rename(&hidden, out.join(name)).unwrap();
    }

    /// Takes every complete file in `in/` and `in/holds/` (oldest first, as they arrived),
    /// reads it, answers its 940 and 180 groups with a 997 in `out/`, and moves it to
    /// `in/done/`. Returns how many it took.
    pub fn receive(&mut self) -> usize {
        let mut files: Vec<(Option<std::time::SystemTime>, PathBuf)> = Vec::new();
        for dir in ["in", "in/holds"] {
            let Ok(entries) = fs::read_dir(self.root.join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.path().is_file() && !name.starts_with('.') {
                    files.push((
                        entry.metadata().and_then(|m| m.modified()).ok(),
                        entry.path(),
                    ));
                }
            }
        }
        files.sort();
        for (_, path) in &files {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = fs::read(path).unwrap();
            if name.ends_with(".csv") {
                self.take_holds(&bytes);
            } else {
                self.take(&name, &bytes);
            }
            assert!(
                !self.received.contains(&name),
                "the warehouse received {name} twice"
            );
            fs::rename(path, self.root.join("in/done").join(&name)).unwrap();
            self.received.push(name);
        }
        files.len()
    }

    /// Applies a canonical holds CSV in its order: hold, release, cancel.
    fn take_holds(&mut self, bytes: &[u8]) {
        let reader = format::reader("canonical-holds-csv", &toml::Table::new()).unwrap();
        for item in reader.read(Box::new(bytes)) {
            if let Item::Document(Document::OrderHold(h), _) = item.unwrap() {
                match h.action {
                    HoldAction::Hold => {
                        self.held.insert(h.order_id);
                    }
                    HoldAction::Release => {
                        self.held.remove(&h.order_id);
                    }
                    HoldAction::Cancel => {
                        self.cancelled.insert(h.order_id);
                    }
                }
            }
        }
    }

    fn take(&mut self, name: &str, bytes: &[u8]) {
        let sets: Vec<_> = Envelopes::new(Box::new(bytes))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("the warehouse cannot read {name}: {e}"));
        let mut answer = Vec::new();
        let context = self.context();
        let mut acknowledger = Acknowledger::new(Box::new(&mut answer), self.partner(), &context);
        let mut answered = false;
        if sets.iter().any(|set| set.id == "940") {
            let reader = format::reader("x12-940", &toml::Table::new()).unwrap();
            for item in reader.read(Box::new(bytes)) {
                match item.unwrap() {
                    Item::Document(Document::Order(o), _) => {
                        let id = o.order_id.clone();
                        // An order the warehouse already has would be shipped twice.
                        assert!(
                            self.orders.insert(id.clone(), o).is_none(),
                            "the warehouse received order {id} twice (again in {name})"
                        );
                    }
                    Item::Document(Document::OrderHold(h), _) if h.action == HoldAction::Cancel => {
                        self.cancelled.insert(h.order_id);
                    }
                    _ => {}
                }
            }
        }
        for set in &sets {
            match set.id.as_str() {
                "997" => {
                    let ack = acknowledgment_997::read(set).unwrap();
                    self.acknowledged
                        .push((ack.functional_id, ack.control, ack.status));
                }
                "940" => {
                    let order = acknowledgment_997::document_reference(set).unwrap_or_default();
                    let (status, codes): (_, &[&str]) = if self.reject.contains(&order) {
                        (AckStatus::Rejected, &["5"])
                    } else {
                        (AckStatus::Accepted, &[])
                    };
                    acknowledger.set(set, status, codes).unwrap();
                    answered = true;
                }
                "180" => {
                    if let Some(bgn) = set.segments.iter().find(|s| s.id() == "BGN") {
                        self.rmas.insert(bgn.element(2).to_string());
                    }
                    acknowledger.set(set, AckStatus::Accepted, &[]).unwrap();
                    answered = true;
                }
                other => panic!("the warehouse got a {other} it does not expect in {name}"),
            }
        }
        acknowledger.finish(true).unwrap();
        if answered {
            self.publish(&format!("ack-{}.997", self.next_control), &answer);
        }
    }

    fn write(&mut self, writer: &str, documents: Vec<Document>, name: &str) {
        let mut options = toml::Table::new();
        options.insert("partner".into(), toml::Value::Table(self.options.clone()));
        let writer = format::writer(writer, &options).unwrap();
        let context = self.context();
        let mut bytes = Vec::new();
        let mut out = writer.begin(Box::new(&mut bytes), &context);
        for d in &documents {
            out.write(d).unwrap();
        }
        out.finish().unwrap();
        self.publish(name, &bytes);
    }

    /// Sends shipment confirmations as a 945 named `name`.
    pub fn ship(&mut self, shipments: Vec<ShipmentConfirmation>, name: &str) {
        let documents = shipments
            .into_iter()
            .map(Document::ShipmentConfirmation)
            .collect();
        self.write("x12-945", documents, name);
    }

    /// Sends an inventory snapshot as an 846 named `name`.
    pub fn snapshot(&mut self, records: Vec<InventoryRecord>, name: &str) {
        let documents = records.into_iter().map(Document::InventoryRecord).collect();
        self.write("x12-846", documents, name);
    }

    /// Sends return notifications as a 180 named `name`.
    pub fn returned(&mut self, receipts: Vec<ReturnReceipt>, name: &str) {
        let documents = receipts.into_iter().map(Document::ReturnReceipt).collect();
        self.write("x12-180", documents, name);
    }
}
