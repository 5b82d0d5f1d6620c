//! Writing a file's side outputs (its order status file, its discrepancy report, its `also`
//! outputs, the 997 answering it): each staged file is written into its local folder once,
//! under a name the ledger records first and by temporary name and rename, so a redo writes the
//! same bytes to the same name and a crash never leaves half a file under it.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{PluginError, SideOutput, io_at};
use crate::fsutil;
use crate::ledger::Ledger;
use crate::platform;

/// Writes the staged side output `output` of ledger row `file_id` into its folder under its
/// name (or a free variant of it), unless it was written before. A missing staged file means
/// nothing to write. Returns the path written, if any.
pub fn publish(
    ledger: &Ledger,
    file_id: i64,
    output: &SideOutput,
) -> Result<Option<PathBuf>, PluginError> {
    let SideOutput {
        kind,
        staged,
        folder,
        name,
    } = output;
    let path = match ledger.side_file(file_id, kind)? {
        Some((_, true)) => return Ok(None),
        Some((path, false)) => PathBuf::from(path),
        None => {
            // A power cut can take the record of a side file already written: the file under
            // its name, written since the source was taken and with the staged bytes, is ours.
            let own = folder.join(name);
            let path = if written_by(ledger, file_id, &own, staged)? {
                own
            } else {
                fsutil::free_path(folder, name, None)
            };
            ledger.writing_side_file(file_id, kind, &path.to_string_lossy())?;
            path
        }
    };
    let mut source = match File::open(staged) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            ledger.wrote_side_file(file_id, kind)?;
            return Ok(None);
        }
        Err(e) => return Err(io_at(staged)(e)),
    };
    fs::create_dir_all(folder).map_err(io_at(folder))?;
    // For the cart (or a route) to read: the umask decides, as for a delivered file.
    let mut temporary = platform::shared_temp_file(folder).map_err(io_at(folder))?;
    io::copy(&mut source, &mut temporary).map_err(io_at(&path))?;
    temporary.flush().map_err(io_at(&path))?;
    temporary.as_file().sync_all().map_err(io_at(&path))?;
    fsutil::flushed(temporary.as_file());
    let temporary_path = temporary.path().to_path_buf();
    temporary
        .persist(&path)
        .map_err(|e| io_at(&path)(e.error))?;
    fsutil::renamed(&temporary_path, &path);
    platform::sync_dir(folder).map_err(io_at(folder))?;
    crate::crash_point!("side_output.renamed");
    ledger.wrote_side_file(file_id, kind)?;
    Ok(Some(path))
}

/// `name`'s stem (`orders.csv` → `orders`).
pub fn stem(name: &str) -> String {
    Path::new(name)
        .file_stem()
        .map_or_else(|| name.to_string(), |s| s.to_string_lossy().into_owned())
}

/// Whether `path` holds exactly the bytes staged at `staged` and was written since the source
/// file `file_id` was taken.
fn written_by(
    ledger: &Ledger,
    file_id: i64,
    path: &Path,
    staged: &Path,
) -> Result<bool, PluginError> {
    let Ok(meta) = fs::metadata(path) else {
        return Ok(false);
    };
    let taken_ms = ledger.get(file_id)?.claimed_at_ms;
    let since = meta
        .modified()
        .map(crate::ledger::to_ms)
        .is_ok_and(|ms| ms >= taken_ms);
    if !since {
        return Ok(false);
    }
    let hash = |p: &Path| fs::File::open(p).and_then(fsutil::sha256_of).ok();
    Ok(hash(path).is_some_and(|found| Some(found) == hash(staged)))
}
