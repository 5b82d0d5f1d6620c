//! `mapped-csv`: any cart's CSV as any document kind, through a mapping in the route's
//! `reader_options` (`kind` and `fields`; see `mapping.rs` and README.md). Each row is projected
//! onto the kind's canonical columns and read as its canonical CSV, so the checks, grouping of
//! rows into documents and reports are the canonical ones; bad documents are split out as rows of
//! the file as the merchant sent it.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::Arc;

use serde::Deserialize;

use crate::format::mapped::mapping::{FieldSpec, Kind, Mapping, Source};
use crate::format::shared::table::{CsvInput, CsvReader, RowAt, RowSource, Table};
use crate::format::shared::text::{Delimiter, TextEncoding};
use crate::format::{DataProblem, FormatError, FormatProblem, Items, Options, parse_options};

/// The format's name in configs.
pub const NAME: &str = "mapped-csv";

/// The reader's options.
#[derive(Deserialize)]
struct MappedCsvOptions {
    kind: Kind,
    #[serde(default)]
    encoding: TextEncoding,
    #[serde(default)]
    delimiter: Delimiter,
    fields: BTreeMap<String, FieldSpec>,
}

/// The mapped CSV reader.
pub struct MappedCsv {
    input: CsvInput,
    mapping: Arc<Mapping>,
}

impl MappedCsv {
    /// The reader, with a route's `reader_options` (`kind`, `fields`, `encoding`, `delimiter`).
    pub fn reader(options: &Options) -> Result<MappedCsv, Vec<FormatProblem>> {
        let options: MappedCsvOptions = parse_options(options, "reader_options")?;
        Ok(MappedCsv {
            input: CsvInput {
                encoding: options.encoding,
                delimiter: options.delimiter,
            },
            mapping: Arc::new(Mapping::new(
                options.kind,
                options.fields,
                "reader_options.fields",
            )?),
        })
    }
}

impl CsvReader for MappedCsv {
    fn csv_input(&self) -> &CsvInput {
        &self.input
    }

    fn read_csv<'a>(&self, input: Box<dyn BufRead + 'a>) -> Items<'a> {
        let options = self.input;
        let mapping = Arc::clone(&self.mapping);
        self.mapping
            .read(input, Box::new(move |input| open(input, &options, mapping)))
    }
}

/// Opens the input's CSV and finds the columns the mapping reads.
fn open<'a>(
    input: Box<dyn BufRead + 'a>,
    options: &CsvInput,
    mapping: Arc<Mapping>,
) -> Result<Table<'a>, FormatError> {
    let inner = Table::open(input, options)?;
    let mut missing = Vec::new();
    let sources = mapping
        .rules
        .iter()
        .map(|rule| match &rule.source {
            Source::From(name) => {
                let found = inner.column(&[name]);
                if found.is_none() {
                    missing.push(name.as_str());
                }
                found
            }
            Source::Constant(_) => None,
        })
        .collect();
    if !missing.is_empty() {
        let have: Vec<&str> = (0..inner.header().len()).map(|i| inner.name(i)).collect();
        return Err(FormatError::data(DataProblem {
            line: Some(1),
            problem: format!(
                "the header lacks the {} {} that the route's mapping reads.",
                if missing.len() == 1 {
                    "column"
                } else {
                    "columns"
                },
                missing.join(", ")
            ),
            fix: format!(
                "export the file with those columns, or map the route's reader_options.fields to the columns the file has: {}.",
                have.join(", ")
            ),
            ..DataProblem::default()
        }));
    }
    let header_span = inner.header_span();
    let names = mapping.columns();
    Ok(Table::of_rows(
        Box::new(Projected {
            inner,
            sources,
            mapping,
        }),
        names,
        header_span,
    ))
}

/// The input's rows as rows of canonical columns.
struct Projected<'a> {
    inner: Table<'a>,
    /// The input column of each rule, when it reads one.
    sources: Vec<Option<usize>>,
    mapping: Arc<Mapping>,
}

impl RowSource for Projected<'_> {
    fn next_row(&mut self, record: &mut csv::StringRecord) -> Option<Result<RowAt, FormatError>> {
        if let Err(e) = self.inner.next_row()? {
            return Some(Err(e));
        }
        record.clear();
        for (rule, source) in self.mapping.rules.iter().zip(&self.sources) {
            record.push_field(&rule.apply(self.inner.get(*source)));
        }
        Some(Ok(RowAt {
            line: self.inner.line(),
            start: self.inner.row_start(),
        }))
    }

    fn position(&self) -> u64 {
        self.inner.position()
    }

    fn broken(&self) -> bool {
        self.inner.broken()
    }
}
