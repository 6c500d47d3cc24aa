//! AWS EC2's side of the provider contract. EBS volumes as rescue disks: CreateVolume (with
//! a client token and the run's tag), DescribeVolumes for the state, AttachVolume at a free
//! `/dev/sd[f-p]` name, DetachVolume and DeleteVolume, where "not found" and "already
//! detached" count as done. The guest finds a volume by its NVMe serial (`vol0123…`), never
//! by the device name. Snapshots come from DescribeSnapshots, all pages; EBS cannot reset a
//! volume in place, so its rollbacks swap volumes (see `rollback`). Expiry and pins (DLM
//! tags, governance locks) are in `locks`.

use super::ec2::{Ec2Client, volume_id_from_serial};
use super::xml;
use crate::providers::{
    CloudError, CloudProvider, DiskState, GuardRequest, Identity, RollbackFlow,
};
use crate::rescue::journal::{Journal, RunRecord};
use crate::rescue::{RUN_TAG, RescueError, Watch, param};
use crate::sources::cloud_disk::{CloudDisk, DiskPlace};
use crate::sources::{CloudDetails, PinDone, PinPrior, Snapshot, SnapshotStatus, Unpinned};
use std::collections::HashMap;

pub struct AwsProvider {
    pub ec2: Ec2Client,
    pub identity: Identity,
}

/// What an EBS snapshot state means for recovery.
fn snapshot_status(state: &str) -> SnapshotStatus {
    match state {
        "completed" => SnapshotStatus::Completed,
        "pending" | "recovering" => SnapshotStatus::InProgress,
        _ => SnapshotStatus::Failed,
    }
}

fn as_snapshot(
    provider: &dyn CloudProvider,
    s: xml::Ec2Snapshot,
    locks: &HashMap<String, super::locks::SnapshotLock>,
) -> Snapshot {
    let name = s.tags.iter().find(|t| t.0 == "Name").map(|t| t.1.clone());
    let status = snapshot_status(&s.status);
    let retention = super::locks::with_lock(super::locks::dlm_retention(&s.tags), locks.get(&s.id));
    let details = CloudDetails {
        disk_id: s.volume_id,
        size_gib: s.volume_size_gib,
        progress: s.progress,
        encrypted: s.encrypted,
        tags: s.tags,
        source_region: s.source_region,
    };
    let mut snapshot = Snapshot::in_cloud(
        provider,
        s.id,
        name,
        s.description,
        s.start_time,
        status,
        details,
    );
    snapshot.retention = retention;
    snapshot
}

fn as_disk(v: xml::Ec2Volume) -> CloudDisk {
    CloudDisk {
        label: format!(
            "{} ({} GiB, {})",
            v.id,
            v.size_gib,
            v.attachments
                .first()
                .map(|a| a.device.as_str())
                .unwrap_or("-")
        ),
        attached_to: v.attachments.iter().map(|a| a.instance.clone()).collect(),
        id: v.id,
        zone: v.zone,
    }
}

impl AwsProvider {
    /// Calls `action` and returns the text of `field` in the answer.
    pub fn call_for(
        &self,
        action: &str,
        params: &[(String, String)],
        field: &str,
    ) -> Result<String, CloudError> {
        let body = self.ec2.call(action, params)?;
        xml::field(&body, field).ok_or_else(|| CloudError::Malformed {
            service: "EC2",
            reason: format!("{action} answered without {field}"),
            head: crate::providers::head(&body),
        })
    }

