//! X12 syntax: the separators an ISA declares, and a stream of segments split by them.
//!
//! Reading takes whatever separators each interchange's ISA declares (element separator at the
//! ISA's fourth byte, component separator and segment terminator after its sixteenth element), with
//! or without line breaks after terminators, and any number of interchanges in one file. A segment
//! is at most [`MAX_SEGMENT_BYTES`]; text that is not UTF-8 is read as Windows-1252 (every byte is
//! a character there), so nothing is lost.

use std::io::{self, BufRead, Write};

use super::super::{DataProblem, FormatError};

/// Longest segment read, in bytes; a longer one makes the file unreadable.
pub const MAX_SEGMENT_BYTES: usize = 64 << 10;

/// What some writers put before the first segment: a UTF-8 byte-order mark.
const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// Most elements in one segment.
const MAX_ELEMENTS: usize = 1000;

/// The separators of an interchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Separators {
    /// Between elements (`*`).
    pub element: u8,
    /// Between the components of a composite element (`>`).
    pub component: u8,
    /// Between repeats of an element (from version 00402 on; `^`), if any.
    pub repetition: Option<u8>,
    /// After each segment (`~`).
    pub segment: u8,
}

impl Separators {
    /// `*`, `>`, `^` and `~`: what most partners use.
    pub const STANDARD: Separators = Separators {
        element: b'*',
        component: b'>',
        repetition: Some(b'^'),
        segment: b'~',
    };

    /// Why these separators cannot be used, if they cannot: each must be a distinct character that
    /// cannot appear in data (not a letter, digit or space).
    pub fn problem(&self) -> Option<String> {
        let all = [
            Some(self.element),
            Some(self.component),
            self.repetition,
            Some(self.segment),
        ];
        let all: Vec<u8> = all.into_iter().flatten().collect();
        if let Some(bad) = all
            .iter()
            .find(|b| b.is_ascii_alphanumeric() || **b == b' ' || !b.is_ascii())
        {
            return Some(format!(
                "\"{}\" cannot be a separator: separators must be punctuation or control characters",
                char::from(*bad).escape_default()
            ));
        }
        let distinct = all
            .iter()
            .enumerate()
            .all(|(i, a)| all[i + 1..].iter().all(|b| a != b));
        (!distinct).then(|| "the separators must differ from each other".to_string())
    }
}

/// One segment: its id and elements, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    text: String,
    /// Where each element ends in `text` (the id is element 0).
    ends: Vec<usize>,
    /// Its number in the file, counting from 1.
    pub number: u64,
    /// The line it starts on.
    pub line: u64,
}

impl Segment {
    /// A segment of these elements (for writing).
    pub fn new(id: &str, elements: &[&str]) -> Segment {
        let mut text = String::with_capacity(64);
        let mut ends = Vec::with_capacity(elements.len() + 1);
        text.push_str(id);
        ends.push(text.len());
        for e in elements {
            text.push_str(e);
            ends.push(text.len());
        }
        Segment {
            text,
            ends,
            number: 0,
            line: 0,
        }
    }

    /// The segment id (`ISA`, `W05` …).
    pub fn id(&self) -> &str {
        self.element(0)
    }

    /// Element `index` (1-based, as X12 counts: `W05-02` is `element(2)`); empty when absent.
    pub fn element(&self, index: usize) -> &str {
        let Some(&end) = self.ends.get(index) else {
            return "";
        };
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.text[start..end]
    }

    /// How many elements follow the id.
    pub fn len(&self) -> usize {
        self.ends.len().saturating_sub(1)
    }

    /// Its size in bytes, as written.
    pub fn size(&self) -> usize {
        self.text.len() + self.ends.len()
    }

    /// Whether every character is ASCII.
    pub fn is_ascii(&self) -> bool {
        self.text.is_ascii()
    }

    /// Whether only the id is there.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the segment with `separators`, without trailing empty elements.
    pub fn write_to(&self, separators: &Separators, out: &mut dyn Write) -> io::Result<()> {
        let used = (1..self.ends.len())
            .rev()
            .find(|i| !self.element(*i).is_empty())
            .unwrap_or(0);
        out.write_all(self.id().as_bytes())?;
        for i in 1..=used {
            out.write_all(&[separators.element])?;
            out.write_all(self.element(i).as_bytes())?;
        }
        out.write_all(&[separators.segment])
    }
}

/// A problem with the file's X12 at `segment` (its number) on `line`.
pub fn broken(segment: u64, line: u64, element: &str, problem: String, fix: &str) -> FormatError {
    FormatError::data(DataProblem {
        line: Some(line),
        field: (!element.is_empty()).then(|| element.to_string()),
        problem: format!("segment {segment}: {problem}"),
        fix: fix.into(),
        ..DataProblem::default()
    })
}

