//! Where a restore plan puts things: the destination split into an existing anchor and the
//! part to create (PATH's missing parents take the snapshot's metadata), and the names
//! keep-both gives entries restored beside what is there.

use super::restore_plan::{Destination, PlanError};
use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Splits `dest_dir` into an existing anchor directory and the part to create.
pub(super) fn destination(
    snapshot_dir: &Path,
    dest_dir: &Path,
) -> Result<(Destination, PathBuf), PlanError> {
    // `dest_dir` was resolved once (PATH when the session opened, `--to` when the restore
    // began); it is not resolved again here, and the restore opens it without following
    // links, so a link swapped in meanwhile is refused, never followed.
    let (mut anchor, mut tail) = existing_part(dest_dir);
    // An existing PATH that is not a directory is a name in its parent, so it is planned
    // (and checked for conflicts) like everything else.
    if tail.as_os_str().is_empty()
        && !std::fs::symlink_metadata(&anchor).is_ok_and(|m| m.is_dir())
        && let (Some(parent), Some(name)) = (anchor.parent(), anchor.file_name())
    {
        tail = PathBuf::from(name);
        anchor = parent.to_path_buf();
    }
    if let Ok(target) = std::fs::read_link(&anchor) {
        return Err(PlanError::Destination {
            path: dest_dir.into(),
            source: std::io::Error::other(format!(
                "{} is a symbolic link (to {}), not the directory it was when it was \
                 resolved; nothing was written",
                super::shown(&anchor),
                super::shown(&target)
            )),
        });
    }
    if !std::fs::symlink_metadata(&anchor).is_ok_and(|m| m.is_dir()) {
        return Err(PlanError::Destination {
            path: dest_dir.into(),
            source: std::io::Error::other(format!("{} is not a directory", super::shown(&anchor))),
        });
    }
    // A read-only btrfs subvolume or an immutable directory on a writable filesystem:
    // refused once, before anything is tried.
    match nix::unistd::access(&anchor, nix::unistd::AccessFlags::W_OK) {
        Err(nix::errno::Errno::EROFS) => return Err(PlanError::ReadOnly(dest_dir.into())),
        Err(e) => {
            return Err(PlanError::Destination {
                path: dest_dir.into(),
                source: std::io::Error::other(format!(
                    "{} cannot be written to: {e}",
                    super::shown(&anchor)
                )),
            });
        }
        Ok(()) => {}
    }
    let mut parents = Vec::new();
    if let Some(above) = tail.parent() {
        let depth = above.components().count();
        let mut prefix = PathBuf::new();
        for (i, name) in above.components().enumerate() {
            prefix.push(name);
            // The snapshot's directory of the same name at the same place above PATH.
            let up = depth - i;
            let source = snapshot_dir
                .ancestors()
                .nth(up)
                .filter(|d| d.file_name() == Some(name.as_os_str()))
                .filter(|d| std::fs::symlink_metadata(d).is_ok_and(|m| m.is_dir()))
                .map(Path::to_path_buf);
            parents.push((prefix.clone(), source));
        }
    }
    Ok((
        Destination {
            root: dest_dir.to_path_buf(),
            anchor,
            parents,
        },
        tail,
    ))
}

/// The longest existing prefix of the absolute `path` (looked up, not resolved) and the
/// missing rest.
fn existing_part(path: &Path) -> (PathBuf, PathBuf) {
    let mut existing = path;
    let mut missing = Vec::new();
    while std::fs::symlink_metadata(existing).is_err() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name);
                existing = parent;
            }
            _ => break,
        }
    }
    (existing.to_path_buf(), missing.iter().rev().collect())
}

/// The keep-both copies (`NAME.restored-…`) in each directory a plan looked at: name, size
/// and modification time, read once per directory (a keep-both restore of a large folder
/// would otherwise list it once per file).
#[derive(Default)]
pub(super) struct KeptBeside {
    by_dir: std::collections::HashMap<PathBuf, Vec<KeptCopy>>,
}

/// A keep-both copy: its name, size and modification time (seconds, nanoseconds).
type KeptCopy = (std::ffi::OsString, u64, (i64, i64));

impl KeptBeside {
    /// A keep-both copy of the snapshot file `meta` already beside `live` (an earlier
    /// keep-both restore): same size and modification time.
    pub(super) fn find(&mut self, live: &Path, meta: &std::fs::Metadata) -> Option<PathBuf> {
        let mut prefix = live.file_name()?.as_bytes().to_vec();
        prefix.extend_from_slice(b".restored-");
        let dir = live.parent()?;
        let copies = self.by_dir.entry(dir.to_path_buf()).or_insert_with(|| {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .as_bytes()
                        .windows(10)
                        .any(|w| w == b".restored-")
                })
                .filter_map(|e| {
                    let m = e.metadata().ok().filter(|m| m.is_file())?;
                    Some((e.file_name(), m.len(), (m.mtime(), m.mtime_nsec())))
                })
                .collect()
        });
        copies
            .iter()
            .find(|(name, len, mtime)| {
                name.as_bytes().starts_with(&prefix)
                    && *len == meta.len()
                    && *mtime == (meta.mtime(), meta.mtime_nsec())
            })
            .map(|(name, _, _)| PathBuf::from(name))
    }
}

/// A free keep-both name for `target`: `name.restored-STAMP`, else with `-2`, `-3`… (two
/// runs in one second must not collide).
pub(super) fn keep_both_target(
    anchor: &Path,
    target: &Path,
    stamp: &str,
    taken: &HashSet<PathBuf>,
) -> PathBuf {
    let name = target.file_name().unwrap_or_default();
    let first = super::copy::suffixed(name, &format!(".restored-{stamp}"));
    (1..1000)
        .map(|k| {
            if k == 1 {
                first.clone()
            } else {
                super::copy::suffixed(name, &format!(".restored-{stamp}-{k}"))
            }
        })
        .map(|n| target.with_file_name(n))
        // Free on disk and not given to another entry of this plan (two long names can
        // shorten to the same one).
        .find(|t| !taken.contains(t) && std::fs::symlink_metadata(anchor.join(t)).is_err())
        .unwrap_or_else(|| target.with_file_name(first))
}
