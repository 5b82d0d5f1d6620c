//! File-name templates: the delivered name (`{stem}.edi`) and the done-marker name (`{name}.done`),
//! plus the rule for names that are never picked up (hidden and temporary files).

use chrono::{DateTime, Local};

/// Suffixes of files that another program is still writing; never picked up.
const TEMPORARY_SUFFIXES: [&str; 4] = [".tmp", ".part", ".filepart", ".writing"];

/// True for hidden (`.name`) and temporary (`*.tmp`, `*.part`, `*.filepart`, `*.writing`) names.
pub fn is_hidden_or_temporary(name: &str) -> bool {
    name.starts_with('.') || TEMPORARY_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Splits `orders.csv` into (`orders`, `csv`); a name without a dot has an empty extension.
pub fn split_name(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i + 1..]),
        _ => (name, ""),
    }
}

/// Longest file name, in bytes, that file systems (and SFTP servers on them) commonly take.
pub const MAX_NAME_BYTES: usize = 255;

/// `prefix` + `name` + `suffix` as a file name. When that is longer than a name may be, `name`
/// is cut short and followed by `~` and a hash of all of it, so the result fits and still
/// differs from the name made for any other `name`.
pub fn fitted(prefix: &str, name: &str, suffix: &str) -> String {
    let whole = format!("{prefix}{name}{suffix}");
    if whole.len() <= MAX_NAME_BYTES {
        return whole;
    }
    let hash = short_hash(name.as_bytes());
    let room = MAX_NAME_BYTES.saturating_sub(prefix.len() + suffix.len() + 1 + hash.len());
    let mut cut = room.min(name.len());
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{prefix}{}~{hash}{suffix}", &name[..cut])
}

/// The first 16 hex digits of the SHA-256 of `bytes`: a short, stable tag for a name.
fn short_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Inserts `-n` before the extension: `orders.csv` → `orders-2.csv`.
pub fn with_counter(name: &str, n: u32) -> String {
    match split_name(name) {
        (stem, "") => format!("{stem}-{n}"),
        (stem, ext) => format!("{stem}-{n}.{ext}"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Name,
    Stem,
    Ext,
    Route,
    Date,
    Time,
    Id,
}

/// A delivered-name template such as `{stem}-{date}.edi`.
///
/// Placeholders: `{name}` (source name), `{stem}`, `{ext}`, `{route}`, `{date}` (YYYYMMDD) and
/// `{time}` (HHMMSS) of the moment the file was claimed, and `{id}` (the ledger's file number).
/// All of them are fixed once a file is claimed, so a redo after a crash yields the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameTemplate {
    pieces: Vec<Piece>,
}

/// The values a template is rendered from.
pub struct NameContext<'a> {
    /// The source file's name.
    pub source_name: &'a str,
    /// The route's name.
    pub route: &'a str,
    /// When the file was claimed.
    pub claimed_at: DateTime<Local>,
    /// The ledger id of the file.
    pub id: i64,
}

impl NameTemplate {
    /// Parses a template; the error says which placeholder is unknown.
    pub fn parse(text: &str) -> Result<NameTemplate, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("\"{text}\" has a '{{' without its '}}'"))?
                + open;
            pieces.push(match &rest[open + 1..close] {
                "name" => Piece::Name,
                "stem" => Piece::Stem,
                "ext" => Piece::Ext,
                "route" => Piece::Route,
                "date" => Piece::Date,
                "time" => Piece::Time,
                "id" => Piece::Id,
                other => {
                    return Err(format!(
                        "unknown placeholder {{{other}}}; use {{name}}, {{stem}}, {{ext}}, {{route}}, {{date}}, {{time}} or {{id}}"
                    ));
                }
            });
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        if text.contains('/') || text.contains('\\') {
            return Err("a file name cannot contain '/' or '\\'; put folders in `dir`".into());
        }
        if pieces.is_empty() {
            return Err("the name template is empty".into());
        }
        // `{ext}` is empty for a file without an extension, and dots alone make no name.
        let always_names = pieces.iter().any(|p| match p {
            Piece::Text(t) => t.chars().any(|c| c != '.'),
            Piece::Ext => false,
            _ => true,
        });
        if !always_names {
            return Err(format!(
                "\"{text}\" can make an empty name (or dots only): {{ext}} is empty for a file without an extension; add {{stem}}, {{name}} or some text"
            ));
        }
        Ok(NameTemplate { pieces })
    }

    /// The names this template can make, as a glob: its text, the route's name, and `*` for
    /// every other placeholder.
    pub fn as_glob(&self, route: &str) -> String {
        let literal = |text: &str| {
            text.chars()
                .map(|c| match c {
                    '*' | '?' | '[' | ']' | '{' | '}' => format!("[{c}]"),
                    c => c.to_string(),
                })
                .collect::<String>()
        };
        self.pieces
            .iter()
            .map(|piece| match piece {
                Piece::Text(t) => literal(t),
                Piece::Route => literal(route),
                _ => "*".to_string(),
            })
            .collect()
    }

    /// Renders the template for one file.
    pub fn render(&self, cx: &NameContext<'_>) -> String {
        let (stem, ext) = split_name(cx.source_name);
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Name => out.push_str(cx.source_name),
                Piece::Stem => out.push_str(stem),
                Piece::Ext => out.push_str(ext),
                Piece::Route => out.push_str(cx.route),
                Piece::Date => out.push_str(&cx.claimed_at.format("%Y%m%d").to_string()),
                Piece::Time => out.push_str(&cx.claimed_at.format("%H%M%S").to_string()),
                Piece::Id => out.push_str(&cx.id.to_string()),
            }
        }
        out
    }
}

