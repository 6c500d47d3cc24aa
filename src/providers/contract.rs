//! The one contract every cloud implements. A provider answers the questions the generic
//! flows ask (who am I, which disk is behind a device, its snapshots, make / attach / detach /
//! delete a disk, take a guard snapshot, reset a detached disk) and offers its rollback
//! plans; the snapshot source (`sources::cloud`), the rescue disk (`rescue::disk`), the
//! journal and `cleanup` are written once over this trait, so a new cloud is one folder.
//!
//! Each snapshot says when its policy deletes it; pin/unpin keep the one being recovered from
//! (a lock, a longer retention, a permanent flag). For prevention each answers the audit's
//! questions (policies, encryption, system disk, copies elsewhere), takes a named snapshot
//! and applies a policy.

use super::CloudError;
use crate::protect::{Encryption, Policy, PolicyApplied, Schedule};
use crate::rescue::journal::{Journal, RunRecord};
use crate::rescue::{RescueError, Watch};
use crate::sources::cloud_disk::{CloudDisk, DiskPlace};
use crate::sources::{PinDone, PinPrior, RollbackOutcome, Snapshot, SnapshotStatus, Unpinned};

/// Where this machine is, from its cloud's metadata service; all `None` when it did not
/// answer (not on that cloud, or run from elsewhere).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub instance: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
}

/// Where a cloud disk is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskState {
    Creating,
    Available,
    Attaching(String),
    /// Attached to this instance.
    InUse(String),
    Detaching,
    /// Being put back to a snapshot in place (a reset still running).
    Resetting,
    /// Being deleted, or any state the cloud reports that we do not act on.
    Other(String),
}

/// A guard snapshot to take: the state of `disk` before a rollback to `before_rollback_to`,
/// tagged with the run (and `run` as its idempotency token where the API has one).
#[derive(Debug, Clone, Copy)]
pub struct GuardRequest<'a> {
    pub disk: &'a str,
    pub run: &'a str,
    pub before_rollback_to: &'a str,
}

/// What a cloud must answer. Ids are the cloud's own; "not found" on detach/delete counts as
/// done, so the flows over it can be repeated after a crash.
pub trait CloudProvider: Send + Sync {
    /// `aws`, `aliyun`: the `--source` name and the journal's `cloud`.
    fn name(&self) -> &'static str;
    /// How its snapshots are shown as a layout (`ebs`, `ecs`).
    fn snapshot_layout(&self) -> &'static str;
    /// "EBS volume", "ECS disk".
    fn noun(&self) -> &'static str;
    /// What its rollback does with the current state of `disk`: a few words, and a
    /// sentence (the wizard's step 4).
    fn rollback_words(&self, disk: &str) -> (String, String);
    fn region(&self) -> &str;
    fn endpoint(&self) -> &str;
    /// This machine, from the metadata service.
    fn identity(&self) -> &Identity;

    /// The disk id a block device's serial (and model) names, if it is one of this cloud's.
    fn disk_from_serial(&self, serial: &str, model: Option<&str>) -> Option<String>;
    /// The serials the guest sees for `disk` (by-id suffixes).
    fn serials(&self, disk: &str) -> Vec<String>;
    /// The disks attached to `instance` and/or with id `id`.
    fn describe_disks(
        &self,
        instance: Option<&str>,
        id: Option<&str>,
    ) -> Result<Vec<CloudDisk>, CloudError>;
    /// `None` when the disk no longer exists.
    fn disk_state(&self, disk: &str) -> Result<Option<DiskState>, CloudError>;
    /// Every snapshot of `disk`, all pages, with what the cloud says about their expiry
    /// (`retention`: a fixed time, the policy that may delete it, a lock).
    fn list_snapshots(&self, disk: &str) -> Result<Vec<Snapshot>, CloudError>;
    /// The state of `snapshot` a pin would change (to be journaled first), or why no pin
    /// is needed for `days` more (kept forever or long enough already, locked by someone
    /// else).
    fn pin_prior(&self, snapshot: &Snapshot, days: u32) -> Result<PinPrior, CloudError>;
    /// Keeps `snapshot` from its policy's deletion for at least `days` from now.
    fn pin(&self, snapshot: &Snapshot, days: u32, prior: &PinPrior) -> Result<PinDone, CloudError>;
    /// Undoes what `done` changed over `prior`, only where it is still that pin's; says
    /// what it cannot undo (a retention cannot be shortened, a past deadline not restored).
    fn unpin(
        &self,
        snapshot: &Snapshot,
        prior: &PinPrior,
        done: &PinDone,
    ) -> Result<Unpinned, CloudError>;

