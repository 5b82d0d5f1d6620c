//! `mapped-xml`: any cart's XML as any document kind, through a mapping in the route's
//! `reader_options`: `document` (the path of each document's element from the root, such as
//! `Export/Orders/Order`), `lists` (the path of each list item inside a document, such as
//! `line = "Items/Item"`) and `fields` (canonical column → path inside the document, or inside
//! the item for an item's columns; `@name` last for an attribute; see `mapping.rs`).
//!
//! Reading streams: each document element is gathered on its own (at most
//! [`MAX_DOCUMENT_BYTES`], nested at most [`MAX_DEPTH`] deep), turned into one row of canonical
//! columns per item and read as the kind's canonical CSV, so the checks and reports are the
//! canonical ones. Entities are never expanded beyond XML's predefined ones and character
//! references. XML is not split: a bad document sends the whole file to the error folder.

use std::collections::{BTreeMap, VecDeque};
use std::io::BufRead;
use std::sync::Arc;

use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use serde::Deserialize;

use crate::format::canonical::xml::{LineCounter, MAX_DOCUMENT_BYTES, unreadable};
use crate::format::mapped::mapping::{FieldSpec, Kind, Mapping, Source};
use crate::format::shared::table::{RowAt, RowSource, Table};
use crate::format::shared::text::{self, TextEncoding};
use crate::format::{
    FormatError, FormatProblem, Item, Items, OnInvalid, Options, ReaderFormat, Span, parse_options,
};

/// The format's name in configs.
pub const NAME: &str = "mapped-xml";

/// Deepest element nesting accepted (carts nest deeper than the canonical formats).
pub const MAX_DEPTH: usize = 32;

/// The reader's options.
#[derive(Deserialize)]
struct MappedXmlOptions {
    kind: Kind,
    #[serde(default)]
    encoding: TextEncoding,
    document: String,
    #[serde(default)]
    lists: BTreeMap<String, String>,
    fields: BTreeMap<String, FieldSpec>,
}

/// The mapped XML reader.
pub struct MappedXml {
    encoding: TextEncoding,
    plan: Arc<Plan>,
}

/// Where each mapped value is found.
struct Plan {
    mapping: Arc<Mapping>,
    /// The document element's path from the root.
    document: Vec<String>,
    /// Per list of the kind: its items' path inside a document, when mapped.
    lists: Vec<Option<Vec<String>>>,
    /// Per rule of the mapping: where its value is (none for a constant).
    targets: Vec<Option<Target>>,
}

/// Where one value is.
struct Target {
    /// The list whose items hold it; none for a document-level value.
    list: Option<usize>,
    /// Element names below the document (or the item).
    path: Vec<String>,
    /// The attribute of that element holding it; none for its text.
    attribute: Option<String>,
}

/// Parses `a/b/@c` into element names and an attribute.
fn parse_path(text: &str) -> Result<(Vec<String>, Option<String>), String> {
    let mut path = Vec::new();
    let mut attribute = None;
    let segments: Vec<&str> = text
        .trim()
        .split('/')
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    for (i, segment) in segments.iter().enumerate() {
        let name = segment.strip_prefix('@').unwrap_or(segment);
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
        if !valid || (segment.starts_with('@') && i + 1 != segments.len()) {
            return Err(format!(
                "\"{text}\" is not a path: write element names separated by /, and @name last for an attribute"
            ));
        }
        if segment.starts_with('@') {
            attribute = Some(name.to_string());
        } else {
            path.push(name.to_string());
        }
    }
    Ok((path, attribute))
}

