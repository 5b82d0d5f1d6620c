//! CSV readers whose documents span adjacent rows sharing a key (an order and its lines): the
//! row loop, grouping, rows without a key, unreadable rows and each document's span. A
//! [`RowDialect`] maps its columns and fills its document; this file does the rest.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::BufRead;

use crate::format::shared::table::{CsvInput, Table};
use crate::format::{DataProblem, FormatError, Item, Span};

/// Opens the [`Table`] a [`GroupedRows`] reads.
pub type Opener<'a> = Box<dyn FnOnce(Box<dyn BufRead + 'a>) -> Result<Table<'a>, FormatError> + 'a>;

/// Most bytes of rows one document may span. Past it the document is rejected (a real order is
/// far smaller; an endless run of rows with one key would otherwise be held in memory).
pub const MAX_DOCUMENT_BYTES: u64 = 16 << 20;

/// A document being read, row by row.
pub struct Pending<T> {
    /// Its rows passed [`MAX_DOCUMENT_BYTES`]; later rows are counted into its span only.
    oversized: bool,
    /// The document so far.
    pub doc: T,
    /// The key its rows share; empty for rows that belong to no document.
    pub key: String,
    problems: Vec<DataProblem>,
    warnings: Vec<DataProblem>,
    first_line: u64,
    item_lines: Vec<u64>,
    start: u64,
}

impl<T: Default> Pending<T> {
    /// Starts a document keyed `key` whose first row is on `line`, starting at byte `start`.
    pub fn new(key: String, line: u64, start: u64) -> Pending<T> {
        Pending {
            oversized: false,
            doc: T::default(),
            key,
            problems: Vec::new(),
            warnings: Vec::new(),
            first_line: line,
            item_lines: Vec::new(),
            start,
        }
    }
}

impl<T> Pending<T> {
    /// Notes a problem found on `line` in `column` (empty: no column).
    pub fn problem(&mut self, line: u64, column: &str, value: &str, problem: &str, fix: &str) {
        self.problems.push(DataProblem {
            line: Some(line),
            field: (!column.is_empty()).then(|| column.to_string()),
            document_id: (!self.key.is_empty()).then(|| self.key.clone()),
            value: (!value.is_empty()).then(|| value.to_string()),
            problem: problem.to_string(),
            fix: fix.to_string(),
            ..DataProblem::default()
        });
    }

    /// Notes a value on `line` in `column` that the document is kept without: a warning, not a
    /// problem.
    pub fn warn(&mut self, line: u64, column: &str, value: &str, problem: &str, fix: &str) {
        self.warnings.push(DataProblem {
            line: Some(line),
            field: (!column.is_empty()).then(|| column.to_string()),
            document_id: (!self.key.is_empty()).then(|| self.key.clone()),
            value: (!value.is_empty()).then(|| value.to_string()),
            problem: problem.to_string(),
            fix: fix.to_string(),
            ..DataProblem::default()
        });
    }

    /// Notes a problem already phrased (such as an unreadable row).
    pub fn push(&mut self, mut problem: DataProblem) {
        if problem.document_id.is_none() && !self.key.is_empty() {
            problem.document_id = Some(self.key.clone());
        }
        self.problems.push(problem);
    }

    /// True when a problem was noted in `column` on `line`.
    pub fn has_problem(&self, line: u64, column: &str) -> bool {
        self.problems
            .iter()
            .any(|p| p.line == Some(line) && p.field.as_deref() == Some(column))
    }

    /// The same rows and problems, with the document turned into another type.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Pending<U> {
        Pending {
            oversized: self.oversized,
            doc: f(self.doc),
            key: self.key,
            problems: self.problems,
            warnings: self.warnings,
            first_line: self.first_line,
            item_lines: self.item_lines,
            start: self.start,
        }
    }

    /// The line of the document's first row.
    pub fn first_line(&self) -> u64 {
        self.first_line
    }

    /// Records that the document's next item (order line, shipped SKU …) came from `line`.
    pub fn item_from(&mut self, line: u64) {
        self.item_lines.push(line);
    }

    /// The line the document's `index`-th item came from (its first line when unknown).
    pub fn item_line(&self, index: usize) -> u64 {
        self.item_lines
            .get(index)
            .copied()
            .unwrap_or(self.first_line)
    }

    /// The rows read, ending at byte `end`.
    pub fn span(&self, end: u64) -> Span {
        Span {
            start: self.start,
            end,
            line: self.first_line,
        }
    }

    /// The document when no problem was noted, else its problems; with its rows up to `end`.
    pub fn into_item(self, end: u64, document: impl FnOnce(T) -> crate::format::Document) -> Item {
        let span = Some(self.span(end));
        if self.problems.is_empty() {
            Item::Document(document(self.doc), span)
        } else {
            Item::Rejected(self.problems, span)
        }
    }

    /// Rows that make no document, with their problems, up to `end`.
    pub fn reject(self, end: u64) -> Item {
        let span = Some(self.span(end));
        Item::Rejected(self.problems, span)
    }
}

/// How one CSV dialect reads its rows into documents.
pub trait RowDialect {
    /// The document the rows build.
    type Doc: Default;

