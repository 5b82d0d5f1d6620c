//! Writing X12: a trading partner's envelope settings (`writer_options`), and a writer that wraps
//! each document's transaction set in one interchange (ISA … IEA) with one functional group per
//! file. The ISA keeps its fixed widths; the interchange and group control numbers come from the
//! file's [`WriteContext`] (the agent reserves them in its ledger before writing, so they are
//! never reused), transaction sets are numbered 0001, 0002 … within the group, and every count
//! is the number actually written.

use std::io::{self, Write};
use std::sync::Arc;

use serde::Deserialize;

use super::syntax::{Segment, Separators};
use crate::format::{
    ControlNumbers, DataProblem, DocumentWriter, FormatError, FormatProblem, Options, WriteContext,
    WriterFormat, parse_options,
};
use crate::model::{Document, DocumentKind};

/// The X12 version written (ISA12 and GS08).
const VERSION: (&str, &str) = ("00401", "004010");

/// A trading partner's envelope, from a route's `writer_options`.
#[derive(Debug, Clone, Deserialize)]
pub struct PartnerOptions {
    /// ISA06: our interchange id.
    pub sender_id: String,
    /// ISA05: its qualifier (`ZZ` mutually defined, `01` DUNS, `12` phone …).
    #[serde(default = "mutually_defined")]
    pub sender_qualifier: String,
    /// ISA08: the partner's interchange id.
    pub receiver_id: String,
    /// ISA07.
    #[serde(default = "mutually_defined")]
    pub receiver_qualifier: String,
    /// GS02; the sender id when not given.
    pub application_sender: Option<String>,
    /// GS03; the receiver id when not given.
    pub application_receiver: Option<String>,
    /// Element separator, component separator and segment terminator, in that order.
    #[serde(default = "standard_separators")]
    pub separators: String,
    /// A line break after every segment terminator (readable; most partners accept it).
    #[serde(default = "yes")]
    pub line_breaks: bool,
    /// ISA15 `T`: the partner treats the files as tests.
    #[serde(default)]
    pub test: bool,
    /// ISA14: ask for a TA1 interchange acknowledgment.
    #[serde(default)]
    pub interchange_acknowledgment: bool,
    /// How long the partner may take to acknowledge a group with a 997 before
    /// `cartferry status` lists it as late; no 997 is expected when unset.
    #[serde(default, with = "humantime_serde")]
    pub acknowledgment_due: Option<std::time::Duration>,
    /// How long the partner (a warehouse) may take to ship an order sent to it before
    /// `cartferry status` lists the order as late, for the routes that write to it and set no
    /// `shipment_due` of their own.
    #[serde(default, with = "humantime_serde")]
    pub shipment_due: Option<std::time::Duration>,
    /// The characters the partner's X12 may hold.
    #[serde(default)]
    pub character_set: CharacterSet,
}

/// The characters written into a partner's X12.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CharacterSet {
    /// ASCII only, as 004010's basic and extended character sets allow: other letters are
    /// transliterated (`Müller` → `Muller`, `ß` → `ss`).
    #[default]
    Ascii,
    /// UTF-8 passed through, for partners who agreed to it.
    #[serde(rename = "utf-8")]
    Utf8,
}

fn mutually_defined() -> String {
    "ZZ".into()
}

fn standard_separators() -> String {
    "*>~".into()
}

fn yes() -> bool {
    true
}

/// A checked partner envelope, ready to write.
#[derive(Debug, Clone)]
pub struct Partner {
    options: PartnerOptions,
    separators: Separators,
}

