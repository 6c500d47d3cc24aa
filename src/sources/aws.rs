//! EBS snapshots of the volume behind PATH. The volume is found from the NVMe serial of the
//! disk under PATH's mount (or `--disk`), confirmed with DescribeVolumes; its snapshots are
//! listed with DescribeSnapshots, all pages.

use super::{
    CloudDetails, OpenedSnapshot, RollbackOutcome, Snapshot, SnapshotSource, SnapshotStatus,
    SourceError,
};
use crate::cloud::CloudError;
use crate::cloud::aws::ec2::{Ec2Client, volume_id_from_serial};
use crate::cloud::aws::{creds, imds::Imds};
use std::path::{Path, PathBuf};

/// Names given on the command line or in the configuration.
#[derive(Debug, Clone, Default)]
pub struct CloudOptions {
    pub source: Option<String>,
    pub instance: Option<String>,
    pub region: Option<String>,
    pub disk: Option<String>,
    pub endpoint: Option<String>,
}

pub struct AwsSource {
    ec2: Ec2Client,
    pub volume_id: String,
    pub instance_id: Option<String>,
    pub zone: String,
}

/// The EBS volume under `path`, from the disk serials of its mount.
pub fn volume_under(path: &Path, sys: &Path) -> Option<String> {
    crate::ports::block::disks_of_path(path, sys)
        .into_iter()
        .find_map(|d| d.serial.as_deref().and_then(volume_id_from_serial))
}

impl AwsSource {
    /// `Ok(None)` when AWS is neither detected (DMI) nor asked for.
    pub fn detect(path: &Path, options: &CloudOptions) -> Result<Option<Self>, SourceError> {
        let asked = options.source.as_deref() == Some("aws");
        let on_aws = crate::cloud::dmi::this_machine() == Some(crate::cloud::dmi::Cloud::Aws);
        if !asked && !on_aws {
            return Ok(None);
        }
        let imds = Imds::endpoint(on_aws).and_then(|e| Imds::connect(&e).ok());
        let credentials = match creds::from_env_or_profile() {
            Some(c) => c,
            None => imds
                .as_ref()
                .ok_or_else(creds::missing)
                .and_then(|i| i.role_credentials())?,
        };
        let region = options
            .region
            .clone()
            .or_else(creds::region_from_env_or_profile)
            .or_else(|| imds.as_ref().and_then(|i| i.region().ok()))
            .ok_or_else(|| {
                SourceError::Refused("no AWS region: give --region, or set AWS_REGION".into())
            })?;
        let instance_id = options
            .instance
            .clone()
            .or_else(|| imds.as_ref().and_then(|i| i.instance_id().ok()));
        let ec2 = Ec2Client::new(&region, credentials)?;
        let directory = Volumes(&ec2);
        let volume = super::cloud_disk::choose(
            &directory,
            path,
            options.disk.as_deref(),
            volume_under(path, Path::new("/sys")),
            instance_id.as_deref(),
        )?;
        Ok(Some(Self {
            ec2,
            volume_id: volume.id,
            instance_id,
            zone: volume.zone,
        }))
    }
}

/// EBS volumes as the disk choice sees them.
struct Volumes<'a>(&'a Ec2Client);

fn as_disk(v: crate::cloud::aws::xml::Ec2Volume) -> super::cloud_disk::CloudDisk {
    super::cloud_disk::CloudDisk {
        label: format!(
            "{} ({} GiB, {})",
            v.id,
            v.size_gib,
            v.attachments.first().map(|a| a.1.as_str()).unwrap_or("-")
        ),
        attached_to: v.attachments.iter().map(|a| a.0.clone()).collect(),
        id: v.id,
        zone: v.zone,
    }
}

impl super::cloud_disk::DiskDirectory for Volumes<'_> {
    fn noun(&self) -> &'static str {
        "EBS volume"
    }
    fn describe(
        &self,
        instance: Option<&str>,
        id: Option<&str>,
    ) -> Result<Vec<super::cloud_disk::CloudDisk>, CloudError> {
        Ok(self
            .0
            .describe_volumes(instance, id)?
            .into_iter()
            .map(as_disk)
            .collect())
    }
}

impl SnapshotSource for AwsSource {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn describe(&self) -> String {
        format!(
            "EBS volume {} in {} ({})",
            self.volume_id, self.ec2.region, self.zone
        )
    }

    fn rollback_target(&self) -> String {
        self.volume_id.clone()
    }

    fn live_root(&self) -> Option<PathBuf> {
        None
    }

    fn list(&self) -> Result<Vec<Snapshot>, SourceError> {
        let snapshots = self.ec2.describe_snapshots(&self.volume_id)?;
        Ok(snapshots
            .into_iter()
            .map(|s| {
                let name = s.tags.iter().find(|t| t.0 == "Name").map(|t| t.1.clone());
                let status = match s.status.as_str() {
                    "completed" => SnapshotStatus::Completed,
                    "pending" | "recovering" => SnapshotStatus::InProgress,
                    _ => SnapshotStatus::Failed,
                };
                let details = CloudDetails {
                    disk_id: s.volume_id,
                    size_gib: s.volume_size_gib,
                    progress: s.progress,
                    encrypted: s.encrypted,
                    tags: s.tags,
                    source_region: s.source_region,
                };
                Snapshot::in_cloud(
                    "aws",
                    s.id,
                    name,
                    s.description,
                    s.start_time,
                    status,
                    details,
                )
            })
            .collect())
    }

    fn open(&self, snapshot: &Snapshot) -> Result<OpenedSnapshot, SourceError> {
        Err(SourceError::Refused(format!(
            "browsing EBS snapshot {} needs a rescue volume, which this version does not create; by hand: \
             aws ec2 create-volume --snapshot-id {} --availability-zone {}, attach it to this instance, \
             mount it read-only (-o ro,noload for ext4, ro,norecovery,nouuid for XFS), then run \
             `snaprescue restore` from that mount or copy with cp -a",
            snapshot.id, snapshot.id, self.zone
        )))
    }

    fn rollback(
        &self,
        snapshot: &Snapshot,
        _confirm: &str,
        _keep_guard: bool,
    ) -> Result<RollbackOutcome, SourceError> {
        Err(SourceError::Refused(format!(
            "rolling EBS volume {} back is not done by this version; by hand: create a volume from {}, stop \
             the writers, detach {} (keep it), attach the new one at the same device",
            self.volume_id, snapshot.id, self.volume_id
        )))
    }
}
