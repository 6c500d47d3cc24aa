//! Snapshot sources: one trait that every place snapshots can come from implements (local
//! btrfs and ZFS, the clouds), and detection of which sources serve a path.

pub mod btrfs;
pub mod btrfs_layout;
pub mod btrfs_list;
pub mod btrfs_protect;
pub mod btrfs_remount;
pub mod btrfs_rollback;
pub mod btrfs_rollback_plan;
pub mod btrfs_snapper;
pub mod cloud;
pub mod cloud_disk;
pub mod cloud_protect;
pub mod retention;
pub mod snapper_config;
pub mod snapshot_path;
pub mod zfs;
pub mod zfs_cli;
pub mod zfs_clone;
pub mod zfs_journal;
pub mod zfs_pin;
pub mod zfs_policy;
pub mod zfs_protect;
pub mod zfs_rollback;

use crate::ports::command::CommandError;
use crate::ports::mounts::{MountError, TempMount};
use crate::protect::{PolicyApplied, ProtectionFacts, Schedule, SnapshotRequest, TakenSnapshot};
use chrono::{DateTime, Utc};
pub use retention::{PinDone, PinPrior, Retention, Unpinned};
use serde::Serialize;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotStatus {
    Completed,
    InProgress,
    Failed,
}

/// Which source and which cloud disk: names given on the command line.
#[derive(Debug, Clone, Default)]
pub struct CloudOptions {
    pub source: Option<String>,
    pub instance: Option<String>,
    pub region: Option<String>,
    pub disk: Option<String>,
    pub endpoint: Option<String>,
    /// The instance a rescue disk is attached to (default: this machine's, from metadata).
    pub attach_to: Option<String>,
}

/// One snapshot, from any source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub id: String,
    pub source: String,
    pub name: String,
    /// When it was taken; `None` when the source's answer could not be read ("time
    /// unknown": listed, never recommended by time).
    pub created: Option<DateTime<Utc>>,
    pub status: SnapshotStatus,
    pub read_only: bool,
    /// Where the snapshot lives inside its source (for btrfs: relative to the top level).
    pub path: PathBuf,
    /// How it was found: `snapper`, `timeshift`, or `subvolume`.
    pub layout: String,
    pub description: Option<String>,
    /// When its policy deletes it, and whether it is pinned (`expires`, `expiry_rule`,
    /// `pinned` at the top level of its JSON).
    #[serde(flatten)]
    pub retention: Retention,
    /// Facts only cloud snapshots have.
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    pub cloud: Option<CloudDetails>,
    /// Taken by `snaprescue snapshot` (tagged `snaprescue=pre-run`): the pre-run marker.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pre_run: bool,
}

impl Snapshot {
    /// A cloud snapshot: read-only, addressed by its id, named by `name` or else by its
    /// description; source and layout are its provider's (`aws`, `ebs`).
    pub fn in_cloud(
        provider: &dyn crate::providers::CloudProvider,
        id: String,
        name: Option<String>,
        description: String,
        created: Option<DateTime<Utc>>,
        status: SnapshotStatus,
        cloud: CloudDetails,
    ) -> Self {
        let (key, value) = crate::protect::request::PRE_RUN_TAG;
        let cloud_pre_run = cloud.tags.iter().any(|(k, v)| k == key && v == value);
        Self {
            name: name
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| description.clone()),
            path: PathBuf::from(&id),
            id,
            source: provider.name().into(),
            created,
            status,
            read_only: true,
            layout: provider.snapshot_layout().into(),
            description: Some(description).filter(|d| !d.is_empty()),
            retention: Retention::default(),
            cloud: Some(cloud),
            pre_run: cloud_pre_run,
        }
    }
}

impl Snapshot {
    /// `created` for people: the time in `format`, or "time unknown".
    pub fn created_text(&self, format: &str) -> String {
        self.created
            .map(|t| t.format(format).to_string())
            .unwrap_or_else(|| "time unknown".into())
    }
}

/// Size, progress, encryption, tags and origin of a cloud snapshot.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CloudDetails {
    pub disk_id: String,
    pub size_gib: u64,
    pub progress: String,
    pub encrypted: bool,
    pub tags: Vec<(String, String)>,
    pub source_region: Option<String>,
}

/// A snapshot opened for reading: `dir` is the snapshot's copy of PATH. Dropping it undoes
/// whatever opening needed (a temporary mount).
#[derive(Debug)]
pub struct OpenedSnapshot {
    pub dir: PathBuf,
    /// The root of the snapshot (its copy of the subvolume or disk root).
    pub root: PathBuf,
    pub mount: Option<TempMount>,
    /// A cloud rescue disk behind `root`, unmounted, detached and deleted on drop.
    pub rescue: Option<crate::rescue::disk::RescueDisk>,
    /// A read-only ZFS clone behind `root`, destroyed on drop.
    pub clone: Option<zfs_clone::ZfsClone>,
}