    /// Starts making a disk from `snapshot` in `zone`, tagged with the run; `run` is also the
    /// client token, so a repeated request returns the same disk.
    fn create_disk(&self, snapshot: &str, zone: &str, run: &str) -> Result<String, CloudError>;
    /// Disks tagged with `run` (to find one whose creation was not recorded).
    fn tagged(&self, run: &str) -> Result<Vec<String>, CloudError>;
    fn attach(&self, disk: &str, instance: &str) -> Result<(), CloudError>;
    fn detach(&self, disk: &str, instance: &str) -> Result<(), CloudError>;
    fn delete(&self, disk: &str) -> Result<(), CloudError>;

    /// Starts a guard snapshot, made so that no automatic policy deletes it; returns its id.
    fn create_snapshot(&self, guard: &GuardRequest) -> Result<String, CloudError>;
    /// `None` when the snapshot does not exist.
    fn snapshot_status(&self, snapshot: &str) -> Result<Option<SnapshotStatus>, CloudError>;
    /// Starts putting a detached disk back to `snapshot` in place (refused with
    /// [`CloudError::Unsupported`] by clouds that cannot).
    fn reset_disk(&self, disk: &str, snapshot: &str) -> Result<(), CloudError>;
    /// Whether `error`, answering an attach right after a reset, only means the disk is still
    /// settling (ECS's `IncorrectDiskStatus`), so the attach is asked again.
    fn still_settling(&self, _error: &CloudError) -> bool {
        false
    }

    /// The rollback plan for the disk at `place` (a provider-specific flow, or the generic
    /// one), refused before anything changes when it cannot be done from here.
    fn rollback_flow<'a>(
        &'a self,
        place: &'a DiskPlace,
    ) -> Result<Box<dyn RollbackFlow + 'a>, RescueError>;
    /// Takes the named pre-run snapshot of `disk` with `tags` (snaprescue's among them),
    /// kept `keep_days` by the cloud's own retention where it has one (then deleted); returns
    /// its id, and how it is kept when the retention was set (`None`: no retention of its
    /// own, so a lock is put on it once it is complete).
    fn create_named_snapshot(
        &self,
        disk: &str,
        name: &str,
        tags: &[(String, String)],
        keep_days: Option<u32>,
    ) -> Result<(String, Option<String>), CloudError>;
    /// Whether `disk` is its instance's system (boot) disk, when the cloud says.
    fn is_system_disk(&self, disk: &str) -> Result<Option<bool>, CloudError>;
    /// The automatic snapshot policies that cover `disk`.
    fn auto_policies(&self, disk: &str) -> Result<Vec<Policy>, CloudError>;
    /// Whether `disk` is encrypted, and new disks are by default.
    fn encryption(&self, disk: &str) -> Result<Encryption, CloudError>;
    /// The region holding a copy of one of `recent` (the disk's newest snapshots), if any.
    fn cross_region_copy(
        &self,
        disk: &str,
        recent: &[Snapshot],
    ) -> Result<Option<String>, CloudError>;
    /// Creates and binds an automatic policy meeting `schedule` to `disk`; changes nothing
    /// when one covering it meets it already.
    fn apply_policy(&self, disk: &str, schedule: &Schedule) -> Result<PolicyApplied, CloudError>;

    /// Finishes an interrupted rollback of this provider's from its journal (`cleanup`);
    /// returns the state it left, in words.
    fn finish_rollback(
        &self,
        run: &RunRecord,
        journal: &Journal,
        watch: &Watch,
    ) -> Result<String, RescueError>;
}

/// One way of rolling a disk back, chosen by its provider.
pub trait RollbackFlow {
    /// What happens to the current state and to the machine, in a few words and as a
    /// sentence (the wizard's step 4 says it before the user chooses).
    fn words(&self) -> (String, String);
    /// What it will do, step by step (nothing is changed), or why it is refused.
    fn plan(&self, snapshot: &str, keep_guard: bool) -> Result<Vec<String>, RescueError>;
    /// Does it, journaled; the outcome says where the old state is kept and how to undo.
    fn run(
        &self,
        snapshot: &str,
        keep_guard: bool,
        watch: &Watch,
    ) -> Result<RollbackOutcome, RescueError>;
}
