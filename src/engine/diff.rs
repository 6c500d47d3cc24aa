//! Compares a snapshot's copy of PATH with the live tree: what the snapshot holds that is
//! gone ("deleted"), what differs in size or mtime ("changed"), and what is the same.

use super::diff_walk::{Stat, Walk, WalkError, entry};
use serde::Serialize;
use std::fs::Metadata;
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

/// Counts of what a snapshot would bring back. Fields in name order: the JSON keys come
/// out sorted, as in every other document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LostCounts {
    pub bytes: u64,
    pub entries: u64,
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

    pub(super) fn found(&self, entries: &[DiffEntry]) {
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
/// deleted entries at once). Reads metadata only (see [`super::diff_walk`]).
pub fn diff_counting(
    snapshot_dir: &Path,
    live_dir: &Path,
    cancel: &AtomicBool,
    progress: &DiffProgress,
) -> Result<TreeDiff, DiffError> {
    let root = std::fs::symlink_metadata(snapshot_dir)
        .map_err(|_| DiffError::NotInSnapshot(snapshot_dir.to_path_buf()))?;
    if !root.is_dir() {
        let live = std::fs::symlink_metadata(live_dir)
            .ok()
            .map(|m| Stat::of(&m));
        let e = entry(PathBuf::new(), &Stat::of(&root), live.as_ref(), || {
            std::fs::read_link(snapshot_dir).ok() != std::fs::read_link(live_dir).ok()
        });
        return Ok(TreeDiff {
            entries: vec![e],
            unreadable: vec![],
        });
    }
    let live_is_dir = std::fs::metadata(live_dir)
        .map(|m| m.is_dir())
        .unwrap_or(false);
    let walk = Walk { cancel, progress };
    let live = live_is_dir.then_some(live_dir);
    // The walk recurses once per directory level (up to ~2,000 within PATH_MAX): on
    // threads with room for that, not rayon's default 2 MiB stacks.
    let found = match deep_pool() {
        Some(pool) => pool.install(|| walk.subtree(snapshot_dir, live, Path::new(""))),
        None => walk.subtree(snapshot_dir, live, Path::new("")),
    };
    let (entries, unreadable) = match found {
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

/// Threads for the walk with stacks deep enough for any tree PATH_MAX allows (the memory is
/// only reserved, not used, until a walk goes that deep); `None` if they cannot be made.
fn deep_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .stack_size(256 << 20)
            .thread_name(|i| format!("diff-walk-{i}"))
            .build()
            .ok()
    })
    .as_ref()
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
    fn a_large_directory_is_compared_in_chunks_with_every_entry_in_order() {
        let snap = tempfile::tempdir().unwrap();
        let live = tempfile::tempdir().unwrap();
        let n = 5000;
        for i in 0..n {
            let name = format!("f{i:05}");
            fs::write(snap.path().join(&name), vec![b'x'; i % 7]).unwrap();
            if i % 3 != 0 {
                // Live: present, and every ninth one changed in size.
                let len = if i % 9 == 1 { 100 } else { i % 7 };
                fs::write(live.path().join(&name), vec![b'x'; len]).unwrap();
                let t = fs::metadata(snap.path().join(&name))
                    .unwrap()
                    .modified()
                    .unwrap();
                fs::File::options()
                    .write(true)
                    .open(live.path().join(&name))
                    .unwrap()
                    .set_modified(t)
                    .unwrap();
            }
        }
        // Names only the live side has, between and around the snapshot's.
        for extra in ["a", "f00000a", "f02500a", "zzz"] {
            fs::write(live.path().join(extra), "new").unwrap();
        }
        let d = diff(snap.path(), live.path(), &AtomicBool::new(false)).unwrap();
        assert_eq!(d.entries.len(), n);
        for (i, e) in d.entries.iter().enumerate() {
            assert_eq!(e.path, Path::new(&format!("f{i:05}")), "name order");
            let expected = if i % 3 == 0 {
                EntryStatus::Deleted
            } else if i % 9 == 1 {
                EntryStatus::Changed
            } else {
                EntryStatus::Same
            };
            assert_eq!(e.status, expected, "{}", e.path.display());
            assert_eq!(e.size, (i % 7) as u64);
        }
        assert_eq!(d.lost().entries, (n as u64).div_ceil(3));
    }

    #[test]
    fn a_tree_1500_levels_deep_with_siblings_is_walked_without_running_out_of_stack() {
        let snap = tempfile::tempdir().unwrap();
        let live = tempfile::tempdir().unwrap();
        for branch in 0..4 {
            let mut dir = snap.path().join(format!("deep{branch}"));
            for _ in 0..1500 {
                dir.push("d");
            }
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join("last.pth"), "x").unwrap();
        }
        let d = diff(snap.path(), live.path(), &AtomicBool::new(false)).unwrap();
        assert_eq!(d.entries.len(), 4 * 1502);
        assert_eq!(d.lost().entries, 4);
    }

    #[test]
    fn cancel_stops_the_walk() {
        let snap = tempfile::tempdir().unwrap();
        fs::create_dir(snap.path().join("d")).unwrap();
        let err = diff(snap.path(), snap.path(), &AtomicBool::new(true)).unwrap_err();
        assert!(matches!(err, DiffError::Cancelled));
    }
}