    pub fn volume(&self, id: &str) -> Result<Option<xml::Ec2Volume>, CloudError> {
        match self.ec2.describe_volumes(None, Some(id)) {
            Ok(v) => Ok(v.into_iter().next()),
            Err(e) if e.has_code(&["InvalidVolume.NotFound"]) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Tags `resource` (a kept volume, a guard snapshot).
    pub fn tag(&self, resource: &str, tags: &[(&str, &str)]) -> Result<(), CloudError> {
        let mut params = vec![param("ResourceId.1", resource)];
        for (i, (k, v)) in tags.iter().enumerate() {
            params.push(param(&format!("Tag.{}.Key", i + 1), k));
            params.push(param(&format!("Tag.{}.Value", i + 1), v));
        }
        self.ec2.call("CreateTags", &params).map(|_| ())
    }

    /// Attaches `volume` to `instance` at `device`.
    pub fn attach_at(&self, volume: &str, instance: &str, device: &str) -> Result<(), CloudError> {
        self.ec2
            .call(
                "AttachVolume",
                &[
                    param("VolumeId", volume),
                    param("InstanceId", instance),
                    param("Device", device),
                ],
            )
            .map(|_| ())
    }
}

impl CloudProvider for AwsProvider {
    fn name(&self) -> &'static str {
        "aws"
    }
    fn snapshot_layout(&self) -> &'static str {
        "ebs"
    }
    fn identity(&self) -> &Identity {
        &self.identity
    }
    fn region(&self) -> &str {
        &self.ec2.region
    }
    fn endpoint(&self) -> &str {
        &self.ec2.endpoint
    }
    fn noun(&self) -> &'static str {
        "EBS volume"
    }

    fn rollback_words(&self, disk: &str) -> (String, String) {
        (
            "the current volume is detached and kept, tagged snaprescue-kept".into(),
            format!("The current volume `{disk}` is detached and kept, never deleted."),
        )
    }

    fn disk_from_serial(&self, serial: &str, _model: Option<&str>) -> Option<String> {
        volume_id_from_serial(serial)
    }

    fn describe_disks(
        &self,
        instance: Option<&str>,
        id: Option<&str>,
    ) -> Result<Vec<CloudDisk>, CloudError> {
        Ok(self
            .ec2
            .describe_volumes(instance, id)?
            .into_iter()
            .map(as_disk)
            .collect())
    }

    fn list_snapshots(&self, disk: &str) -> Result<Vec<Snapshot>, CloudError> {
        let snapshots = self.ec2.describe_snapshots(disk)?;
        let locks = if snapshots.is_empty() {
            HashMap::new()
        } else {
            self.locks_for_listing()?
        };
        Ok(snapshots
            .into_iter()
            .map(|s| as_snapshot(self, s, &locks))
            .collect())
    }

    fn pin_prior(&self, snapshot: &Snapshot, _days: u32) -> Result<PinPrior, CloudError> {
        AwsProvider::pin_prior(self, &snapshot.id)
    }

    fn pin(
        &self,
        snapshot: &Snapshot,
        days: u32,
        _prior: &PinPrior,
    ) -> Result<PinDone, CloudError> {
        AwsProvider::pin(self, &snapshot.id, days)
    }

    fn unpin(
        &self,
        snapshot: &Snapshot,
        prior: &PinPrior,
        done: &PinDone,
    ) -> Result<Unpinned, CloudError> {
        AwsProvider::unpin(self, &snapshot.id, prior, done)
    }

    fn create_disk(&self, snapshot: &str, zone: &str, run: &str) -> Result<String, CloudError> {
        let name = format!("snaprescue rescue of {snapshot}");
        self.call_for(
            "CreateVolume",
            &[
                param("SnapshotId", snapshot),
                param("AvailabilityZone", zone),
                param("VolumeType", "gp3"),
                param("ClientToken", run),
                param("TagSpecification.1.ResourceType", "volume"),
                param("TagSpecification.1.Tag.1.Key", RUN_TAG),
                param("TagSpecification.1.Tag.1.Value", run),
                param("TagSpecification.1.Tag.2.Key", "Name"),
                param("TagSpecification.1.Tag.2.Value", &name),
            ],
            "volumeId",
        )
    }

    fn disk_state(&self, disk: &str) -> Result<Option<DiskState>, CloudError> {
        let Some(v) = self.volume(disk)? else {
            return Ok(None);
        };
        let attachment = v.attachments.iter().find(|a| a.state != "detached");
        Ok(Some(match (v.state.as_str(), attachment) {
            ("creating", _) => DiskState::Creating,
            (_, Some(a)) if a.state == "attaching" => DiskState::Attaching(a.instance.clone()),
            (_, Some(a)) if a.state == "attached" => DiskState::InUse(a.instance.clone()),
            (_, Some(a)) if a.state == "detaching" => DiskState::Detaching,
            ("available", _) => DiskState::Available,
            ("deleted", _) => return Ok(None),
            (other, _) => DiskState::Other(other.to_string()),
        }))
    }

    fn tagged(&self, run: &str) -> Result<Vec<String>, CloudError> {
        Ok(self
            .ec2
            .volumes_where(vec![
                param("Filter.1.Name", &format!("tag:{RUN_TAG}")),
                param("Filter.1.Value.1", run),
            ])?
            .into_iter()
            .map(|v| v.id)
            .collect())
    }

    fn attach(&self, disk: &str, instance: &str) -> Result<(), CloudError> {
        let used: Vec<String> = self
            .ec2
            .describe_volumes(Some(instance), None)?
            .into_iter()
            .flat_map(|v| v.attachments.into_iter().map(|a| a.device))
            .collect();
        let device = ('f'..='p')
            .map(|c| format!("/dev/sd{c}"))
            .find(|d| !used.iter().any(|u| u == d || *u == d.replace("/dev/sd", "/dev/xvd")))
            .ok_or_else(|| {
                CloudError::Config(format!(
                    "instance {instance} has no free device name in /dev/sdf–/dev/sdp: detach a volume"
                ))
            })?;
        self.attach_at(disk, instance, &device)
    }

    fn detach(&self, disk: &str, instance: &str) -> Result<(), CloudError> {
        match self.ec2.call(
            "DetachVolume",
            &[param("VolumeId", disk), param("InstanceId", instance)],
        ) {
            Err(e)
                if e.has_code(&[
                    "InvalidVolume.NotFound",
                    "InvalidAttachment.NotFound",
                    "IncorrectState",
                ]) =>
            {
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    fn delete(&self, disk: &str) -> Result<(), CloudError> {
        match self.ec2.call("DeleteVolume", &[param("VolumeId", disk)]) {
            Err(e) if e.has_code(&["InvalidVolume.NotFound"]) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    fn serials(&self, disk: &str) -> Vec<String> {
        vec![disk.replacen("vol-", "vol", 1), disk.to_string()]
    }

    /// A manual snapshot: no DLM policy ever deletes it (DLM deletes only the snapshots its
    /// own policies made, tagged `aws:dlm:*`), so the guard is kept until someone deletes it.
    fn create_snapshot(&self, guard: &GuardRequest) -> Result<String, CloudError> {
        self.call_for(
            "CreateSnapshot",
            &[
                param("VolumeId", guard.disk),
                param(
                    "Description",
                    &format!(
                        "state of {} before rollback to {}",
                        guard.disk, guard.before_rollback_to
                    ),
                ),
                param("TagSpecification.1.ResourceType", "snapshot"),
                param("TagSpecification.1.Tag.1.Key", RUN_TAG),
                param("TagSpecification.1.Tag.1.Value", guard.run),
                param("TagSpecification.1.Tag.2.Key", "snaprescue-guard"),
                param("TagSpecification.1.Tag.2.Value", "true"),
                param("TagSpecification.1.Tag.3.Key", "Name"),
                param(
                    "TagSpecification.1.Tag.3.Value",
                    &format!("snaprescue-guard-{}", guard.run),
                ),
            ],
            "snapshotId",
        )
    }

    fn snapshot_status(&self, snapshot: &str) -> Result<Option<SnapshotStatus>, CloudError> {
        Ok(self
            .ec2
            .snapshot(snapshot)?
            .map(|s| snapshot_status(&s.status)))
    }

    fn create_named_snapshot(
        &self,
        disk: &str,
        name: &str,
        tags: &[(String, String)],
        _keep_days: Option<u32>,
    ) -> Result<(String, Option<String>), CloudError> {
        // EBS snapshots have no retention of their own: kept by a lock once complete.
        Ok((self.ebs_named_snapshot(disk, name, tags)?, None))
    }

    fn is_system_disk(&self, disk: &str) -> Result<Option<bool>, CloudError> {
        self.ebs_is_root(disk)
    }

    fn auto_policies(&self, disk: &str) -> Result<Vec<crate::protect::Policy>, CloudError> {
        self.ebs_policies(disk)
    }

    fn encryption(&self, disk: &str) -> Result<crate::protect::Encryption, CloudError> {
        self.ebs_encryption(disk)
    }

    fn cross_region_copy(
        &self,
        disk: &str,
        recent: &[Snapshot],
    ) -> Result<Option<String>, CloudError> {
        // A copy made by hand is tagged by nobody; DLM's cross-region rules are what is known.
        let _ = recent;
        self.ebs_copy_region(disk)
    }

    fn apply_policy(
        &self,
        disk: &str,
        schedule: &crate::protect::Schedule,
    ) -> Result<crate::protect::PolicyApplied, CloudError> {
        self.ebs_apply_policy(disk, schedule)
    }

    fn reset_disk(&self, disk: &str, _snapshot: &str) -> Result<(), CloudError> {
        Err(CloudError::Unsupported {
            service: "EC2",
            what: format!("reset EBS volume {disk} to a snapshot in place"),
            instead: "A rollback makes a new volume from the snapshot and swaps it in, keeping \
                      the old one"
                .into(),
        })
    }

    fn rollback_flow<'a>(
        &'a self,
        place: &'a DiskPlace,
    ) -> Result<Box<dyn RollbackFlow + 'a>, RescueError> {
        super::rollback_flow::choose(self, place)
    }

    fn finish_rollback(
        &self,
        run: &RunRecord,
        journal: &Journal,
        watch: &Watch,
    ) -> Result<String, RescueError> {
        super::rollback_flow::finish(self, run, journal, watch)
    }
}
