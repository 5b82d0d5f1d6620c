//! `canonical-*-xml`: the project's own XML formats, one per document kind: a root element
//! (`<orders>`) holding one element per document (`<order>`), whose child elements are the
//! canonical model's field names (README.md shows each).
//!
//! Reading streams: the input is decoded like CSV (`text.rs`), each document element is gathered
//! on its own (at most [`MAX_DOCUMENT_BYTES`], nested at most [`MAX_DEPTH`] deep) and then
//! deserialised, so memory stays bounded whatever the file's size. Entities are never expanded
//! beyond XML's five predefined ones and character references: a DOCTYPE is skipped, and a
//! reference to any other entity is a problem of its document.

use std::io::{self, BufRead, Write};

use quick_xml::events::Event;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::format::shared::table::CsvInput;
use crate::format::shared::text;
use crate::format::{
    DataProblem, DocumentWriter, FormatError, FormatProblem, Item, Items, NoOptions, OnInvalid,
    Options, ReaderFormat, WriterFormat, parse_options,
};
use crate::model::{Document, DocumentKind};

/// Largest document element, in bytes; a larger one makes the file unreadable.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 16;

/// One thing wrong with a document: the element path, the value, what is wrong, the fix.
pub type Finding = (String, String, String, String);

/// How one document kind looks as canonical XML.
pub struct XmlKind<D: 'static> {
    /// The format's name in configs.
    pub name: &'static str,
    /// The kind of document.
    pub kind: DocumentKind,
    /// The root element's name.
    pub root: &'static str,
    /// Each document's element name.
    pub element: &'static str,
    /// Makes a document of it.
    pub wrap: fn(D) -> Document,
    /// The value, when the document is of this kind.
    pub unwrap: fn(&Document) -> Option<&D>,
    /// Checks (and normalises) a document read.
    pub check: fn(&mut D) -> Vec<Finding>,
}

/// A canonical XML format, reader and writer.
pub struct CanonicalXml<D: 'static> {
    kind: &'static XmlKind<D>,
    input: CsvInput,
}

impl<D> CanonicalXml<D> {
    /// The reader, with a route's `reader_options` (`encoding`).
    pub fn reader(
        kind: &'static XmlKind<D>,
        options: &Options,
    ) -> Result<CanonicalXml<D>, Vec<FormatProblem>> {
        #[derive(serde::Deserialize, Default)]
        struct XmlInput {
            #[serde(default)]
            encoding: text::TextEncoding,
        }
        let options: XmlInput = parse_options(options, "reader_options")?;
        Ok(CanonicalXml {
            kind,
            input: CsvInput {
                encoding: options.encoding,
                ..CsvInput::default()
            },
        })
    }

    /// The writer, with a route's `writer_options` (none).
    pub fn writer(
        kind: &'static XmlKind<D>,
        options: &Options,
    ) -> Result<CanonicalXml<D>, Vec<FormatProblem>> {
        parse_options::<NoOptions>(options, "writer_options")?;
        Ok(CanonicalXml {
            kind,
            input: CsvInput::default(),
        })
    }
}

impl<D: DeserializeOwned + Send + Sync + 'static> ReaderFormat for CanonicalXml<D> {
    fn read<'a>(&self, input: Box<dyn BufRead + 'a>) -> Items<'a> {
        Box::new(XmlItems {
            kind: self.kind,
            encoding: self.input.encoding,
            input: Some(input),
            xml: None,
            depth: 0,
            buf: Vec::new(),
        })
    }

    /// XML documents are not rows; a bad one sends the whole file to the error folder.
    fn default_on_invalid(&self) -> OnInvalid {
        OnInvalid::RejectFile
    }
}

impl<D: Serialize + Send + Sync + 'static> WriterFormat for CanonicalXml<D> {
    fn accepts(&self) -> &'static [DocumentKind] {
        std::slice::from_ref(&self.kind.kind)
    }

    fn begin<'a>(
        &self,
        output: Box<dyn Write + 'a>,
        _context: &crate::format::WriteContext,
    ) -> Box<dyn DocumentWriter + 'a> {
        Box::new(XmlWriter {
            kind: self.kind,
            out: output,
            started: false,
            text: String::new(),
        })
    }
}

