//! Tencent Cloud CBS's side of the provider contract. Rescue disks: CreateDisks from the
//! snapshot (same zone and disk type, pay-as-you-go, client token, the run's tag), attached
//! with AttachDisks, found by the virtio serial (the full `disk-…` id), detached and
//! terminated afterwards; a system-disk snapshot is refused with the console's image route.
//! Snapshots from DescribeSnapshots, all pages, with their deadline; guards from
//! CreateSnapshot; ApplySnapshot resets a disk in place. Deadlines and pins: `retention`;
//! automatic policies, encryption and the pre-run snapshot: `policies`.

use super::api::{Service, TencentClient};
use super::cbs::{CbsDisk, CbsSnapshot};
use crate::providers::{
    CloudError, CloudProvider, DiskState, GuardRequest, Identity, RollbackFlow,
};
use crate::rescue::journal::{Journal, RunRecord};
use crate::rescue::{RUN_TAG, RescueError, Watch};
use crate::sources::cloud_disk::{CloudDisk, DiskPlace};
use crate::sources::{CloudDetails, PinDone, PinPrior, Snapshot, SnapshotStatus, Unpinned};
use serde_json::json;

pub struct TencentProvider {
    pub client: TencentClient,
    pub identity: Identity,
}

/// What a CBS snapshot state means for recovery (`ROLLBACKING`: complete, in use by a
/// rollback).
fn snapshot_status(state: &str) -> SnapshotStatus {
    match state {
        "NORMAL" | "ROLLBACKING" => SnapshotStatus::Completed,
        "CREATING" | "COPYING_FROM_REMOTE" | "CHECKING_COPIED" => SnapshotStatus::InProgress,
        _ => SnapshotStatus::Failed,
    }
}

fn as_snapshot(provider: &dyn CloudProvider, s: CbsSnapshot) -> Snapshot {
    let status = snapshot_status(&s.state);
    let retention = super::retention::retention(&s);
    let details = CloudDetails {
        disk_id: s.disk_id,
        size_gib: s.disk_size_gib,
        progress: format!("{}%", s.percent),
        encrypted: s.encrypted,
        tags: s.tags,
        source_region: None,
    };
    let mut snapshot = Snapshot::in_cloud(
        provider,
        s.id,
        Some(s.name),
        String::new(),
        s.created,
        status,
        details,
    );
    snapshot.retention = retention;
    snapshot
}

fn as_disk(d: CbsDisk) -> CloudDisk {
    CloudDisk {
        label: format!(
            "{} ({} GiB, {}, {})",
            d.id, d.size_gib, d.disk_type, d.disk_usage
        ),
        attached_to: Some(d.instance_id)
            .filter(|i| !i.is_empty())
            .into_iter()
            .collect(),
        id: d.id,
        zone: d.zone,
    }
}

/// The refusal for a system-disk snapshot, which CreateDisks cannot turn into a data disk.
fn system_disk_snapshot(snapshot: &str) -> CloudError {
    CloudError::Unsupported {
        service: "CBS",
        what: format!("make a data disk from {snapshot}, a system-disk snapshot"),
        instead: "Create a custom image from it in the console (Snapshots → Create custom \
                  image), start a temporary CVM from that image, and copy the files from there"
            .into(),
    }
}

impl TencentProvider {
    pub fn disk(&self, id: &str) -> Result<Option<CbsDisk>, CloudError> {
        self.client.disk(id)
    }

    fn cbs(&self, action: &str, body: serde_json::Value) -> Result<serde_json::Value, CloudError> {
        self.client.call(Service::Cbs, action, &body)
    }
}

