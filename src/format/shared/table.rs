//! CSV tables, shared by every CSV reader: decoding and delimiter detection (`text.rs`), the
//! header with names matched case-, space- and punctuation-insensitively, rows with their line
//! numbers and byte spans (to write rejected rows back out), and empty rows skipped.

use std::io::{self, BufRead, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;

use crate::format::shared::text::{self, Delimiter, Original, TextEncoding};
use crate::format::{DataProblem, FormatError, Items, ReaderFormat, Span};

/// How a CSV input's bytes look; every CSV reader takes these options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct CsvInput {
    /// `auto` (default), `utf-8`, `windows-1252` or `iso-8859-1`.
    #[serde(default)]
    pub encoding: TextEncoding,
    /// `auto` (default), `,`, `;`, `tab` or `|`.
    #[serde(default)]
    pub delimiter: Delimiter,
}

/// Longest row a CSV reader takes, in bytes of decoded text. A longer row is almost always a
/// quote that is never closed, and reading on would hold the rest of the file in memory.
pub const MAX_ROW_BYTES: u64 = 1 << 20;

/// A column name reduced to lower-case letters and digits: `Lineitem SKU`, `lineitem_sku` and
/// `LINEITEM-SKU` are the same column.
pub fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Where a [`Table`]'s rows come from: a CSV file, or rows made from another input (a mapped
/// CSV's projection, a mapped XML's elements).
pub trait RowSource {
    /// Reads the next row into `record`; `None` at the end. A row that cannot be read is an error
    /// with its line; reading may go on after it unless [`RowSource::broken`] says otherwise.
    fn next_row(&mut self, record: &mut csv::StringRecord) -> Option<Result<RowAt, FormatError>>;

    /// Where reading has got to: after the last row read (the end, once `next_row` gave `None`).
    fn position(&self) -> u64;

    /// A row could not be read in a way that leaves nothing after it readable.
    fn broken(&self) -> bool;
}

/// Where a row starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowAt {
    /// Its first line (1-based).
    pub line: u64,
    /// Its first byte, in the source's decoded text.
    pub start: u64,
}

/// An open table positioned after its header.
pub struct Table<'a> {
    rows: Box<dyn RowSource + 'a>,
    record: csv::StringRecord,
    at: RowAt,
    header: Vec<String>,
    names: Vec<String>,
    header_span: Span,
}

impl<'a> Table<'a> {
    /// Decodes CSV `input` and reads its header (the first non-empty line).
    pub fn open(
        input: Box<dyn BufRead + 'a>,
        options: &CsvInput,
    ) -> Result<Table<'a>, FormatError> {
        let decoded = text::decode(input, options.encoding)?;
        let delimiter = options.delimiter.resolve(decoded.sniffed_delimiter);
        let row_start = Arc::new(AtomicU64::new(0));
        // Rows end at `\n` only: with the default CRLF handling the csv crate ends a row at its `\r`
        // and counts the `\n` into the next one, which puts that row's line number one too low.
        // A CRLF row's last field keeps the `\r`, which `get` trims.
        let csv = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .delimiter(delimiter)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(RowLimit {
                text: decoded.text,
                read: 0,
                row_start: Arc::clone(&row_start),
            });
        let mut table = Table::from_rows(Box::new(CsvRows {
            csv,
            row_start,
            broken: false,
            original: decoded.original,
            delimiter,
            header_fields: None,
        }));
        if !table.next_row().transpose()?.unwrap_or(false) {
            return Err(FormatError::data(DataProblem::whole_file(
                "the file is empty.",
                "export the file again: it needs a header line and at least one row.",
            )));
        }
        let names: Vec<String> = table
            .record
            .iter()
            .map(|n| n.trim_start_matches('\u{feff}').trim().to_string())
            .collect();
        let end = table.position();
        Ok(table.with_header(
            names,
            Span {
                start: 0,
                end,
                line: 1,
            },
        ))
    }

    /// A table of the rows `rows` makes, before its header is set.
    fn from_rows(rows: Box<dyn RowSource + 'a>) -> Table<'a> {
        Table {
            rows,
            record: csv::StringRecord::new(),
            at: RowAt::default(),
            header: Vec::new(),
            names: Vec::new(),
            header_span: Span::default(),
        }
    }

    /// A table of the rows `rows` makes under the column `names`; `header_span` is what comes
    /// before the first row.
    pub fn of_rows(rows: Box<dyn RowSource + 'a>, names: Vec<String>, header_span: Span) -> Self {
        Table::from_rows(rows).with_header(names, header_span)
    }

    fn with_header(mut self, names: Vec<String>, header_span: Span) -> Self {
        self.header = names.iter().map(|n| normalise(n)).collect();
        self.names = names;
        self.header_span = header_span;
        self
    }

    /// The index of the first column with one of these names (any spelling; see [`normalise`]).
    pub fn column(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|name| {
            let wanted = normalise(name);
            self.header.iter().position(|h| *h == wanted)
        })
    }

    /// The header's names, normalised (see [`normalise`]).
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The name of column `index` as the header writes it.
    pub fn name(&self, index: usize) -> &str {
        self.names.get(index).map_or("", String::as_str)
    }

    /// The header line's bytes and everything before the first row.
    pub fn header_span(&self) -> Span {
        self.header_span
    }

    /// Reads the next row (a CSV file's rows without content are skipped). `Some(Ok(true))`: a
    /// row; `None`: the end.
    /// A row that cannot be read is an error with its line; reading may go on after it unless
    /// [`Table::broken`] says otherwise.
    pub fn next_row(&mut self) -> Option<Result<bool, FormatError>> {
        match self.rows.next_row(&mut self.record)? {
            Ok(at) => {
                self.at = at;
                Some(Ok(true))
            }
            Err(e) => Some(Err(e)),
        }
    }

    /// A row could not be read in a way that leaves nothing after it readable.
    pub fn broken(&self) -> bool {
        self.rows.broken()
    }

    /// The trimmed text of a column of the current row; empty when absent.
    pub fn get(&self, column: Option<usize>) -> &str {
        column
            .and_then(|i| self.record.get(i))
            .map_or("", str::trim)
    }

    /// The current row's first line (1-based).
    pub fn line(&self) -> u64 {
        self.at.line
    }

    /// Where the current row starts, in bytes of decoded text.
    pub fn row_start(&self) -> u64 {
        self.at.start
    }

    /// Where reading has got to: after the last row read (the end, once `next_row` gave `None`).
    pub fn position(&self) -> u64 {
        self.rows.position()
    }
}

