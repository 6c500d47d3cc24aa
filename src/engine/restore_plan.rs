//! Plans a restore before anything is written: which entries, where each goes (conflicts are
//! skipped or kept beside, never overwritten), how many bytes, and whether they fit.

use super::diff::EntryKind;
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictPolicy {
    /// Leave the live file alone and report it as skipped.
    Skip,
    /// Restore beside it as `name.restored-<timestamp>`.
    KeepBoth,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedItem {
    /// Relative to PATH.
    pub path: PathBuf,
    pub source: PathBuf,
    pub target: PathBuf,
    pub kind: EntryKind,
    pub size: u64,
    pub allocated: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedItem {
    #[serde(serialize_with = "crate::engine::restore::ser_path")]
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct RestorePlan {
    pub items: Vec<PlannedItem>,
    pub skipped: Vec<SkippedItem>,
    /// Entries of the snapshot that could not be read (they fail the restore).
    pub unreadable: Vec<SkippedItem>,
    pub reflink: bool,
    pub bytes: u64,
    pub needed: u64,
    pub available: u64,
}

#[derive(Debug, Error)]
pub enum PlanError {
    #[error(
        "not enough space at {dest}: restoring needs {needed} but only {available} is free; \
         nothing was copied. Free space there or restore to another disk with --to DIR"
    )]
    NoSpace {
        dest: PathBuf,
        needed: String,
        available: String,
    },
    #[error(
        "{0} is on a read-only filesystem; nothing was copied. Restore elsewhere with --to DIR"
    )]
    ReadOnly(PathBuf),
    #[error("cannot use destination {path}: {source}")]
    Destination {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is not in the snapshot")]
    NotInSnapshot(PathBuf),
}

fn human(bytes: u64) -> String {
    humansize::format_size(bytes, humansize::BINARY)
}

/// Expands `selection` (paths relative to PATH; a directory means its whole subtree) into
/// items from `snapshot_dir` to `dest_dir`.
pub fn plan(
    snapshot_dir: &Path,
    dest_dir: &Path,
    selection: &[PathBuf],
    policy: ConflictPolicy,
    stamp: &str,
) -> Result<RestorePlan, PlanError> {
    let mut wanted = BTreeSet::new();
    let mut unreadable = Vec::new();
    for rel in selection {
        let root = snapshot_dir.join(rel);
        if std::fs::symlink_metadata(&root).is_err() {
            return Err(PlanError::NotInSnapshot(rel.clone()));
        }
        // Parents first, so missing directories are created with their snapshot metadata.
        for ancestor in rel
            .ancestors()
            .skip(1)
            .filter(|a| !a.as_os_str().is_empty())
        {
            if std::fs::symlink_metadata(dest_dir.join(ancestor)).is_err() {
                wanted.insert(ancestor.to_path_buf());
            }
        }
        for entry in walkdir::WalkDir::new(&root)
            .follow_links(false)
            .follow_root_links(false)
        {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = e
                        .path()
                        .map(|p| p.strip_prefix(snapshot_dir).unwrap_or(p).to_path_buf())
                        .unwrap_or_else(|| rel.clone());
                    unreadable.push(SkippedItem {
                        path,
                        reason: format!("cannot read it in the snapshot: {e}"),
                    });
                    continue;
                }
            };
            let rel_entry = entry
                .path()
                .strip_prefix(snapshot_dir)
                .unwrap_or(entry.path());
            wanted.insert(rel_entry.to_path_buf());
        }
    }
    let mut items = Vec::new();
    let mut skipped = Vec::new();
    for rel in wanted {
        let source = snapshot_dir.join(&rel);
        let Ok(meta) = std::fs::symlink_metadata(&source) else {
            continue;
        };
        let kind = EntryKind::of(&meta);
        let mut target = dest_dir.join(&rel);
        if let Ok(existing) = std::fs::symlink_metadata(&target) {
            if kind == EntryKind::Dir && existing.is_dir() {
                continue; // merge into the existing directory
            }
            match policy {
                ConflictPolicy::Skip => {
                    skipped.push(SkippedItem {
                        path: rel.clone(),
                        reason: "exists in the live tree; kept as is (use --conflict keep-both to restore beside it)".into(),
                    });
                    continue;
                }
                ConflictPolicy::KeepBoth => {
                    let mut name = target.file_name().unwrap_or_default().to_os_string();
                    name.push(format!(".restored-{stamp}"));
                    target = target.with_file_name(name);
                }
            }
        }
        if kind == EntryKind::Other {
            skipped.push(SkippedItem {
                path: rel.clone(),
                reason: "special file (device, fifo or socket): not restored".into(),
            });
            continue;
        }
        items.push(PlannedItem {
            path: rel,
            source,
            target,
            kind,
            size: if kind == EntryKind::File {
                meta.len()
            } else {
                0
            },
            allocated: if kind == EntryKind::File {
                super::copy::allocated_bytes(&meta)
            } else {
                0
            },
        });
    }
    let (anchor, _) = crate::ports::fs_meta::surviving_ancestor(dest_dir).map_err(|source| {
        PlanError::Destination {
            path: dest_dir.into(),
            source,
        }
    })?;
    let stat = nix::sys::statvfs::statvfs(&anchor).map_err(|e| PlanError::Destination {
        path: dest_dir.into(),
        source: e.into(),
    })?;
    if stat.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Err(PlanError::ReadOnly(dest_dir.to_path_buf()));
    }
    let available = stat.blocks_available() as u64 * stat.fragment_size() as u64;
    let reflink = same_btrfs(snapshot_dir, &anchor);
    let bytes: u64 = items.iter().map(|i| i.size).sum();
    let needed = if reflink {
        0
    } else {
        items.iter().map(|i| i.allocated).sum()
    };
    if needed > available {
        return Err(PlanError::NoSpace {
            dest: dest_dir.to_path_buf(),
            needed: human(needed),
            available: human(available),
        });
    }
    Ok(RestorePlan {
        items,
        skipped,
        unreadable,
        reflink,
        bytes,
        needed,
        available,
    })
}

/// Both on one btrfs filesystem: a reflink may work.
fn same_btrfs(a: &Path, b: &Path) -> bool {
    use crate::ports::fs_meta::{filesystem_kind, same_filesystem};
    filesystem_kind(a) == "btrfs" && filesystem_kind(b) == "btrfs" && same_filesystem(a, b)
}