impl OpenedSnapshot {
    /// Why this copy may lack the newest writes before the snapshot (a rescue mount that
    /// could not replay the disk's journal), to be shown beside what it holds.
    pub fn caveat(&self) -> Option<&str> {
        if let Some(clone) = &self.clone {
            return Some(clone.caveat());
        }
        self.rescue.as_ref()?.unreplayed_writes()
    }
}

/// What a rollback did, and how to undo it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackOutcome {
    pub replaced: PathBuf,
    pub snapshot: String,
    /// Where the previous state is kept (read-only), unless the user opted out.
    pub guard: Option<PathBuf>,
    pub undo: String,
    /// What the user should know now, e.g. that their shell still sits in the old state.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Error)]
pub enum SourceError {
    #[error(
        "no snapshot source serves {path} ({fs} filesystem at {mount}). Checked: {checked}. \
         Next: copy what is still there to another disk, and if this is a cloud disk use the \
         cloud console's snapshots of it"
    )]
    NoSource {
        path: PathBuf,
        fs: String,
        mount: PathBuf,
        checked: String,
    },
    #[error("unknown snapshot id `{id}`; valid ids: {valid}")]
    UnknownSnapshot { id: String, valid: String },
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Mount(#[from] MountError),
    #[error(transparent)]
    Cloud(#[from] crate::providers::CloudError),
    #[error(transparent)]
    Rescue(#[from] crate::rescue::RescueError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(
        "{path} does not exist in snapshot {snapshot}: it was created after the snapshot or never existed"
    )]
    NotInSnapshot { path: PathBuf, snapshot: String },
    #[error("{0}")]
    Refused(String),
    #[error("{what} needs root: run `sudo snaprescue …`")]
    NotRoot { what: String },
}

impl SourceError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| SourceError::Io { context, source }
    }
}

/// A place snapshots of PATH come from.
/// How a rollback is said to the user, by the source that does it (the wizard's step 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackWords {
    /// What is rolled back: "subvolume", "EBS volume"…
    pub noun: String,
    /// What happens to the current state, in a few words.
    pub kept: String,
    /// The same as a sentence naming the target.
    pub how_kept: String,
}

impl RollbackWords {
    /// A btrfs subvolume's: swapped for the snapshot, the current one kept read-only.
    pub fn subvolume(target: &str) -> Self {
        Self {
            noun: "subvolume".into(),
            kept: "everything written since is set aside in a read-only guard".into(),
            how_kept: format!(
                "The current subvolume is kept read-only as `{target}.pre-rollback-…`."
            ),
        }
    }
}

pub trait SnapshotSource: Send + Sync {
    /// Short name used in `--source` and JSON (`btrfs`).
    fn name(&self) -> &'static str;
    /// One line saying what is protected (for example `btrfs subvolume data on /dev/loop3`).
    fn describe(&self) -> String;
    /// The identifier the user types to confirm a rollback.
    fn rollback_target(&self) -> String;
    /// How its rollback is said to the user.
    fn rollback_words(&self) -> RollbackWords;
    /// Where the live copy of what a rollback replaces is visible, if it is.
    fn live_root(&self) -> Option<PathBuf>;
    fn list(&self) -> Result<Vec<Snapshot>, SourceError>;
    /// A read-only copy of `snapshot`; long work (a cloud disk) reports to `watch` and stops
    /// when it is cancelled.
    fn open(
        &self,
        snapshot: &Snapshot,
        watch: &crate::rescue::Watch,
    ) -> Result<OpenedSnapshot, SourceError>;
    /// What a rollback to `snapshot` would do, step by step (nothing is changed).
    fn rollback_plan(
        &self,
        snapshot: &Snapshot,
        keep_guard: bool,
    ) -> Result<Vec<String>, SourceError>;
    fn rollback(
        &self,
        snapshot: &Snapshot,
        confirm: &str,
        keep_guard: bool,
        watch: &crate::rescue::Watch,
    ) -> Result<RollbackOutcome, SourceError>;
    /// What names this source in the pin journal, the same after a reboot (a device name
    /// may change): by default its description.
    fn pin_place(&self) -> String {
        self.describe()
    }
    /// The state of `snapshot` that a pin would change (journaled before [`Self::pin`]
    /// runs), or why it needs no pin.
    fn pin_prior(&self, snapshot: &Snapshot, days: u32) -> Result<PinPrior, SourceError>;
    /// Keeps `snapshot` from its policy's deletion for at least `days` from now.
    fn pin(&self, snapshot: &Snapshot, days: u32, prior: &PinPrior)
    -> Result<PinDone, SourceError>;
    /// Undoes what the pin `done` changed over `prior`, only where it is still that pin's,
    /// saying what it could not undo and why.
    fn unpin(
        &self,
        snapshot: &Snapshot,
        prior: &PinPrior,
        done: &PinDone,
    ) -> Result<Unpinned, SourceError>;
    /// What `protect --apply --confirm` names: the subvolume, dataset or disk.
    fn protect_target(&self) -> String {
        self.rollback_target()
    }
    /// The facts `protect` audits; `snapshots` are this source's own, listed already.
    fn protection(&self, snapshots: Vec<Snapshot>) -> Result<ProtectionFacts, SourceError>;
    /// Takes the named, tagged pre-run snapshot (waited for, reporting to `watch`, when the
    /// request asks).
    fn take_snapshot(
        &self,
        request: &SnapshotRequest,
        watch: &crate::rescue::Watch,
    ) -> Result<TakenSnapshot, SourceError>;
    /// Creates and binds an automatic policy meeting `schedule`; changes nothing when one
    /// covering the disk meets it already.
    fn apply_policy(&self, schedule: &Schedule) -> Result<PolicyApplied, SourceError>;
}

