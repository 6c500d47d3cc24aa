//! EBS volumes as rescue disks: CreateVolume (with a client token and the run's tag),
//! DescribeVolumes for the state, AttachVolume at a free `/dev/sd[f-p]` name, DetachVolume
//! and DeleteVolume, where "not found" and "already detached" count as done. The guest finds
//! the volume by its NVMe serial (`vol0123…`), never by the device name.

use super::{DiskState, RUN_TAG, RescueCloud, param};
use crate::cloud::CloudError;
use crate::cloud::aws::ec2::Ec2Client;
use crate::cloud::aws::xml;

pub struct Ec2Disks {
    pub ec2: Ec2Client,
}

impl Ec2Disks {
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
            head: crate::cloud::head(&body),
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

impl RescueCloud for Ec2Disks {
    fn name(&self) -> &'static str {
        "aws"
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
}
