//! Plans a restore before anything is written: which entries, where each goes (conflicts are
//! skipped or kept beside, never overwritten; a link or file where a directory belongs stops
//! that directory once, reported once), which files are hard links of each other, how many
//! bytes, and whether they fit.

use super::diff::EntryKind;
use super::restore_dest::{KeptBeside, destination, keep_both_target};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
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

impl ConflictPolicy {
    /// How many other names a restored entry may take when its own is taken meanwhile:
    /// keep-both tries `name-2`, `name-3`…; skip none.
    pub fn alternatives(self) -> usize {
        match self {
            ConflictPolicy::Skip => 0,
            ConflictPolicy::KeepBoth => 100,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedItem {
    /// Relative to PATH.
    pub path: PathBuf,
    pub source: PathBuf,
    /// Relative to the destination's anchor (see [`Destination`]).
    pub target: PathBuf,
    pub kind: EntryKind,
    pub size: u64,
    pub allocated: u64,
    /// A hard link to an earlier planned file (index in `items`): made as a link to that
    /// file's copy, as `cp -a` and `rsync -H` do.
    pub link_to: Option<usize>,
    /// Restored beside an existing entry (keep-both): its name is new, so finding it taken
    /// is a conflict, never a directory to merge into.
    pub beside: bool,
}

/// Where the restore writes: `anchor` is an existing directory (as the user named it);
/// everything else is created below it by descriptor, never following a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Where PATH's copy goes, as resolved (PATH itself, or in `--to`).
    pub root: PathBuf,
    pub anchor: PathBuf,
    /// Missing directories above PATH's own copy (PATH's parents after `rm -rf` of a whole
    /// folder, or the missing part of `--to`), outermost first, each with the snapshot's
    /// directory to take its metadata from when there is one.
    pub parents: Vec<(PathBuf, Option<PathBuf>)>,
}

impl Destination {
    /// The absolute path of a target, for messages.
    pub fn shown(&self, target: &Path) -> PathBuf {
        self.anchor.join(target)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedItem {
    #[serde(serialize_with = "crate::engine::restore::ser_path")]
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct RestorePlan {
    pub dest: Destination,
    pub items: Vec<PlannedItem>,
    pub skipped: Vec<SkippedItem>,
    /// Entries of the snapshot that could not be read (they fail the restore).
    pub unreadable: Vec<SkippedItem>,
    pub policy: ConflictPolicy,
    pub reflink: bool,
    pub bytes: u64,
    pub needed: u64,
    pub available: u64,
}

#[derive(Debug, Error)]
pub enum PlanError {
    #[error(
        "not enough space at {dest}: restoring needs {needed} but only {available} is free; \
         nothing was copied. Free space there, or restore to another disk"
    )]
    NoSpace {
        dest: PathBuf,
        needed: String,
        available: String,
    },
    #[error("{0} is on a read-only filesystem; nothing was copied. Restore to another disk")]
    ReadOnly(PathBuf),
    #[error("cannot use destination {path}: {source}")]
    Destination {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not in the snapshot", shown_rel(.0))]
    NotInSnapshot(PathBuf),
    #[error("in the snapshot, {0}")]
    Link(super::beneath::BeneathError),
}

fn shown_rel(rel: &Path) -> String {
    if rel.as_os_str().is_empty() {
        "PATH".into()
    } else {
        super::shown(rel)
    }
}

/// `base` joined with `rel`, with no trailing `/` when `rel` is empty (`link/` would be the
/// directory a link points to, not the link).
fn join_rel(base: &Path, rel: &Path) -> PathBuf {
    if rel.as_os_str().is_empty() {
        base.to_path_buf()
    } else {
        base.join(rel)
    }
}

fn human(bytes: u64) -> String {
    humansize::format_size(bytes, humansize::BINARY)
}

/// What became of a directory of the selection, so its entries follow it.
#[derive(Debug, Clone)]
enum DirFate {
    /// Created, or merged into an existing directory, at this target.
    At(PathBuf),
    /// Not restored (skipped conflict); its entries are counted here, not listed.
    Blocked(usize),
}

/// Expands `selection` (paths relative to PATH; a directory means its whole subtree) into
/// items from `snapshot_dir` (the snapshot's copy of PATH) to `dest_dir` (where PATH's copy
/// goes; it may not exist).
pub fn plan(
    snapshot_dir: &Path,
    dest_dir: &Path,
    selection: &[PathBuf],
    policy: ConflictPolicy,
    stamp: &str,
) -> Result<RestorePlan, PlanError> {
    if std::fs::symlink_metadata(snapshot_dir).is_err() {
        return Err(PlanError::NotInSnapshot(PathBuf::new()));
    }
    // true: the whole subtree; false: only the directory itself (a container on the way).
    let mut wanted: BTreeMap<PathBuf, bool> = BTreeMap::new();
    let mut unreadable = Vec::new();
    for rel in selection {
        super::beneath::check_no_link_above(snapshot_dir, rel).map_err(PlanError::Link)?;
        let root = join_rel(snapshot_dir, rel);
        if std::fs::symlink_metadata(&root).is_err() {
            return Err(PlanError::NotInSnapshot(rel.clone()));
        }
        for ancestor in rel.ancestors().skip(1) {
            wanted.entry(ancestor.to_path_buf()).or_insert(false);
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
            wanted.insert(rel_entry.to_path_buf(), true);
        }
    }
    let (dest, tail) = destination(snapshot_dir, dest_dir)?;
    let mut items: Vec<PlannedItem> = Vec::new();
    let mut skipped = Vec::new();
    let mut fates: HashMap<PathBuf, DirFate> = HashMap::new();
    let mut blocked_at: Vec<(usize, usize)> = Vec::new(); // (skipped index, hidden entries)
    let mut inodes: HashMap<(u64, u64), usize> = HashMap::new();
    let mut taken: HashSet<PathBuf> = HashSet::new();
    let mut kept_beside = KeptBeside::default();
    for (rel, _) in wanted {
        let source = join_rel(snapshot_dir, &rel);
        let Ok(meta) = std::fs::symlink_metadata(&source) else {
            continue;
        };
        let kind = EntryKind::of(&meta);
        let mut beside = false;
        let mut target = match rel.parent() {
            None => tail.clone(),
            Some(parent) => match fates.get(parent) {
                Some(DirFate::At(t)) => t.join(rel.file_name().unwrap_or_default()),
                Some(DirFate::Blocked(i)) => {
                    let i = *i;
                    blocked_at[i].1 += 1;
                    if kind == EntryKind::Dir {
                        fates.insert(rel, DirFate::Blocked(i));
                    }
                    continue;
                }
                None => tail.join(&rel),
            },
        };
        if let Ok(existing) = std::fs::symlink_metadata(dest.anchor.join(&target)) {
            if kind == EntryKind::Dir && existing.is_dir() {
                fates.insert(rel, DirFate::At(target));
                continue; // merge into the existing directory
            }
            let what = if existing.file_type().is_symlink() {
                "a symbolic link"
            } else if existing.is_dir() {
                "a directory"
            } else {
                "a file"
            };
            match policy {
                ConflictPolicy::Skip => {
                    let reason = if kind == EntryKind::Dir {
                        format!(
                            "{what} is in the live tree where the snapshot has a directory; \
                             kept as is, nothing written through it"
                        )
                    } else {
                        format!("exists in the live tree ({what}); kept as is")
                    };
                    skipped.push(SkippedItem {
                        path: rel.clone(),
                        reason: format!("{reason} (keep-both restores it beside)"),
                    });
                    if kind == EntryKind::Dir {
                        blocked_at.push((skipped.len() - 1, 0));
                        fates.insert(rel, DirFate::Blocked(blocked_at.len() - 1));
                    }
                    continue;
                }
                // The same file is there already (restored before): not copied beside again.
                ConflictPolicy::KeepBoth
                    if kind == EntryKind::File
                        && existing.is_file()
                        && existing.len() == meta.len()
                        && (existing.mtime(), existing.mtime_nsec())
                            == (meta.mtime(), meta.mtime_nsec()) =>
                {
                    skipped.push(SkippedItem {
                        path: rel.clone(),
                        reason: "identical to the live file (same size and modification time); \
                                 not restored beside it again"
                            .into(),
                    });
                    continue;
                }
                ConflictPolicy::KeepBoth
                    if kind == EntryKind::File
                        && let Some(copy) = kept_beside.find(&dest.anchor.join(&target), &meta) =>
                {
                    skipped.push(SkippedItem {
                        path: rel.clone(),
                        reason: format!(
                            "already restored beside it as {}; not copied again",
                            super::shown(&copy)
                        ),
                    });
                    continue;
                }
                ConflictPolicy::KeepBoth => {
                    target = keep_both_target(&dest.anchor, &target, stamp, &taken);
                    beside = true;
                }
            }
        }
        if kind == EntryKind::Dir {
            fates.insert(rel.clone(), DirFate::At(target.clone()));
        }
        taken.insert(target.clone());
        if kind == EntryKind::Other {
            skipped.push(SkippedItem {
                path: rel.clone(),
                reason: "special file (device, fifo or socket): not restored".into(),
            });
            continue;
        }
        let mut link_to = None;
        if kind == EntryKind::File && meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            link_to = inodes.get(&key).copied();
            inodes.entry(key).or_insert(items.len());
        }
        let is_file = kind == EntryKind::File;
        items.push(PlannedItem {
            path: rel,
            source,
            target,
            kind,
            size: if is_file { meta.len() } else { 0 },
            allocated: if is_file && link_to.is_none() {
                super::copy::allocated_bytes(&meta)
            } else {
                0
            },
            link_to,
            beside,
        });
    }
    for (index, hidden) in blocked_at {
        if hidden > 0 {
            let s = if hidden == 1 { "entry" } else { "entries" };
            skipped[index].reason += &format!("; its {hidden} {s} were not restored");
        }
    }
    let stat = nix::sys::statvfs::statvfs(&dest.anchor).map_err(|e| PlanError::Destination {
        path: dest_dir.into(),
        source: e.into(),
    })?;
    if stat.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Err(PlanError::ReadOnly(dest_dir.to_path_buf()));
    }
    let available = stat.blocks_available() as u64 * stat.fragment_size() as u64;
    let reflink = reflinks(snapshot_dir, &dest.anchor);
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
        dest,
        items,
        skipped,
        unreadable,
        policy,
        reflink,
        bytes,
        needed,
        available,
    })
}

/// Both on one btrfs filesystem: a restore from `a` to `b` reflinks (needs no space).
pub fn reflinks(a: &Path, b: &Path) -> bool {
    use crate::ports::fs_meta::{filesystem_kind, same_filesystem, surviving_ancestor};
    let Ok((b, _)) = surviving_ancestor(b) else {
        return false;
    };
    filesystem_kind(a) == "btrfs" && filesystem_kind(&b) == "btrfs" && same_filesystem(a, &b)
}