/// The sources that serve `path` (local first, then clouds detected or asked for). None
/// found is an error that says what was checked.
pub fn detect(
    path: &Path,
    options: &CloudOptions,
) -> Result<Vec<Box<dyn SnapshotSource>>, SourceError> {
    let mut checked = Vec::new();
    let mut found: Vec<Box<dyn SnapshotSource>> = Vec::new();
    let only = options.source.as_deref();
    if only.is_none_or(|s| s == "btrfs") {
        match btrfs::BtrfsSource::detect(path)? {
            Ok(source) => found.push(Box::new(source)),
            Err(reason) => checked.push(format!("btrfs ({reason})")),
        }
    }
    if only.is_none_or(|s| s == "zfs") {
        match zfs::ZfsSource::detect(path)? {
            Ok(source) => found.push(Box::new(source)),
            Err(reason) => checked.push(format!("zfs ({reason})")),
        }
    }
    // A cloud found by DMI but not usable (no credentials, no network) does not stop the
    // local source; asked for with --source, it is the answer.
    for entry in &crate::providers::PROVIDERS {
        let name = entry.name;
        if only.is_some_and(|s| s != name) {
            continue;
        }
        match cloud::CloudSource::detect(entry, path, options) {
            Ok(Some(source)) => found.push(Box::new(source)),
            Ok(None) => checked.push(format!(
                "{name} (not this machine's cloud by DMI; use --source {name})"
            )),
            Err(e) if only.is_some() => return Err(e),
            Err(e) => {
                tracing::warn!(source = name, error = %e, "cloud source skipped");
                checked.push(format!("{name} ({e})"));
            }
        }
    }
    let known = known_sources();
    if let Some(name) = only
        && !known.contains(&name)
    {
        return Err(SourceError::Refused(format!(
            "unknown source `{name}`; known: {}",
            known.join(", ")
        )));
    }
    if !found.is_empty() {
        return Ok(found);
    }
    let (mount, _) = crate::ports::mounts::mount_of(path)?;
    Err(SourceError::NoSource {
        path: path.to_path_buf(),
        fs: mount.fs_type,
        mount: mount.mount_point,
        checked: checked.join("; "),
    })
}

/// The names `--source` accepts: the local sources, then every cloud provider.
pub fn known_sources() -> Vec<&'static str> {
    let mut names = vec!["btrfs", "zfs"];
    names.extend(crate::providers::PROVIDERS.iter().map(|p| p.name));
    names
}

/// Refuses a confirmation that does not name `target`.
pub fn check_confirmation(confirm: &str, target: &str, noun: &str) -> Result<(), SourceError> {
    if confirm == target {
        return Ok(());
    }
    Err(SourceError::Refused(format!(
        "confirmation `{confirm}` does not name the {noun} to roll back; type its id: --confirm {target}"
    )))
}

/// Finds a snapshot by id, by its path inside its source, or by the path of its root on this
/// machine (any other path is refused with the reason) in a listing.
pub fn find<'a>(snapshots: &'a [Snapshot], id: &str) -> Result<&'a Snapshot, SourceError> {
    if let Some(found) = snapshots
        .iter()
        .find(|s| s.id == id || s.path == Path::new(id))
    {
        return Ok(found);
    }
    if snapshot_path::looks_like_path(id) {
        return snapshot_path::snapshot_at(snapshots, id);
    }
    Err(SourceError::UnknownSnapshot {
        id: id.to_string(),
        valid: if snapshots.is_empty() {
            "none (no snapshots found)".into()
        } else {
            snapshots
                .iter()
                .map(|s| format!("{} ({})", s.id, s.name))
                .collect::<Vec<_>>()
                .join(", ")
        },
    })
}
