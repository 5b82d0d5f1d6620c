//! The canonical CSV formats of the document kinds other than orders, from one description per
//! kind (a [`Layout`]): document-level columns repeated on every row of a document, and lists
//! (packages, lines) whose items take one row each, zipped side by side when a document has
//! several lists. Rows of one document are adjacent and share its key columns. Headers are matched
//! case- and space-insensitively; extra columns are ignored.

use std::borrow::Cow;
use std::io::{self, BufRead, Write};

use crate::format::shared::grouped::{GroupedRows, Opener, Pending, RowDialect};
use crate::format::shared::table::{self, CsvInput, CsvReader, Table};
use crate::format::{
    DataProblem, DocumentWriter, FormatError, FormatProblem, Item, Items, NoOptions, Options,
    WriterFormat, parse_options,
};
use crate::model::{Document, DocumentKind};

/// What is wrong with a cell, and how to fix it.
pub type Bad = (&'static str, &'static str);

/// A document-level column.
pub struct Field<D> {
    /// The column name.
    pub name: &'static str,
    /// The document is incomplete without a value.
    pub required: bool,
    /// The cell text for a document.
    pub get: fn(&D) -> String,
    /// Stores a (non-empty, trimmed) cell into the document.
    pub set: fn(&mut D, &str) -> Result<(), Bad>,
}

/// A column of a list's items.
pub struct ItemField<D> {
    /// The column name.
    pub name: &'static str,
    /// An item is incomplete without a value.
    pub required: bool,
    /// The cell text for item `index`.
    pub get: fn(&D, usize) -> String,
    /// Stores a (non-empty, trimmed) cell into item `index`.
    pub set: fn(&mut D, usize, &str) -> Result<(), Bad>,
}

/// A list of items in a document (packages, lines), one row per item.
pub struct List<D: 'static> {
    /// What an item is called in messages (`line`, `package`).
    pub noun: &'static str,
    /// Fewest items a document may have.
    pub min: usize,
    /// How many items the document has.
    pub len: fn(&D) -> usize,
    /// Appends an empty item.
    pub push: fn(&mut D),
    /// The item's columns.
    pub fields: &'static [ItemField<D>],
}

/// How one document kind is laid out as canonical CSV.
pub struct Layout<D: 'static> {
    /// The format's name in configs.
    pub name: &'static str,
    /// The kind of document.
    pub kind: DocumentKind,
    /// The document-level columns that together identify a document. Empty: every row is a
    /// document of its own, identified by its first column.
    pub keys: &'static [&'static str],
    /// The document-level columns.
    pub head: &'static [Field<D>],
    /// The lists.
    pub lists: &'static [List<D>],
    /// Makes a document of it.
    pub wrap: fn(D) -> Document,
    /// The value, when the document is of this kind.
    pub unwrap: fn(&Document) -> Option<&D>,
}

impl<D> Layout<D> {
    /// Every column name, in the order the writer emits them.
    pub fn columns(&self) -> Vec<&'static str> {
        self.head
            .iter()
            .map(|f| f.name)
            .chain(
                self.lists
                    .iter()
                    .flat_map(|l| l.fields.iter().map(|f| f.name)),
            )
            .collect()
    }

    /// The columns without which no document can be read: required document-level ones, and
    /// required item columns of lists a document must have.
    pub fn required_columns(&self) -> Vec<&'static str> {
        self.head
            .iter()
            .map(|f| (f.name, f.required))
            .chain(
                self.lists
                    .iter()
                    .flat_map(|l| l.fields.iter().map(|f| (f.name, f.required && l.min > 0))),
            )
            .filter(|(_, required)| *required)
            .map(|(name, _)| name)
            .collect()
    }
}

/// The documents of the table `opener` makes of `input`, whose columns are named as `layout`'s.
pub fn read_table<'a, D: Default + Send + Sync + 'static>(
    layout: &'static Layout<D>,
    input: Box<dyn BufRead + 'a>,
    opener: Opener<'a>,
) -> Items<'a> {
    Box::new(GroupedRows::with_opener(
        input,
        opener,
        LayoutRows {
            layout,
            index: vec![None; layout.columns().len()],
        },
    ))
}

