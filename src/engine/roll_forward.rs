//! Roll-forward (httm's word): makes a live tree's content equal to a snapshot's copy of it
//! without replacing the filesystem. Entries the snapshot lacks are removed, entries that
//! differ are removed and restored, missing ones restored (through the restore engine, so
//! every file is written to a temp name, verified and never through a link), and directory
//! metadata set back. It never crosses into another filesystem (a child dataset mounted
//! inside the tree) and never follows a link. The caller keeps the previous state (a guard).

use super::diff::EntryKind;
use super::restore::RestoreReport;
use super::restore_plan::{ConflictPolicy, PlanError, plan};
use std::ffi::OsString;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RollForwardError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot remove {path}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("restoring from the snapshot failed for {}: {reasons}", crate::engine::counted(*.count, "entry"))]
    Restore { count: usize, reasons: String },
    #[error("after the roll-forward the live tree still differs from the snapshot: {0}")]
    Differs(String),
}

/// What a roll-forward changes in the live tree, relative to its root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollForwardPlan {
    /// Live entries the snapshot does not have (removed; a directory with its content).
    pub remove: Vec<PathBuf>,
    /// Live entries that differ from the snapshot's (removed, then restored).
    pub replace: Vec<PathBuf>,
    /// Snapshot entries missing from the live tree (restored).
    pub restore: Vec<PathBuf>,
    /// Directories inside the tree where another filesystem is mounted (left alone).
    pub boundaries: Vec<PathBuf>,
}

