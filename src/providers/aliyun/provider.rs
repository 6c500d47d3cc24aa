//! Alibaba Cloud ECS's side of the provider contract. ECS disks as rescue disks: CreateDisk
//! (pay-as-you-go, client token, the run's tag), DescribeDisks for the state, AttachDisk,
//! DetachDisk and DeleteDisk, where "not found" and "already detached" count as done. The
//! guest finds a disk by its virtio or NVMe serial (the id without `d-`), never by the device
//! name the API reports. Snapshots from DescribeSnapshots, all pages; guards from
//! CreateSnapshot; ResetDisk puts a disk back in place. Expiry and pins: `retention`.

use super::ecs::{EcsClient, EcsSnapshot, disk_id_from_serial};
use crate::providers::{
    CloudError, CloudProvider, DiskState, GuardRequest, Identity, RollbackFlow,
};
use crate::rescue::journal::{Journal, RunRecord};
use crate::rescue::{RUN_TAG, RescueError, Watch, param};
use crate::sources::cloud_disk::{CloudDisk, DiskPlace};
use crate::sources::{CloudDetails, PinDone, PinPrior, Snapshot, SnapshotStatus, Unpinned};
use serde_json::Value;

pub struct AliyunProvider {
    pub ecs: EcsClient,
    pub identity: Identity,
}

/// What an ECS snapshot status means for recovery.
fn snapshot_status(status: &str) -> SnapshotStatus {
    match status {
        "accomplished" => SnapshotStatus::Completed,
        "progressing" => SnapshotStatus::InProgress,
        _ => SnapshotStatus::Failed,
    }
}

fn as_snapshot(provider: &dyn CloudProvider, s: EcsSnapshot) -> Snapshot {
    let status = snapshot_status(&s.status);
    let retention = super::retention::retention(&s);
    let details = CloudDetails {
        disk_id: s.disk_id,
        size_gib: s.disk_size_gib,
        progress: s.progress,
        encrypted: s.encrypted,
        tags: s.tags,
        source_region: s.source_region,
    };
    let mut snapshot = Snapshot::in_cloud(
        provider,
        s.id,
        Some(s.name),
        s.description,
        s.created,
        status,
        details,
    );
    snapshot.retention = retention;
    snapshot
}

fn as_disk(d: super::ecs::EcsDisk) -> CloudDisk {
    CloudDisk {
        label: format!("{} ({} GiB, {})", d.id, d.size_gib, d.kind),
        attached_to: Some(d.instance_id)
            .filter(|i| !i.is_empty())
            .into_iter()
            .collect(),
        id: d.id,
        zone: d.zone,
    }
}

/// The text of `field` in a successful answer, or a malformed-answer error naming it.
pub fn required(doc: &Value, action: &str, field: &str) -> Result<String, CloudError> {
    doc[field]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| CloudError::Malformed {
            service: "ECS",
            reason: format!("{action} answered without {field}"),
            head: crate::providers::head(&doc.to_string()),
        })
}