/// A done-marker template: `{name}` or `{stem}` followed by a fixed suffix (`{name}.done`, `{stem}.ok`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerTemplate {
    whole_name: bool,
    suffix: String,
}

impl MarkerTemplate {
    /// Parses a marker template.
    pub fn parse(text: &str) -> Result<MarkerTemplate, String> {
        let (whole_name, suffix) = if let Some(s) = text.strip_prefix("{name}") {
            (true, s)
        } else if let Some(s) = text.strip_prefix("{stem}") {
            (false, s)
        } else {
            return Err(format!(
                "\"{text}\" must start with {{name}} or {{stem}}, for example \"{{name}}.done\""
            ));
        };
        if suffix.is_empty() || suffix.contains(['{', '}', '/', '\\']) {
            return Err(format!(
                "\"{text}\" needs a plain suffix after the placeholder, for example \"{{name}}.done\""
            ));
        }
        Ok(MarkerTemplate {
            whole_name,
            suffix: suffix.to_string(),
        })
    }

    /// The marker's name for a data file.
    pub fn marker_for(&self, data_name: &str) -> String {
        let base = if self.whole_name {
            data_name
        } else {
            split_name(data_name).0
        };
        format!("{base}{}", self.suffix)
    }

    /// True when `name` is a marker (and therefore not data).
    pub fn is_marker(&self, name: &str) -> bool {
        name.ends_with(&self.suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(name: &str) -> NameContext<'_> {
        NameContext {
            source_name: name,
            route: "orders",
            claimed_at: Local::now(),
            id: 7,
        }
    }

    #[test]
    fn template_renders_stem_ext_and_id() {
        let t = NameTemplate::parse("{stem}-{id}.{ext}.out").unwrap();
        assert_eq!(t.render(&cx("batch.csv")), "batch-7.csv.out");
    }

    #[test]
    fn unknown_placeholder_is_named() {
        let e = NameTemplate::parse("{stme}.edi").unwrap_err();
        assert!(e.contains("{stme}"), "{e}");
    }

    #[test]
    fn markers_recognise_their_own_names() {
        let m = MarkerTemplate::parse("{stem}.ok").unwrap();
        assert_eq!(m.marker_for("a.csv"), "a.ok");
        assert!(m.is_marker("a.ok"));
        assert!(!m.is_marker("a.csv"));
        assert!(MarkerTemplate::parse("done-{name}").is_err());
    }

    #[test]
    fn temporary_names_are_ignored() {
        for n in [".x.csv", "a.csv.part", "a.tmp", "a.filepart", "a.writing"] {
            assert!(is_hidden_or_temporary(n), "{n}");
        }
        assert!(!is_hidden_or_temporary("a.csv"));
    }

    #[test]
    fn counter_goes_before_extension() {
        assert_eq!(with_counter("a.csv", 2), "a-2.csv");
        assert_eq!(with_counter("README", 3), "README-3");
    }

    #[test]
    fn fitted_names_fit_and_stay_apart() {
        assert_eq!(fitted(".", "a.csv", ".part"), ".a.csv.part");
        let long = format!("{}é.csv", "x".repeat(248));
        let other = format!("{}é.txt", "x".repeat(248));
        let a = fitted(".", &long, ".part");
        let b = fitted(".", &other, ".part");
        assert!(
            a.len() <= MAX_NAME_BYTES && b.len() <= MAX_NAME_BYTES,
            "{a} {b}"
        );
        assert!(a.starts_with(".xxx") && a.ends_with(".part"));
        assert_ne!(a, b);
    }
}