impl MappedXml {
    /// The reader, with a route's `reader_options` (`kind`, `document`, `lists`, `fields`,
    /// `encoding`).
    pub fn reader(options: &Options) -> Result<MappedXml, Vec<FormatProblem>> {
        let options: MappedXmlOptions = parse_options(options, "reader_options")?;
        let mut problems = Vec::new();
        let mut problem =
            |key: String, message: String| problems.push(FormatProblem { key, message });
        let kind_lists = options.kind.lists();
        let document = match parse_path(&options.document) {
            Ok((path, None)) if !path.is_empty() => path,
            Ok(_) => {
                problem(
                    "reader_options.document".into(),
                    "needs the path of each document's element from the root, such as \"Orders/Order\"".into(),
                );
                Vec::new()
            }
            Err(message) => {
                problem("reader_options.document".into(), message);
                Vec::new()
            }
        };
        let mut lists = vec![None; kind_lists.len()];
        for (noun, path) in &options.lists {
            let key = format!("reader_options.lists.{noun}");
            let Some(index) = kind_lists.iter().position(|(n, _)| n == noun) else {
                let nouns: Vec<&str> = kind_lists.iter().map(|(n, _)| *n).collect();
                problem(
                    key,
                    format!(
                        "is not a list of this kind; its lists are: {}",
                        nouns.join(", ")
                    ),
                );
                continue;
            };
            match parse_path(path) {
                Ok((path, None)) if !path.is_empty() => lists[index] = Some(path),
                Ok(_) => problem(
                    key,
                    "needs the path of each item's element inside a document, such as \"Items/Item\"".into(),
                ),
                Err(message) => problem(key, message),
            }
        }
        let mapping = match Mapping::new(options.kind, options.fields, "reader_options.fields") {
            Ok(mapping) => mapping,
            Err(more) => {
                problems.extend(more);
                return Err(problems);
            }
        };
        let mut unlisted = BTreeMap::<&str, Vec<&str>>::new();
        let targets = mapping
            .rules
            .iter()
            .map(|rule| {
                let Source::From(from) = &rule.source else {
                    return None;
                };
                let list = kind_lists
                    .iter()
                    .position(|(_, columns)| columns.contains(&rule.column));
                if let Some(index) = list
                    && lists[index].is_none()
                {
                    unlisted
                        .entry(kind_lists[index].0)
                        .or_default()
                        .push(rule.column);
                }
                match parse_path(from) {
                    Ok((path, attribute)) => Some(Target {
                        list,
                        path,
                        attribute,
                    }),
                    Err(message) => {
                        problem(format!("reader_options.fields.{}", rule.column), message);
                        None
                    }
                }
            })
            .collect();
        for (noun, columns) in unlisted {
            problem(
                format!("reader_options.lists.{noun}"),
                format!(
                    "is needed for {}: the path of each {noun}'s element inside a document, such as \"Items/Item\"",
                    columns.join(", ")
                ),
            );
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(MappedXml {
            encoding: options.encoding,
            plan: Arc::new(Plan {
                mapping: Arc::new(mapping),
                document,
                lists,
                targets,
            }),
        })
    }
}

impl ReaderFormat for MappedXml {
    fn read<'a>(&self, input: Box<dyn BufRead + 'a>) -> Items<'a> {
        let plan = Arc::clone(&self.plan);
        let encoding = self.encoding;
        let items = self
            .plan
            .mapping
            .read(input, Box::new(move |input| open(input, encoding, plan)));
        Box::new(items.map(|item| item.map(without_rows)))
    }

    /// XML documents are not rows; a bad one sends the whole file to the error folder.
    fn default_on_invalid(&self) -> OnInvalid {
        OnInvalid::RejectFile
    }
}

/// The item without the (made-up) rows it was read from, so the file is never split.
fn without_rows(item: Item) -> Item {
    match item {
        Item::Document(document, _) => Item::Document(document, None),
        Item::Rejected(problems, _) => Item::Rejected(problems, None),
        header => header,
    }
}

/// Opens the XML as a table of canonical rows.
fn open<'a>(
    input: Box<dyn BufRead + 'a>,
    encoding: TextEncoding,
    plan: Arc<Plan>,
) -> Result<Table<'a>, FormatError> {
    let decoded = text::decode(input, encoding)?;
    let names = plan.mapping.columns();
    Ok(Table::of_rows(
        Box::new(XmlRows {
            xml: quick_xml::Reader::from_reader(LineCounter::new(decoded.text)),
            buf: Vec::new(),
            stack: Vec::new(),
            text: String::new(),
            gathering: None,
            documents: 0,
            rows: VecDeque::new(),
            ended: false,
            plan,
        }),
        names,
        Span::default(),
    ))
}

/// A document element being read.
struct Gathering {
    line: u64,
    start: u64,
    /// Per rule: its document-level value.
    values: Vec<Option<String>>,
    /// Per list: its items.
    items: Vec<Vec<Gathered>>,
}

/// A list item being read.
struct Gathered {
    line: u64,
    /// Per rule: its value in this item.
    values: Vec<Option<String>>,
}

