//! What a rollback would discard: files in the live subvolume written after the snapshot.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewerFiles {
    pub count: u64,
    pub bytes: u64,
    /// The most recently modified ones, newest first (path relative to the root, mtime).
    pub newest: Vec<(PathBuf, i64)>,
}

/// Walks `root` (staying on its device, so nested subvolumes are left out) for files
/// modified after `since` (seconds since the epoch).
pub fn files_newer_than(root: &Path, since: i64, keep: usize) -> NewerFiles {
    let mut out = NewerFiles::default();
    for entry in walkdir::WalkDir::new(root)
        .same_file_system(true)
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        let Ok(meta) = entry.metadata() else { continue };
        // Changed since: the status-change time, which a copy that keeps an old mtime
        // (`cp -a`, a restore) cannot set back.
        if meta.is_dir() || meta.ctime().max(meta.mtime()) < since {
            continue;
        }
        out.count += 1;
        out.bytes += meta.len();
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap_or(entry.path())
            .to_path_buf();
        out.newest.push((rel, meta.ctime().max(meta.mtime())));
        if out.newest.len() > keep * 4 {
            out.newest.sort_by_key(|b| std::cmp::Reverse(b.1));
            out.newest.truncate(keep);
        }
    }
    out.newest.sort_by_key(|b| std::cmp::Reverse(b.1));
    out.newest.truncate(keep);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_files_changed_after_the_time_even_with_an_old_mtime() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("copied"), "x").unwrap();
        std::fs::write(dir.path().join("new"), "yy").unwrap();
        // As `cp -a` leaves it: an old mtime on a file written just now.
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000);
        std::fs::File::options()
            .write(true)
            .open(dir.path().join("copied"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let now = chrono::Utc::now().timestamp();
        let found = files_newer_than(dir.path(), now - 60, 5);
        assert_eq!((found.count, found.bytes), (2, 3));
        let found = files_newer_than(dir.path(), now + 3600, 5);
        assert_eq!(found.count, 0, "nothing changed after a time to come");
    }
}
