//! ECS snapshots of the cloud disk behind PATH. The disk is found from the virtio or NVMe
//! serial of the block device under PATH's mount (the disk id without `d-`) or `--disk`,
//! confirmed with DescribeDisks; snapshots come from DescribeSnapshots, all pages.

use super::CloudOptions;
use super::cloud_disk::DiskPlace;
use super::{
    CloudDetails, OpenedSnapshot, RollbackOutcome, Snapshot, SnapshotSource, SnapshotStatus,
    SourceError,
};
use crate::cloud::CloudError;
use crate::cloud::aliyun::creds::{self, ProfileCredentials};
use crate::cloud::aliyun::ecs::{EcsClient, disk_id_from_serial};
use crate::cloud::aliyun::metadata::Metadata;
use crate::rescue::aliyun_disks::EcsDisks;
use crate::rescue::rollback_aliyun;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct AliyunSource {
    disks: Arc<EcsDisks>,
    pub place: DiskPlace,
}

/// The ECS disk under `path`, from the serials of its block devices.
pub fn disk_under(path: &Path, sys: &Path) -> Option<String> {
    crate::ports::block::disks_of_path(path, sys)
        .into_iter()
        .find_map(|d| {
            d.serial
                .as_deref()
                .and_then(|s| disk_id_from_serial(s, d.model.as_deref()))
        })
}

impl AliyunSource {
    /// `Ok(None)` when Alibaba Cloud is neither detected (DMI) nor asked for.
    pub fn detect(path: &Path, options: &CloudOptions) -> Result<Option<Self>, SourceError> {
        let asked = options.source.as_deref() == Some("aliyun");
        let on_aliyun = crate::cloud::dmi::this_machine() == Some(crate::cloud::dmi::Cloud::Aliyun);
        if !asked && !on_aliyun {
            return Ok(None);
        }
        let (ecs, this_instance) = connect(options)?;
        let place = DiskPlace::find(
            &Disks(&ecs),
            path,
            options,
            disk_under(path, Path::new("/sys")),
            this_instance,
        )?;
        Ok(Some(Self {
            disks: Arc::new(EcsDisks { ecs }),
            place,
        }))
    }
}

/// A signed ECS client for `options` (credentials from the environment, the aliyun CLI
/// profile, a RAM role to assume, or the instance's RAM role), and this machine's instance id
/// when the metadata service answers.
pub fn connect(options: &CloudOptions) -> Result<(EcsClient, Option<String>), SourceError> {
    let on_aliyun = crate::cloud::dmi::this_machine() == Some(crate::cloud::dmi::Cloud::Aliyun);
    let metadata = Metadata::endpoint(on_aliyun).and_then(|e| Metadata::connect(&e).ok());
    let profile = creds::from_config()?;
    let profile_region = profile.as_ref().and_then(|p| p.region.clone());
    let profile_endpoint = profile.as_ref().and_then(|p| p.endpoint.clone());
    let credentials = match (creds::from_env(), profile.map(|p| p.credentials)) {
        (Some(c), _) => c,
        (None, Some(ProfileCredentials::Keys(c))) => c,
        (
            None,
            Some(ProfileCredentials::AssumeRole {
                keys,
                role_arn,
                session,
                seconds,
            }),
        ) => crate::cloud::aliyun::sts::assume_role(&keys, &role_arn, &session, seconds)?,
        (None, Some(ProfileCredentials::EcsRole(role))) => metadata
            .as_ref()
            .ok_or_else(creds::missing)
            .and_then(|m| m.role_credentials(Some(&role)))?,
        (None, None) => metadata
            .as_ref()
            .ok_or_else(creds::missing)
            .and_then(|m| m.role_credentials(None))?,
    };
    let region = options
        .region
        .clone()
        .or_else(|| std::env::var("ALIBABA_CLOUD_REGION_ID").ok())
        .or(profile_region)
        .or_else(|| {
            metadata
                .as_ref()
                .and_then(|m| m.get("meta-data/region-id").ok())
        })
        .ok_or_else(|| {
            SourceError::Refused(
                "no Alibaba Cloud region: give --region, or set ALIBABA_CLOUD_REGION_ID".into(),
            )
        })?;
    let endpoint = EcsClient::endpoint_for(
        &region,
        options.endpoint.as_deref(),
        profile_endpoint.as_deref(),
    );
    let ecs = EcsClient::new(endpoint, &region, credentials)?;
    let this_instance = metadata
        .as_ref()
        .and_then(|m| m.get("meta-data/instance-id").ok());
    Ok((ecs, this_instance))
}

