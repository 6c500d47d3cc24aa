//! The embedded default source: read-only btrfs snapshots of the subvolume that holds PATH,
//! found by lineage (parent UUID) in any layout (snapper, timeshift, custom), reached through
//! a private read-only mount of the top level when the current mounts do not show them.

use super::btrfs_list::{SubvolumeRecord, parse};
use super::btrfs_snapper::{SnapperInfo, snapper_number};
use super::{
    OpenedSnapshot, PinDone, PinPrior, Retention, RollbackOutcome, Snapshot, SnapshotSource,
    SnapshotStatus, SourceError, Unpinned,
};
use crate::ports::command;
use crate::ports::fs_meta::surviving_ancestor;
use crate::ports::mounts::{MountEntry, MountTable, TempMount};
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

/// The subvolume holding PATH, and where PATH sits inside it.
#[derive(Debug, Clone)]
pub struct BtrfsSource {
    pub(crate) mount: MountEntry,
    pub(crate) subvolume: SubvolumeRecord,
    /// Every subvolume of the filesystem.
    pub(crate) all: Vec<SubvolumeRecord>,
    /// PATH relative to the subvolume's root.
    pub(crate) path_in_subvolume: PathBuf,
    /// PATH's nearest existing ancestor (a path inside the subvolume).
    pub(crate) anchor: PathBuf,
}

