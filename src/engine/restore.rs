//! Executes a restore plan: directories, files (through [`super::copy`]) and symlinks (as
//! symlinks, never followed), each with the snapshot's metadata; failures are listed and
//! the rest goes on; cancel leaves no partial file.

use super::copy::{CopyError, CopyMethod, StagedFile, rename_noreplace, stage_file, temp_name};
use super::diff::EntryKind;
use super::restore_plan::{PlannedItem, RestorePlan, SkippedItem};
use serde::{Serialize, Serializer};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

pub fn ser_path<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    super::path_json(path).serialize(s)
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoredItem {
    #[serde(serialize_with = "ser_path")]
    pub path: PathBuf,
    #[serde(serialize_with = "ser_path")]
    pub target: PathBuf,
    pub kind: EntryKind,
    pub size: u64,
    pub method: Option<CopyMethod>,
    /// BLAKE3 of the content, checked against the copy (None for directories, links, and
    /// reflinks verified by their shared extents).
    pub hash: Option<String>,
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
    pub restored: Vec<RestoredItem>,
    pub skipped: Vec<SkippedItem>,
    pub failed: Vec<FailedItem>,
    pub bytes: u64,
    pub cancelled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub items_done: usize,
    pub items_total: usize,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub current: PathBuf,
}

/// Copies ownership, mode, xattrs and times of `meta` (from `src`) onto `path`, without
/// following a symlink at `path`.
pub fn apply_metadata(path: &Path, meta: &std::fs::Metadata, src: &Path) -> std::io::Result<()> {
    use nix::sys::stat::{UtimensatFlags, utimensat};
    use nix::sys::time::TimeSpec;
    let is_link = meta.file_type().is_symlink();
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::lchown(path, Some(meta.uid()), Some(meta.gid()))?;
    }
    if !is_link {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    if let Ok(names) = xattr::list(src) {
        for name in names {
            if let Ok(Some(value)) = xattr::get(src, &name)
                && let Err(e) = xattr::set(path, &name, &value)
            {
                tracing::warn!(path = %path.display(), attr = ?name, error = %e, "xattr not copied");
            }
        }
    }
    utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &TimeSpec::new(meta.atime(), meta.atime_nsec()),
        &TimeSpec::new(meta.mtime(), meta.mtime_nsec()),
        UtimensatFlags::NoFollowSymlink,
    )?;
    Ok(())
}

fn restore_symlink(item: &PlannedItem) -> Result<(), CopyError> {
    let target = std::fs::read_link(&item.source).map_err(|source| CopyError::Io {
        action: "cannot read link",
        path: item.source.clone(),
        source,
    })?;
    let temp = temp_name(&item.target);
    std::os::unix::fs::symlink(&target, &temp).map_err(|source| CopyError::Io {
        action: "cannot create link",
        path: temp.clone(),
        source,
    })?;
    let meta = std::fs::symlink_metadata(&item.source).map_err(|source| CopyError::Io {
        action: "cannot stat",
        path: item.source.clone(),
        source,
    });
    let result = meta.and_then(|m| {
        apply_metadata(&temp, &m, &item.source).map_err(|source| CopyError::Io {
            action: "cannot set metadata on",
            path: item.target.clone(),
            source,
        })
    });
    let result = result.and_then(|_| rename_noreplace(&temp, &item.target));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Verified copies waiting to become durable and visible together: once a batch holds
/// [`BATCH_BYTES`] or [`BATCH_FILES`], it goes to the committer thread, which makes all of
/// them durable with one syncfs per filesystem (instead of one fsync per file, which for
/// small files is most of the time) and renames each into place, while copying goes on.
type Batch<'a> = Vec<(&'a PlannedItem, StagedFile)>;
type Committed<'a> = Vec<(&'a PlannedItem, Result<super::copy::CopiedFile, String>)>;

const BATCH_BYTES: u64 = 1 << 30;
const BATCH_FILES: usize = 512;

fn commit_batch(staged: Batch<'_>) -> Committed<'_> {
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
                None => file.commit().map_err(|e| e.to_string()),
            };
            (item, outcome)
        })
        .collect()
}