/// A canonical CSV format, reader and writer, for the kind its layout describes.
pub struct CanonicalCsv<D: 'static> {
    layout: &'static Layout<D>,
    input: CsvInput,
}

impl<D: Default + 'static> CanonicalCsv<D> {
    /// The reader, with a route's `reader_options` (`encoding`, `delimiter`).
    pub fn reader(
        layout: &'static Layout<D>,
        options: &Options,
    ) -> Result<CanonicalCsv<D>, Vec<FormatProblem>> {
        Ok(CanonicalCsv {
            layout,
            input: parse_options(options, "reader_options")?,
        })
    }

    /// The writer, with a route's `writer_options` (none).
    pub fn writer(
        layout: &'static Layout<D>,
        options: &Options,
    ) -> Result<CanonicalCsv<D>, Vec<FormatProblem>> {
        parse_options::<NoOptions>(options, "writer_options")?;
        Ok(CanonicalCsv {
            layout,
            input: CsvInput::default(),
        })
    }
}

impl<D: Default + Send + Sync + 'static> CsvReader for CanonicalCsv<D> {
    fn csv_input(&self) -> &CsvInput {
        &self.input
    }

    fn read_csv<'a>(&self, input: Box<dyn BufRead + 'a>) -> Items<'a> {
        let options = self.input;
        read_table(
            self.layout,
            input,
            Box::new(move |input| Table::open(input, &options)),
        )
    }
}

impl<D: Send + Sync + 'static> WriterFormat for CanonicalCsv<D> {
    fn accepts(&self) -> &'static [DocumentKind] {
        std::slice::from_ref(&self.layout.kind)
    }

    fn begin<'a>(
        &self,
        output: Box<dyn Write + 'a>,
        _context: &crate::format::WriteContext,
    ) -> Box<dyn DocumentWriter + 'a> {
        Box::new(LayoutWriter {
            layout: self.layout,
            csv: csv::WriterBuilder::new().from_writer(output),
            header_written: false,
            row: Vec::new(),
        })
    }
}

/// A document being read, with its first row's document-level cells.
#[derive(Default)]
struct Reading<D> {
    doc: D,
    first_row: Vec<String>,
}

/// The rows of a canonical CSV, read by its layout.
struct LayoutRows<D: 'static> {
    layout: &'static Layout<D>,
    /// Column index per column of [`Layout::columns`].
    index: Vec<Option<usize>>,
}

impl<D: Default> LayoutRows<D> {
    fn cell<'t>(&self, table: &'t Table<'_>, column: usize) -> &'t str {
        table.get(self.index[column])
    }

    /// The columns of each list, as (list, first column index).
    fn list_columns(&self) -> impl Iterator<Item = (&'static List<D>, usize)> {
        let mut at = self.layout.head.len();
        self.layout.lists.iter().map(move |list| {
            let first = at;
            at += list.fields.len();
            (list, first)
        })
    }

    fn start(&self, t: &Table<'_>, pending: &mut Pending<Reading<D>>) {
        let line = t.line();
        for (i, field) in self.layout.head.iter().enumerate() {
            let value = self.cell(t, i);
            pending.doc.first_row.push(value.to_string());
            if value.is_empty() {
                if field.required {
                    pending.problem(
                        line,
                        field.name,
                        "",
                        &format!("the {} is empty.", field.name.replace('_', " ")),
                        &format!("fill in the {} on the document's first row.", field.name),
                    );
                }
                continue;
            }
            if let Err((problem, fix)) = (field.set)(&mut pending.doc.doc, value) {
                pending.problem(line, field.name, value, problem, fix);
            }
        }
    }

    /// Later rows may leave document-level columns empty or repeat them; not contradict them.
    fn check_consistent(&self, t: &Table<'_>, pending: &mut Pending<Reading<D>>) {
        for (i, field) in self.layout.head.iter().enumerate() {
            let value = self.cell(t, i);
            if !value.is_empty() && value != pending.doc.first_row[i] {
                pending.problem(
                    t.line(),
                    field.name,
                    value,
                    "this row disagrees with the document's first row.",
                    "give every row of a document the same document-level values, or leave them empty after the first row.",
                );
            }
        }
    }