impl CloudProvider for AliyunProvider {
    fn name(&self) -> &'static str {
        "aliyun"
    }
    fn snapshot_layout(&self) -> &'static str {
        "ecs"
    }
    fn identity(&self) -> &Identity {
        &self.identity
    }
    fn region(&self) -> &str {
        &self.ecs.region
    }
    fn endpoint(&self) -> &str {
        &self.ecs.endpoint
    }
    fn noun(&self) -> &'static str {
        "ECS disk"
    }

    fn rollback_words(&self, disk: &str) -> (String, String) {
        (
            "a guard snapshot of it is taken first; the instance is stopped and started".into(),
            format!("A guard snapshot of `{disk}` is taken first; the instance restarts."),
        )
    }

    fn disk_from_serial(&self, serial: &str, model: Option<&str>) -> Option<String> {
        disk_id_from_serial(serial, model)
    }

    fn describe_disks(
        &self,
        instance: Option<&str>,
        id: Option<&str>,
    ) -> Result<Vec<CloudDisk>, CloudError> {
        Ok(self
            .ecs
            .describe_disks(instance, id)?
            .into_iter()
            .map(as_disk)
            .collect())
    }

    fn list_snapshots(&self, disk: &str) -> Result<Vec<Snapshot>, CloudError> {
        Ok(self
            .ecs
            .describe_snapshots(disk)?
            .into_iter()
            .map(|s| as_snapshot(self, s))
            .collect())
    }

    fn pin_prior(&self, snapshot: &Snapshot, days: u32) -> Result<PinPrior, CloudError> {
        self.retention_prior(&snapshot.id, days)
    }

    fn pin(
        &self,
        snapshot: &Snapshot,
        days: u32,
        _prior: &PinPrior,
    ) -> Result<PinDone, CloudError> {
        self.retention_pin(&snapshot.id, days)
    }

    fn unpin(
        &self,
        snapshot: &Snapshot,
        prior: &PinPrior,
        done: &PinDone,
    ) -> Result<Unpinned, CloudError> {
        Ok(self.retention_unpin(&snapshot.id, prior, done))
    }

    fn create_disk(&self, snapshot: &str, zone: &str, run: &str) -> Result<String, CloudError> {
        let doc = self.ecs.call(
            "CreateDisk",
            &[
                param("ZoneId", zone),
                param("SnapshotId", snapshot),
                param("DiskCategory", "cloud_essd"),
                param("DiskName", &format!("snaprescue-rescue-{snapshot}")),
                param(
                    "Description",
                    "temporary rescue disk made by snaprescue; safe to delete",
                ),
                param("ClientToken", run),
                param("Tag.1.Key", RUN_TAG),
                param("Tag.1.Value", run),
            ],
        )?;
        required(&doc, "CreateDisk", "DiskId")
    }

    fn disk_state(&self, disk: &str) -> Result<Option<DiskState>, CloudError> {
        let found = match self.ecs.describe_disks(None, Some(disk)) {
            Ok(d) => d.into_iter().next(),
            Err(e) if e.has_code(&["InvalidDiskId.NotFound"]) => None,
            Err(e) => return Err(e),
        };
        Ok(found.map(|d| match d.status.to_ascii_lowercase().as_str() {
            "creating" => DiskState::Creating,
            // A reset (ReIniting) or another operation still holds the disk.
            "reiniting" => DiskState::Resetting,
            "available" if d.locked => DiskState::Resetting,
            "available" => DiskState::Available,
            "attaching" => DiskState::Attaching(d.instance_id),
            "in_use" => DiskState::InUse(d.instance_id),
            "detaching" => DiskState::Detaching,
            other => DiskState::Other(other.to_string()),
        }))
    }

    fn tagged(&self, run: &str) -> Result<Vec<String>, CloudError> {
        Ok(self
            .ecs
            .disks_where(vec![param("Tag.1.Key", RUN_TAG), param("Tag.1.Value", run)])?
            .into_iter()
            .map(|d| d.id)
            .collect())
    }

    fn attach(&self, disk: &str, instance: &str) -> Result<(), CloudError> {
        self.ecs
            .call(
                "AttachDisk",
                &[param("InstanceId", instance), param("DiskId", disk)],
            )
            .map(|_| ())
    }

    fn detach(&self, disk: &str, instance: &str) -> Result<(), CloudError> {
        match self.ecs.call(
            "DetachDisk",
            &[param("InstanceId", instance), param("DiskId", disk)],
        ) {
            Err(e)
                if e.has_code(&[
                    "InvalidDisk.AlreadyDetached",
                    "InvalidDiskId.NotFound",
                    "InvalidInstanceId.NotFound",
                ]) =>
            {
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    fn delete(&self, disk: &str) -> Result<(), CloudError> {
        match self.ecs.call("DeleteDisk", &[param("DiskId", disk)]) {
            Err(e) if e.has_code(&["InvalidDiskId.NotFound"]) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    fn serials(&self, disk: &str) -> Vec<String> {
        vec![disk.strip_prefix("d-").unwrap_or(disk).to_string()]
    }

    /// A manual snapshot without `RetentionDays`: kept until someone deletes it, never by a
    /// policy or a disk's automatic-snapshot quota.
    fn create_snapshot(&self, guard: &GuardRequest) -> Result<String, CloudError> {
        let doc = self.ecs.call(
            "CreateSnapshot",
            &[
                param("DiskId", guard.disk),
                param("SnapshotName", &format!("snaprescue-guard-{}", guard.run)),
                param(
                    "Description",
                    &format!(
                        "state of {} before rollback to {}",
                        guard.disk, guard.before_rollback_to
                    ),
                ),
                param("ClientToken", guard.run),
                param("Tag.1.Key", RUN_TAG),
                param("Tag.1.Value", guard.run),
                param("Tag.2.Key", "snaprescue-guard"),
                param("Tag.2.Value", "true"),
            ],
        )?;
        required(&doc, "CreateSnapshot", "SnapshotId")
    }

    fn snapshot_status(&self, snapshot: &str) -> Result<Option<SnapshotStatus>, CloudError> {
        let doc = self.ecs.call(
            "DescribeSnapshots",
            &[param("SnapshotIds", &format!("[\"{snapshot}\"]"))],
        )?;
        Ok(doc["Snapshots"]["Snapshot"][0]["Status"]
            .as_str()
            .map(snapshot_status))
    }

    fn create_named_snapshot(
        &self,
        disk: &str,
        name: &str,
        tags: &[(String, String)],
        keep_days: Option<u32>,
    ) -> Result<(String, Option<String>), CloudError> {
        self.ecs_named_snapshot(disk, name, tags, keep_days)
    }

    fn is_system_disk(&self, disk: &str) -> Result<Option<bool>, CloudError> {
        Ok(self
            .ecs
            .describe_disks(None, Some(disk))?
            .first()
            .map(|d| d.kind == "system"))
    }

    fn auto_policies(&self, disk: &str) -> Result<Vec<crate::protect::Policy>, CloudError> {
        self.ecs_policies(disk)
    }

    fn encryption(&self, disk: &str) -> Result<crate::protect::Encryption, CloudError> {
        self.ecs_encryption(disk)
    }

    /// The region the bound policy copies to, else one holding a copy of a recent snapshot.
    fn cross_region_copy(
        &self,
        disk: &str,
        recent: &[Snapshot],
    ) -> Result<Option<String>, CloudError> {
        if let Some(region) = self.ecs_copy_region(disk)? {
            return Ok(Some(region));
        }
        let ids: Vec<String> = recent.iter().map(|s| s.id.clone()).collect();
        self.ecs_copy_elsewhere(&ids)
    }

    fn apply_policy(
        &self,
        disk: &str,
        schedule: &crate::protect::Schedule,
    ) -> Result<crate::protect::PolicyApplied, CloudError> {
        self.ecs_apply_policy(disk, schedule)
    }

    fn reset_disk(&self, disk: &str, snapshot: &str) -> Result<(), CloudError> {
        self.ecs
            .call(
                "ResetDisk",
                &[param("DiskId", disk), param("SnapshotId", snapshot)],
            )
            .map(|_| ())
    }

    fn still_settling(&self, error: &CloudError) -> bool {
        error.has_code(&["IncorrectDiskStatus", "OperationConflict"])
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