/// The rows of a CSV file.
struct CsvRows<'a> {
    csv: csv::Reader<RowLimit<'a>>,
    /// Where the row being read starts, shared with the [`RowLimit`] under `csv`.
    row_start: Arc<AtomicU64>,
    /// A row was too long, or rows are whole lines in one cell: nothing after it can be read.
    broken: bool,
    original: Original,
    delimiter: u8,
    /// How many fields the header (the first row) has, once read.
    header_fields: Option<usize>,
}

impl CsvRows<'_> {
    /// The problem of a file whose row is one cell holding what looks like the whole row (a
    /// spreadsheet that put each line into one cell, then saved it quoted), said once for the
    /// file: every row after it would be wrong the same way.
    fn one_cell_rows(&self, record: &csv::StringRecord, line: u64) -> Option<DataProblem> {
        let header = self.header_fields?;
        let whole_line_in_one_cell =
            header >= 3 && record.len() == 1 && record[0].as_bytes().contains(&self.delimiter);
        whole_line_in_one_cell.then(|| DataProblem {
            line: Some(line),
            problem: format!(
                "row {line} has 1 field, the header has {header}: the file looks re-saved by a spreadsheet with each row in one cell, so none of its rows can be read."
            ),
            fix: "send the file as the cart exported it; or, in the spreadsheet, split the column (Data → Text to Columns, by comma) before saving as CSV.".into(),
            ..DataProblem::default()
        })
    }
}

impl RowSource for CsvRows<'_> {
    /// Skips rows without content (trailing empty rows, rows of delimiters only).
    fn next_row(&mut self, record: &mut csv::StringRecord) -> Option<Result<RowAt, FormatError>> {
        if self.broken {
            return None;
        }
        loop {
            let before = self.csv.position().clone();
            self.row_start.store(before.byte(), Ordering::Relaxed);
            match self.csv.read_record(record) {
                Ok(false) => return None,
                Ok(true) if record.iter().all(|f| f.trim().is_empty()) => continue,
                Ok(true) => {
                    let at = record.position().map_or_else(RowAt::default, |p| RowAt {
                        line: p.line(),
                        start: p.byte(),
                    });
                    if let Some(problem) = self.one_cell_rows(record, at.line) {
                        self.broken = true;
                        return Some(Err(FormatError::data(problem)));
                    }
                    self.header_fields.get_or_insert(record.len());
                    return Some(Ok(at));
                }
                Err(e) if RowLimit::stopped(&e) => {
                    self.broken = true;
                    return Some(Err(FormatError::data(DataProblem {
                        line: Some(before.line()),
                        problem: format!(
                            "the row starting on this line is longer than {} MiB, so the rest of the file cannot be read.",
                            MAX_ROW_BYTES >> 20
                        ),
                        fix: "look for a quote that opens a field on this line and is never closed; close it, or remove it, and drop the file back in.".into(),
                        ..DataProblem::default()
                    })));
                }
                Err(e) => return Some(Err(csv_error(e, self.original))),
            }
        }
    }

    fn position(&self) -> u64 {
        self.csv.position().byte()
    }

    fn broken(&self) -> bool {
        self.broken
    }
}