    fn add_items(&self, t: &Table<'_>, pending: &mut Pending<Reading<D>>) {
        let line = t.line();
        for (list, first) in self.list_columns() {
            let cells: Vec<&str> = (0..list.fields.len())
                .map(|i| self.cell(t, first + i))
                .collect();
            if cells.iter().all(|c| c.is_empty()) {
                continue;
            }
            (list.push)(&mut pending.doc.doc);
            let item = (list.len)(&pending.doc.doc) - 1;
            for (field, value) in list.fields.iter().zip(cells) {
                if value.is_empty() {
                    if field.required {
                        pending.problem(
                            line,
                            field.name,
                            "",
                            &format!(
                                "the {}'s {} is empty.",
                                list.noun,
                                field.name.replace('_', " ")
                            ),
                            &format!("fill in the {} of every {}.", field.name, list.noun),
                        );
                    }
                    continue;
                }
                if let Err((problem, fix)) = (field.set)(&mut pending.doc.doc, item, value) {
                    pending.problem(line, field.name, value, problem, fix);
                }
            }
        }
    }
}

impl<D: Default> RowDialect for LayoutRows<D> {
    type Doc = Reading<D>;

    fn open(&mut self, table: &Table<'_>) -> Result<(), FormatError> {
        let columns = self.layout.columns();
        for (i, name) in columns.iter().enumerate() {
            self.index[i] = table.column(&[name]);
        }
        let missing: Vec<&str> = self
            .layout
            .required_columns()
            .into_iter()
            .filter(|name| table.column(&[name]).is_none())
            .collect();
        let fix = format!(
            "make the first line the header of {}: {} (see README.md).",
            self.layout.name,
            columns.join(",")
        );
        table::require_columns(&missing, "", fix)
    }

    fn key<'t>(&self, table: &'t Table<'_>) -> Cow<'t, str> {
        let head = self.layout.head;
        let cell = |name: &str| {
            let i = head.iter().position(|f| f.name == name).unwrap_or(0);
            self.cell(table, i)
        };
        match self.layout.keys {
            [] => Cow::Borrowed(self.cell(table, 0)),
            [one] => Cow::Borrowed(cell(one)),
            [first, rest @ ..] => {
                let first = cell(first);
                if first.is_empty() {
                    return Cow::Borrowed("");
                }
                let mut key = first.to_string();
                for name in rest {
                    let part = cell(name);
                    if !part.is_empty() {
                        key.push_str(" / ");
                        key.push_str(part);
                    }
                }
                Cow::Owned(key)
            }
        }
    }

    fn groups_rows(&self) -> bool {
        !self.layout.keys.is_empty()
    }

    fn keyless(&self) -> [&'static str; 3] {
        let name = self
            .layout
            .keys
            .first()
            .copied()
            .unwrap_or(self.layout.head[0].name);
        [
            name,
            "the row has no document id.",
            "fill in the id column on every row.",
        ]
    }

    fn add_row(&self, t: &Table<'_>, pending: &mut Pending<Reading<D>>, first: bool) {
        if first {
            self.start(t, pending);
        } else {
            self.check_consistent(t, pending);
        }
        self.add_items(t, pending);
    }

    fn finish(&self, mut pending: Pending<Reading<D>>, end: u64) -> Item {
        let line = pending.first_line();
        for list in self.layout.lists {
            if (list.len)(&pending.doc.doc) < list.min {
                let column = list.fields[0].name;
                pending.problem(
                    line,
                    column,
                    "",
                    &format!("the document has no {}.", list.noun),
                    &format!(
                        "give it at least one {} (a row with {}).",
                        list.noun, column
                    ),
                );
            }
        }
        pending.into_item(end, |r| (self.layout.wrap)(r.doc))
    }
}

struct LayoutWriter<'a, D: 'static> {
    layout: &'static Layout<D>,
    csv: csv::Writer<Box<dyn Write + 'a>>,
    header_written: bool,
    row: Vec<String>,
}

impl<D> LayoutWriter<'_, D> {
    fn write_header(&mut self) -> io::Result<()> {
        self.header_written = true;
        self.csv
            .write_record(self.layout.columns())
            .map_err(crate::format::shared::table::csv_io)
    }
}

