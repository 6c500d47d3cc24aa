//! Compares a snapshot's copy of PATH with the live tree: what the snapshot holds that is
//! gone ("deleted"), what differs in size or mtime ("changed"), and what is the same.

use serde::Serialize;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

impl EntryKind {
    pub fn of(meta: &Metadata) -> Self {
        let t = meta.file_type();
        if t.is_symlink() {
            EntryKind::Symlink
        } else if t.is_dir() {
            EntryKind::Dir
        } else if t.is_file() {
            EntryKind::File
        } else {
            EntryKind::Other
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// In the snapshot, missing from the live tree.
    Deleted,
    /// In both, with a different kind, size, mtime or link target.
    Changed,
    Same,
}

/// One entry of the snapshot's tree, relative to PATH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffEntry {
    pub path: PathBuf,
    pub kind: EntryKind,
    pub size: u64,
    pub mtime: i64,
    pub status: EntryStatus,
}

#[derive(Debug, Error)]
pub enum DiffError {
    #[error("{0} is not in this snapshot: it was created after the snapshot or never existed")]
    NotInSnapshot(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cancelled")]
    Cancelled,
}

/// The whole comparison; `entries` are in depth-first, name order.
#[derive(Debug, Clone, Default)]
pub struct TreeDiff {
    pub entries: Vec<DiffEntry>,
    /// Directories of the snapshot that could not be read, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Counts of what a snapshot would bring back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LostCounts {
    pub entries: u64,
    pub bytes: u64,
}

impl TreeDiff {
    pub fn with_status(&self, status: EntryStatus) -> impl Iterator<Item = &DiffEntry> {
        self.entries.iter().filter(move |e| e.status == status)
    }

    /// Deleted files and links (directories are containers, not counted) and their bytes.
    pub fn lost(&self) -> LostCounts {
        self.with_status(EntryStatus::Deleted)
            .filter(|e| e.kind != EntryKind::Dir)
            .fold(LostCounts::default(), |acc, e| LostCounts {
                entries: acc.entries + 1,
                bytes: acc.bytes + e.size,
            })
    }
}

/// Compares `snapshot_dir` (the snapshot's copy of PATH) with `live_dir` (PATH now).
pub fn diff(
    snapshot_dir: &Path,
    live_dir: &Path,
    cancel: &AtomicBool,
) -> Result<TreeDiff, DiffError> {
    diff_counting(snapshot_dir, live_dir, cancel, &DiffProgress::default())
}

/// What a running comparison has found so far, for the screen.
#[derive(Debug, Default)]
pub struct DiffProgress {
    pub scanned: AtomicU64,
    /// The first deleted entries found (at most [`DiffProgress::EARLY`]), in discovery order.
    pub first_deleted: std::sync::Mutex<Vec<PathBuf>>,
    /// What opening the snapshot is doing (a cloud rescue disk takes minutes).
    pub stage: std::sync::Mutex<String>,
}

impl DiffProgress {
    pub const EARLY: usize = 50;

