//! Which cloud disk holds PATH, the same way on every cloud: the disk whose serial matches
//! PATH's block device, else `--disk`, else the instance's only disk; otherwise the user
//! chooses from the list. A disk attached to another instance is refused.

use super::SourceError;
use crate::cloud::CloudError;
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

/// What a cloud says about its disks.
pub trait DiskDirectory {
    /// "EBS volume", "ECS disk".
    fn noun(&self) -> &'static str;
    /// The disks attached to `instance` and/or with id `id`.
    fn describe(
        &self,
        instance: Option<&str>,
        id: Option<&str>,
    ) -> Result<Vec<CloudDisk>, CloudError>;

    fn by_id(&self, id: &str) -> Result<Option<CloudDisk>, CloudError> {
        Ok(self.describe(None, Some(id))?.into_iter().next())
    }

    fn attached_to(&self, instance: &str) -> Result<Vec<CloudDisk>, CloudError> {
        self.describe(Some(instance), None)
    }
}

pub fn choose(
    directory: &dyn DiskDirectory,
    path: &Path,
    explicit: Option<&str>,
    from_serial: Option<String>,
    instance: Option<&str>,
) -> Result<CloudDisk, SourceError> {
    let noun = directory.noun();
    // A serial that names no disk of this account (another cloud, a local disk) is no answer.
    let found = match from_serial.filter(|_| explicit.is_none()) {
        Some(id) => directory.by_id(&id).ok().flatten(),
        None => None,
    };
    let disk = match (explicit, found) {
        (_, Some(disk)) => disk,
        (Some(id), None) => directory.by_id(id)?.ok_or_else(|| {
            SourceError::Refused(format!(
                "{noun} {id} was not found in this region: check --region and --disk"
            ))
        })?,
        (None, None) => {
            let attached = match instance {
                Some(i) => directory.attached_to(i)?,
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

/// Where `path` sits inside its filesystem: the path below the filesystem's root (through
/// the mount's root, which for btrfs names the subvolume), e.g. `/@data/run1/ckpt`.
pub fn position_in_filesystem(path: &Path) -> Result<PathBuf, SourceError> {
    let (anchor, tail) = crate::ports::fs_meta::surviving_ancestor(path).map_err(
        SourceError::io(format!("cannot resolve {}", path.display())),
    )?;
    let table = crate::ports::mounts::MountTable::read()?;
    let mount = table.holding(&anchor)?;
    let below = anchor
        .strip_prefix(&mount.mount_point)
        .unwrap_or(Path::new(""));
    Ok(mount
        .root
        .strip_prefix("/")
        .unwrap_or(&mount.root)
        .join(below)
        .join(tail))
}

/// Opens a cloud snapshot through a rescue disk: the snapshot's copy of `path` is at the
/// same position on the rescue disk as `path` is on its own filesystem.
pub fn open_rescue(
    cloud: std::sync::Arc<dyn crate::rescue::RescueCloud>,
    snapshot: &super::Snapshot,
    zone: &str,
    attach_to: Option<&str>,
    path: &Path,
    watch: &crate::rescue::Watch,
) -> Result<super::OpenedSnapshot, SourceError> {
    let instance = attach_to.ok_or_else(|| {
        SourceError::Refused(format!(
            "no instance to attach a rescue {} to: give --attach-to INSTANCE (the instance this runs on)",
            cloud.noun()
        ))
    })?;
    let position = position_in_filesystem(path)?;
    let disk = crate::rescue::disk::RescueDisk::open(cloud, &snapshot.id, zone, instance, watch)?;
    let root = disk.root().to_path_buf();
    Ok(super::OpenedSnapshot {
        dir: root.join(position),
        root,
        mount: None,
        rescue: Some(disk),
    })
}