/// Counts the lines of what the XML reader has consumed, and stops it reading more than
/// [`MAX_DOCUMENT_BYTES`] for one event (quick-xml buffers a whole event, such as a text, in
/// memory).
pub(crate) struct LineCounter<'a> {
    inner: Box<dyn BufRead + 'a>,
    newlines: u64,
    /// Bytes consumed since the last event was returned.
    since_event: usize,
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

impl<'a> LineCounter<'a> {
    /// Counts the lines of `inner`.
    pub(crate) fn new(inner: Box<dyn BufRead + 'a>) -> Self {
        LineCounter {
            inner,
            newlines: 0,
            since_event: 0,
        }
    }

    /// The line being read (1-based).
    pub(crate) fn line(&self) -> u64 {
        self.newlines + 1
    }

    /// Starts counting the bytes of the next event.
    pub(crate) fn start_event(&mut self) {
        self.since_event = 0;
    }

    /// The event being read has passed the cap.
    pub(crate) fn too_large(&self) -> bool {
        self.since_event > MAX_DOCUMENT_BYTES
    }
}

impl io::Read for LineCounter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.newlines += newlines(&buf[..n]);
        self.since_event += n;
        Ok(n)
    }
}

impl BufRead for LineCounter<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.too_large() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "element too large",
            ));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            let n = amount.min(buf.len());
            self.newlines += newlines(&buf[..n]);
            self.since_event += n;
        }
        self.inner.consume(amount);
    }
}

struct XmlItems<'a, D: 'static> {
    kind: &'static XmlKind<D>,
    encoding: text::TextEncoding,
    input: Option<Box<dyn BufRead + 'a>>,
    xml: Option<quick_xml::Reader<LineCounter<'a>>>,
    depth: usize,
    buf: Vec<u8>,
}

/// A problem that makes the whole file unreadable, on `line`.
pub(crate) fn unreadable(line: u64, problem: String, fix: &str) -> FormatError {
    FormatError::data(DataProblem {
        line: Some(line),
        problem,
        fix: fix.into(),
        ..DataProblem::default()
    })
}

impl<'a, D: DeserializeOwned> XmlItems<'a, D> {
    fn line(&self) -> u64 {
        self.xml.as_ref().map_or(1, |x| x.get_ref().line())
    }

    fn open(&mut self, input: Box<dyn BufRead + 'a>) -> Result<(), FormatError> {
        let decoded = text::decode(input, self.encoding)?;
        let reader = quick_xml::Reader::from_reader(LineCounter::new(decoded.text));
        // No trimming here: quick-xml splits text at entity references and would trim each
        // piece, losing the spaces around an `&amp;`. The deserialiser trims whole values.
        self.xml = Some(reader);
        Ok(())
    }

    fn syntax_error(&self, e: quick_xml::Error) -> FormatError {
        if self.xml.as_ref().is_some_and(|x| x.get_ref().too_large()) {
            return self.too_large();
        }
        unreadable(
            self.line(),
            format!("the XML is broken ({e})."),
            "check this line: every element must be closed and &, < and > written as &amp;, &lt; and &gt;.",
        )
    }

