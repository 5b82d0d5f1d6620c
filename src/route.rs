//! A route ready to move files: its config with endpoints, formats, plug-ins and folders
//! resolved, and where each of a file's pieces lies on its journey (processing area, staging).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{Config, DestinationConfig, RouteConfig};
use crate::endpoint::{Endpoint, Endpoints};
use crate::format::{self, Transform};
use crate::ledger::{FileRow, Ledger};
use crate::naming::is_hidden_or_temporary;
use crate::platform;
use crate::plugins::{self, FileAt, Plugin, Recorder, SideOutput};

/// The hidden folder inside a local source folder where claimed files wait for their journey's end.
pub const PROCESSING_DIR: &str = ".cartferry-processing";

/// A route ready to move files.
pub struct Route {
    /// The route's settings.
    pub config: RouteConfig,
    /// Where files come from.
    pub source: Arc<dyn Endpoint>,
    /// The source folder, when it is on this machine (claimed by rename, watched for events);
    /// `None` for remote sources (claimed by download).
    pub source_dir: Option<PathBuf>,
    /// Where claimed files wait: `.cartferry-processing` inside a local source folder, or
    /// `<state_dir>/inbound/<route>` for downloads.
    claim_dir: PathBuf,
    /// Where results go; `None` for a route that records and delivers nothing.
    pub destination: Option<Destination>,
    /// Reader and writer.
    pub transform: Transform,
    /// What records the files of a route that delivers nothing.
    pub recorder: Option<Box<dyn Recorder>>,
    /// What the route does with a file besides reader → writer.
    pub plugins: Vec<Box<dyn Plugin>>,
    matcher: globset::GlobMatcher,
    /// Where the route's outputs wait until they are delivered.
    pub staging_dir: PathBuf,
    /// The config file, for reports.
    pub config_path: PathBuf,
}

/// Where a route delivers: the endpoint and the route's `to`.
pub struct Destination {
    /// The endpoint.
    pub endpoint: Arc<dyn Endpoint>,
    /// The route's `to`.
    pub config: DestinationConfig,
}

impl Route {
    /// Resolves a route's endpoints (from `endpoints`, shared with other routes), formats,
    /// plug-ins and folders.
    pub fn new(
        config: &Config,
        route: &RouteConfig,
        endpoints: &Endpoints,
    ) -> Result<Route, String> {
        let source = endpoints[&route.from.endpoint].clone();
        let destination = route.to.as_ref().map(|to| Destination {
            endpoint: endpoints[&to.endpoint].clone(),
            config: to.clone(),
        });
        let source_dir = source.local_dir(&route.from.dir);
        let claim_dir = match &source_dir {
            Some(dir) => dir.join(PROCESSING_DIR),
            None => config.agent.state_dir.join("inbound").join(&route.name),
        };
        let transform = Transform::new(route.formats())
            .map_err(|problems| format::describe_problems(problems, ""))?;
        let plugins = plugins::build(route, &transform)?;
        let matcher = globset::Glob::new(&route.from.pattern)
            .map_err(|e| e.to_string())?
            .compile_matcher();
        Ok(Route {
            config: route.clone(),
            source,
            source_dir,
            claim_dir,
            destination,
            recorder: plugins::recorder(&transform),
            transform,
            plugins,
            matcher,
            staging_dir: config.agent.state_dir.join("staging").join(&route.name),
            config_path: config.path.clone(),
        })
    }

    /// The route's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// True when a file of this name is this route's to take (pattern, not hidden, not a marker).
    pub fn wants(&self, name: &str) -> bool {
        self.matcher.is_match(name)
            && !is_hidden_or_temporary(name)
            && !self
                .config
                .from
                .done_marker
                .as_ref()
                .is_some_and(|m| m.is_marker(name))
    }

    /// The folder where claimed files wait.
    pub fn processing_dir(&self) -> &Path {
        &self.claim_dir
    }