impl Partner {
    /// Checks `options`; problems name their key below `writer_options`.
    pub fn new(options: PartnerOptions) -> Result<Partner, Vec<FormatProblem>> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, message: String| {
            problems.push(FormatProblem {
                key: format!("writer_options.partner.{key}"),
                message,
            })
        };
        for (key, id) in [
            ("sender_id", &options.sender_id),
            ("receiver_id", &options.receiver_id),
        ] {
            if id.trim().is_empty() || id.len() > 15 || !id.is_ascii() {
                problem(
                    key,
                    "must be 1 to 15 ASCII characters (the ISA pads it to 15)".into(),
                );
            }
        }
        for (key, qualifier) in [
            ("sender_qualifier", &options.sender_qualifier),
            ("receiver_qualifier", &options.receiver_qualifier),
        ] {
            if qualifier.len() != 2 || !qualifier.bytes().all(|b| b.is_ascii_alphanumeric()) {
                problem(
                    key,
                    "must be a two-character ISA qualifier such as ZZ, 01 or 12".into(),
                );
            }
        }
        for (key, code) in [
            ("application_sender", &options.application_sender),
            ("application_receiver", &options.application_receiver),
        ] {
            if code
                .as_ref()
                .is_some_and(|c| c.trim().is_empty() || c.len() > 15)
            {
                problem(key, "must be 1 to 15 characters".into());
            }
        }
        let separators = match options.separators.as_bytes() {
            [element, component, segment] => Separators {
                element: *element,
                component: *component,
                repetition: None,
                segment: *segment,
            },
            _ => {
                problem(
                    "separators",
                    "must be three characters: element separator, component separator, segment terminator (such as \"*>~\")".into(),
                );
                Separators::STANDARD
            }
        };
        if let Some(message) = separators.problem() {
            problem("separators", message);
        }
        let partner = Partner {
            options,
            separators,
        };
        for (key, id) in [
            ("sender_id", partner.options.sender_id.as_str()),
            ("receiver_id", partner.options.receiver_id.as_str()),
        ] {
            if partner.holds_separator(id) {
                problem(key, "must not contain a separator".into());
            }
        }
        if problems.is_empty() {
            Ok(partner)
        } else {
            Err(problems)
        }
    }

    /// The partner a `[partners.NAME]` table describes; problems name their key in it.
    pub fn from_options(options: &Options) -> Result<Partner, Vec<FormatProblem>> {
        let options: PartnerOptions = parse_options(options, "partner")?;
        Partner::new(options).map_err(|problems| {
            problems
                .into_iter()
                .map(|p| FormatProblem {
                    key: p
                        .key
                        .trim_start_matches("writer_options.partner.")
                        .to_string(),
                    message: p.message,
                })
                .collect()
        })
    }

    /// The ledger's key for this partner's control numbers: one sequence per sender and
    /// receiver pair.
    pub fn control_key(&self) -> String {
        let o = &self.options;
        control_key(
            (&o.sender_qualifier, &o.sender_id),
            (&o.receiver_qualifier, &o.receiver_id),
        )
    }

    /// How long the partner may take to acknowledge a group; `None`: no 997 is expected.
    pub fn acknowledgment_due(&self) -> Option<std::time::Duration> {
        self.options.acknowledgment_due
    }

    /// How long the partner may take to ship an order; `None`: not said.
    pub fn shipment_due(&self) -> Option<std::time::Duration> {
        self.options.shipment_due
    }

    /// Writes `segment` with this partner's separators (and line break) into `out`, in the
    /// partner's character set.
    pub fn write_segment(&self, segment: &Segment, out: &mut dyn Write) -> io::Result<()> {
        match self.in_character_set(segment) {
            Some(converted) => converted.write_to(&self.separators, out)?,
            None => segment.write_to(&self.separators, out)?,
        }
        if self.options.line_breaks {
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// `text` in the partner's character set: transliterated to ASCII unless the partner takes
    /// UTF-8. What transliteration would make a separator becomes a space.
    pub fn characters<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        if self.options.character_set == CharacterSet::Utf8 || text.is_ascii() {
            return std::borrow::Cow::Borrowed(text);
        }
        let mut ascii = String::with_capacity(text.len());
        for c in text.chars() {
            if c.is_ascii() {
                ascii.push(c);
                continue;
            }
            let transliterated = deunicode::deunicode_char(c).unwrap_or("?");
            ascii.extend(transliterated.chars().map(|t| {
                if u8::try_from(t).is_ok_and(|b| self.is_separator(b)) {
                    ' '
                } else {
                    t
                }
            }));
        }
        std::borrow::Cow::Owned(ascii)
    }

    /// `segment` with every element in the partner's character set; `None` when it already is.
    fn in_character_set(&self, segment: &Segment) -> Option<Segment> {
        if self.options.character_set == CharacterSet::Utf8 || segment.is_ascii() {
            return None;
        }
        let elements: Vec<String> = (1..=segment.len())
            .map(|i| self.characters(segment.element(i)).into_owned())
            .collect();
        let refs: Vec<&str> = elements.iter().map(String::as_str).collect();
        Some(Segment::new(segment.id(), &refs))
    }

    /// Whether `text` holds one of this partner's separators (and so cannot be an element).
    pub fn holds_separator(&self, text: &str) -> bool {
        text.bytes().any(|b| self.is_separator(b))
    }

    /// Whether `byte` is one of this partner's separators.
    pub fn is_separator(&self, byte: u8) -> bool {
        let s = self.separators;
        byte == s.element || byte == s.component || byte == s.segment
    }

    /// GS02: the application sender's code.
    pub fn application_sender(&self) -> &str {
        let o = &self.options;
        o.application_sender
            .as_deref()
            .unwrap_or(&o.sender_id)
            .trim()
    }

    /// GS03: the application receiver's code.
    pub fn application_receiver(&self) -> &str {
        let o = &self.options;
        o.application_receiver
            .as_deref()
            .unwrap_or(&o.receiver_id)
            .trim()
    }
}