impl<D> DocumentWriter for LayoutWriter<'_, D> {
    fn write(&mut self, document: &Document) -> Result<(), FormatError> {
        let Some(doc) = (self.layout.unwrap)(document) else {
            return Err(FormatError::data(DataProblem::whole_file(
                &format!("{} cannot hold a {}.", self.layout.name, document.kind()),
                "choose a writer for this kind of document.",
            )));
        };
        if !self.header_written {
            self.write_header()?;
        }
        let rows = self
            .layout
            .lists
            .iter()
            .map(|l| (l.len)(doc))
            .max()
            .unwrap_or(0)
            .max(1);
        for r in 0..rows {
            self.row.clear();
            self.row
                .extend(self.layout.head.iter().map(|f| (f.get)(doc)));
            for list in self.layout.lists {
                let present = r < (list.len)(doc);
                self.row.extend(list.fields.iter().map(|f| {
                    if present {
                        (f.get)(doc, r)
                    } else {
                        String::new()
                    }
                }));
            }
            self.csv
                .write_record(&self.row)
                .map_err(crate::format::shared::table::csv_io)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        if !self.header_written {
            self.write_header()?;
        }
        self.csv.flush()
    }
}

/// What is missing or malformed in a document by its layout (for formats other than CSV that
/// share the layout's rules): element path, value, problem, fix.
pub fn findings<D: Clone>(
    layout: &Layout<D>,
    doc: &D,
) -> Vec<crate::format::canonical::xml::Finding> {
    let mut found = Vec::new();
    let mut scratch = doc.clone();
    let mut check = |path: String,
                     value: String,
                     required: bool,
                     set: &dyn Fn(&mut D, &str) -> Result<(), Bad>| {
        if value.trim().is_empty() {
            if required {
                found.push((
                    path.clone(),
                    String::new(),
                    format!("the {path} is empty."),
                    format!("fill in the {path}."),
                ));
            }
        } else if let Err((problem, fix)) = set(&mut scratch, &value) {
            found.push((path, value, problem.into(), fix.into()));
        }
    };
    for f in layout.head {
        check(f.name.into(), (f.get)(doc), f.required, &|d, v| {
            (f.set)(d, v)
        });
    }
    let mut short = Vec::new();
    for list in layout.lists {
        let len = (list.len)(doc);
        if len < list.min {
            short.push((
                list.noun.to_string(),
                String::new(),
                format!("the document has no {}.", list.noun),
                format!("give it at least one <{}>.", list.noun),
            ));
        }
        for i in 0..len {
            for f in list.fields {
                let path = format!("{} {} {}", list.noun, i + 1, f.name);
                check(path, (f.get)(doc, i), f.required, &|d, v| (f.set)(d, i, v));
            }
        }
    }
    found.extend(short);
    found
}