    /// Makes sure the folder where claimed files wait is cartferry's own: created when missing
    /// (the agent's user then owns it), and a real folder of that user, on the inbox's file
    /// system for a local source. A link there would send claims (and recovery) into another
    /// folder, and a file would make every claim fail; such a route must not run.
    pub fn verify_processing_dir(&self) -> Result<(), String> {
        let dir = &self.claim_dir;
        let unfit = match std::fs::symlink_metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir)
                .and_then(|()| platform::unfit_claim_dir(dir, self.source_dir.as_deref())),
            _ => platform::unfit_claim_dir(dir, self.source_dir.as_deref()),
        };
        match unfit {
            Ok(None) => Ok(()),
            Ok(Some(problem)) => Err(format!(
                "{problem}: cartferry claims files only into a folder of its own there. Remove it (cartferry creates the folder it needs), or check who put it there."
            )),
            Err(e) => Err(format!("cannot prepare {}: {e}", dir.display())),
        }
    }

    /// The inbox, for people: a local path or `SFTP folder …/dir`.
    pub fn inbox(&self) -> String {
        match &self.source_dir {
            Some(dir) => dir.display().to_string(),
            None => format!("{} {}", self.source.describe(), self.config.from.dir),
        }
    }

    /// Where the claimed file of `row` waits.
    pub fn processing_path(&self, row: &FileRow) -> PathBuf {
        self.processing_dir()
            .join(processing_name(row.id, &row.name))
    }

    /// Where the output of `row` waits until it is delivered (the claimed file itself, for a
    /// passthrough route).
    pub fn staged_path(&self, row: &FileRow) -> PathBuf {
        if self.transform.is_passthrough() {
            self.processing_path(row)
        } else {
            self.staging_dir.join(format!("{}.out", row.id))
        }
    }

    /// Calls `work` with the file of `row` as the route's plug-ins see it.
    pub fn with_file<T>(
        &self,
        ledger: &Ledger,
        row: &FileRow,
        work: impl FnOnce(&FileAt<'_>) -> T,
    ) -> T {
        let source = self.processing_path(row);
        work(&FileAt {
            route: self.name(),
            row,
            ledger,
            source: &source,
            staging: &self.staging_dir,
        })
    }

    /// The side outputs the plug-ins write once `row` is delivered.
    pub fn side_outputs(&self, ledger: &Ledger, row: &FileRow) -> Vec<SideOutput> {
        self.with_file(ledger, row, |file| {
            self.plugins
                .iter()
                .flat_map(|p| p.side_outputs(file))
                .collect()
        })
    }

    /// Everything staged for `row`: its output, what its plug-ins staged, and any other
    /// `<id>.…` file in the staging folder (staged before a power cut took the ledger's record
    /// of it).
    pub fn staged_paths(&self, ledger: &Ledger, row: &FileRow) -> Vec<PathBuf> {
        let staged = self.with_file(ledger, row, |file| {
            self.plugins
                .iter()
                .flat_map(|p| p.staged(file))
                .collect::<Vec<_>>()
        });
        let mut all: Vec<PathBuf> = std::iter::once(self.staged_path(row))
            .chain(staged)
            .chain(self.staging_files_of(row.id))
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// Every file in the staging folder staged for the ledger row `id` (`<id>.…`).
    pub fn staging_files_of(&self, id: i64) -> Vec<PathBuf> {
        let prefix = format!("{id}.");
        std::fs::read_dir(&self.staging_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            .collect()
    }
}

/// The name of a claimed file in the processing area: `<ledger id>-<name>`.
pub fn processing_name(id: i64, name: &str) -> String {
    crate::naming::fitted(&format!("{id}-"), name, "")
}

/// Splits a processing name back into ledger id and original name.
pub fn parse_processing_name(name: &str) -> Option<(i64, &str)> {
    let (id, rest) = name.split_once('-')?;
    Some((id.parse().ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processing_names_round_trip() {
        assert_eq!(
            parse_processing_name(&processing_name(42, "a-b.csv")),
            Some((42, "a-b.csv"))
        );
        assert_eq!(parse_processing_name("x-a.csv"), None);
    }
}
