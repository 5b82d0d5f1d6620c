//! What can go wrong with a file's data or a route's format settings, said so a merchant can fix
//! it: [`DataProblem`] (line, field, order, value, what is wrong, what to change), and the
//! options every format parses ([`parse_options`], unknown keys reported with their key path).

use std::fmt;
use std::io;

use serde::de::DeserializeOwned;

/// One defect in the data, with its position and how to fix it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataProblem {
    /// 1-based line in the file, when known.
    pub line: Option<u64>,
    /// The field (column or element) concerned.
    pub field: Option<String>,
    /// The order (or other document id) concerned.
    pub document_id: Option<String>,
    /// What `document_id` names when it is not an order (`SKU`, `RMA`).
    pub document_noun: Option<&'static str>,
    /// The offending value as found; may be customer data, so never logged.
    pub value: Option<String>,
    /// What is wrong, one sentence.
    pub problem: String,
    /// What to change, one sentence.
    pub fix: String,
    /// How many other rows have this same problem, said here once instead of again for each.
    pub same_elsewhere: usize,
}

impl DataProblem {
    /// A problem with the file as a whole.
    pub fn whole_file(problem: &str, fix: &str) -> DataProblem {
        DataProblem {
            problem: problem.into(),
            fix: fix.into(),
            ..DataProblem::default()
        }
    }

    /// Where the problem is: `line 4, field "quantity", order 1002`.
    pub fn position(&self) -> String {
        self.position_naming(|id| shortened(id, MAX_SHOWN_ID_CHARS))
    }

    /// The position with the document id as `show` writes it.
    fn position_naming(&self, show: impl Fn(&str) -> String) -> String {
        let mut parts = Vec::new();
        if let Some(line) = self.line {
            parts.push(format!("line {line}"));
        }
        if let Some(field) = &self.field {
            parts.push(format!("field \"{field}\""));
        }
        if let Some(id) = &self.document_id {
            parts.push(format!("{} {}", self.document_noun(), show(id)));
        }
        if parts.is_empty() {
            "the file".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// The position and problem without the offending value: safe for logs. A document id
    /// that does not look like one (too long, or with characters ids do not have, such as the
    /// whole row of a mangled file) is left out too.
    pub fn summary(&self) -> String {
        let position = self.position_naming(|id| {
            if looks_like_an_id(id) {
                id.to_string()
            } else {
                "(its id is not shown: it does not look like one)".to_string()
            }
        });
        format!("{position}: {}", self.problem)
    }

    /// What the document id names: `order`, unless the problem says otherwise.
    fn document_noun(&self) -> &'static str {
        self.document_noun.unwrap_or("order")
    }
}

/// Longest document id a report shows whole.
const MAX_SHOWN_ID_CHARS: usize = 60;

/// Longest document id a log shows.
const MAX_LOGGED_ID_CHARS: usize = 40;

/// `text`, cut to `max` characters with an ellipsis.
fn shortened(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// True for what order, SKU and RMA ids look like (`#1001`, `SO-2026/17`, `TEE-M.BLK`): short,
/// letters, digits and a little punctuation; never an e-mail address or a sentence.
fn looks_like_an_id(id: &str) -> bool {
    id.chars().count() <= MAX_LOGGED_ID_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "#-_./:".contains(c))
}

impl fmt::Display for DataProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.position())?;
        if let Some(value) = &self.value {
            write!(f, "\"{value}\" — ")?;
        }
        write!(f, "{} Fix: {}", self.problem, self.fix)
    }
}

/// Why reading or writing a document failed.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The data is wrong; the merchant must fix the file.
    #[error("{0}")]
    Data(Box<DataProblem>),
    /// Reading or writing the bytes failed; worth retrying.
    #[error("input/output failed: {0}")]
    Io(#[from] io::Error),
}

impl FormatError {
    /// A data problem.
    pub fn data(problem: DataProblem) -> FormatError {
        FormatError::Data(Box::new(problem))
    }
}

/// A format's options (`reader_options` / `writer_options` in a route).
pub type Options = toml::Table;

/// The options of a format that takes none.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NoOptions {}

/// Something wrong with a route's formats, with the key to blame (`reader`,
/// `reader_options.encoding`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatProblem {
    /// The key below the route.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// `problems` as one line, each key after `prefix` (`"also."`): for messages about a config
/// that was already checked.
pub fn describe_problems(problems: Vec<FormatProblem>, prefix: &str) -> String {
    problems
        .into_iter()
        .map(|p| format!("{prefix}{}: {}", p.key, p.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reads `options` into a format's own options type. Unknown keys and bad values are problems
/// naming their key below `table_key`.
pub fn parse_options<T: DeserializeOwned>(
    options: &Options,
    table_key: &str,
) -> Result<T, Vec<FormatProblem>> {
    let mut unknown = Vec::new();
    let parsed: Result<T, toml::de::Error> =
        serde_ignored::deserialize(toml::Value::Table(options.clone()), |path| {
            unknown.push(path.to_string())
        });
    let parsed = parsed.map_err(|e| {
        let each = bad_values::<T>(options, table_key);
        if each.is_empty() {
            vec![FormatProblem {
                key: table_key.to_string(),
                message: in_plain_words(e.message()),
            }]
        } else {
            each
        }
    })?;
    if unknown.is_empty() {
        Ok(parsed)
    } else {
        Err(unknown
            .into_iter()
            .map(|key| FormatProblem {
                key: format!("{table_key}.{key}"),
                message: "is not an option of this format".into(),
            })
            .collect())
    }
}

/// Every key of `options` whose value its format refuses, each tried on its own, so that a table
/// with several bad values gets a problem for each, under its own key. Keys that need others
/// beside them (a required option is missing from a one-key table) are not blamed.
fn bad_values<T: DeserializeOwned>(options: &Options, table_key: &str) -> Vec<FormatProblem> {
    options
        .iter()
        .filter_map(|(key, value)| {
            let mut alone = Options::new();
            alone.insert(key.clone(), value.clone());
            let error = toml::Value::Table(alone).try_into::<T>().err()?;
            let message = in_plain_words(error.message());
            (!message.contains("missing field")).then(|| FormatProblem {
                key: format!("{table_key}.{key}"),
                message,
            })
        })
        .collect()
}

/// A serde message with Rust's type names said for people: `expected u32` becomes `expected a
/// whole number`, `expected a boolean` stays.
pub fn in_plain_words(message: &str) -> String {
    const WORDS: [(&str, &str); 12] = [
        ("expected u8", "expected a whole number"),
        ("expected u16", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected usize", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a borrowed string", "expected text in quotes"),
        ("expected a string", "expected text in quotes"),
        ("expected struct ", "expected a table like "),
        ("expected a map", "expected a table"),
    ];
    WORDS
        .iter()
        .fold(message.to_string(), |text, (rust, plain)| {
            text.replace(rust, plain)
        })
}