/// Path relative to the top level, without a leading slash.
pub(crate) fn top_relative(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

impl BtrfsSource {
    /// `Ok(Err(reason))` when PATH is not on btrfs.
    pub fn detect(path: &Path) -> Result<Result<Self, String>, SourceError> {
        let (anchor, tail) = surviving_ancestor(path).map_err(SourceError::io(format!(
            "cannot resolve {}",
            path.display()
        )))?;
        let table = MountTable::read()?;
        let mount = table.holding(&anchor)?.clone();
        if mount.fs_type != "btrfs" {
            return Ok(Err(format!(
                "{} is {}",
                mount.mount_point.display(),
                mount.fs_type
            )));
        }
        if !nix::unistd::geteuid().is_root() {
            return Err(SourceError::NotRoot {
                what: "listing btrfs subvolumes".into(),
            });
        }
        // Asked of a directory: `rootid` opens a file for writing, which a filesystem
        // remounted read-only (step 1 offers it) refuses. A file is in its directory's
        // subvolume.
        let asked = match std::fs::symlink_metadata(&anchor) {
            Ok(m) if !m.is_dir() => anchor.parent().unwrap_or(&anchor).to_path_buf(),
            _ => anchor.clone(),
        };
        let rootid: u64 = command::run(
            "btrfs",
            &[Path::new("inspect-internal"), Path::new("rootid"), &asked],
        )?
        .trim()
        .parse()
        .map_err(|_| SourceError::Refused("btrfs inspect-internal rootid gave no id".into()))?;
        let all = parse(&command::run(
            "btrfs",
            &[
                Path::new("subvolume"),
                Path::new("list"),
                // -a: every path from the top level. Without it, subvolumes below a
                // directly mounted subvolume are listed relative to that subvolume.
                Path::new("-a"),
                Path::new("-u"),
                Path::new("-q"),
                &mount.mount_point,
            ],
        )?);
        let subvolume = if rootid == 5 {
            SubvolumeRecord {
                id: 5,
                top_level: 5,
                uuid: String::new(),
                parent_uuid: None,
                otime: None,
                path: PathBuf::new(),
            }
        } else {
            all.iter()
                .find(|r| r.id == rootid)
                .cloned()
                .ok_or_else(|| {
                    SourceError::Refused(format!("subvolume {rootid} not in the listing"))
                })?
        };
        let inside_mount = anchor
            .strip_prefix(&mount.mount_point)
            .unwrap_or(Path::new(""));
        let top_path = top_relative(&mount.root).join(inside_mount).join(tail);
        let path_in_subvolume = top_path
            .strip_prefix(&subvolume.path)
            .map(Path::to_path_buf)
            .unwrap_or(top_path);
        Ok(Ok(Self {
            mount,
            subvolume,
            all,
            path_in_subvolume,
            anchor,
        }))
    }

    /// Where a top-level-relative path is visible through the current mounts of this fs.
    pub(crate) fn visible(&self, top_path: &Path) -> Option<PathBuf> {
        self.visible_in(&MountTable::read().ok()?, top_path)
    }

    /// [`Self::visible`] against a mount table already read.
    fn visible_in(&self, table: &MountTable, top_path: &Path) -> Option<PathBuf> {
        table
            .of_filesystem(&self.mount.majmin)
            .filter_map(|m| {
                top_path
                    .strip_prefix(top_relative(&m.root))
                    .ok()
                    .map(|rest| m.mount_point.join(rest))
            })
            .find(|p| p.exists())
    }

    /// Where `top_path` shows inside a writable mount (below its mount point, not as the
    /// mount itself): there it can be renamed.
    pub(crate) fn shown_inside(&self, table: &MountTable, top_path: &Path) -> Option<PathBuf> {
        table
            .of_filesystem(&self.mount.majmin)
            .filter(|m| !m.read_only)
            .filter_map(|m| {
                let rest = top_path.strip_prefix(top_relative(&m.root)).ok()?;
                (!rest.as_os_str().is_empty()).then(|| m.mount_point.join(rest))
            })
            .find(|p| p.exists())
    }

    /// A private read-only mount of the top-level subvolume.
    fn mount_top_level(&self) -> Result<TempMount, SourceError> {
        Ok(TempMount::read_only(
            &self.mount.source,
            "btrfs",
            "subvolid=5",
        )?)
    }

    /// UUIDs whose snapshots belong to this subvolume's history: itself and its ancestors
    /// (after a rollback the live subvolume is a snapshot of an older snapshot).
    fn lineage(&self) -> HashSet<String> {
        let mut uuids = HashSet::new();
        let mut current = Some(self.subvolume.clone());
        while let Some(record) = current {
            if !record.uuid.is_empty() && !uuids.insert(record.uuid.clone()) {
                break;
            }
            current = record
                .parent_uuid
                .as_ref()
                .and_then(|p| self.all.iter().find(|r| &r.uuid == p).cloned());
        }
        uuids
    }

    /// Read-only snapshots (records with otime) that belong to this subvolume.
    fn snapshot_records(&self) -> Result<Vec<SubvolumeRecord>, SourceError> {
        let listing = command::run(
            "btrfs",
            &[
                Path::new("subvolume"),
                Path::new("list"),
                Path::new("-a"),
                Path::new("-r"),
                Path::new("-s"),
                Path::new("-u"),
                Path::new("-q"),
                &self.mount.mount_point,
            ],
        )?;
        let lineage = self.lineage();
        let snapper_dir = self.subvolume.path.join(".snapshots");
        Ok(parse(&listing)
            .into_iter()
            .filter(|r| r.id != self.subvolume.id)
            .filter(|r| {
                r.parent_uuid.as_ref().is_some_and(|p| lineage.contains(p))
                    || (r.path.starts_with(&snapper_dir) && r.path.ends_with("snapshot"))
            })
            .collect())
    }

    fn describe_record(
        record: &SubvolumeRecord,
        resolve: &dyn Fn(&Path) -> Option<PathBuf>,
    ) -> Snapshot {
        let path_text = record.path.to_string_lossy().into_owned();
        let mut retention = Retention::default();
        let mut pre_run = false;
        let (layout, name, description) = if let Some(number) = snapper_number(&record.path) {
            let info_path = record
                .path
                .parent()
                .unwrap_or(Path::new(""))
                .join("info.xml");
            let info = resolve(&info_path)
                .and_then(|p| {
                    use std::os::unix::fs::OpenOptionsExt;
                    std::fs::OpenOptions::new()
                        .read(true)
                        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                        .open(p)
                        .ok()
                })
                .and_then(|f| super::btrfs_snapper::read_small_text(f).ok())
                .and_then(|text| SnapperInfo::parse(&text))
                .unwrap_or_default();
            retention = info.retention();
            pre_run = info.is_pre_run();
            let name = match &info.description {
                Some(d) => format!("snapper #{number}: {d}"),
                None => format!("snapper #{number}"),
            };
            ("snapper", name, info.description)
        } else if path_text.contains("timeshift-btrfs/snapshots/") {
            let date = record
                .path
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            ("timeshift", format!("timeshift {date}"), None)
        } else {
            ("subvolume", path_text.clone(), None)
        };
        Snapshot {
            id: record.id.to_string(),
            source: "btrfs".into(),
            name,
            // To the nanosecond where the snapshot can be opened; else the listed second.
            created: resolve(&record.path)
                .and_then(|p| crate::ports::subvolume_info::created(&p))
                .or(record.otime),
            status: SnapshotStatus::Completed,
            read_only: true,
            path: record.path.clone(),
            layout: layout.into(),
            description,
            retention,
            cloud: None,
            pre_run,
        }
    }
}

impl SnapshotSource for BtrfsSource {
    fn name(&self) -> &'static str {
        "btrfs"
    }

    fn describe(&self) -> String {
        let name = if self.subvolume.id == 5 {
            "<top level>".to_string()
        } else {
            self.subvolume.path.display().to_string()
        };
        format!(
            "btrfs subvolume {name} (id {}) on {}",
            self.subvolume.id, self.mount.source
        )
    }

    fn rollback_target(&self) -> String {
        self.subvolume.path.display().to_string()
    }

    fn rollback_words(&self) -> super::RollbackWords {
        super::RollbackWords::subvolume(&self.rollback_target())
    }

    fn live_root(&self) -> Option<PathBuf> {
        self.visible(&self.subvolume.path)
    }

    fn list(&self) -> Result<Vec<Snapshot>, SourceError> {
        let records = self.snapshot_records()?;
        let table = MountTable::read()?;
        let hidden = records
            .iter()
            .any(|r| self.visible_in(&table, &r.path).is_none());
        let temp = if hidden {
            Some(self.mount_top_level()?)
        } else {
            None
        };
        let resolve = |p: &Path| match &temp {
            Some(m) => Some(m.path().join(p)),
            None => self.visible_in(&table, p),
        };
        // The session sorts every source's snapshots into one timeline.
        Ok(records
            .iter()
            .map(|r| Self::describe_record(r, &resolve))
            .collect())
    }

    fn open(
        &self,
        snapshot: &Snapshot,
        _watch: &crate::rescue::Watch,
    ) -> Result<OpenedSnapshot, SourceError> {
        let (root, mount) = match self.visible(&snapshot.path) {
            Some(root) => (root, None),
            None => {
                let m = self.mount_top_level()?;
                (m.path().join(&snapshot.path), Some(m))
            }
        };
        if !root.is_dir() {
            return Err(SourceError::Refused(format!(
                "snapshot {} ({}) is no longer there: it was deleted while in use; choose another",
                snapshot.id,
                snapshot.path.display()
            )));
        }
        let dir = root.join(&self.path_in_subvolume);
        Ok(OpenedSnapshot {
            dir,
            root,
            mount,
            rescue: None,
            clone: None,
        })
    }

    fn rollback_plan(
        &self,
        snapshot: &Snapshot,
        keep_guard: bool,
    ) -> Result<Vec<String>, SourceError> {
        super::btrfs_rollback_plan::plan(self, snapshot, keep_guard)
    }

    fn rollback(
        &self,
        snapshot: &Snapshot,
        confirm: &str,
        keep_guard: bool,
        _watch: &crate::rescue::Watch,
    ) -> Result<RollbackOutcome, SourceError> {
        super::btrfs_rollback::rollback(self, snapshot, confirm, keep_guard)
    }

    /// The subvolume's UUID (device names change across reboots); the description for the
    /// top level, which has none.
    fn pin_place(&self) -> String {
        if self.subvolume.uuid.is_empty() {
            self.describe()
        } else {
            format!("btrfs subvolume {}", self.subvolume.uuid)
        }
    }

    fn pin_prior(&self, snapshot: &Snapshot, _days: u32) -> Result<PinPrior, SourceError> {
        self.snapper_pin_prior(snapshot)
    }

    fn pin(
        &self,
        snapshot: &Snapshot,
        _days: u32,
        prior: &PinPrior,
    ) -> Result<PinDone, SourceError> {
        self.snapper_pin(snapshot, prior)
    }

    fn unpin(
        &self,
        snapshot: &Snapshot,
        prior: &PinPrior,
        _done: &PinDone,
    ) -> Result<Unpinned, SourceError> {
        self.snapper_unpin(snapshot, prior)
    }

    fn protection(
        &self,
        snapshots: Vec<Snapshot>,
    ) -> Result<crate::protect::ProtectionFacts, SourceError> {
        self.protection_facts(snapshots)
    }

    fn take_snapshot(
        &self,
        request: &crate::protect::SnapshotRequest,
        _watch: &crate::rescue::Watch,
    ) -> Result<crate::protect::TakenSnapshot, SourceError> {
        self.take_pre_run(request)
    }

    fn apply_policy(
        &self,
        schedule: &crate::protect::Schedule,
    ) -> Result<crate::protect::PolicyApplied, SourceError> {
        self.apply_snapper_policy(schedule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_relative_drops_root() {
        assert_eq!(top_relative(Path::new("/data/x")), PathBuf::from("data/x"));
        assert_eq!(top_relative(Path::new("/")), PathBuf::new());
    }
}