/// The ledger's key for the control numbers of the interchanges `sender` (ISA05, ISA06) sends
/// to `receiver` (ISA07, ISA08): also how a partner's 997 finds the groups it answers.
pub fn control_key(sender: (&str, &str), receiver: (&str, &str)) -> String {
    format!(
        "x12:{}:{}:{}:{}",
        sender.0.trim(),
        sender.1.trim(),
        receiver.0.trim(),
        receiver.1.trim()
    )
}

/// What one transaction set writer does: its ids, and one document's segments.
pub trait SetBuilder: Send + Sync {
    /// ST01 and GS01 of the sets it builds.
    fn ids(&self) -> (&'static str, &'static str);

    /// The segments of `document`'s transaction set (between ST and SE), written on `date`
    /// (CCYYMMDD), or the problem that keeps it from being sent.
    fn build(
        &self,
        partner: &Partner,
        document: &Document,
        date: &str,
    ) -> Result<Vec<Segment>, Box<DataProblem>>;
}

/// The `writer_options` of the shipping writers (940 and 945): the partner's envelope and how
/// lines and transport are coded.
#[derive(Debug, Deserialize)]
pub struct ShippingOptions {
    /// The partner's envelope.
    pub partner: PartnerOptions,
    /// The qualifier of the SKU (W01-04, W12-07).
    #[serde(default = "vendor_item")]
    pub sku_qualifier: String,
    /// The transportation method (W66-02, W27-01): `U` private parcel service, `M` motor …
    #[serde(default = "parcel")]
    pub transport_method: String,
}

/// `VN`, vendor item number: the default SKU qualifier.
pub fn vendor_item() -> String {
    "VN".into()
}

fn parcel() -> String {
    "U".into()
}

/// How a shipping writer codes lines and transport, from its [`ShippingOptions`].
#[derive(Debug, Clone)]
pub struct Coding {
    /// The qualifier of the SKU.
    pub sku_qualifier: String,
    /// The transportation method.
    pub transport_method: String,
}

impl ShippingOptions {
    /// Reads a route's `writer_options`; the partner and the coding, checked.
    pub fn parse(options: &Options) -> Result<(Partner, Coding), Vec<FormatProblem>> {
        let options: ShippingOptions = parse_options(options, "writer_options")?;
        let mut problems = Vec::new();
        check_code("sku_qualifier", &options.sku_qualifier, &mut problems);
        check_code("transport_method", &options.transport_method, &mut problems);
        let partner = with_partner(options.partner, problems)?;
        let coding = Coding {
            sku_qualifier: options.sku_qualifier,
            transport_method: options.transport_method,
        };
        Ok((partner, coding))
    }
}

/// The partner `options` describe, unless they or the other `problems` found say otherwise
/// (the partner's problems first).
pub fn with_partner(
    options: PartnerOptions,
    problems: Vec<FormatProblem>,
) -> Result<Partner, Vec<FormatProblem>> {
    match Partner::new(options) {
        Ok(partner) if problems.is_empty() => Ok(partner),
        Ok(_) => Err(problems),
        Err(more) => Err(more.into_iter().chain(problems).collect()),
    }
}

/// An X12 writer format: the transaction sets a [`SetBuilder`] builds, for one partner, one
/// interchange a file.
pub struct X12Writer {
    partner: Partner,
    accepts: &'static [DocumentKind],
    builder: Arc<dyn SetBuilder>,
}

impl X12Writer {
    /// Writes `accepts` documents as `builder` builds them, for `partner`.
    pub fn new(
        partner: Partner,
        accepts: &'static [DocumentKind],
        builder: Arc<dyn SetBuilder>,
    ) -> X12Writer {
        X12Writer {
            partner,
            accepts,
            builder,
        }
    }
}