    fn found(&self, entries: &[DiffEntry]) {
        self.scanned
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        if let Ok(mut early) = self.first_deleted.lock()
            && early.len() < Self::EARLY
        {
            let room = Self::EARLY - early.len();
            let deleted = entries.iter().filter(|e| e.status == EntryStatus::Deleted);
            early.extend(deleted.take(room).map(|e| e.path.clone()));
        }
    }
}

/// [`diff`], reporting what it finds to `progress` as it goes (the count, and the first
/// deleted entries at once). Reads metadata only (fstatat relative to each directory),
/// directories in parallel.
pub fn diff_counting(
    snapshot_dir: &Path,
    live_dir: &Path,
    cancel: &AtomicBool,
    progress: &DiffProgress,
) -> Result<TreeDiff, DiffError> {
    let root = std::fs::symlink_metadata(snapshot_dir)
        .map_err(|_| DiffError::NotInSnapshot(snapshot_dir.to_path_buf()))?;
    if !root.is_dir() {
        let live = std::fs::symlink_metadata(live_dir).ok();
        let e = entry(PathBuf::new(), &root, live.as_ref(), snapshot_dir, live_dir);
        return Ok(TreeDiff {
            entries: vec![e],
            unreadable: vec![],
        });
    }
    let live_is_dir = std::fs::metadata(live_dir)
        .map(|m| m.is_dir())
        .unwrap_or(false);
    let walk = Walk { cancel, progress };
    let (entries, unreadable) =
        match walk.subtree(snapshot_dir, live_is_dir.then_some(live_dir), Path::new("")) {
            Ok(found) => found,
            Err(WalkError::Cancelled) => return Err(DiffError::Cancelled),
            Err(WalkError::Root(source)) => {
                return Err(DiffError::Read {
                    path: snapshot_dir.to_path_buf(),
                    source,
                });
            }
        };
    Ok(TreeDiff {
        entries,
        unreadable,
    })
}

fn entry(
    rel: PathBuf,
    snap: &Metadata,
    live: Option<&Metadata>,
    snap_path: &Path,
    live_path: &Path,
) -> DiffEntry {
    let kind = EntryKind::of(snap);
    let status = match live {
        None => EntryStatus::Deleted,
        Some(l) if EntryKind::of(l) != kind => EntryStatus::Changed,
        Some(l) => {
            let differs = match kind {
                EntryKind::File => {
                    l.len() != snap.len()
                        || l.mtime() != snap.mtime()
                        || l.mtime_nsec() != snap.mtime_nsec()
                }
                EntryKind::Symlink => {
                    std::fs::read_link(snap_path).ok() != std::fs::read_link(live_path).ok()
                }
                _ => false,
            };
            if differs {
                EntryStatus::Changed
            } else {
                EntryStatus::Same
            }
        }
    };
    DiffEntry {
        path: rel,
        kind,
        size: if kind == EntryKind::Dir {
            0
        } else {
            snap.len()
        },
        mtime: snap.mtime(),
        status,
    }
}

/// Directories with more children than this are compared in chunks of this many, in
/// parallel (one directory of 200,000 files is common: a dataset's shards).
const PARALLEL_FROM: usize = 1024;

enum WalkError {
    Cancelled,
    Root(std::io::Error),
}

type Found = (Vec<DiffEntry>, Vec<(PathBuf, String)>);

struct Walk<'a> {
    cancel: &'a AtomicBool,
    progress: &'a DiffProgress,
}

impl Walk<'_> {
    /// Entries below `snap_dir` in depth-first name order; subdirectories in parallel.
    fn subtree(
        &self,
        snap_dir: &Path,
        live_dir: Option<&Path>,
        rel: &Path,
    ) -> Result<Found, WalkError> {
        use rayon::prelude::*;
        if self.cancel.load(Ordering::Relaxed) {
            return Err(WalkError::Cancelled);
        }
        let mut unreadable = Vec::new();
        let mut children: Vec<std::fs::DirEntry> = match std::fs::read_dir(snap_dir) {
            Ok(r) => r.flatten().collect(),
            Err(e) if rel.as_os_str().is_empty() => return Err(WalkError::Root(e)),
            Err(e) => return Ok((vec![], vec![(rel.to_path_buf(), e.to_string())])),
        };
        children.sort_by_key(|d| d.file_name());
        let live: HashMap<OsString, std::fs::DirEntry> = live_dir
            .and_then(|d| std::fs::read_dir(d).ok())
            .map(|r| r.flatten().map(|d| (d.file_name(), d)).collect())
            .unwrap_or_default();
        // Each child stated on both sides (relative to its directory); a large directory's
        // children in parallel chunks, in name order still.
        let compare = |child: &std::fs::DirEntry| {
            let name = child.file_name();
            let snap_meta = child.metadata().ok()?;
            let live_entry = live.get(&name);
            let live_meta = live_entry.and_then(|d| d.metadata().ok());
            let e = entry(
                rel.join(&name),
                &snap_meta,
                live_meta.as_ref(),
                &child.path(),
                &live_entry.map(|d| d.path()).unwrap_or_default(),
            );
            let live_child = live_meta
                .as_ref()
                .filter(|m| m.is_dir())
                .and(live_entry)
                .map(|d| d.path());
            Some((e, live_child))
        };
        let compared: Vec<(DiffEntry, Option<PathBuf>)> = if children.len() > PARALLEL_FROM {
            children
                .par_chunks(PARALLEL_FROM)
                .map(|chunk| chunk.iter().filter_map(compare).collect::<Vec<_>>())
                .collect::<Vec<_>>()
                .concat()
        } else {
            children.iter().filter_map(compare).collect()
        };
        let mut here = Vec::with_capacity(compared.len());
        let mut dirs = Vec::new();
        for (e, live_child) in compared {
            if e.kind == EntryKind::Dir {
                dirs.push((
                    here.len(),
                    snap_dir.join(e.path.file_name().unwrap_or_default()),
                    live_child,
                    e.path.clone(),
                ));
            }
            here.push(e);
        }
        self.progress.found(&here);
        let below: Vec<Result<Found, WalkError>> = dirs
            .par_iter()
            .map(|(_, snap, live, rel)| self.subtree(snap, live.as_deref(), rel))
            .collect();
        let mut out = Vec::with_capacity(here.len());
        let mut next_dir = dirs.iter().map(|d| d.0).zip(below).peekable();
        for (i, e) in here.into_iter().enumerate() {
            out.push(e);
            if next_dir.peek().is_some_and(|(pos, _)| *pos == i) {
                let (_, found) = next_dir.next().expect("peeked");
                let (entries, bad) = found?;
                out.extend(entries);
                unreadable.extend(bad);
            }
        }
        Ok((out, unreadable))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn finds_deleted_changed_and_same_entries() {
        let snap = tempfile::tempdir().unwrap();
        let live = tempfile::tempdir().unwrap();
        for root in [snap.path(), live.path()] {
            fs::create_dir_all(root.join("logs")).unwrap();
            fs::write(root.join("train.py"), "print(1)").unwrap();
        }
        fs::create_dir(snap.path().join("ckpt")).unwrap();
        fs::write(snap.path().join("ckpt/epoch_10.pth"), vec![1u8; 100]).unwrap();
        fs::write(snap.path().join("logs/train.log"), "a").unwrap();
        fs::write(live.path().join("logs/train.log"), "a longer log").unwrap();
        // Same content and mtime for train.py on both sides.
        let t = fs::metadata(snap.path().join("train.py"))
            .unwrap()
            .modified()
            .unwrap();
        fs::File::options()
            .write(true)
            .open(live.path().join("train.py"))
            .unwrap()
            .set_modified(t)
            .unwrap();

        let d = diff(snap.path(), live.path(), &AtomicBool::new(false)).unwrap();
        let status = |p: &str| {
            d.entries
                .iter()
                .find(|e| e.path == Path::new(p))
                .unwrap()
                .status
        };
        assert_eq!(status("ckpt"), EntryStatus::Deleted);
        assert_eq!(status("ckpt/epoch_10.pth"), EntryStatus::Deleted);
        assert_eq!(status("logs/train.log"), EntryStatus::Changed);
        assert_eq!(status("train.py"), EntryStatus::Same);
        assert_eq!(
            d.lost(),
            LostCounts {
                entries: 1,
                bytes: 100
            }
        );
    }

    #[test]
    fn missing_snapshot_dir_is_a_clear_error() {
        let live = tempfile::tempdir().unwrap();
        let err = diff(
            &live.path().join("nope"),
            live.path(),
            &AtomicBool::new(false),
        )
        .unwrap_err();
        assert!(err.to_string().contains("not in this snapshot"));
    }

    #[test]
    fn progress_counts_and_shows_the_first_deleted_entries() {
        let snap = tempfile::tempdir().unwrap();
        let live = tempfile::tempdir().unwrap();
        fs::create_dir(snap.path().join("d")).unwrap();
        for i in 0..3 {
            fs::write(snap.path().join(format!("d/f{i}")), "x").unwrap();
        }
        let progress = DiffProgress::default();
        diff_counting(snap.path(), live.path(), &AtomicBool::new(false), &progress).unwrap();
        assert_eq!(progress.scanned.load(Ordering::Relaxed), 4);
        assert_eq!(progress.first_deleted.lock().unwrap().len(), 4);
    }

    #[test]
    fn cancel_stops_the_walk() {
        let snap = tempfile::tempdir().unwrap();
        fs::create_dir(snap.path().join("d")).unwrap();
        let err = diff(snap.path(), snap.path(), &AtomicBool::new(true)).unwrap_err();
        assert!(matches!(err, DiffError::Cancelled));
    }
}
