//! Folders routes must not share, compared after resolution (links followed, `..` removed,
//! local roots joined with their `dir`, SFTP folders by server and path): an error folder that is
//! an inbox (its reports would be taken as input, doubling every pass), a route delivering into its
//! own inbox, two routes taking the same names from one inbox, and routes feeding each other in a
//! loop. An archive inside an inbox is allowed but warned about.
//!
//! Names are compared by pattern: two routes may share an inbox when their patterns cannot match
//! the same name (`*.945` and `*.846`), and a route feeds another when the names it delivers (its
//! `to.name`, placeholders taken as any text) can match the other's pattern. Patterns are
//! compared by matching each against the other as text, which sees `*` against `*.csv` and
//! `*.csv` against `orders-*.csv`; exotic pairs of globs that overlap only partly are not seen.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::raw::Problems;
use super::{EndpointConfig, Problem, RouteConfig};

/// A folder, as the agent reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// A folder on this machine, resolved.
    Local(PathBuf),
    /// A folder on an SFTP server.
    Remote {
        /// Server name (lower case) and port.
        server: (String, u16),
        /// Its path on the server, normalised.
        path: String,
    },
}

impl Place {
    fn local(path: &Path) -> Place {
        Place::Local(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
    }

    /// The folder `dir` of endpoint `name`, when the endpoint exists.
    fn of(endpoints: &BTreeMap<String, EndpointConfig>, name: &str, dir: &str) -> Option<Place> {
        Some(match endpoints.get(name)? {
            EndpointConfig::Local { root, .. } => Place::local(&root.join(dir)),
            EndpointConfig::Sftp(s) => Place::Remote {
                server: (s.host.to_ascii_lowercase(), s.port),
                path: normalise_remote(&format!("{}/{dir}", s.root)),
            },
        })
    }

    /// True when `self` is `other` or a folder inside it.
    fn within(&self, other: &Place) -> bool {
        match (self, other) {
            (Place::Local(a), Place::Local(b)) => a.starts_with(b),
            (Place::Remote { server: s, path: a }, Place::Remote { server: t, path: b }) => {
                s == t && (a == b || a.starts_with(&format!("{b}/")))
            }
            _ => false,
        }
    }

    fn show(&self) -> String {
        match self {
            Place::Local(p) => p.display().to_string(),
            Place::Remote { server, path } => format!("{}:{} {path}", server.0, server.1),
        }
    }
}

/// `a/./b/../c/` → `a/c`.
fn normalise_remote(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if path.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

/// True when the globs `a` and `b` may match one name (see the module's note).
fn may_overlap(a: &str, b: &str) -> bool {
    let matches = |pattern: &str, text: &str| {
        globset::Glob::new(pattern).map_or(true, |g| g.compile_matcher().is_match(text))
    };
    a == b || matches(a, b) || matches(b, a)
}

/// What one route reads and writes, resolved.
struct Sides<'a> {
    key: String,
    route: &'a RouteConfig,
    inbox: Option<Place>,
    destination: Option<Place>,
}

/// Notes, as problems (which stop the config) and warnings, every folder routes share that
/// they must not.
pub(super) fn check(
    routes: &[RouteConfig],
    keys: &[String],
    endpoints: &BTreeMap<String, EndpointConfig>,
    problems: &mut Problems,
    warnings: &mut Vec<Problem>,
) {
    let sides: Vec<Sides<'_>> = routes
        .iter()
        .zip(keys)
        .map(|(route, key)| Sides {
            key: key.clone(),
            route,
            inbox: Place::of(endpoints, &route.from.endpoint, &route.from.dir),
            destination: route
                .to
                .as_ref()
                .and_then(|to| Place::of(endpoints, &to.endpoint, &to.dir)),
        })
        .collect();
    for (i, a) in sides.iter().enumerate() {
        let name = &a.route.name;
        let errors = Place::local(&a.route.errors);
        let archive = Place::local(&a.route.archive);
        for b in &sides {
            let Some(inbox) = &b.inbox else { continue };
            if errors == *inbox {
                problems.push(
                    format!("{}.errors", a.key),
                    format!(
                        "route {name}'s error folder {} is the inbox of route {}: its bad files and their reports would be taken again on every pass; give it an error folder of its own",
                        errors.show(),
                        b.route.name
                    ),
                );
            }
            if archive.within(inbox) || inbox.within(&archive) {
                warnings.push(Problem {
                    key: format!("{}.archive", a.key),
                    message: format!(
                        "route {name}'s archive {} and the inbox of route {} ({}) overlap; archived files are not taken again (they lie in dated subfolders), but keep them apart to avoid surprises",
                        archive.show(),
                        b.route.name,
                        inbox.show()
                    ),
                });
            }
        }
        if a.destination.is_some() && a.destination == a.inbox {
            problems.push(
                format!("{}.to.dir", a.key),
                format!(
                    "route {name} delivers into its own inbox {}; give it another destination",
                    a.inbox.as_ref().map(Place::show).unwrap_or_default()
                ),
            );
        }
        for b in &sides[i + 1..] {
            if a.inbox.is_some()
                && a.inbox == b.inbox
                && may_overlap(&a.route.from.pattern, &b.route.from.pattern)
            {
                problems.push(
                    format!("{}.from", b.key),
                    format!(
                        "routes {name} and {} both take names like \"{}\" and \"{}\" from {}; give each its own folder, or patterns that cannot match the same name",
                        b.route.name,
                        a.route.from.pattern,
                        b.route.from.pattern,
                        a.inbox.as_ref().map(Place::show).unwrap_or_default()
                    ),
                );
            }
        }
    }
    report_loops(&sides, problems);
}

/// True when route `a` delivers names that route `b` takes, into `b`'s inbox.
fn feeds(a: &Sides<'_>, b: &Sides<'_>) -> bool {
    let (Some(to), Some(destination)) = (&a.route.to, &a.destination) else {
        return false;
    };
    Some(destination) == b.inbox.as_ref()
        && may_overlap(&to.name.as_glob(&a.route.name), &b.route.from.pattern)
}

/// Notes every loop of routes feeding each other (route a delivers what route b takes, and so
/// on back to a), once per loop.
fn report_loops(sides: &[Sides<'_>], problems: &mut Problems) {
    let n = sides.len();
    let next: Vec<Vec<usize>> = (0..n)
        .map(|a| {
            (0..n)
                .filter(|&b| b != a && feeds(&sides[a], &sides[b]))
                .collect()
        })
        .collect();
    let mut reported: Vec<Vec<usize>> = Vec::new();
    for start in 0..n {
        // Depth-first from `start`, through routes after it only, so each loop is found once,
        // from its first route.
        let mut stack = vec![(start, vec![start])];
        while let Some((at, path)) = stack.pop() {
            for &b in &next[at] {
                if b == start {
                    let mut lap = path.clone();
                    lap.sort_unstable();
                    if !reported.contains(&lap) {
                        reported.push(lap);
                        let names: Vec<&str> = path
                            .iter()
                            .chain([&start])
                            .map(|&i| sides[i].route.name.as_str())
                            .collect();
                        problems.push(
                            format!("{}.to", sides[start].key),
                            format!(
                                "routes {} feed each other in a loop: every file would travel round forever; break the loop (another folder, or patterns that do not take what the other route delivers)",
                                names.join(" → ")
                            ),
                        );
                    }
                } else if b > start && !path.contains(&b) && path.len() < n {
                    let mut longer = path.clone();
                    longer.push(b);
                    stack.push((b, longer));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_overlap_when_one_matches_the_other() {
        assert!(may_overlap("*", "*.csv"));
        assert!(may_overlap("*.csv", "orders-*.csv"));
        assert!(may_overlap("*.csv", "*.csv"));
        assert!(!may_overlap("*.945", "*.846"));
        assert!(!may_overlap("*.edi", "*.csv"));
    }

    #[test]
    fn remote_paths_are_compared_normalised() {
        assert_eq!(normalise_remote("/srv/./in/../out/"), "/srv/out");
        assert_eq!(normalise_remote("./in"), "in");
    }
}