    /// The next document element as XML text, or `None` at the end of the root.
    fn next_element(&mut self) -> Result<Option<(String, u64)>, FormatError> {
        let kind = self.kind;
        loop {
            if self.xml.is_none() {
                return Ok(None);
            }
            match self.next_event()? {
                Event::Eof if self.depth > 0 => {
                    return Err(unreadable(
                        self.line(),
                        "the file ends inside an element.".into(),
                        "the file was cut short: export or send it again.",
                    ));
                }
                Event::Eof => return Ok(None),
                Event::Start(e) if self.depth == 0 => {
                    if e.local_name().into_inner() != kind.root {
                        return Err(unreadable(
                            self.line(),
                            format!(
                                "the root element is <{}>, not <{}>.",
                                e.name().into_inner(),
                                kind.root
                            ),
                            &format!("send {} files to this route.", kind.name),
                        ));
                    }
                    self.depth = 1;
                }
                Event::Start(e) if e.local_name().into_inner() == kind.element => {
                    let line = self.line();
                    let mut out = quick_xml::Writer::new(Vec::new());
                    out.write_event(Event::Start(e)).map_err(FormatError::Io)?;
                    self.gather(&mut out)?;
                    let text = String::from_utf8(out.into_inner()).map_err(|_| {
                        unreadable(
                            line,
                            "the element is not valid text.".into(),
                            "save the file as UTF-8.",
                        )
                    })?;
                    return Ok(Some((text, line)));
                }
                Event::Empty(e) if e.local_name().into_inner() == kind.element => {
                    return Ok(Some((format!("<{}/>", kind.element), self.line())));
                }
                Event::Start(e) | Event::Empty(e) => {
                    return Err(unreadable(
                        self.line(),
                        format!(
                            "<{}> is not a <{}> element.",
                            e.name().into_inner(),
                            kind.element
                        ),
                        &format!(
                            "put only <{}> elements inside <{}>.",
                            kind.element, kind.root
                        ),
                    ));
                }
                Event::End(_) => self.depth = 0,
                Event::Text(t) if t.as_ref().trim().is_empty() => {}
                Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) if self.depth > 0 => {
                    return Err(unreadable(
                        self.line(),
                        format!("there is text directly inside <{}>.", kind.root),
                        &format!("put every value inside a <{}> element.", kind.element),
                    ));
                }
                _ => {} // declaration, comments, processing instructions, DOCTYPE, whitespace
            }
        }
    }

    fn too_large(&self) -> FormatError {
        unreadable(
            self.line(),
            format!("a <{}> element is larger than 1 MiB.", self.kind.element),
            "this is not a canonical XML file: check what sent it.",
        )
    }

    /// Reads the next event, within the size cap.
    fn next_event(&mut self) -> Result<Event<'static>, FormatError> {
        let Some(xml) = self.xml.as_mut() else {
            return Ok(Event::Eof);
        };
        xml.get_mut().start_event();
        self.buf.clear();
        match xml.read_event_into(&mut self.buf) {
            Ok(e) => Ok(e.into_owned()),
            Err(e) => Err(self.syntax_error(e)),
        }
    }

    /// Copies events up to the end of the element just started, within the caps.
    fn gather(&mut self, out: &mut quick_xml::Writer<Vec<u8>>) -> Result<(), FormatError> {
        let mut depth = 1;
        while depth > 0 {
            let event = self.next_event()?;
            match &event {
                Event::Start(_) => depth += 1,
                Event::End(_) => depth -= 1,
                Event::Eof => {
                    return Err(unreadable(
                        self.line(),
                        "the file ends inside an element.".into(),
                        "the file was cut short: export or send it again.",
                    ));
                }
                _ => {}
            }
            if depth + 1 > MAX_DEPTH {
                return Err(unreadable(
                    self.line(),
                    format!("elements are nested more than {MAX_DEPTH} deep."),
                    "this is not a canonical XML file: check what sent it.",
                ));
            }
            if out.get_ref().len() > MAX_DOCUMENT_BYTES {
                return Err(self.too_large());
            }
            if !matches!(event, Event::Comment(_) | Event::PI(_) | Event::DocType(_)) {
                out.write_event(event).map_err(FormatError::Io)?;
            }
        }
        Ok(())
    }

    /// The item one document element, starting on `line`, makes.
    fn item(&self, text: &str, line: u64) -> Item {
        let kind = self.kind;
        let mut doc = match quick_xml::de::from_str::<D>(text) {
            Ok(doc) => doc,
            Err(e) => {
                let problem = DataProblem {
                    line: Some(line),
                    problem: format!("this <{}> is not valid: {e}.", kind.element),
                    fix: format!(
                        "see README.md for the elements of {} and their values.",
                        kind.name
                    ),
                    ..DataProblem::default()
                };
                return Item::Rejected(vec![problem], None);
            }
        };
        let findings = (kind.check)(&mut doc);
        let document = (kind.wrap)(doc);
        if findings.is_empty() {
            return Item::Document(document, None);
        }
        let id = Some(document.id().to_string()).filter(|i| !i.is_empty());
        let problems = findings
            .into_iter()
            .map(|(field, value, problem, fix)| DataProblem {
                line: Some(line),
                field: Some(field),
                document_id: id.clone(),
                document_noun: Some(document.id_noun()),
                value: Some(value).filter(|v| !v.is_empty()),
                problem,
                fix,
                same_elsewhere: 0,
            })
            .collect();
        Item::Rejected(problems, None)
    }
}

impl<D: DeserializeOwned> Iterator for XmlItems<'_, D> {
    type Item = Result<Item, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(input) = self.input.take() {
            return Some(self.open(input).map(|()| Item::Header(Default::default())));
        }
        match self.next_element() {
            Ok(Some((text, line))) => Some(Ok(self.item(&text, line))),
            Ok(None) => None,
            Err(e) => {
                self.xml = None;
                Some(Err(e))
            }
        }
    }
}