    /// Maps the header's columns; an error (the file cannot be read) when required ones lack.
    fn open(&mut self, table: &Table<'_>) -> Result<(), FormatError>;

    /// The current row's key: the id of the document it belongs to. Empty: none.
    fn key<'t>(&self, table: &'t Table<'_>) -> Cow<'t, str>;

    /// False when every row is a document of its own, whatever its key.
    fn groups_rows(&self) -> bool {
        true
    }

    /// The problem of a row without a key: its column, what is wrong, the fix.
    fn keyless(&self) -> [&'static str; 3];

    /// Reads the current row into its document: the document's first row (`first`) or a later one.
    fn add_row(&self, table: &Table<'_>, pending: &mut Pending<Self::Doc>, first: bool);

    /// Ends a document whose rows end at byte `end`: checks it and gives the item.
    fn finish(&self, pending: Pending<Self::Doc>, end: u64) -> Item;
}

/// The items of a CSV file read with a [`RowDialect`].
pub struct GroupedRows<'a, D: RowDialect> {
    /// The input, until the table is opened on the first call.
    input: Option<(Box<dyn BufRead + 'a>, Opener<'a>)>,
    dialect: D,
    table: Option<Table<'a>>,
    current: Option<Pending<D::Doc>>,
    ready: VecDeque<Result<Item, FormatError>>,
}

impl<'a, D: RowDialect> GroupedRows<'a, D> {
    /// Reads `input` (bytes as `options` say) with `dialect`.
    pub fn new(input: Box<dyn BufRead + 'a>, options: CsvInput, dialect: D) -> Self {
        let opener: Opener<'a> = Box::new(move |input| Table::open(input, &options));
        GroupedRows::with_opener(input, opener, dialect)
    }

    /// Reads the table `opener` makes of `input` (a mapped format's rows, say).
    pub fn with_opener(input: Box<dyn BufRead + 'a>, opener: Opener<'a>, dialect: D) -> Self {
        GroupedRows {
            input: Some((input, opener)),
            dialect,
            table: None,
            current: None,
            ready: VecDeque::new(),
        }
    }

    fn open(
        &mut self,
        input: Box<dyn BufRead + 'a>,
        opener: Opener<'a>,
    ) -> Result<Item, FormatError> {
        let table = opener(input)?;
        self.dialect.open(&table)?;
        let header = table.header_span();
        self.table = Some(table);
        Ok(Item::Header(header))
    }

    /// Ends the pending document (or keyless rows) at byte `end`.
    fn flush(&mut self, end: u64) {
        if let Some(mut p) = self.current.take() {
            let warnings = std::mem::take(&mut p.warnings);
            let item = if p.key.is_empty() {
                p.reject(end)
            } else {
                self.dialect.finish(p, end)
            };
            match item {
                // A rejected document's report lists its warnings among its problems.
                Item::Rejected(mut problems, span) => {
                    problems.extend(warnings);
                    self.ready.push_back(Ok(Item::Rejected(problems, span)));
                }
                item => {
                    self.ready
                        .extend(warnings.into_iter().map(|w| Ok(Item::Warning(w))));
                    self.ready.push_back(Ok(item));
                }
            }
        }
    }

    /// Handles one data row: starts or extends the pending document.
    fn take_row(&mut self) {
        let Some(table) = self.table.as_ref() else {
            return;
        };
        let (line, start) = (table.line(), table.row_start());
        let key = self.dialect.key(table);
        let continues = self.dialect.groups_rows()
            && self
                .current
                .as_ref()
                .is_some_and(|p| !key.is_empty() && p.key == key);
        if continues {
            if let Some(p) = self.current.as_mut() {
                if start - p.start <= MAX_DOCUMENT_BYTES {
                    self.dialect.add_row(table, p, false);
                } else if !p.oversized {
                    p.oversized = true;
                    let problem = format!(
                        "this document's rows pass {} MiB from line {}; it is too big to take.",
                        MAX_DOCUMENT_BYTES >> 20,
                        p.first_line
                    );
                    p.problem(line, "", "", &problem, "check that its rows really belong to one document (the same key on every row), and split it into smaller ones.");
                }
            }
            return;
        }
        let keyless = key.is_empty();
        let mut pending = Pending::new(key.into_owned(), line, start);
        if keyless {
            let [column, problem, fix] = self.dialect.keyless();
            pending.problem(line, column, "", problem, fix);
        } else {
            self.dialect.add_row(table, &mut pending, true);
        }
        self.flush(start);
        self.current = Some(pending);
    }
}

impl<D: RowDialect> Iterator for GroupedRows<'_, D> {
    type Item = Result<Item, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some((input, opener)) = self.input.take() {
            return Some(self.open(input, opener));
        }
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            let table = self.table.as_mut()?;
            let before = table.position();
            match table.next_row() {
                None => {
                    let end = table.position();
                    self.flush(end);
                    self.table = None;
                }
                Some(Ok(_)) => self.take_row(),
                Some(Err(FormatError::Data(problem))) if !table.broken() => {
                    // An unreadable row: part of the document before it, or rows of their own.
                    let line = problem.line.unwrap_or(0);
                    self.current
                        .get_or_insert_with(|| Pending::new(String::new(), line, before))
                        .push(*problem);
                }
                Some(Err(e)) => {
                    self.table = None;
                    return Some(Err(e));
                }
            }
        }
    }
}