fn read_meta(path: &Path) -> Result<Metadata, RollForwardError> {
    std::fs::symlink_metadata(path).map_err(|source| RollForwardError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn names(dir: &Path) -> Result<Vec<OsString>, RollForwardError> {
    let mut names: Vec<OsString> = std::fs::read_dir(dir)
        .and_then(|r| r.map(|e| e.map(|e| e.file_name())).collect())
        .map_err(|source| RollForwardError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
    names.sort();
    Ok(names)
}

/// Whether the live entry differs from the snapshot's in a way only a new copy fixes.
fn differs(snap: &Metadata, live: &Metadata, snap_path: &Path, live_path: &Path) -> bool {
    let kind = EntryKind::of(snap);
    if kind != EntryKind::of(live) {
        return true;
    }
    // A file or link whose owner or mode changed since is copied again: the copy carries
    // the snapshot's (directories get theirs at the end).
    let owner_or_mode = (snap.uid(), snap.gid()) != (live.uid(), live.gid())
        || kind != EntryKind::Symlink && snap.mode() != live.mode();
    if kind != EntryKind::Dir && owner_or_mode {
        return true;
    }
    match kind {
        EntryKind::File => {
            snap.len() != live.len()
                || snap.mtime() != live.mtime()
                || snap.mtime_nsec() != live.mtime_nsec()
        }
        EntryKind::Symlink => {
            std::fs::read_link(snap_path).ok() != std::fs::read_link(live_path).ok()
        }
        EntryKind::Other => snap.rdev() != live.rdev() || snap.mode() != live.mode(),
        EntryKind::Dir => false,
    }
}

/// Compares `snapshot_root` with `live_root` (the same directory in both), down to other
/// filesystems mounted in the live tree; `skip_names` are ignored at the top (`.zfs`).
pub fn plan_roll_forward(
    snapshot_root: &Path,
    live_root: &Path,
    skip_names: &[&str],
) -> Result<RollForwardPlan, RollForwardError> {
    let device = read_meta(live_root)?.dev();
    let mut out = RollForwardPlan::default();
    compare(
        snapshot_root,
        live_root,
        Path::new(""),
        device,
        skip_names,
        &mut out,
    )?;
    Ok(out)
}

fn compare(
    snap_dir: &Path,
    live_dir: &Path,
    rel: &Path,
    device: u64,
    skip_names: &[&str],
    out: &mut RollForwardPlan,
) -> Result<(), RollForwardError> {
    let top = rel.as_os_str().is_empty();
    let skipped = |n: &OsString| top && skip_names.iter().any(|s| n == *s);
    let live_names = names(live_dir)?;
    for name in live_names.iter().filter(|n| !skipped(n)) {
        let live_path = live_dir.join(name);
        let live = read_meta(&live_path)?;
        let rel_path = rel.join(name);
        if live.dev() != device {
            out.boundaries.push(rel_path);
            continue;
        }
        let snap_path = snap_dir.join(name);
        match std::fs::symlink_metadata(&snap_path) {
            Err(_) => out.remove.push(rel_path),
            Ok(snap) if differs(&snap, &live, &snap_path, &live_path) => out.replace.push(rel_path),
            Ok(snap) if snap.is_dir() => {
                compare(&snap_path, &live_path, &rel_path, device, skip_names, out)?
            }
            Ok(_) => {}
        }
    }
    for name in names(snap_dir)?.into_iter().filter(|n| !skipped(n)) {
        if live_names.binary_search(&name).is_err() {
            out.restore.push(rel.join(name));
        }
    }
    Ok(())
}

/// Removes `rel` under `live_root` (a directory with its content), never following a link
/// and never entering another filesystem: a mount found inside is left, with the
/// directories above it, and reported.
pub fn remove_entry(
    live_root: &Path,
    rel: &Path,
    device: u64,
) -> Result<Vec<PathBuf>, RollForwardError> {
    let path = live_root.join(rel);
    let meta = read_meta(&path)?;
    let removing = |r: std::io::Result<()>| {
        r.map_err(|source| RollForwardError::Remove {
            path: path.clone(),
            source,
        })
    };
    if !meta.is_dir() {
        removing(std::fs::remove_file(&path))?;
        return Ok(vec![]);
    }
    if meta.dev() != device {
        return Ok(vec![rel.to_path_buf()]);
    }
    let mounted_below = crate::ports::mounts::MountTable::read()
        .map(|t| {
            t.entries
                .iter()
                .any(|m| m.mount_point.starts_with(&path) && m.mount_point != path)
        })
        .unwrap_or(true);
    if !mounted_below {
        // remove_dir_all opens each directory without following links.
        removing(std::fs::remove_dir_all(&path))?;
        return Ok(vec![]);
    }
    let mut kept = Vec::new();
    for name in names(&path)? {
        kept.extend(remove_entry(live_root, &rel.join(name), device)?);
    }
    if kept.is_empty() {
        removing(std::fs::remove_dir(&path))?;
    }
    Ok(kept)
}

/// Does the roll-forward planned in `planned`: removals, then the restore of what is missing
/// or was replaced (verified by the restore engine), then the snapshot's directory
/// ownership, mode and times (deepest first, so that later changes do not move them).
pub fn execute_roll_forward(
    snapshot_root: &Path,
    live_root: &Path,
    planned: &RollForwardPlan,
    cancel: &AtomicBool,
) -> Result<RestoreReport, RollForwardError> {
    let device = read_meta(live_root)?.dev();
    for rel in planned.remove.iter().chain(&planned.replace) {
        if std::fs::symlink_metadata(live_root.join(rel)).is_ok() {
            remove_entry(live_root, rel, device)?;
        }
    }
    let selection: Vec<PathBuf> = planned
        .replace
        .iter()
        .chain(&planned.restore)
        .cloned()
        .collect();
    let report = if selection.is_empty() {
        RestoreReport::default()
    } else {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let restore = plan(
            snapshot_root,
            live_root,
            &selection,
            ConflictPolicy::Skip,
            &stamp,
        )?;
        super::restore::execute(&restore, cancel, &mut |_| {})
    };
    let problems: Vec<String> = report
        .failed
        .iter()
        .map(|f| format!("{}: {}", super::shown(&f.path), f.reason))
        .chain(
            report
                .skipped
                .iter()
                .map(|s| format!("{}: {}", super::shown(&s.path), s.reason)),
        )
        .collect();
    if report.cancelled || !problems.is_empty() {
        return Err(RollForwardError::Restore {
            count: problems.len().max(1),
            reasons: if problems.is_empty() {
                "cancelled".into()
            } else {
                problems.join("; ")
            },
        });
    }
    set_directory_attributes(snapshot_root, live_root, Path::new(""), device)?;
    Ok(report)
}

/// Ownership, mode and times of every directory in both trees, deepest first.
fn set_directory_attributes(
    snapshot_root: &Path,
    live_root: &Path,
    rel: &Path,
    device: u64,
) -> Result<(), RollForwardError> {
    let live_dir = live_root.join(rel);
    for name in names(&live_dir)? {
        let child = rel.join(&name);
        let live = read_meta(&live_root.join(&child))?;
        let in_snapshot =
            std::fs::symlink_metadata(snapshot_root.join(&child)).is_ok_and(|m| m.is_dir());
        if live.is_dir() && live.dev() == device && in_snapshot {
            set_directory_attributes(snapshot_root, live_root, &child, device)?;
        }
    }
    let snap = read_meta(&snapshot_root.join(rel))?;
    let dir = std::fs::File::open(&live_dir).map_err(|source| RollForwardError::Read {
        path: live_dir.clone(),
        source,
    })?;
    let source =
        std::fs::File::open(snapshot_root.join(rel)).map_err(|source| RollForwardError::Read {
            path: snapshot_root.join(rel),
            source,
        })?;
    super::attrs::apply_to_open(&dir, &snap, &source).map_err(|source| RollForwardError::Remove {
        path: live_dir,
        source,
    })
}

/// Proves the live tree equal to the snapshot's: the same entries of the same kinds, files
/// of the same size and mtime, the same link targets, the same owner and mode (another
/// filesystem mounted inside is not compared).
pub fn verify_equal(
    snapshot_root: &Path,
    live_root: &Path,
    skip_names: &[&str],
) -> Result<(), RollForwardError> {
    let left = plan_roll_forward(snapshot_root, live_root, skip_names)?;
    let mut problems: Vec<String> = left
        .remove
        .iter()
        .map(|p| format!("{} is not in the snapshot", super::shown(p)))
        .chain(
            left.replace
                .iter()
                .map(|p| format!("{} differs", super::shown(p))),
        )
        .chain(
            left.restore
                .iter()
                .map(|p| format!("{} is missing", super::shown(p))),
        )
        .collect();
    owners_and_modes(snapshot_root, live_root, Path::new(""), &mut problems)?;
    if problems.is_empty() {
        Ok(())
    } else {
        problems.truncate(20);
        Err(RollForwardError::Differs(problems.join("; ")))
    }
}

fn owners_and_modes(
    snapshot_root: &Path,
    live_root: &Path,
    rel: &Path,
    problems: &mut Vec<String>,
) -> Result<(), RollForwardError> {
    let snap = read_meta(&snapshot_root.join(rel))?;
    let Ok(live) = std::fs::symlink_metadata(live_root.join(rel)) else {
        return Ok(());
    };
    let link = snap.file_type().is_symlink();
    if (snap.uid(), snap.gid()) != (live.uid(), live.gid()) || !link && snap.mode() != live.mode() {
        problems.push(format!("{} has another owner or mode", super::shown(rel)));
    }
    if snap.is_dir() && live.is_dir() && live.dev() == read_meta(live_root)?.dev() {
        for name in names(&snapshot_root.join(rel))? {
            owners_and_modes(snapshot_root, live_root, &rel.join(name), problems)?;
        }
    }
    Ok(())
}