impl WriterFormat for X12Writer {
    fn accepts(&self) -> &'static [DocumentKind] {
        self.accepts
    }

    fn control_key(&self) -> Option<String> {
        Some(self.partner.control_key())
    }

    fn acknowledgment_due(&self) -> Option<std::time::Duration> {
        self.partner.acknowledgment_due()
    }

    fn begin<'a>(
        &self,
        output: Box<dyn Write + 'a>,
        context: &WriteContext,
    ) -> Box<dyn DocumentWriter + 'a> {
        Box::new(EnvelopeWriter::new(
            output,
            self.partner.clone(),
            Arc::clone(&self.builder),
            context,
        ))
    }
}

/// One interchange being written: ISA and GS before its first transaction set, each set between
/// ST and SE, GE and IEA at the end. Nothing is written for an interchange without sets.
pub struct InterchangeWriter<'a> {
    out: Box<dyn Write + 'a>,
    partner: Partner,
    /// ST01 and GS01.
    ids: (&'static str, &'static str),
    numbers: ControlNumbers,
    time: chrono::NaiveDateTime,
    /// `time`'s date as X12 writes dates (CCYYMMDD).
    date: String,
    /// Transaction sets written so far.
    sets: u64,
}

impl<'a> InterchangeWriter<'a> {
    /// An interchange of `ids` (ST01, GS01) sets for `partner`, numbered by `context` (1 when it
    /// reserved none).
    pub fn new(
        out: Box<dyn Write + 'a>,
        partner: Partner,
        ids: (&'static str, &'static str),
        context: &WriteContext,
    ) -> Self {
        InterchangeWriter {
            out,
            partner,
            ids,
            numbers: context.control_numbers.unwrap_or(ControlNumbers {
                interchange: 1,
                group: 1,
            }),
            time: context.time,
            date: context.time.format("%Y%m%d").to_string(),
            sets: 0,
        }
    }

    /// The partner written for.
    pub fn partner(&self) -> &Partner {
        &self.partner
    }

    /// The date the interchange is written on (CCYYMMDD).
    pub fn date(&self) -> &str {
        &self.date
    }

    fn segment(&mut self, segment: &Segment) -> io::Result<()> {
        self.partner.write_segment(segment, &mut self.out)
    }

    fn start(&mut self) -> io::Result<()> {
        let o = &self.partner.options;
        let time = self.time;
        let pad = |id: &str| format!("{:<15}", id.trim());
        let isa = Segment::new(
            "ISA",
            &[
                "00",
                "          ",
                "00",
                "          ",
                &o.sender_qualifier,
                &pad(&o.sender_id),
                &o.receiver_qualifier,
                &pad(&o.receiver_id),
                &time.format("%y%m%d").to_string(),
                &time.format("%H%M").to_string(),
                "U",
                VERSION.0,
                &format!("{:09}", self.numbers.interchange),
                if o.interchange_acknowledgment {
                    "1"
                } else {
                    "0"
                },
                if o.test { "T" } else { "P" },
                &char::from(self.partner.separators.component).to_string(),
            ],
        );
        let gs = Segment::new(
            "GS",
            &[
                self.ids.1,
                self.partner.application_sender(),
                self.partner.application_receiver(),
                &self.date,
                &time.format("%H%M").to_string(),
                &self.numbers.group.to_string(),
                "X",
                VERSION.1,
            ],
        );
        self.segment(&isa)?;
        self.segment(&gs)
    }

    /// Writes one transaction set of `body` (the segments between ST and SE).
    pub fn write_set(&mut self, body: &[Segment]) -> io::Result<()> {
        self.write_set_parts(body, (&mut io::empty(), 0), &[])
    }

    /// Writes one transaction set of `head`, then `written.1` segments already written with
    /// [`Partner::write_segment`] and read from `written.0`, then `tail`.
    pub fn write_set_parts(
        &mut self,
        head: &[Segment],
        written: (&mut dyn io::Read, u64),
        tail: &[Segment],
    ) -> io::Result<()> {
        if self.sets == 0 {
            self.start()?;
        }
        self.sets += 1;
        let control = format!("{:04}", self.sets);
        self.segment(&Segment::new("ST", &[self.ids.0, &control]))?;
        for segment in head {
            self.segment(segment)?;
        }
        io::copy(written.0, &mut self.out)?;
        for segment in tail {
            self.segment(segment)?;
        }
        let count = (head.len() as u64 + written.1 + tail.len() as u64 + 2).to_string();
        self.segment(&Segment::new("SE", &[&count, &control]))
    }