/// The segments of an X12 input, in file order.
pub struct SegmentReader<'a> {
    input: Box<dyn BufRead + 'a>,
    /// Those of the interchange being read.
    separators: Option<Separators>,
    /// Segments read so far.
    number: u64,
    /// The line the reader is on.
    line: u64,
    raw: Vec<u8>,
}

impl<'a> SegmentReader<'a> {
    /// Segments of `input`.
    pub fn new(input: Box<dyn BufRead + 'a>) -> Self {
        SegmentReader {
            input,
            separators: None,
            number: 0,
            line: 1,
            raw: Vec::with_capacity(256),
        }
    }

    /// The separators of the interchange being read, once its ISA has been read.
    pub fn separators(&self) -> Option<Separators> {
        self.separators
    }

    /// The line being read.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Skips line breaks and spaces between segments; false at the end of the input.
    fn skip_blank(&mut self) -> io::Result<bool> {
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            let blank = buf
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
                .count();
            self.line += buf[..blank].iter().filter(|b| **b == b'\n').count() as u64;
            let more = blank < buf.len();
            self.input.consume(blank);
            if more {
                return Ok(true);
            }
        }
    }

    /// Reads into `raw` up to and including `terminator`, or to the end; at most `limit` bytes.
    /// Returns whether the terminator was found.
    fn read_until(&mut self, terminator: u8, limit: usize) -> io::Result<bool> {
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            let room = limit.saturating_sub(self.raw.len()).min(buf.len());
            match memchr::memchr(terminator, &buf[..room]) {
                Some(at) => {
                    self.raw.extend_from_slice(&buf[..=at]);
                    self.input.consume(at + 1);
                    return Ok(true);
                }
                None => {
                    self.raw.extend_from_slice(&buf[..room]);
                    self.input.consume(room);
                    if self.raw.len() >= limit {
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// Reads an ISA (the input is at its `I`), and takes its separators.
    fn read_isa(&mut self, number: u64, line: u64) -> Result<Segment, FormatError> {
        let fault = |problem: &str| {
            broken(
                number,
                line,
                "ISA",
                problem.to_string(),
                "the interchange header (ISA) must have 16 elements and end with the component separator and the segment terminator: export the file again, or ask the sender to check it.",
            )
        };
        self.raw.clear();
        // "ISA" and the element separator, then 16 elements each ended by a separator but the
        // last, which is the component separator followed by the segment terminator.
        self.read_exact_into(4)?;
        let Some(&element) = self.raw.get(3) else {
            return Err(fault("the ISA ends before its first element"));
        };
        let mut separators_seen = 1;
        while separators_seen < 16 {
            if !self.read_until(element, 256)? {
                return Err(fault("the ISA ends before its 16th element"));
            }
            separators_seen += 1;
        }
        self.read_exact_into(2)?;
        let n = self.raw.len();
        if n < 2 {
            return Err(fault("the ISA ends before its segment terminator"));
        }
        let (component, segment) = (self.raw[n - 2], self.raw[n - 1]);
        let mut separators = Separators {
            element,
            component,
            repetition: None,
            segment,
        };
        // Checked before the ISA is split: a separator that is not ASCII could cut a character.
        if let Some(problem) = separators.problem() {
            return Err(fault(&format!(
                "the ISA declares unusable separators: {problem}"
            )));
        }
        let text = decode(&self.raw[..n - 1]);
        let mut isa = split(&text, element, number, line);
        // Before version 00402, ISA11 is the standards identifier, `U`; from 00402 on it is the
        // repetition separator. Some writers put a separator there in 00401 files too: that is
        // read as no separator at all, but a blank or another letter is refused.
        let version: u32 = isa.element(12).trim().parse().unwrap_or(u32::MAX);
        if version < 402 {
            let tolerated = matches!(isa.element(11).as_bytes(), [b] if b.is_ascii_punctuation());
            if isa.element(11) != "U" && !tolerated {
                return Err(broken(
                    number,
                    line,
                    "ISA11",
                    format!(
                        "ISA11 must be U in version {}: there it is the standards identifier, not a separator.",
                        isa.element(12).trim()
                    ),
                    "ask the sender to write U in ISA11 (a repetition separator there belongs to version 00402 and later).",
                ));
            }
        } else if let [r] = isa.element(11).as_bytes()
            && !r.is_ascii_alphanumeric()
        {
            separators.repetition = Some(*r);
            if let Some(problem) = separators.problem() {
                return Err(fault(&format!(
                    "the ISA declares unusable separators: {problem}"
                )));
            }
        }
        // ISA16 is the component separator itself, not data to split.
        if isa.len() < 16 {
            return Err(fault("the ISA has fewer than 16 elements"));
        }
        isa.line = line;
        self.line += self.raw.iter().filter(|b| **b == b'\n').count() as u64;
        self.separators = Some(separators);
        Ok(isa)
    }

    /// Appends up to `n` more bytes to `raw` (fewer at the end of the input).
    fn read_exact_into(&mut self, n: usize) -> io::Result<()> {
        let mut left = n;
        while left > 0 {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let take = left.min(buf.len());
            self.raw.extend_from_slice(&buf[..take]);
            self.input.consume(take);
            left -= take;
        }
        Ok(())
    }

    /// Skips a UTF-8 byte-order mark at the start of the input (some EDI libraries and Windows
    /// editors write one before the ISA).
    fn skip_byte_order_mark(&mut self) -> io::Result<()> {
        if self.input.fill_buf()?.starts_with(BYTE_ORDER_MARK) {
            self.input.consume(BYTE_ORDER_MARK.len());
            tracing::debug!("skipped a UTF-8 byte-order mark before the interchange header");
        }
        Ok(())
    }

    /// The next segment; `None` at the end of the input.
    pub fn next_segment(&mut self) -> Result<Option<Segment>, FormatError> {
        if self.number == 0 {
            self.skip_byte_order_mark()?;
        }
        if !self.skip_blank()? {
            return Ok(None);
        }
        self.number += 1;
        let (number, line) = (self.number, self.line);
        if self.input.fill_buf()?.starts_with(b"ISA") {
            return self.read_isa(number, line).map(Some);
        }
        let Some(separators) = self.separators else {
            return Err(broken(
                number,
                line,
                "",
                "the file does not start with an interchange header (ISA).".into(),
                "send X12 files to this route: they begin with \"ISA\".",
            ));
        };
        self.raw.clear();
        let ended = self.read_until(separators.segment, MAX_SEGMENT_BYTES + 1)?;
        if self.raw.len() > MAX_SEGMENT_BYTES {
            return Err(broken(
                number,
                line,
                "",
                format!("a segment is longer than {} KiB.", MAX_SEGMENT_BYTES >> 10),
                "check that the file's segment terminator is the one its ISA declares.",
            ));
        }
        self.line += self.raw.iter().filter(|b| **b == b'\n').count() as u64;
        if ended {
            self.raw.pop();
        }
        if separators.segment == b'\n' && self.raw.last() == Some(&b'\r') {
            self.raw.pop();
        }
        let text = decode(&self.raw);
        let segment = split(&text, separators.element, number, line);
        if segment.ends.len() > MAX_ELEMENTS {
            return Err(broken(
                number,
                line,
                segment.id(),
                format!("the segment has more than {MAX_ELEMENTS} elements."),
                "check that the file's element separator is the one its ISA declares.",
            ));
        }
        Ok(Some(segment))
    }
}

/// Bytes as text: UTF-8 when valid, else Windows-1252.
fn decode(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

/// A segment's text split at `element`.
fn split(text: &str, element: u8, number: u64, line: u64) -> Segment {
    let text = text.trim_end_matches(['\r', '\n']);
    let mut ends: Vec<usize> = memchr::memchr_iter(element, text.as_bytes()).collect();
    ends.push(text.len());
    // The ends above are where separators are; drop the separators from the text.
    let mut clean = String::with_capacity(text.len());
    let mut start = 0;
    for end in ends.iter_mut() {
        clean.push_str(&text[start..*end]);
        start = *end + 1;
        *end = clean.len();
    }
    Segment {
        text: clean,
        ends,
        number,
        line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(input: &[u8]) -> Result<Vec<Segment>, FormatError> {
        let mut reader = SegmentReader::new(Box::new(input));
        let mut all = Vec::new();
        while let Some(segment) = reader.next_segment()? {
            all.push(segment);
        }
        Ok(all)
    }

    const ISA: &str = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *261122*0930*U*00401*000000007*0*P*>~";

    #[test]
    fn separators_come_from_the_isa_and_line_breaks_are_optional() {
        let text =
            format!("{ISA}\r\nGS*OW*S*R*20261122*0930*7*X*004010~ST*940*0001~W01*2*EA**VN*A>B~");
        let all = segments(text.as_bytes()).unwrap();
        let ids: Vec<&str> = all.iter().map(Segment::id).collect();
        assert_eq!(ids, ["ISA", "GS", "ST", "W01"]);
        assert_eq!(all[0].element(6), "SENDER         ");
        assert_eq!(all[0].element(16), ">");
        assert_eq!(all[3].element(5), "A>B");
        assert_eq!(all[3].element(3), "");
        assert_eq!(all[3].element(9), "");
        assert_eq!((all[1].number, all[1].line), (2, 2));
        assert_eq!((all[3].number, all[3].line), (4, 2));
    }

    #[test]
    fn a_byte_order_mark_before_the_isa_is_skipped() {
        let text = format!("\u{feff}  \r\n{ISA}\r\n  GS*OW*S*R~\r\n");
        let all = segments(text.as_bytes()).unwrap();
        assert_eq!(
            all.iter().map(Segment::id).collect::<Vec<_>>(),
            ["ISA", "GS"]
        );
        assert_eq!(all[0].element(6), "SENDER         ");
        assert_eq!((all[0].line, all[1].line), (2, 3));
    }

    #[test]
    fn isa11_before_00402_is_u_or_a_stray_separator_never_a_blank() {
        let caret = ISA.replace("*U*00401*", "*^*00401*");
        let all = segments(format!("{caret}GS*FA~").as_bytes()).unwrap();
        assert_eq!(all[0].element(11), "^");
        let blank = ISA.replace("*U*00401*", "* *00401*");
        let refused = segments(blank.as_bytes()).unwrap_err().to_string();
        assert!(
            refused.contains("ISA11 must be U in version 00401"),
            "{refused}"
        );
        let later = ISA.replace("*U*00401*", "*^*00501*");
        let all = segments(format!("{later}N1*ST*A^B~").as_bytes()).unwrap();
        assert_eq!(all[1].element(2), "A^B");
    }

    #[test]
    fn a_newline_terminator_and_pipe_and_caret_separators_read_too() {
        let isa = ISA.replace('*', "|").replace(">~", "^\n");
        let text = format!("{isa}GS|OW|S|R\r\nW01|2|EA^X\r\n");
        let all = segments(text.as_bytes()).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].element(2), "EA^X");
        assert_eq!(all[2].line, 3);
    }

    #[test]
    fn a_later_interchange_may_use_other_separators() {
        let second = ISA.replace('*', "|").replace('~', "!");
        let text = format!("{ISA}IEA*1*000000007~\n{second}IEA|1|000000007!");
        let all = segments(text.as_bytes()).unwrap();
        assert_eq!(
            all.iter().map(Segment::id).collect::<Vec<_>>(),
            ["ISA", "IEA", "ISA", "IEA"]
        );
        assert_eq!(all[3].element(2), "000000007");
    }

    #[test]
    fn a_separator_that_is_not_ascii_is_refused_before_it_can_cut_a_character() {
        // Found by the fuzzer: 0xA1 as the element separator split a decoded character.
        let mut isa = b"ISA".to_vec();
        isa.extend([0xa1; 20]);
        isa.extend(b"\xff\tAP~\nW03*3~");
        let refused = segments(&isa).unwrap_err().to_string();
        assert!(refused.contains("separator"), "{refused}");
    }

    #[test]
    fn what_is_not_x12_is_refused_with_its_segment() {
        let not_isa = segments(b"order_id,sku\n1,A\n").unwrap_err().to_string();
        assert!(
            not_isa.contains("segment 1") && not_isa.contains("ISA"),
            "{not_isa}"
        );
        let cut = segments(b"ISA").unwrap_err().to_string();
        assert!(cut.contains("first element"), "{cut}");
        let short = segments(b"ISA*00*x~").unwrap_err().to_string();
        assert!(short.contains("16th element"), "{short}");
        let letters = ISA.replace(">~", "A~");
        let bad = segments(letters.as_bytes()).unwrap_err().to_string();
        assert!(bad.contains("separator"), "{bad}");
        let long = format!("{ISA}N9*{}", "x".repeat(MAX_SEGMENT_BYTES + 10));
        let long = segments(long.as_bytes()).unwrap_err().to_string();
        assert!(
            long.contains("segment 2") && long.contains("64 KiB"),
            "{long}"
        );
    }

    #[test]
    fn segments_are_written_without_trailing_empty_elements() {
        let mut out = Vec::new();
        Segment::new("W66", &["PP", "M", "", "", "MTEN", "", ""])
            .write_to(&Separators::STANDARD, &mut out)
            .unwrap();
        assert_eq!(out, b"W66*PP*M***MTEN~");
        let latin = segments(format!("{ISA}N1*ST*Jos\u{e9}~").as_bytes()).unwrap();
        assert_eq!(latin[1].element(2), "José");
        let mut cp1252 = ISA.as_bytes().to_vec();
        cp1252.extend(b"N1*ST*Jos\xe9~");
        assert_eq!(segments(&cp1252).unwrap()[1].element(2), "José");
    }
}