/// The documents of an XML input as rows of canonical columns, one per list item.
struct XmlRows<'a> {
    xml: quick_xml::Reader<LineCounter<'a>>,
    buf: Vec<u8>,
    /// The names of the open elements.
    stack: Vec<String>,
    /// The text of the innermost open element of a document.
    text: String,
    gathering: Option<Gathering>,
    /// Document elements found so far.
    documents: u64,
    /// Rows of the last document, not yet taken.
    rows: VecDeque<(RowAt, Vec<String>)>,
    ended: bool,
    plan: Arc<Plan>,
}

impl XmlRows<'_> {
    fn line(&self) -> u64 {
        self.xml.get_ref().line()
    }

    fn error(&self, problem: String, fix: &str) -> FormatError {
        unreadable(self.line(), problem, fix)
    }

    fn too_large(&self) -> FormatError {
        self.error(
            format!(
                "an element is larger than {} MiB.",
                MAX_DOCUMENT_BYTES >> 20
            ),
            "check what sent this file: a cart's document is far smaller.",
        )
    }

    /// Reads one event and does what it says.
    fn advance(&mut self) -> Result<(), FormatError> {
        self.xml.get_mut().start_event();
        self.buf.clear();
        let event = match self.xml.read_event_into(&mut self.buf) {
            Ok(event) => event.into_owned(),
            Err(_) if self.xml.get_ref().too_large() => return Err(self.too_large()),
            Err(e) => {
                return Err(self.error(
                    format!("the XML is broken ({e})."),
                    "check this line: every element must be closed and &, < and > written as &amp;, &lt; and &gt;.",
                ));
            }
        };
        if let Some(g) = &self.gathering
            && self.xml.buffer_position() - g.start > MAX_DOCUMENT_BYTES as u64
        {
            return Err(self.too_large());
        }
        match event {
            Event::Start(e) => self.open_element(&e),
            Event::Empty(e) => {
                self.open_element(&e)?;
                self.close_element();
                Ok(())
            }
            Event::End(_) => {
                self.close_element();
                Ok(())
            }
            Event::Text(t) if self.gathering.is_some() => {
                self.text.push_str(&t.xml10_content());
                Ok(())
            }
            Event::CData(c) if self.gathering.is_some() => {
                self.text.push_str(&c);
                Ok(())
            }
            Event::GeneralRef(r) if self.gathering.is_some() => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    Ok(None) => resolve_predefined_entity(&r).map(str::to_string),
                    Err(_) => None,
                };
                match resolved {
                    Some(text) => {
                        self.text.push_str(&text);
                        Ok(())
                    }
                    None => Err(self.error(
                        format!("&{}; is not a character or one of XML's own entities.", &*r),
                        "cartferry does not expand entities a DOCTYPE declares: write the text itself, or &amp;, &lt;, &gt;, &quot;, &apos;.",
                    )),
                }
            }
            Event::Eof => self.end(),
            _ => Ok(()), // declaration, comments, processing instructions, DOCTYPE, text outside documents
        }
    }

    fn end(&mut self) -> Result<(), FormatError> {
        if !self.stack.is_empty() {
            return Err(self.error(
                "the file ends inside an element.".into(),
                "the file was cut short: export or send it again.",
            ));
        }
        if self.documents == 0 {
            return Err(self.error(
                format!(
                    "there is no {} element in the file.",
                    self.plan.document.join("/")
                ),
                "check that this is the file the route expects, and that the route's reader_options.document is the path of each document's element from the root.",
            ));
        }
        self.ended = true;
        Ok(())
    }

    /// The open elements below the document element, while one is being read.
    fn inside(&self) -> Option<&[String]> {
        self.gathering
            .as_ref()
            .map(|_| &self.stack[self.plan.document.len()..])
    }

    fn open_element(&mut self, e: &BytesStart<'_>) -> Result<(), FormatError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.error(
                format!("elements are nested more than {MAX_DEPTH} deep."),
                "check what sent this file: a cart's XML is far shallower.",
            ));
        }
        self.stack.push(e.local_name().into_inner().to_string());
        self.text.clear();
        if self.gathering.is_none() && self.stack == self.plan.document {
            self.documents += 1;
            self.gathering = Some(Gathering {
                line: self.line(),
                start: self.xml.buffer_position(),
                values: vec![None; self.plan.targets.len()],
                items: self.plan.lists.iter().map(|_| Vec::new()).collect(),
            });
        }
        let Some(inside) = self.inside() else {
            return Ok(());
        };
        let inside = inside.to_vec();
        let line = self.line();
        if let Some(g) = self.gathering.as_mut() {
            for (list, path) in self.plan.lists.iter().enumerate() {
                if path.as_deref() == Some(&inside[..]) {
                    g.items[list].push(Gathered {
                        line,
                        values: vec![None; self.plan.targets.len()],
                    });
                }
            }
        }
        for attribute in e.attributes() {
            let value = attribute.map_err(|e| e.to_string()).and_then(|a| {
                let value = a
                    .normalized_value(XmlVersion::Implicit1_0)
                    .map_err(|e| e.to_string())?;
                Ok((
                    a.key.local_name().into_inner().to_string(),
                    value.into_owned(),
                ))
            });
            match value {
                Ok((name, value)) => self.assign(&inside, Some(&name), value.trim()),
                Err(e) => {
                    return Err(self.error(
                        format!(
                            "an attribute of <{}> cannot be read ({e}).",
                            self.stack.last().map_or("", String::as_str)
                        ),
                        "write attributes as name=\"value\", with &, < and \" as &amp;, &lt; and &quot;.",
                    ));
                }
            }
        }
        Ok(())
    }

    fn close_element(&mut self) {
        if let Some(inside) = self.inside() {
            let inside = inside.to_vec();
            let text = std::mem::take(&mut self.text);
            self.assign(&inside, None, text.trim());
            if inside.is_empty() {
                self.finish_document();
            }
        }
        self.text.clear();
        self.stack.pop();
    }

    /// Stores `value` (found at `inside`, in `attribute` or the text) where the plan wants it.
    fn assign(&mut self, inside: &[String], attribute: Option<&str>, value: &str) {
        let Some(g) = self.gathering.as_mut() else {
            return;
        };
        if value.is_empty() {
            return;
        }
        for (rule, target) in self.plan.targets.iter().enumerate() {
            let Some(target) = target else { continue };
            if target.attribute.as_deref() != attribute {
                continue;
            }
            let slot = match target.list {
                None => (inside == target.path).then(|| &mut g.values[rule]),
                Some(list) => {
                    let Some(prefix) = self.plan.lists[list].as_deref() else {
                        continue;
                    };
                    let here = inside.len() >= prefix.len()
                        && inside[..prefix.len()] == *prefix
                        && inside[prefix.len()..] == target.path;
                    match g.items[list].last_mut() {
                        Some(item) if here => Some(&mut item.values[rule]),
                        _ => None,
                    }
                }
            };
            if let Some(slot) = slot
                && slot.is_none()
            {
                *slot = Some(value.to_string());
            }
        }
    }

    /// Turns the document just closed into rows: one per item (the Nth of every list side by
    /// side), at least one.
    fn finish_document(&mut self) {
        let Some(g) = self.gathering.take() else {
            return;
        };
        let count = g.items.iter().map(Vec::len).max().unwrap_or(0).max(1);
        for row in 0..count {
            let line = g
                .items
                .iter()
                .find_map(|items| items.get(row).map(|item| item.line))
                .unwrap_or(g.line);
            let values = self
                .plan
                .mapping
                .rules
                .iter()
                .zip(&self.plan.targets)
                .enumerate()
                .map(|(i, (rule, target))| {
                    let raw = match target.as_ref().map(|t| t.list) {
                        None => None,
                        Some(None) => g.values[i].as_deref(),
                        Some(Some(list)) => g.items[list]
                            .get(row)
                            .and_then(|item| item.values[i].as_deref()),
                    };
                    rule.apply(raw.unwrap_or("")).into_owned()
                })
                .collect();
            self.rows.push_back((
                RowAt {
                    line,
                    start: g.start,
                },
                values,
            ));
        }
    }
}

impl RowSource for XmlRows<'_> {
    fn next_row(&mut self, record: &mut csv::StringRecord) -> Option<Result<RowAt, FormatError>> {
        loop {
            if let Some((at, values)) = self.rows.pop_front() {
                record.clear();
                values.iter().for_each(|v| record.push_field(v));
                return Some(Ok(at));
            }
            if self.ended {
                return None;
            }
            if let Err(e) = self.advance() {
                self.ended = true;
                self.rows.clear();
                return Some(Err(e));
            }
        }
    }

    fn position(&self) -> u64 {
        self.xml.buffer_position()
    }

    fn broken(&self) -> bool {
        // Every error of an XML input ends it.
        self.ended
    }
}
