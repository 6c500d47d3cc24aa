//! The ZFS source: snapshots of the dataset that holds PATH (OpenZFS, or the userspace
//! zfs-fuse), read through `<mountpoint>/.zfs/snapshot/<name>` where that directory exists
//! and through a journaled read-only clone where it does not (zfs-fuse has none), rolled
//! back by a roll-forward that keeps the dataset and every snapshot (zfs_rollback), and
//! pinned with `zfs hold` (the functions below, for `pin`/`unpin`).

use super::btrfs::top_relative;
use super::zfs_cli::{self, SnapshotProperties};
use super::zfs_protect;
use super::{
    OpenedSnapshot, PinDone, PinPrior, RollbackOutcome, RollbackWords, Snapshot, SnapshotSource,
    SnapshotStatus, SourceError, Unpinned,
};
use crate::ports::fs_meta::surviving_ancestor;
use crate::ports::mounts::{MountEntry, MountTable};
use std::path::{Path, PathBuf};

pub use zfs_cli::{HOLD_TAG, Holds};

/// Filesystem types a ZFS dataset shows in mountinfo: `zfs` (OpenZFS), `fuse.zfs`
/// (zfs-fuse, whose mount source is the dataset name as well).
pub fn is_zfs_type(fs_type: &str) -> bool {
    matches!(fs_type, "zfs" | "fuse.zfs")
}

/// The dataset holding PATH, and where PATH sits inside it.
#[derive(Debug, Clone)]
pub struct ZfsSource {
    pub dataset: String,
    pub(crate) mount: MountEntry,
    /// Where the dataset's root is mounted (None: only a part of it is visible).
    pub(crate) root: Option<PathBuf>,
    /// PATH relative to the dataset's root.
    pub(crate) path_in_dataset: PathBuf,
}

impl ZfsSource {
    /// `Ok(Err(reason))` when PATH is not on a ZFS dataset.
    pub fn detect(path: &Path) -> Result<Result<Self, String>, SourceError> {
        let (anchor, tail) = surviving_ancestor(path).map_err(SourceError::io(format!(
            "cannot resolve {}",
            path.display()
        )))?;
        let table = MountTable::read()?;
        let mount = table.holding(&anchor)?.clone();
        if !is_zfs_type(&mount.fs_type) {
            return Ok(Err(format!(
                "{} is {}",
                mount.mount_point.display(),
                mount.fs_type
            )));
        }
        if !nix::unistd::geteuid().is_root() {
            return Err(SourceError::NotRoot {
                what: "listing ZFS snapshots".into(),
            });
        }
        let dataset = unescape_octal(&mount.source);
        let kind = zfs_cli::property(&dataset, "type")?;
        if kind != "filesystem" {
            return Ok(Err(format!(
                "{} shows {dataset}, a ZFS {kind}, not a dataset: name the live path",
                mount.mount_point.display()
            )));
        }
        let root = if mount.root == Path::new("/") {
            Some(mount.mount_point.clone())
        } else {
            table
                .entries
                .iter()
                .find(|m| unescape_octal(&m.source) == dataset && m.root == Path::new("/"))
                .map(|m| m.mount_point.clone())
        };
        let inside = anchor
            .strip_prefix(&mount.mount_point)
            .unwrap_or(Path::new(""));
        let path_in_dataset = top_relative(&mount.root).join(inside).join(tail);
        Ok(Ok(Self {
            dataset,
            mount,
            root,
            path_in_dataset,
        }))
    }

    /// `dataset@name` of a listed snapshot.
    pub fn full_name(&self, snapshot: &Snapshot) -> String {
        format!("{}@{}", self.dataset, snapshot.id)
    }

    /// Where OpenZFS shows `snapshot` without writing anything: `.zfs/snapshot/<name>`.
    pub(crate) fn snapshot_directory(&self, short_name: &str) -> Option<PathBuf> {
        let dir = self
            .root
            .as_ref()?
            .join(".zfs")
            .join("snapshot")
            .join(short_name);
        dir.is_dir().then_some(dir)
    }

    fn describe_snapshot(&self, full: &str, props: &SnapshotProperties) -> Snapshot {
        let short = full.split_once('@').map_or(full, |(_, s)| s);
        let mut facts = Vec::new();
        if let Some(used) = props.used {
            facts.push(format!(
                "used {}",
                humansize::format_size(used, humansize::BINARY)
            ));
        }
        if props.userrefs > 0 {
            facts.push(format!("held ({})", props.userrefs));
        }
        facts.extend(props.user.iter().map(|(k, v)| format!("{k}={v}")));
        let mut snapshot = Snapshot {
            id: short.to_string(),
            source: "zfs".into(),
            name: full.to_string(),
            created: props.creation,
            status: SnapshotStatus::Completed,
            read_only: true,
            path: PathBuf::from(full),
            layout: "zfs".into(),
            description: (!facts.is_empty()).then(|| facts.join(", ")),
            retention: Default::default(),
            cloud: None,
            pre_run: zfs_protect::is_pre_run(&props.user),
        };
        snapshot.retention = self.retention_of(short, &snapshot, props.userrefs);
        snapshot
    }
}