impl CloudProvider for TencentProvider {
    fn name(&self) -> &'static str {
        "tencent"
    }
    fn snapshot_layout(&self) -> &'static str {
        "cbs"
    }
    fn noun(&self) -> &'static str {
        "CBS disk"
    }

    fn rollback_words(&self, disk: &str) -> (String, String) {
        (
            "a guard snapshot of it is taken first; a data disk is reset while detached (no \
             reboot), the system disk with the instance stopped"
                .into(),
            format!(
                "A guard snapshot of `{disk}` is taken first. A data disk is detached, reset \
                 and attached again: its mount is gone for a while, no reboot."
            ),
        )
    }
    fn region(&self) -> &str {
        &self.client.region
    }
    fn endpoint(&self) -> &str {
        &self.client.cbs_endpoint
    }
    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn disk_from_serial(&self, serial: &str, _model: Option<&str>) -> Option<String> {
        let serial = serial.trim();
        (serial.starts_with("disk-") && serial.len() > 5).then(|| serial.to_string())
    }

    fn serials(&self, disk: &str) -> Vec<String> {
        vec![disk.to_string()]
    }

    fn describe_disks(
        &self,
        instance: Option<&str>,
        id: Option<&str>,
    ) -> Result<Vec<CloudDisk>, CloudError> {
        let disks = match (id, instance) {
            (Some(id), _) => self.client.disk(id)?.into_iter().collect(),
            (None, Some(i)) => self
                .client
                .disks_where(json!([{"Name": "instance-id", "Values": [i]}]))?,
            (None, None) => self.client.all_disks()?,
        };
        Ok(disks
            .into_iter()
            .filter(|d| instance.is_none_or(|i| d.instance_id == i || id.is_some()))
            .map(as_disk)
            .collect())
    }

    fn disk_state(&self, disk: &str) -> Result<Option<DiskState>, CloudError> {
        Ok(self.client.disk(disk)?.map(|d| {
            if d.rollbacking {
                return DiskState::Resetting;
            }
            match d.state.as_str() {
                "UNATTACHED" => DiskState::Available,
                "ATTACHING" => DiskState::Attaching(d.instance_id),
                "ATTACHED" => DiskState::InUse(d.instance_id),
                "DETACHING" => DiskState::Detaching,
                "ROLLBACKING" => DiskState::Resetting,
                other => DiskState::Other(other.to_lowercase()),
            }
        }))
    }

    fn list_snapshots(&self, disk: &str) -> Result<Vec<Snapshot>, CloudError> {
        Ok(self
            .client
            .snapshots_of_disk(disk)?
            .into_iter()
            .map(|s| as_snapshot(self, s))
            .collect())
    }

    fn pin_prior(&self, snapshot: &Snapshot, _days: u32) -> Result<PinPrior, CloudError> {
        self.permanent_prior(&snapshot.id)
    }

    fn pin(
        &self,
        snapshot: &Snapshot,
        _days: u32,
        _prior: &PinPrior,
    ) -> Result<PinDone, CloudError> {
        self.make_permanent(&snapshot.id)
    }

    fn unpin(
        &self,
        snapshot: &Snapshot,
        prior: &PinPrior,
        _done: &PinDone,
    ) -> Result<Unpinned, CloudError> {
        self.restore_deadline(&snapshot.id, prior)
    }

    fn create_disk(&self, snapshot: &str, zone: &str, run: &str) -> Result<String, CloudError> {
        let source = self.client.snapshot(snapshot)?;
        if source
            .as_ref()
            .is_some_and(|s| s.disk_usage == "SYSTEM_DISK")
        {
            return Err(system_disk_snapshot(snapshot));
        }
        let disk_type = match &source {
            Some(s) => self.client.disk(&s.disk_id)?.map(|d| d.disk_type),
            None => None,
        }
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "CLOUD_PREMIUM".into());
        let response = self
            .cbs(
                "CreateDisks",
                json!({
                    "Placement": {"Zone": zone},
                    "DiskChargeType": "POSTPAID_BY_HOUR",
                    "DiskType": disk_type,
                    "SnapshotId": snapshot,
                    "DiskName": format!("snaprescue-rescue-{snapshot}"),
                    "DiskCount": 1,
                    "ClientToken": run,
                    "Tags": [{"Key": RUN_TAG, "Value": run}],
                }),
            )
            .map_err(|e| {
                if e.has_code(&["InvalidParameter.ShouldConvertSnapshotToImage"]) {
                    system_disk_snapshot(snapshot)
                } else {
                    e
                }
            })?;
        response["DiskIdSet"][0]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| CloudError::Malformed {
                service: "CBS",
                reason: "CreateDisks answered without DiskIdSet".into(),
                head: crate::providers::head(&response.to_string()),
            })
    }

    fn tagged(&self, run: &str) -> Result<Vec<String>, CloudError> {
        let filter = json!([{"Name": format!("tag:{RUN_TAG}"), "Values": [run]}]);
        Ok(self
            .client
            .disks_where(filter)?
            .into_iter()
            .map(|d| d.id)
            .collect())
    }

    fn attach(&self, disk: &str, instance: &str) -> Result<(), CloudError> {
        self.cbs(
            "AttachDisks",
            json!({"InstanceId": instance, "DiskIds": [disk]}),
        )
        .map(|_| ())
    }

    fn detach(&self, disk: &str, instance: &str) -> Result<(), CloudError> {
        match self.cbs(
            "DetachDisks",
            json!({"InstanceId": instance, "DiskIds": [disk]}),
        ) {
            // Already detached (or gone) counts as done.
            Err(e) => match self.disk_state(disk)? {
                None | Some(DiskState::Available) | Some(DiskState::Detaching) => Ok(()),
                _ => Err(e),
            },
            Ok(_) => Ok(()),
        }
    }

    fn delete(&self, disk: &str) -> Result<(), CloudError> {
        match self.cbs("TerminateDisks", json!({"DiskIds": [disk]})) {
            Err(e) if e.has_code(&["InvalidDiskId.NotFound", "ResourceNotFound"]) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Without a `Deadline` a CBS snapshot is permanent: no policy deletes the guard.
    fn create_snapshot(&self, guard: &GuardRequest) -> Result<String, CloudError> {
        let response = self.cbs(
            "CreateSnapshot",
            json!({
                "DiskId": guard.disk,
                "SnapshotName": format!("snaprescue-guard-{}", guard.run),
                "Tags": [
                    {"Key": RUN_TAG, "Value": guard.run},
                    {"Key": "snaprescue-guard", "Value": "true"},
                    {"Key": "snaprescue-before-rollback-to", "Value": guard.before_rollback_to},
                ],
            }),
        )?;
        response["SnapshotId"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| CloudError::Malformed {
                service: "CBS",
                reason: "CreateSnapshot answered without SnapshotId".into(),
                head: crate::providers::head(&response.to_string()),
            })
    }

    fn snapshot_status(&self, snapshot: &str) -> Result<Option<SnapshotStatus>, CloudError> {
        Ok(self
            .client
            .snapshot(snapshot)?
            .map(|s| snapshot_status(&s.state)))
    }

    fn create_named_snapshot(
        &self,
        disk: &str,
        name: &str,
        tags: &[(String, String)],
        keep_days: Option<u32>,
    ) -> Result<(String, Option<String>), CloudError> {
        self.cbs_named_snapshot(disk, name, tags, keep_days)
    }

    fn is_system_disk(&self, disk: &str) -> Result<Option<bool>, CloudError> {
        self.cbs_system_disk(disk)
    }

    fn auto_policies(&self, disk: &str) -> Result<Vec<crate::protect::Policy>, CloudError> {
        self.cbs_policies(disk)
    }

    fn encryption(&self, disk: &str) -> Result<crate::protect::Encryption, CloudError> {
        self.cbs_encryption(disk)
    }

    /// Where a bound policy copies to (a copy made by hand lives in a region not asked here).
    /// CBS policies copy to another account (`IsCopyToRemote`), not to another region, and
    /// a copy made with CopySnapshotCrossRegions lives in a region not asked here: none is
    /// known, so the check warns.
    fn cross_region_copy(
        &self,
        _disk: &str,
        _recent: &[Snapshot],
    ) -> Result<Option<String>, CloudError> {
        Ok(None)
    }

    fn apply_policy(
        &self,
        disk: &str,
        schedule: &crate::protect::Schedule,
    ) -> Result<crate::protect::PolicyApplied, CloudError> {
        self.cbs_apply_policy(disk, schedule)
    }

    fn reset_disk(&self, disk: &str, snapshot: &str) -> Result<(), CloudError> {
        self.cbs(
            "ApplySnapshot",
            json!({"SnapshotId": snapshot, "DiskId": disk}),
        )
        .map(|_| ())
    }

    fn rollback_flow<'a>(
        &'a self,
        place: &'a DiskPlace,
    ) -> Result<Box<dyn RollbackFlow + 'a>, RescueError> {
        super::rollback::choose(self, place)
    }

    fn finish_rollback(
        &self,
        run: &RunRecord,
        journal: &Journal,
        watch: &Watch,
    ) -> Result<String, RescueError> {
        super::rollback::finish(self, run, journal, watch)
    }
}
