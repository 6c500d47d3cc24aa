//! Small filesystem facts the engine needs: the nearest surviving ancestor of a lost path,
//! free space, whether two paths share a filesystem or name the same file.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The deepest existing ancestor of `path` (or `path` itself), canonicalised, and the
/// components below it that no longer exist.
pub fn surviving_ancestor(path: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    loop {
        if std::fs::symlink_metadata(existing).is_ok() {
            let canonical = std::fs::canonicalize(existing)?;
            let tail: PathBuf = missing.iter().rev().collect();
            return Ok((canonical, tail));
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name.to_os_string());
                existing = parent;
            }
            _ => return Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
        }
    }
}

/// `path` made absolute through its surviving ancestor (symlinks resolved), even when the
/// path itself no longer exists.
pub fn resolve_lost(path: &Path) -> std::io::Result<PathBuf> {
    let (anchor, tail) = surviving_ancestor(path)?;
    Ok(if tail.as_os_str().is_empty() {
        anchor
    } else {
        anchor.join(tail)
    })
}

/// Bytes available to unprivileged writers… and to root (`f_bavail`): we use what a normal
/// write can get, to stay clear of the reserve.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let (anchor, _) = surviving_ancestor(path)?;
    let st = nix::sys::statvfs::statvfs(&anchor).map_err(std::io::Error::from)?;
    Ok(st.blocks_available() as u64 * st.fragment_size() as u64)
}

/// `st_dev` of a path (each btrfs subvolume has its own).
pub fn device_of(path: &Path) -> std::io::Result<u64> {
    Ok(std::fs::symlink_metadata(path)?.dev())
}

/// Whether both paths name the very same file (device and inode, links followed).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// `path`, as a process whose root is `root` (`/proc/PID/root`) names it, seen from here.
pub fn under_root(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// Both paths (or their surviving ancestors) on one filesystem: the same superblock in the
/// mount table. (On btrfs `st_dev` and statfs's fsid differ per subvolume, so neither works.)
pub fn same_filesystem(a: &Path, b: &Path) -> bool {
    let Ok(table) = crate::ports::mounts::MountTable::read() else {
        return false;
    };
    let device = |p: &Path| {
        let (anchor, _) = surviving_ancestor(p).ok()?;
        table.holding(&anchor).ok().map(|m| m.majmin.clone())
    };
    matches!((device(a), device(b)), (Some(x), Some(y)) if x == y)
}

/// Magic number of the filesystem holding `path`, to name it in errors.
pub fn filesystem_kind(path: &Path) -> String {
    match nix::sys::statfs::statfs(path) {
        Ok(st) => {
            use nix::sys::statfs::*;
            let t = st.filesystem_type();
            if t == BTRFS_SUPER_MAGIC {
                "btrfs".into()
            } else if t == EXT4_SUPER_MAGIC {
                "ext4".into()
            } else if t == XFS_SUPER_MAGIC {
                "xfs".into()
            } else if t == TMPFS_MAGIC {
                "tmpfs".into()
            } else if t == OVERLAYFS_SUPER_MAGIC {
                "overlay".into()
            } else {
                format!("unknown (magic {:#x})", t.0)
            }
        }
        Err(e) => format!("unknown ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surviving_ancestor_returns_missing_tail() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        let (anchor, tail) = surviving_ancestor(&dir.path().join("a/b/c")).unwrap();
        assert_eq!(anchor, dir.path().canonicalize().unwrap().join("a"));
        assert_eq!(tail, PathBuf::from("b/c"));
    }
}