/// ECS disks as the disk choice sees them.
struct Disks<'a>(&'a EcsClient);

fn as_disk(d: crate::cloud::aliyun::ecs::EcsDisk) -> super::cloud_disk::CloudDisk {
    super::cloud_disk::CloudDisk {
        label: format!("{} ({} GiB, {})", d.id, d.size_gib, d.kind),
        attached_to: Some(d.instance_id)
            .filter(|i| !i.is_empty())
            .into_iter()
            .collect(),
        id: d.id,
        zone: d.zone,
    }
}

impl super::cloud_disk::DiskDirectory for Disks<'_> {
    fn noun(&self) -> &'static str {
        "ECS disk"
    }
    fn describe(
        &self,
        instance: Option<&str>,
        id: Option<&str>,
    ) -> Result<Vec<super::cloud_disk::CloudDisk>, CloudError> {
        Ok(self
            .0
            .describe_disks(instance, id)?
            .into_iter()
            .map(as_disk)
            .collect())
    }
}

impl SnapshotSource for AliyunSource {
    fn name(&self) -> &'static str {
        "aliyun"
    }

    fn describe(&self) -> String {
        self.place.describe("ECS disk", &self.disks.ecs.region)
    }

    fn rollback_target(&self) -> String {
        self.place.disk.id.clone()
    }

    fn live_root(&self) -> Option<PathBuf> {
        self.place.live_root()
    }

    fn list(&self) -> Result<Vec<Snapshot>, SourceError> {
        let snapshots = self.disks.ecs.describe_snapshots(&self.place.disk.id)?;
        Ok(snapshots
            .into_iter()
            .map(|s| {
                let status = match s.status.as_str() {
                    "accomplished" => SnapshotStatus::Completed,
                    "progressing" => SnapshotStatus::InProgress,
                    _ => SnapshotStatus::Failed,
                };
                let details = CloudDetails {
                    disk_id: s.disk_id,
                    size_gib: s.disk_size_gib,
                    progress: s.progress,
                    encrypted: s.encrypted,
                    tags: s.tags,
                    source_region: s.source_region,
                };
                Snapshot::in_cloud(
                    "aliyun",
                    s.id,
                    Some(s.name),
                    s.description,
                    s.created,
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
        keep_guard: bool,
    ) -> Result<Vec<String>, SourceError> {
        let request = self.request(snapshot, keep_guard)?;
        Ok(rollback_aliyun::plan(&request))
    }

    fn rollback(
        &self,
        snapshot: &Snapshot,
        confirm: &str,
        keep_guard: bool,
        watch: &crate::rescue::Watch,
    ) -> Result<RollbackOutcome, SourceError> {
        super::check_confirmation(confirm, &self.place.disk.id, "ECS disk")?;
        let request = self.request(snapshot, keep_guard)?;
        let guard = rollback_aliyun::rollback(&self.disks, &request, watch)?;
        Ok(RollbackOutcome {
            replaced: PathBuf::from(&self.place.disk.id),
            snapshot: snapshot.id.clone(),
            undo: match &guard {
                Some(g) => format!(
                    "stop {}, ResetDisk {} to the guard snapshot {g}, start it again",
                    request.instance, self.place.disk.id
                ),
                None => {
                    "no guard snapshot was taken (--no-guard): the previous state is gone".into()
                }
            },
            guard: guard.map(PathBuf::from),
            notes: Vec::new(),
        })
    }
}

impl AliyunSource {
    /// What a rollback to `snapshot` would do, refused on the instance this runs on.
    fn request<'a>(
        &'a self,
        snapshot: &'a Snapshot,
        keep_guard: bool,
    ) -> Result<rollback_aliyun::Request<'a>, SourceError> {
        let instance = self.place.instance.as_deref().ok_or_else(|| {
            SourceError::Refused(format!(
                "ECS disk {} is attached to no known instance: give --instance",
                self.place.disk.id
            ))
        })?;
        let request = rollback_aliyun::Request {
            disk: &self.place.disk.id,
            instance,
            snapshot: &snapshot.id,
            keep_guard,
        };
        rollback_aliyun::refuse_self_stop(
            &request,
            self.place.this_instance.as_deref(),
            &self.disks.ecs.region,
        )?;
        Ok(request)
    }
}