/// A column of a [`Layout`] in one line: a document's field (`order_id`) or a list item's
/// (`lines.sku`), after `required` or `optional`, and how its cell is read and written:
/// - `column!(required "order_id" => order_id)`: text, as written;
/// - `column!(optional "weight" => packages.weight?)`: optional text, as written;
/// - `column!(optional "as_of" => as_of? by cell::date)`: an optional value read by a function
///   and written with `to_string`;
/// - `column!(required "on_hand" => on_hand by cell::integer)`: a value read by a function and
///   written with `to_string`;
/// - `column!(required "action" => action in ACTIONS)`: a value named in a [`cell::Names`].
macro_rules! column {
    (required $($rest:tt)+) => { $crate::format::canonical::layout::column!(@ true, $($rest)+) };
    (optional $($rest:tt)+) => { $crate::format::canonical::layout::column!(@ false, $($rest)+) };
    (@ $required:expr, $name:literal => $list:ident . $field:ident $($cell:tt)*) => {
        $crate::format::canonical::layout::column!(
            @cell ItemField, (d, i), d.$list[i].$field, $required, $name, $($cell)*
        )
    };
    (@ $required:expr, $name:literal => $field:ident $($cell:tt)*) => {
        $crate::format::canonical::layout::column!(
            @cell Field, (d), d.$field, $required, $name, $($cell)*
        )
    };
    (@cell $kind:ident, ($($p:ident),+), $place:expr, $required:expr, $name:literal,) => {
        $crate::format::canonical::layout::$kind {
            name: $name,
            required: $required,
            get: |$($p),+| $place.clone(),
            set: |$($p),+, v| {
                $place = v.into();
                Ok(())
            },
        }
    };
    (@cell $kind:ident, ($($p:ident),+), $place:expr, $required:expr, $name:literal, ?) => {
        $crate::format::canonical::layout::$kind {
            name: $name,
            required: $required,
            get: |$($p),+| $place.clone().unwrap_or_default(),
            set: |$($p),+, v| {
                $place = Some(v.into());
                Ok(())
            },
        }
    };
    (@cell $kind:ident, ($($p:ident),+), $place:expr, $required:expr, $name:literal,
        ? by $parse:path) => {
        $crate::format::canonical::layout::$kind {
            name: $name,
            required: $required,
            get: |$($p),+| $place.as_ref().map_or_else(String::new, |x| x.to_string()),
            set: |$($p),+, v| {
                $place = Some($parse(v)?);
                Ok(())
            },
        }
    };
    (@cell $kind:ident, ($($p:ident),+), $place:expr, $required:expr, $name:literal,
        by $parse:path) => {
        $crate::format::canonical::layout::$kind {
            name: $name,
            required: $required,
            get: |$($p),+| $place.to_string(),
            set: |$($p),+, v| {
                $place = $parse(v)?;
                Ok(())
            },
        }
    };
    (@cell $kind:ident, ($($p:ident),+), $place:expr, $required:expr, $name:literal,
        in $names:path) => {
        $crate::format::canonical::layout::$kind {
            name: $name,
            required: $required,
            get: |$($p),+| $names.name($place).to_string(),
            set: |$($p),+, v| {
                $place = $names.parse(v)?;
                Ok(())
            },
        }
    };
}
pub(crate) use column;

/// Cell helpers for layouts.
pub mod cell {
    use super::Bad;

    /// The names of an enum's values in a column, and what is wrong with a cell naming none.
    pub struct Names<T: 'static> {
        /// Each value with its name.
        pub names: &'static [(T, &'static str)],
        /// The problem of a cell that names no value.
        pub unknown: Bad,
    }

    impl<T: Copy + PartialEq> Names<T> {
        /// The name of `value`.
        pub fn name(&self, value: T) -> &'static str {
            self.names
                .iter()
                .find(|(v, _)| *v == value)
                .map_or("", |(_, name)| name)
        }

        /// The value `v` names (case ignored).
        pub fn parse(&self, v: &str) -> Result<T, Bad> {
            self.names
                .iter()
                .find(|(_, name)| name.eq_ignore_ascii_case(v))
                .map(|(value, _)| *value)
                .ok_or(self.unknown)
        }
    }

    /// An optional text as a cell.
    pub fn opt(v: &Option<String>) -> String {
        v.clone().unwrap_or_default()
    }

    /// A whole number of at least 0.
    pub fn count(v: &str) -> Result<u32, Bad> {
        v.parse().map_err(|_| {
            (
                "the quantity is not a whole number.",
                "write a whole number such as 0, 1 or 12.",
            )
        })
    }

    /// A whole number of at least 1.
    pub fn positive(v: &str) -> Result<u32, Bad> {
        match count(v)? {
            0 => Err((
                "the quantity is 0.",
                "write a quantity of at least 1, or leave the row out.",
            )),
            n => Ok(n),
        }
    }

    /// A whole number that may be negative (stock can be oversold).
    pub fn integer(v: &str) -> Result<i64, Bad> {
        v.parse().map_err(|_| {
            (
                "the quantity is not a whole number.",
                "write a whole number such as -2, 0 or 12.",
            )
        })
    }

    /// An ISO 8601 date or timestamp.
    pub fn date(v: &str) -> Result<String, Bad> {
        if crate::format::shared::orders::is_iso_date(v) {
            Ok(v.to_string())
        } else {
            Err((
                "the date is not an ISO 8601 date.",
                "write it as 2026-11-22 or 2026-11-22T10:15:00Z.",
            ))
        }
    }
}