/// The decoded text under a [`Table`]'s CSV reader, failing once the row being read passes
/// [`MAX_ROW_BYTES`] (the CSV reader would otherwise grow its record without end).
struct RowLimit<'a> {
    text: Box<dyn BufRead + 'a>,
    /// Bytes handed to the CSV reader so far.
    read: u64,
    /// Where the row being read starts, set by the [`Table`].
    row_start: Arc<AtomicU64>,
}

/// The error a [`RowLimit`] stops with.
#[derive(Debug, thiserror::Error)]
#[error("a CSV row is longer than the limit")]
struct RowTooLong;

impl RowLimit<'_> {
    /// Whether `e` is this limit stopping a row.
    fn stopped(e: &csv::Error) -> bool {
        matches!(e.kind(), csv::ErrorKind::Io(io) if io.get_ref().is_some_and(|inner| inner.is::<RowTooLong>()))
    }
}

impl Read for RowLimit<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self
            .read
            .saturating_sub(self.row_start.load(Ordering::Relaxed))
            > MAX_ROW_BYTES
        {
            return Err(io::Error::new(io::ErrorKind::InvalidData, RowTooLong));
        }
        let n = self.text.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// A CSV reading error as a problem the merchant can act on.
fn csv_error(e: csv::Error, original: Original) -> FormatError {
    let line = e.position().map(|p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(io) => FormatError::Io(io),
        csv::ErrorKind::Utf8 { .. } => FormatError::data(DataProblem {
            line,
            problem: format!(
                "this line is not valid {} text.",
                original.encoding.name()
            ),
            fix: "save the file as UTF-8 (in Excel: \"CSV UTF-8\"), or set the route's reader_options.encoding to the file's encoding, such as \"windows-1252\".".into(),
            ..DataProblem::default()
        }),
        other => FormatError::data(DataProblem {
            line,
            problem: format!("the CSV structure is broken ({other:?})."),
            fix: "check the quotes on this line: a quoted field must end with a quote.".into(),
            ..DataProblem::default()
        }),
    }
}

/// Nothing when the header lacks no required column; otherwise the problem of a header lacking
/// the `missing` ones, said as `the header lacks the column(s) …{so}.`, with its `fix`.
pub fn require_columns(missing: &[&str], so: &str, fix: String) -> Result<(), FormatError> {
    if missing.is_empty() {
        return Ok(());
    }
    Err(FormatError::data(DataProblem {
        line: Some(1),
        problem: format!(
            "the header lacks the {} {}{so}.",
            if missing.len() == 1 {
                "column"
            } else {
                "columns"
            },
            missing.join(", ")
        ),
        fix,
        ..DataProblem::default()
    }))
}

/// What every CSV reader is: it says how its files' bytes are decoded and split into cells
/// ([`CsvReader::csv_input`]) and reads them ([`CsvReader::read_csv`]); being a
/// [`ReaderFormat`] that splits files (copying the rows of rejected documents back out in the
/// input's own encoding) comes with it.
pub trait CsvReader: Send + Sync {
    /// How the reader decodes its files and splits them into cells.
    fn csv_input(&self) -> &CsvInput;

    /// Starts reading `input`; items come out one at a time, in file order.
    fn read_csv<'a>(&self, input: Box<dyn BufRead + 'a>) -> Items<'a>;
}

impl<R: CsvReader> ReaderFormat for R {
    fn read<'a>(&self, input: Box<dyn BufRead + 'a>) -> Items<'a> {
        self.read_csv(input)
    }

    fn copy_rows(
        &self,
        input: Box<dyn BufRead + '_>,
        header: Span,
        spans: &[Span],
        output: &mut dyn io::Write,
    ) -> io::Result<Vec<u64>> {
        copy_rows(input, self.csv_input(), header, spans, output)
    }
}

/// Copies the header and the rows in `spans` (sorted, from the same input) into `output`, in the
/// input's original encoding. Returns, for each span, the line it starts on in `output`.
pub fn copy_rows(
    input: Box<dyn BufRead + '_>,
    options: &CsvInput,
    header: Span,
    spans: &[Span],
    output: &mut dyn io::Write,
) -> io::Result<Vec<u64>> {
    let decoded = text::decode(input, options.encoding)?;
    let mut copier = RowCopier {
        text: decoded.text,
        original: decoded.original,
        output,
        at: 0,
        lines: 1,
        first: true,
    };
    copier.copy(header)?;
    spans
        .iter()
        .map(|span| {
            let line = copier.lines;
            copier.copy(*span).map(|()| line)
        })
        .collect()
}

