//! Which cloud disk holds PATH, the same way on every cloud: the disk whose serial matches
//! PATH's block device, else `--disk`, else the instance's only disk; otherwise the user
//! chooses from the list. A disk attached to another instance is refused.

use super::SourceError;
use crate::providers::{CloudError, CloudProvider};
use std::path::{Path, PathBuf};

/// A cloud disk as the choice needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudDisk {
    pub id: String,
    pub zone: String,
    /// Instances it is attached to.
    pub attached_to: Vec<String>,
    /// How to show it in a list ("vol-1 (8 GiB, /dev/xvda)").
    pub label: String,
}

fn by_id(provider: &dyn CloudProvider, id: &str) -> Result<Option<CloudDisk>, CloudError> {
    Ok(provider.describe_disks(None, Some(id))?.into_iter().next())
}

/// The disk behind `path`: `explicit` (`--disk`), else the one `from_serial` names, else
/// `instance`'s only disk; refused with the choices otherwise.
pub fn choose(
    provider: &dyn CloudProvider,
    path: &Path,
    explicit: Option<&str>,
    from_serial: Option<String>,
    instance: Option<&str>,
) -> Result<CloudDisk, SourceError> {
    let noun = provider.noun();
    // A serial that names no disk of this account (another cloud, a local disk) is no answer.
    let found = match from_serial.filter(|_| explicit.is_none()) {
        Some(id) => by_id(provider, &id).ok().flatten(),
        None => None,
    };
    let disk = match (explicit, found) {
        (_, Some(disk)) => disk,
        (Some(id), None) => by_id(provider, id)?.ok_or_else(|| {
            SourceError::Refused(format!(
                "{noun} {id} was not found in this region: check --region and --disk"
            ))
        })?,
        (None, None) => {
            let attached = match instance {
                Some(i) => provider.describe_disks(Some(i), None)?,
                None => vec![],
            };
            if attached.len() != 1 {
                let choices = if attached.is_empty() {
                    match instance {
                        Some(i) => format!("none attached to instance {i}"),
                        None => "no instance known (give --instance)".into(),
                    }
                } else {
                    attached
                        .iter()
                        .map(|d| d.label.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(SourceError::Refused(format!(
                    "cannot tell which {noun} holds {}; choose one with --disk: {choices}",
                    path.display()
                )));
            }
            attached.into_iter().next().expect("one disk")
        }
    };
    if let Some(i) = instance
        && !disk.attached_to.is_empty()
        && !disk.attached_to.iter().any(|a| a == i)
    {
        return Err(SourceError::Refused(format!(
            "{noun} {} is attached to {}, not to {i}",
            disk.id, disk.attached_to[0]
        )));
    }
    Ok(disk)
}

/// The cloud disk under `path`, from the serials of the block devices of its mount (`sys` is
/// normally `/sys`).
pub fn disk_under(provider: &dyn CloudProvider, path: &Path, sys: &Path) -> Option<String> {
    crate::ports::block::disks_of_path(path, sys)
        .into_iter()
        .find_map(|d| {
            d.serial
                .as_deref()
                .and_then(|s| provider.disk_from_serial(s, d.model.as_deref()))
        })
}

/// Where `path` sits inside its filesystem: the path below the filesystem's root (through
/// the mount's root, which for btrfs names the subvolume), e.g. `/@data/run1/ckpt`.
pub fn position_in_filesystem(path: &Path) -> Result<PathBuf, SourceError> {
    let (mount, below) = crate::ports::mounts::mount_of(path)?;
    Ok(mount
        .root
        .strip_prefix("/")
        .unwrap_or(&mount.root)
        .join(below))
}

/// Where a cloud source's disk is, the same on every cloud: PATH, the disk that holds it,
/// the instance it belongs to, and where rescue disks are attached.
#[derive(Debug, Clone)]
pub struct DiskPlace {
    pub path: PathBuf,
    pub disk: CloudDisk,
    /// The instance the disk belongs to: `--instance`, else the one this runs on.
    pub instance: Option<String>,
    /// The instance this runs on, when its metadata service answered.
    pub this_instance: Option<String>,
    /// Where rescue disks go: `--attach-to`, else this instance, else `instance`.
    pub attach_to: Option<String>,
}

impl DiskPlace {
    /// Chooses the disk holding `path` (see [`choose`]) and the instances around it.
    pub fn find(
        provider: &dyn CloudProvider,
        path: &Path,
        options: &super::CloudOptions,
    ) -> Result<Self, SourceError> {
        let this_instance = provider.identity().instance.clone();
        let from_serial = disk_under(provider, path, Path::new("/sys"));
        let instance = options.instance.clone().or_else(|| this_instance.clone());
        let disk = choose(
            provider,
            path,
            options.disk.as_deref(),
            from_serial,
            instance.as_deref(),
        )?;
        Ok(Self {
            path: path.to_path_buf(),
            disk,
            attach_to: options
                .attach_to
                .clone()
                .or_else(|| this_instance.clone())
                .or_else(|| instance.clone()),
            instance,
            this_instance,
        })
    }

    /// "EBS volume vol-1 in us-east-1 (us-east-1a)".
    pub fn describe(&self, provider: &dyn CloudProvider) -> String {
        format!(
            "{} {} in {} ({})",
            provider.noun(),
            self.disk.id,
            provider.region(),
            self.disk.zone
        )
    }

    /// PATH's mount point, where what a rollback loses is visible.
    pub fn live_root(&self) -> Option<PathBuf> {
        crate::ports::mounts::mount_of(&self.path)
            .ok()
            .map(|(m, _)| m.mount_point)
    }

    /// Opens a cloud snapshot through a rescue disk: the snapshot's copy of PATH is at the
    /// same position on the rescue disk as PATH is on its own filesystem.
    pub fn open(
        &self,
        cloud: std::sync::Arc<dyn CloudProvider>,
        snapshot: &super::Snapshot,
        watch: &crate::rescue::Watch,
    ) -> Result<super::OpenedSnapshot, SourceError> {
        let instance = self.attach_to.as_deref().ok_or_else(|| {
            SourceError::Refused(format!(
                "no instance to attach a rescue {} to: give --attach-to INSTANCE (the instance this runs on)",
                cloud.noun()
            ))
        })?;
        let position = position_in_filesystem(&self.path)?;
        let disk = crate::rescue::disk::RescueDisk::open(
            cloud,
            &snapshot.id,
            &self.disk.zone,
            instance,
            watch,
        )?;
        let root = disk.root().to_path_buf();
        Ok(super::OpenedSnapshot {
            dir: root.join(position),
            root,
            mount: None,
            rescue: Some(disk),
            clone: None,
        })
    }
}