/// The mount source as ZFS names it: mountinfo writes a space, tab, newline and backslash
/// as `\040`, `\011`, `\012`, `\134` (a ZFS name never holds a backslash itself).
pub fn unescape_octal(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Puts snaprescue's hold on `dataset@snap` (`zfs hold snaprescue`): no policy can destroy
/// it until it is released.
pub fn hold(full_name: &str) -> Result<(), SourceError> {
    Ok(zfs_cli::hold(full_name)?)
}

/// Takes snaprescue's hold off `dataset@snap` (`zfs release snaprescue`).
pub fn release(full_name: &str) -> Result<(), SourceError> {
    Ok(zfs_cli::release(full_name)?)
}

/// Whether `dataset@snap` is pinned by snaprescue (`zfs holds` where it works, else any
/// hold counted by `userrefs`).
pub fn is_held(full_name: &str) -> Result<bool, SourceError> {
    Ok(zfs_cli::holds(full_name)?.by_snaprescue())
}

/// Who holds `dataset@snap`.
pub fn holds(full_name: &str) -> Result<Holds, SourceError> {
    Ok(zfs_cli::holds(full_name)?)
}

impl SnapshotSource for ZfsSource {
    fn name(&self) -> &'static str {
        "zfs"
    }

    fn describe(&self) -> String {
        format!(
            "ZFS dataset {} ({})",
            self.dataset,
            if self.mount.fs_type == "fuse.zfs" {
                "zfs-fuse"
            } else {
                "OpenZFS"
            }
        )
    }

    fn rollback_target(&self) -> String {
        self.dataset.clone()
    }

    fn rollback_words(&self) -> RollbackWords {
        RollbackWords {
            noun: "dataset".into(),
            kept: "everything written since is kept in a held guard snapshot".into(),
            how_kept: format!(
                "The current state is kept as the held snapshot `{}@snaprescue-guard-…`; the \
                 dataset, its properties, children and every snapshot stay.",
                self.dataset
            ),
        }
    }

    fn live_root(&self) -> Option<PathBuf> {
        self.root.clone()
    }

    fn list(&self) -> Result<Vec<Snapshot>, SourceError> {
        let names = zfs_cli::snapshot_names(&self.dataset)?;
        let props = zfs_cli::snapshot_properties(&names)?;
        let none = SnapshotProperties::default();
        Ok(names
            .iter()
            .map(|n| self.describe_snapshot(n, props.get(n).unwrap_or(&none)))
            .collect())
    }

    fn open(
        &self,
        snapshot: &Snapshot,
        _watch: &crate::rescue::Watch,
    ) -> Result<OpenedSnapshot, SourceError> {
        let full = self.full_name(snapshot);
        if let Some(root) = self.snapshot_directory(&snapshot.id) {
            return Ok(OpenedSnapshot {
                dir: root.join(&self.path_in_dataset),
                root,
                mount: None,
                rescue: None,
                clone: None,
            });
        }
        if !zfs_cli::exists(&full) {
            return Err(SourceError::Refused(format!(
                "snapshot {full} is no longer there: it was destroyed while in use; choose another"
            )));
        }
        let clone = super::zfs_clone::ZfsClone::open(&self.dataset, &full)?;
        let root = clone.mount_point().to_path_buf();
        Ok(OpenedSnapshot {
            dir: root.join(&self.path_in_dataset),
            root,
            mount: None,
            rescue: None,
            clone: Some(clone),
        })
    }

    fn rollback_plan(
        &self,
        snapshot: &Snapshot,
        keep_guard: bool,
    ) -> Result<Vec<String>, SourceError> {
        super::zfs_rollback::plan(self, snapshot, keep_guard)
    }

    fn rollback(
        &self,
        snapshot: &Snapshot,
        confirm: &str,
        keep_guard: bool,
        watch: &crate::rescue::Watch,
    ) -> Result<RollbackOutcome, SourceError> {
        super::zfs_rollback::rollback(self, snapshot, confirm, keep_guard, watch)
    }

    fn pin_prior(&self, snapshot: &Snapshot, _days: u32) -> Result<PinPrior, SourceError> {
        self.zfs_pin_prior(snapshot)
    }

    /// A hold has no days: it lasts until `unpin` releases it.
    fn pin(
        &self,
        snapshot: &Snapshot,
        _days: u32,
        _prior: &PinPrior,
    ) -> Result<PinDone, SourceError> {
        self.zfs_pin(snapshot)
    }

    fn unpin(
        &self,
        snapshot: &Snapshot,
        prior: &PinPrior,
        _done: &PinDone,
    ) -> Result<Unpinned, SourceError> {
        self.zfs_unpin(snapshot, prior)
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
        self.apply_sanoid(schedule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape_octal("tank/my\\040data"), "tank/my data");
        assert_eq!(unescape_octal("tank/plain"), "tank/plain");
        assert_eq!(unescape_octal("tank/a\\01"), "tank/a\\01");
    }

    #[test]
    fn zfs_filesystem_types() {
        assert!(is_zfs_type("zfs"));
        assert!(is_zfs_type("fuse.zfs"));
        assert!(!is_zfs_type("fuse.sshfs"));
        assert!(!is_zfs_type("btrfs"));
    }
}
