//! EBS volumes as rescue disks: CreateVolume (with a client token and the run's tag),
//! DescribeVolumes for the state, AttachVolume at a free `/dev/sd[f-p]` name, DetachVolume
//! and DeleteVolume, where "not found" and "already detached" count as done. The guest finds
//! the volume by its NVMe serial (`vol0123…`), never by the device name.

use super::{DiskState, RUN_TAG, RescueCloud};
use crate::cloud::CloudError;
use crate::cloud::aws::ec2::Ec2Client;
use crate::cloud::aws::xml;

pub struct Ec2Disks {
    pub ec2: Ec2Client,
}

fn p(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

/// Whether an EC2 error says the thing is already gone or already in the wanted state.
pub fn already_done(e: &CloudError, codes: &[&str]) -> bool {
    matches!(e, CloudError::Api { code, .. } if codes.contains(&code.as_str()))
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
            Err(e) if already_done(&e, &["InvalidVolume.NotFound"]) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Tags `resource` (a kept volume, a guard snapshot).
    pub fn tag(&self, resource: &str, tags: &[(&str, &str)]) -> Result<(), CloudError> {
        let mut params = vec![p("ResourceId.1", resource)];
        for (i, (k, v)) in tags.iter().enumerate() {
            params.push(p(&format!("Tag.{}.Key", i + 1), k));
            params.push(p(&format!("Tag.{}.Value", i + 1), v));
        }
        self.ec2.call("CreateTags", &params).map(|_| ())
    }

    /// Attaches `volume` to `instance` at `device`.
    pub fn attach_at(&self, volume: &str, instance: &str, device: &str) -> Result<(), CloudError> {
        self.ec2
            .call(
                "AttachVolume",
                &[
                    p("VolumeId", volume),
                    p("InstanceId", instance),
                    p("Device", device),
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
                p("SnapshotId", snapshot),
                p("AvailabilityZone", zone),
                p("VolumeType", "gp3"),
                p("ClientToken", run),
                p("TagSpecification.1.ResourceType", "volume"),
                p("TagSpecification.1.Tag.1.Key", RUN_TAG),
                p("TagSpecification.1.Tag.1.Value", run),
                p("TagSpecification.1.Tag.2.Key", "Name"),
                p("TagSpecification.1.Tag.2.Value", &name),
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
                p("Filter.1.Name", &format!("tag:{RUN_TAG}")),
                p("Filter.1.Value.1", run),
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
            &[p("VolumeId", disk), p("InstanceId", instance)],
        ) {
            Err(e)
                if already_done(
                    &e,
                    &[
                        "InvalidVolume.NotFound",
                        "InvalidAttachment.NotFound",
                        "IncorrectState",
                    ],
                ) =>
            {
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    fn delete(&self, disk: &str) -> Result<(), CloudError> {
        match self.ec2.call("DeleteVolume", &[p("VolumeId", disk)]) {
            Err(e) if already_done(&e, &["InvalidVolume.NotFound"]) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    fn serials(&self, disk: &str) -> Vec<String> {
        vec![disk.replacen("vol-", "vol", 1), disk.to_string()]
    }
}