/// Copies spans of decoded text in order, counting the lines written.
struct RowCopier<'a, 'o> {
    text: Box<dyn BufRead + 'a>,
    original: Original,
    output: &'o mut dyn io::Write,
    /// Bytes of decoded text read so far.
    at: u64,
    /// The line the next span starts on in the output.
    lines: u64,
    /// Nothing written yet (the BOM goes first).
    first: bool,
}

impl RowCopier<'_, '_> {
    fn copy(&mut self, span: Span) -> io::Result<()> {
        let gap = span.start.saturating_sub(self.at);
        self.at += io::copy(&mut (&mut self.text).take(gap), &mut io::sink())?;
        let mut chunk = Vec::new();
        (&mut self.text)
            .take(span.end.saturating_sub(self.at))
            .read_to_end(&mut chunk)?;
        self.at += chunk.len() as u64;
        let mut chunk = String::from_utf8(chunk).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "the file changed while its rows were copied",
            )
        })?;
        if !chunk.ends_with('\n') {
            chunk.push('\n');
        }
        self.lines += chunk.matches('\n').count() as u64;
        self.original.encode_into(&chunk, self.first, self.output)?;
        self.first = false;
        Ok(())
    }
}

/// A CSV writing error as the I/O error it is (the writers write only valid records).
pub(crate) fn csv_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => io::Error::other(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row's start, then where reading ended.
    fn row_boundaries(t: &mut Table<'_>) -> Vec<u64> {
        let mut starts = Vec::new();
        while t.next_row().is_some() {
            starts.push(t.row_start());
        }
        starts.push(t.position());
        starts
    }

    #[test]
    fn names_match_whatever_the_case_spaces_or_punctuation() {
        assert_eq!(normalise("\u{feff}Lineitem SKU"), "lineitemsku");
        assert_eq!(normalise("lineitem_sku"), normalise(" LINEITEM-SKU "));
    }

    #[test]
    fn rows_carry_lines_and_spans_and_blank_rows_are_skipped() {
        let input = "a;b\r\n1;\"x\ny\"\r\n;\r\n\r\n2;z\r\n";
        let mut t = Table::open(Box::new(input.as_bytes()), &CsvInput::default()).unwrap();
        assert_eq!(t.column(&["B"]), Some(1));
        assert_eq!(
            t.header_span(),
            Span {
                start: 0,
                end: 5,
                line: 1
            }
        );
        assert!(t.next_row().unwrap().unwrap());
        assert_eq!((t.line(), t.row_start(), t.get(Some(1))), (2, 5, "x\ny"));
        assert!(t.next_row().unwrap().unwrap());
        assert_eq!((t.line(), t.get(Some(0))), (6, "2"));
        assert!(t.next_row().is_none());
        assert_eq!(t.position(), input.len() as u64);
    }

    #[test]
    fn rows_are_copied_back_in_their_own_encoding() {
        let input = b"\xef\xbb\xbfid,name\n1,Ana\n2,Jos\xc3\xa9\n3,Li\n".to_vec();
        let mut t = Table::open(Box::new(&input[..]), &CsvInput::default()).unwrap();
        let spans = row_boundaries(&mut t);
        let row = |i: usize, end| Span {
            start: spans[i],
            end,
            line: 0,
        };
        let mut out = Vec::new();
        let starts = copy_rows(
            Box::new(&input[..]),
            &CsvInput::default(),
            t.header_span(),
            &[row(1, spans[2])],
            &mut out,
        )
        .unwrap();
        assert_eq!(out, b"\xef\xbb\xbfid,name\n2,Jos\xc3\xa9\n");
        assert_eq!(starts, [2]);

        let crlf = b"id,name\r\n1,a\r\n2,\"b\r\nc\"\r\n3,d".to_vec();
        let mut t = Table::open(Box::new(&crlf[..]), &CsvInput::default()).unwrap();
        let starts = row_boundaries(&mut t);
        let spans = [
            Span {
                start: starts[1],
                end: starts[2],
                line: 3,
            },
            Span {
                start: starts[2],
                end: starts[3],
                line: 5,
            },
        ];
        let mut out = Vec::new();
        let lines = copy_rows(
            Box::new(&crlf[..]),
            &CsvInput::default(),
            t.header_span(),
            &spans,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,name\r\n2,\"b\r\nc\"\r\n3,d\n"
        );
        assert_eq!(lines, [2, 4]);
    }
}
