//! What a restore did: restored, skipped and failed entries, each failure with its reason,
//! and whether it was cancelled. The work itself is in [`super::restore_run`].

use super::copy::{CopyMethod, StagedFile};
use super::diff::EntryKind;
use super::restore_plan::{PlannedItem, SkippedItem};
use serde::{Serialize, Serializer};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub use super::restore_run::execute;

pub fn ser_path<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    super::JsonPath(path).serialize(s)
}

/// Fields in name order: the JSON keys come out sorted, as in every other document.
#[derive(Debug, Clone, Serialize)]
pub struct RestoredItem {
    /// BLAKE3 of the content, checked against the copy (None for directories, links, and
    /// reflinks verified by their shared extents).
    pub hash: Option<String>,
    pub kind: EntryKind,
    /// `copy`, `reflink`, or `hard_link` (a link to another restored file, as in the
    /// snapshot); None for directories and symbolic links.
    pub method: Option<CopyMethod>,
    #[serde(serialize_with = "ser_path")]
    pub path: PathBuf,
    pub size: u64,
    #[serde(serialize_with = "ser_path")]
    pub target: PathBuf,
    /// How the copy was proven equal to the snapshot (files only).
    pub verified_by: Option<Verification>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    /// The copy was read back and its BLAKE3 hash matched the snapshot's.
    Blake3,
    /// A reflink whose every extent is the snapshot file's own (no data read).
    SharedExtents,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailedItem {
    #[serde(serialize_with = "ser_path")]
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RestoreReport {
    /// Where PATH's copy went (absolute).
    #[serde(serialize_with = "ser_path")]
    pub destination: PathBuf,
    pub restored: Vec<RestoredItem>,
    pub skipped: Vec<SkippedItem>,
    pub failed: Vec<FailedItem>,
    pub bytes: u64,
    pub cancelled: bool,
    /// Temporary files of earlier, killed restores removed before this one.
    #[serde(serialize_with = "ser_paths")]
    pub swept: Vec<PathBuf>,
}

impl RestoreReport {
    /// Entries that went beside their place (keep-both, or a link in the way) rather than
    /// to it: (path relative to PATH, where it went), outermost only (a folder kept beside
    /// carries its contents along).
    pub fn kept_beside(&self) -> Vec<(PathBuf, PathBuf)> {
        if self.destination.as_os_str().is_empty() {
            return Vec::new(); // not known: nothing to compare with
        }
        let moved: Vec<&RestoredItem> = self
            .restored
            .iter()
            .filter(|r| r.target != self.destination.join(&r.path))
            .collect();
        moved
            .iter()
            .filter(|r| {
                !moved
                    .iter()
                    .any(|o| o.path != r.path && r.path.starts_with(&o.path))
            })
            .map(|r| (r.path.clone(), r.target.clone()))
            .collect()
    }
}

fn ser_paths<S: Serializer>(paths: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(paths.iter().map(|p| super::JsonPath(p)))
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub items_done: usize,
    pub items_total: usize,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub current: PathBuf,
    /// Milliseconds since the restore began (for the rate and the time left).
    pub elapsed_ms: u64,
}

impl Progress {
    /// Bytes per second so far, once there is enough to tell.
    pub fn rate(&self) -> Option<f64> {
        (self.elapsed_ms >= 500 && self.bytes_done > 0)
            .then(|| self.bytes_done as f64 * 1000.0 / self.elapsed_ms as f64)
    }

    /// Seconds left at the rate so far.
    pub fn seconds_left(&self) -> Option<u64> {
        let rate = self.rate()?;
        Some((self.bytes_total.saturating_sub(self.bytes_done) as f64 / rate).ceil() as u64)
    }
}

/// Verified copies waiting to become durable and visible together: once a batch holds
/// [`BATCH_BYTES`] or [`BATCH_FILES`], it goes to the committer thread, which makes all of
/// them durable with one syncfs per filesystem (instead of one fsync per file, which for
/// small files is most of the time) and renames each into place, while copying goes on.
pub(super) type Batch<'a> = Vec<(&'a PlannedItem, StagedFile)>;
pub(super) type Committed<'a> = Vec<(&'a PlannedItem, Result<super::copy::CopiedFile, String>)>;

pub(super) const BATCH_BYTES: u64 = 1 << 30;
pub(super) const BATCH_FILES: usize = 512;

pub(super) fn commit_batch(staged: Batch<'_>, alternatives: usize) -> Committed<'_> {
    let mut synced: Vec<u64> = Vec::new();
    let mut sync_error = None;
    for (_, file) in &staged {
        let dev = file.file().metadata().map(|m| m.dev()).unwrap_or(0);
        if !synced.contains(&dev) {
            synced.push(dev);
            if let Err(e) = nix::unistd::syncfs(file.file()) {
                sync_error = Some(format!("cannot sync the destination filesystem: {e}"));
            }
        }
    }
    staged
        .into_iter()
        .map(|(item, file)| {
            // A copy that is not durable is not put in place (dropping removes it).
            let outcome = match &sync_error {
                Some(e) => Err(e.clone()),
                None => file.commit(alternatives).map_err(|e| e.to_string()),
            };
            (item, outcome)
        })
        .collect()
}
