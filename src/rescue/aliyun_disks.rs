//! ECS disks as rescue disks: CreateDisk (pay-as-you-go, client token, the run's tag),
//! DescribeDisks for the state, AttachDisk, DetachDisk and DeleteDisk, where "not found" and
//! "already detached" count as done. The guest finds the disk by its virtio or NVMe serial
//! (the id without `d-`), never by the device name the API reports.

use super::{DiskState, RUN_TAG, RescueCloud, param};
use crate::cloud::CloudError;
use crate::cloud::aliyun::ecs::EcsClient;
use serde_json::Value;

pub struct EcsDisks {
    pub ecs: EcsClient,
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
            head: crate::cloud::head(&doc.to_string()),
        })
}

impl RescueCloud for EcsDisks {
    fn name(&self) -> &'static str {
        "aliyun"
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
}