fn restored(
    report: &mut RestoreReport,
    item: &PlannedItem,
    method: Option<CopyMethod>,
    hash: Option<String>,
) {
    report.bytes += item.size;
    let verified_by = match (&method, &hash) {
        (_, Some(_)) => Some(Verification::Blake3),
        (Some(CopyMethod::Reflink), None) => Some(Verification::SharedExtents),
        _ => None,
    };
    report.restored.push(RestoredItem {
        verified_by,
        path: item.path.clone(),
        target: item.target.clone(),
        kind: item.kind,
        size: item.size,
        method,
        hash,
    });
}

/// Runs the plan. `progress` is called after each chunk and item.
pub fn execute(
    plan: &RestorePlan,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> RestoreReport {
    let mut report = RestoreReport {
        skipped: plan.skipped.clone(),
        failed: plan
            .unreadable
            .iter()
            .map(|u| FailedItem {
                path: u.path.clone(),
                reason: u.reason.clone(),
            })
            .collect(),
        ..Default::default()
    };
    let mut state = Progress {
        items_total: plan.items.len(),
        bytes_total: plan.bytes,
        ..Default::default()
    };
    let mut created_dirs = Vec::new();
    let committed = std::thread::scope(|scope| {
        let (to_commit, batches) = std::sync::mpsc::sync_channel::<Batch>(1);
        let committer = scope.spawn(move || {
            batches
                .into_iter()
                .flat_map(commit_batch)
                .collect::<Committed>()
        });
        let mut batch: Batch = Vec::new();
        let mut batch_bytes = 0u64;
        for item in &plan.items {
            if cancel.load(Ordering::Relaxed) {
                report.cancelled = true;
                break;
            }
            state.current = item.path.clone();
            progress(&state);
            let outcome = match item.kind {
                EntryKind::Dir => match std::fs::create_dir(&item.target) {
                    Ok(()) => {
                        created_dirs.push(item);
                        Ok(())
                    }
                    // Created meanwhile by someone else: merge into it, leave its metadata.
                    Err(_) if item.target.is_dir() && !item.target.is_symlink() => Ok(()),
                    Err(e) => Err(e.to_string()),
                },
                EntryKind::Symlink => restore_symlink(item).map_err(|e| e.to_string()),
                _ => {
                    let mut on_bytes = |n: u64| {
                        state.bytes_done += n;
                        progress(&state);
                    };
                    match stage_file(
                        &item.source,
                        &item.target,
                        plan.reflink,
                        cancel,
                        &mut on_bytes,
                    ) {
                        Ok(staged) => {
                            batch_bytes += item.size;
                            batch.push((item, staged));
                            if batch_bytes >= BATCH_BYTES || batch.len() >= BATCH_FILES {
                                let _ = to_commit.send(std::mem::take(&mut batch));
                                batch_bytes = 0;
                            }
                            state.items_done += 1;
                            continue;
                        }
                        Err(CopyError::Cancelled) => {
                            report.cancelled = true;
                            break;
                        }
                        Err(e) => Err(e.to_string()),
                    }
                }
            };
            match outcome {
                Ok(()) => restored(&mut report, item, None, None),
                Err(reason) => report.failed.push(FailedItem {
                    path: item.path.clone(),
                    reason,
                }),
            }
            state.items_done += 1;
        }
        // What was copied and verified before a cancel is kept.
        let _ = to_commit.send(batch);
        drop(to_commit);
        committer.join().unwrap_or_default()
    });
    for (item, outcome) in committed {
        match outcome {
            Ok(c) => restored(&mut report, item, Some(c.method), c.hash),
            Err(reason) => report.failed.push(FailedItem {
                path: item.path.clone(),
                reason,
            }),
        }
    }
    // Directory metadata last (deepest first), so our writes inside do not change it.
    for dir in created_dirs.iter().rev() {
        let result = std::fs::symlink_metadata(&dir.source)
            .and_then(|m| apply_metadata(&dir.target, &m, &dir.source));
        if let Err(e) = result {
            report.failed.push(FailedItem {
                path: dir.path.clone(),
                reason: format!("directory restored but its metadata not: {e}"),
            });
        }
    }
    sync_parents(&report.restored);
    progress(&state);
    report
}

/// fsync each parent directory once so the renames are durable.
fn sync_parents(restored: &[RestoredItem]) {
    let parents: std::collections::BTreeSet<&Path> =
        restored.iter().filter_map(|r| r.target.parent()).collect();
    for parent in parents {
        if let Ok(dir) = std::fs::File::open(parent) {
            let _ = dir.sync_all();
        }
    }
}
