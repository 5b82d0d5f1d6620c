//! Error reports: the `<name>.error.txt` written beside a file in the error folder, in plain
//! language for a merchant: what failed, where, what to fix, and the command that retries it.

use std::path::{Path, PathBuf};

use crate::format::DataProblem;

/// `n` and the noun for it, one or many: `1 problem`, `3 problems`.
pub fn counted(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Suffix of a report file next to the file it explains.
pub const REPORT_SUFFIX: &str = ".error.txt";

/// Where the report of the file at `file` lies: `<file>.error.txt`, or, when that name would be
/// longer than a file name may be, a shortened name that still ends with the suffix.
pub fn report_path(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.with_file_name(crate::naming::fitted("", &name, REPORT_SUFFIX))
}

/// The label of the report line that `cartferry errors` shows.
const REASON_LABEL: &str = "Reason:";

/// Why a file could not be delivered.
#[derive(Debug, Clone)]
pub struct Failure {
    /// One line, without customer data: safe for logs and `status`.
    pub reason: String,
    /// The data problems, with values (only in the report file).
    pub problems: Vec<DataProblem>,
    /// How many problems there were in all (the list may be capped).
    pub total_problems: usize,
    /// What to do, when it is not "fix the data".
    pub advice: Option<String>,
    /// For the documents a split left out: how many of the file's other documents were delivered.
    pub others_delivered: Option<u64>,
    /// The file is a partner's acknowledgment rejecting documents cartferry sent.
    pub rejected_by_partner: bool,
}

impl Failure {
    /// A failure from data problems.
    pub fn data(problems: Vec<DataProblem>, total: usize) -> Failure {
        let first = problems.first().map(|p| p.summary()).unwrap_or_default();
        let reason = if total == 1 {
            format!("1 problem in the data: {first} Nothing from this file was delivered.")
        } else {
            format!(
                "{total} problems in the data, the first: {first} Nothing from this file was delivered."
            )
        };
        Failure {
            reason,
            problems,
            total_problems: total,
            advice: None,
            others_delivered: None,
            rejected_by_partner: false,
        }
    }

    /// The documents a split left out of an otherwise delivered file.
    pub fn split(
        problems: Vec<DataProblem>,
        total: usize,
        left_out: usize,
        delivered: u64,
    ) -> Failure {
        let first = problems.first().map(|p| p.summary()).unwrap_or_default();
        let others = match delivered {
            0 => "The file's other documents had been sent before, so nothing was delivered."
                .to_string(),
            1 => "The other 1 was delivered.".to_string(),
            n => format!("The other {n} were delivered."),
        };
        let reason = format!(
            "{} left out for {}, the first: {first} {others}",
            counted(left_out as u64, "document", "documents"),
            counted(total as u64, "problem", "problems")
        );
        Failure {
            reason,
            problems,
            total_problems: total,
            advice: None,
            others_delivered: Some(delivered),
            rejected_by_partner: false,
        }
    }

    /// A partner's 997 rejecting `rejected` of the documents cartferry sent (the `problems`,
    /// `total` in all, name them).
    pub fn rejected_by_partner(
        problems: Vec<DataProblem>,
        total: usize,
        rejected: usize,
    ) -> Failure {
        let first = problems.first().map(|p| p.summary()).unwrap_or_default();
        Failure {
            reason: format!(
                "the partner rejected {} cartferry sent, the first: {first}",
                counted(rejected as u64, "document", "documents")
            ),
            problems,
            total_problems: total,
            advice: Some("The partner did not take the documents above. Ask them why (the codes say what their EDI software found wrong), correct each document in the cart and export it again. What this acknowledgment says is recorded: putting it back changes nothing.".into()),
            others_delivered: None,
            rejected_by_partner: true,
        }
    }

    /// A failure that fixing the file's data will not cure.
    pub fn other(reason: String, advice: String) -> Failure {
        Failure {
            reason,
            problems: Vec::new(),
            total_problems: 0,
            advice: Some(advice),
            others_delivered: None,
            rejected_by_partner: false,
        }
    }
}

/// Everything a report needs besides the failure.
pub struct ReportContext<'a> {
    /// Route name.
    pub route: &'a str,
    /// Source file name.
    pub file: &'a str,
    /// When it was claimed, human-readable.
    pub received: String,
    /// Its SHA-256.
    pub sha256: &'a str,
    /// Where the file now lies.
    pub error_path: &'a Path,
    /// Where the route picks files up, for people.
    pub inbox: String,
    /// The config file, for the retry command.
    pub config_path: &'a Path,
    /// The route's reader, which says how the file is best edited.
    pub reader: &'a str,
}