    /// Ends the group and the interchange, and flushes.
    pub fn finish(mut self) -> io::Result<()> {
        if self.sets > 0 {
            let sets = self.sets.to_string();
            let group = self.numbers.group.to_string();
            self.segment(&Segment::new("GE", &[&sets, &group]))?;
            let interchange = format!("{:09}", self.numbers.interchange);
            self.segment(&Segment::new("IEA", &["1", &interchange]))?;
        }
        self.out.flush()
    }
}

/// A document writer that envelopes each document's transaction set.
pub struct EnvelopeWriter<'a> {
    interchange: InterchangeWriter<'a>,
    builder: Arc<dyn SetBuilder>,
}

impl<'a> EnvelopeWriter<'a> {
    /// Writes the transaction sets `builder` builds, for `partner`.
    pub fn new(
        out: Box<dyn Write + 'a>,
        partner: Partner,
        builder: Arc<dyn SetBuilder>,
        context: &WriteContext,
    ) -> Self {
        EnvelopeWriter {
            interchange: InterchangeWriter::new(out, partner, builder.ids(), context),
            builder,
        }
    }
}

impl DocumentWriter for EnvelopeWriter<'_> {
    fn write(&mut self, document: &Document) -> Result<(), FormatError> {
        let body = self
            .builder
            .build(
                self.interchange.partner(),
                document,
                self.interchange.date(),
            )
            .map_err(FormatError::Data)?;
        Ok(self.interchange.write_set(&body)?)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        self.interchange.finish()
    }
}

/// Checks text for the elements of one document.
pub struct Elements<'p> {
    partner: &'p Partner,
    id: &'p str,
}

impl<'p> Elements<'p> {
    /// Checks for the elements of the document `id`.
    pub fn new(partner: &'p Partner, id: &'p str) -> Self {
        Elements { partner, id }
    }

    /// `value` on one line (see [`one_line`]) as element `element` (`N3-01`, named `what`), at
    /// most `max` characters, without the partner's separators.
    pub fn text(
        &self,
        element: &str,
        what: &str,
        value: &str,
        max: usize,
    ) -> Result<String, Box<DataProblem>> {
        let value = one_line(&self.partner.characters(value));
        let value = value.as_str();
        let problem = |problem: String, fix: String| {
            Box::new(DataProblem {
                field: Some(format!("{what} ({element})")),
                document_id: Some(self.id.to_string()),
                value: Some(value.to_string()),
                problem,
                fix,
                ..DataProblem::default()
            })
        };
        if self.partner.holds_separator(value) {
            return Err(problem(
                format!("the {what} holds a character this warehouse's X12 uses as a separator."),
                "remove it in the cart, or agree other separators with the warehouse (writer_options.partner.separators).".into(),
            ));
        }
        if value.chars().count() > max {
            return Err(problem(
                format!("the {what} is longer than the {max} characters a 940 allows."),
                format!("shorten the {what} in the cart to {max} characters."),
            ));
        }
        Ok(value.to_string())
    }

    /// `value` cut to `max` characters with separators turned into spaces: for text the
    /// warehouse only reads.
    pub fn note(&self, value: &str, max: usize) -> String {
        let separated: String = self
            .partner
            .characters(value)
            .chars()
            .map(|c| {
                if u8::try_from(c).is_ok_and(|b| self.partner.is_separator(b)) {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        let cut: String = one_line(&separated).chars().take(max).collect();
        cut.trim_end().to_string()
    }
}

/// `text` on one line: line breaks, tabs and runs of spaces become one space; trimmed.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An ISO 8601 date (or date-time) as CCYYMMDD.
pub fn x12_date(iso: &str) -> Option<String> {
    let date = iso.get(..10)?;
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .map(|d| d.format("%Y%m%d").to_string())
}

/// Whether `code` can be a Standard Carrier Alpha Code (2 to 4 letters or digits).
pub fn is_scac(code: &str) -> bool {
    (2..=4).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Adds a problem when the option `key` is no X12 code of one or two letters or digits.
pub fn check_code(key: &str, value: &str, problems: &mut Vec<FormatProblem>) {
    if value.is_empty() || value.len() > 2 || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        problems.push(FormatProblem {
            key: format!("writer_options.{key}"),
            message: "must be an X12 code of 1 or 2 letters or digits".into(),
        });
    }
}

/// The problem of a document a transaction set cannot carry.
pub fn wrong_kind(document: &Document, set: &str, carries: &str) -> Box<DataProblem> {
    Box::new(DataProblem {
        document_id: Some(document.id().to_string()),
        problem: format!("a {set} carries {carries}, not {}s.", document.kind()),
        fix: "send it through a route whose writer takes it.".into(),
        ..DataProblem::default()
    })
}
