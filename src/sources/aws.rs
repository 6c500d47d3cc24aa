//! EBS snapshots of the volume behind PATH. The volume is found from the NVMe serial of the
//! disk under PATH's mount (or `--disk`), confirmed with DescribeVolumes; its snapshots are
//! listed with DescribeSnapshots, all pages.

use super::CloudOptions;
use super::cloud_disk::DiskPlace;
use super::{
    CloudDetails, OpenedSnapshot, RollbackOutcome, Snapshot, SnapshotSource, SnapshotStatus,
    SourceError,
};
use crate::cloud::CloudError;
use crate::cloud::aws::ec2::{Ec2Client, volume_id_from_serial};
use crate::cloud::aws::{creds, imds::Imds};
use crate::rescue::aws_disks::Ec2Disks;
use crate::rescue::rollback_aws;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct AwsSource {
    disks: Arc<Ec2Disks>,
    pub place: DiskPlace,
}

/// A signed EC2 client for `options` (credentials from the environment, the profile or the
/// instance role), and this machine's instance id when IMDS answers.
pub fn connect(options: &CloudOptions) -> Result<(Ec2Client, Option<String>), SourceError> {
    let on_aws = crate::cloud::dmi::this_machine() == Some(crate::cloud::dmi::Cloud::Aws);
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
    let mut ec2 = Ec2Client::new(&region, credentials)?;
    if let Some(endpoint) = &options.endpoint {
        ec2 = ec2.with_endpoint(endpoint);
    }
    Ok((ec2, imds.as_ref().and_then(|i| i.instance_id().ok())))
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
        let (ec2, this_instance) = connect(options)?;
        let place = DiskPlace::find(
            &Volumes(&ec2),
            path,
            options,
            volume_under(path, Path::new("/sys")),
            this_instance,
        )?;
        Ok(Some(Self {
            disks: Arc::new(Ec2Disks { ec2 }),
            place,
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
        self.place.describe("EBS volume", &self.disks.ec2.region)
    }

    fn rollback_target(&self) -> String {
        self.place.disk.id.clone()
    }

    fn live_root(&self) -> Option<PathBuf> {
        self.place.live_root()
    }

    fn list(&self) -> Result<Vec<Snapshot>, SourceError> {
        let snapshots = self.disks.ec2.describe_snapshots(&self.place.disk.id)?;
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

    fn open(
        &self,
        snapshot: &Snapshot,
        watch: &crate::rescue::Watch,
    ) -> Result<OpenedSnapshot, SourceError> {
        self.place.open(self.disks.clone(), snapshot, watch)
    }

    fn rollback_plan(
        &self,
        snapshot: &Snapshot,
        _keep_guard: bool,
    ) -> Result<Vec<String>, SourceError> {
        let target = rollback_aws::target(&self.disks, &self.place.disk.id, &self.place.path)?;
        Ok(rollback_aws::plan(&target, &snapshot.id))
    }

    fn rollback(
        &self,
        snapshot: &Snapshot,
        confirm: &str,
        _keep_guard: bool,
        watch: &crate::rescue::Watch,
    ) -> Result<RollbackOutcome, SourceError> {
        super::check_confirmation(confirm, &self.place.disk.id, "EBS volume")?;
        let t = rollback_aws::target(&self.disks, &self.place.disk.id, &self.place.path)?;
        // The old volume is always kept: EBS rollback never deletes it.
        if t.root {
            let task = rollback_aws::root_volume(&self.disks, &t, &snapshot.id, watch)?;
            return Ok(RollbackOutcome {
                replaced: PathBuf::from(&t.volume),
                snapshot: snapshot.id.clone(),
                guard: Some(PathBuf::from(&t.volume)),
                undo: format!(
                    "root volume of {} replaced by task {task}; the old root {} is kept: replace the \
                     root volume again from a snapshot of it to go back",
                    t.instance, t.volume
                ),
                notes: Vec::new(),
            });
        }
        let new = rollback_aws::data_volume(&self.disks, &t, &snapshot.id, watch)?;
        Ok(RollbackOutcome {
            replaced: t
                .mount_point
                .clone()
                .unwrap_or_else(|| PathBuf::from(&t.volume)),
            snapshot: snapshot.id.clone(),
            guard: Some(PathBuf::from(&t.volume)),
            undo: format!(
                "unmount, detach {new}, attach the kept volume {} at {} on {}, mount it again",
                t.volume, t.device, t.instance
            ),
            notes: Vec::new(),
        })
    }
}