/// How a file read by `reader` is best edited by hand, as a parenthesis.
fn editing_hint(reader: &str) -> &'static str {
    if reader.ends_with("-csv") {
        "(in a text editor, or in Excel saved as \"CSV UTF-8\")"
    } else if reader.starts_with("x12") {
        "(in a text editor: keep its separators, and the counts in SE, GE and IEA right)"
    } else {
        "(in a text editor)"
    }
}

/// Renders the report text.
pub fn render(cx: &ReportContext<'_>, failure: &Failure) -> String {
    let mut out = String::new();
    match failure.others_delivered {
        None if failure.rejected_by_partner => out.push_str(
            "This acknowledgment (997) from the partner rejects documents cartferry sent.\n\n",
        ),
        None => out.push_str("cartferry could not deliver this file.\n\n"),
        Some(0) => out.push_str(
            "cartferry delivered nothing of this file (its other documents had been sent before); these rows it could not deliver.\nLine numbers below are lines of this file.\n\n",
        ),
        Some(n) => out.push_str(&format!(
            "cartferry delivered {} of this file; these rows it could not deliver.\nLine numbers below are lines of this file.\n\n",
            counted(n, "document", "documents")
        )),
    }
    out.push_str(&format!("File:      {}\n", cx.file));
    out.push_str(&format!("Route:     {}\n", cx.route));
    out.push_str(&format!("Received:  {}\n", cx.received));
    out.push_str(&format!("SHA-256:   {}\n", cx.sha256));
    out.push_str(&format!("{REASON_LABEL}    {}\n", failure.reason));
    if !failure.problems.is_empty() {
        out.push_str("\nProblems:\n");
        for (i, p) in failure.problems.iter().enumerate() {
            out.push_str(&format!("  {}. {p}\n", i + 1));
        }
        let said: usize = failure.problems.iter().map(|p| 1 + p.same_elsewhere).sum();
        let hidden = failure.total_problems.saturating_sub(said);
        if hidden > 0 {
            out.push_str(&format!(
                "  … and {hidden} more; fix these and retry to see the rest.\n"
            ));
        }
    }
    out.push_str("\nWhat to do:\n");
    match &failure.advice {
        Some(advice) => out.push_str(&format!("  {advice}\n")),
        None => out.push_str(&format!(
            "  Fix the problems above in {} {}.\n",
            cx.error_path.display(),
            editing_hint(cx.reader)
        )),
    }
    if failure.rejected_by_partner {
        return out;
    }
    out.push_str(&format!(
        "  Then put the file back into the route's inbox with\n    cartferry --config {} retry {} {}\n  or copy it into {} yourself.\n",
        cx.config_path.display(),
        cx.route,
        cx.error_path.file_name().unwrap_or_default().to_string_lossy(),
        cx.inbox
    ));
    out
}

/// The one-line reason of a report file's text.
pub fn reason_of(report: &str) -> Option<&str> {
    report
        .lines()
        .find_map(|l| l.strip_prefix(REASON_LABEL))
        .map(str::trim)
}

/// Files in a route's error folder (without their reports), sorted.
pub fn error_files(errors_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(errors_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.ends_with(REPORT_SUFFIX) && !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_problem_fix_and_retry_command() {
        let problem = DataProblem {
            line: Some(4),
            field: Some("quantity".into()),
            document_id: Some("1003".into()),
            value: Some("two".into()),
            problem: "the quantity is not a positive whole number.".into(),
            fix: "write 2.".into(),
            ..DataProblem::default()
        };
        let text = render(
            &ReportContext {
                route: "orders",
                file: "b.csv",
                received: "now".into(),
                sha256: "ab",
                error_path: Path::new("/e/orders/b.csv"),
                inbox: "/in".into(),
                config_path: Path::new("/c.toml"),
                reader: "canonical-orders-csv",
            },
            &Failure::data(vec![problem], 1),
        );
        assert!(
            text.contains("line 4, field \"quantity\", order 1003: \"two\""),
            "{text}"
        );
        assert!(
            text.contains("cartferry --config /c.toml retry orders b.csv"),
            "{text}"
        );
        let reason = reason_of(&text).unwrap();
        assert!(
            reason.starts_with("1 problem in the data: line 4"),
            "{reason}"
        );
        assert!(!reason.contains("two"), "the reason carries no values");
    }
}