struct XmlWriter<'a, D: 'static> {
    kind: &'static XmlKind<D>,
    out: Box<dyn Write + 'a>,
    started: bool,
    text: String,
}

impl<D> XmlWriter<'_, D> {
    fn start(&mut self) -> io::Result<()> {
        self.started = true;
        writeln!(
            self.out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{}>",
            self.kind.root
        )
    }
}

impl<D: Serialize> DocumentWriter for XmlWriter<'_, D> {
    fn write(&mut self, document: &Document) -> Result<(), FormatError> {
        let Some(doc) = (self.kind.unwrap)(document) else {
            return Err(FormatError::data(DataProblem::whole_file(
                &format!("{} cannot hold a {}.", self.kind.name, document.kind()),
                "choose a writer for this kind of document.",
            )));
        };
        self.text.clear();
        let mut ser = quick_xml::se::Serializer::with_root(&mut self.text, Some(self.kind.element))
            .map_err(|e| io::Error::other(e.to_string()))?;
        ser.indent(' ', 2);
        let serialized = doc.serialize(ser).map_err(|e| e.to_string());
        let control = self
            .text
            .chars()
            .any(|c| c < ' ' && !matches!(c, '\t' | '\n' | '\r'));
        if let Err(e) = serialized.and_then(|_| {
            (!control)
                .then_some(())
                .ok_or_else(|| "it contains control characters".to_string())
        }) {
            return Err(FormatError::data(DataProblem {
                document_id: Some(document.id().to_string()),
                problem: format!("the document cannot be written as XML ({e})."),
                fix: "remove control characters from its text in the source file.".into(),
                ..DataProblem::default()
            }));
        }
        if !self.started {
            self.start()?;
        }
        self.out.write_all(self.text.as_bytes())?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        if !self.started {
            self.start()?;
        }
        writeln!(self.out, "</{}>", self.kind.root)?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use crate::format::{Item, Options, reader};

    /// The items of `xml` read as canonical inventory XML, or the file's error.
    fn read(xml: &str) -> Result<Vec<Item>, String> {
        let reader = reader("canonical-inventory-xml", &Options::new()).unwrap();
        reader
            .read(Box::new(xml.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn documents_stream_out_with_their_lines() {
        let items = read(
            "<?xml version=\"1.0\"?>\n<!-- snapshot -->\n<inventory>\n  <record><sku>A &amp; B</sku><on_hand>3</on_hand></record>\n  <record>\n    <sku>C</sku>\n    <on_hand>x</on_hand>\n  </record>\n</inventory>\n",
        )
        .unwrap();
        assert!(matches!(&items[1], Item::Document(d, _) if d.id() == "A & B"));
        let Item::Rejected(problems, _) = &items[2] else {
            panic!("{items:?}")
        };
        assert_eq!(problems[0].line, Some(5));
    }

    #[test]
    fn entities_are_never_expanded() {
        let laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE inventory [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>\n<inventory><record><sku>&b;</sku><on_hand>1</on_hand></record></inventory>";
        let items = read(laughs).unwrap();
        assert!(
            matches!(&items[1], Item::Rejected(..)),
            "an unknown entity is a problem, not expanded: {items:?}"
        );
        let external = "<!DOCTYPE inventory [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><inventory><record><sku>&x;</sku><on_hand>1</on_hand></record></inventory>";
        let items = read(external).unwrap();
        assert!(matches!(&items[1], Item::Rejected(..)), "{items:?}");
    }

    #[test]
    fn hostile_shapes_are_unreadable_with_a_reason() {
        let deep = format!(
            "<inventory><record>{}{}</record></inventory>",
            "<a>".repeat(40),
            "</a>".repeat(40)
        );
        assert!(read(&deep).unwrap_err().contains("nested more than"));
        let big = format!(
            "<inventory><record><sku>{}</sku></record></inventory>",
            "x".repeat(super::MAX_DOCUMENT_BYTES + 10)
        );
        assert!(read(&big).unwrap_err().contains("larger than 1 MiB"));
        assert!(
            read("<orders></orders>")
                .unwrap_err()
                .contains("root element is <orders>")
        );
        assert!(
            read("<inventory><record><sku>A</sku>")
                .unwrap_err()
                .contains("ends inside")
        );
        assert!(
            read("<inventory><item/></inventory>")
                .unwrap_err()
                .contains("not a <record>")
        );
    }
}
