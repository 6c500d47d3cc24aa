//! EBS rollback. A data volume is swapped: a new volume from the snapshot is made, PATH's
//! filesystem unmounted, the old volume detached (kept and tagged, never deleted by us), the
//! new one attached at the same device name and mounted where the old one was. A root volume
//! is replaced by EC2 itself (CreateReplaceRootVolumeTask, old root kept), and polled.
//! Interrupted runs are finished from the journal by `rollback_aws_finish`.

use super::provider::AwsProvider;
use crate::ports::disk_by_serial::DiskLocator;
use crate::ports::mounts::MountSpec;
use crate::providers::{CloudProvider, DiskState};
use crate::rescue::journal::{Journal, RunHeader, journaled};
use crate::rescue::{RUN_TAG, RescueError, Watch, cloud_wait, param, wait_until};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The volume a rollback replaces and where it is used (kept in the journal as is).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Target {
    pub volume: String,
    pub instance: String,
    pub zone: String,
    /// The device name it is attached at (`/dev/sdf`).
    pub device: String,
    pub root: bool,
    /// Where its filesystem is mounted here, and how (to mount the new volume the same way).
    pub mount_point: Option<PathBuf>,
    pub mounted_as: Option<MountSpec>,
    /// The partition of the volume that holds the filesystem, when it is partitioned.
    #[serde(default)]
    pub partition: Option<u32>,
}

/// Finds how `volume` is attached and whether it is `instance`'s root volume.
pub fn target(aws: &AwsProvider, volume: &str, path: &Path) -> Result<Target, RescueError> {
    let v = aws.volume(volume)?.ok_or_else(|| {
        RescueError::Refused(format!(
            "EBS volume {volume} does not exist in {}",
            aws.ec2.region
        ))
    })?;
    let attachment = v
        .attachments
        .iter()
        .find(|a| a.state == "attached")
        .ok_or_else(|| {
            RescueError::Refused(format!(
                "EBS volume {volume} is not attached to an instance; nothing to roll back in place \
                 (create a volume from the snapshot instead)"
            ))
        })?;
    let root_device = aws.call_for(
        "DescribeInstances",
        &[param("InstanceId.1", &attachment.instance)],
        "rootDeviceName",
    )?;
    let mount = crate::ports::mounts::mount_of(path).ok().map(|(m, _)| m);
    let root = attachment.device == root_device;
    let sys = DiskLocator::system().sys;
    if let Some(m) = mount
        .as_ref()
        .filter(|m| !root && on_device_mapper(&sys, &m.source))
    {
        return Err(RescueError::Refused(format!(
            "{} is on {}, a device-mapper device (LVM or LUKS) over {volume}: swapping the volume \
             under it needs the volume group or the encryption reopened, which snaprescue does not \
             do. Restore files through a rescue volume instead (snaprescue restore … --source aws)",
            m.mount_point.display(),
            m.source
        )));
    }
    Ok(Target {
        volume: volume.to_string(),
        instance: attachment.instance.clone(),
        zone: v.zone.clone(),
        device: attachment.device.clone(),
        root,
        mount_point: mount.as_ref().map(|m| m.mount_point.clone()),
        partition: mount
            .as_ref()
            .and_then(|m| partition_number(&sys, &m.source)),
        mounted_as: mount.map(|m| m.spec()),
    })
}

/// What the rollback will do, step by step (for `--dry-run` and the confirm screen).
pub fn plan(t: &Target, snapshot: &str) -> Vec<String> {
    if t.root {
        return vec![
            format!(
                "{} is the root volume of {} ({})",
                t.volume, t.instance, t.device
            ),
            format!("EC2 CreateReplaceRootVolumeTask from {snapshot}: the instance reboots"),
            format!(
                "the old root volume {} is kept (DeleteReplacedRootVolume=false)",
                t.volume
            ),
        ];
    }
    let at = t
        .mount_point
        .as_ref()
        .map(|m| m.display().to_string())
        .unwrap_or_else(|| "(not mounted here)".into());
    vec![
        format!("create a volume from {snapshot} in {}", t.zone),
        format!("unmount {at} (stop the writers first)"),
        format!(
            "detach {} from {} and keep it, tagged {RUN_TAG}",
            t.volume, t.instance
        ),
        format!(
            "attach the new volume at {} and mount it on {at}{}",
            t.device,
            t.mounted_as
                .as_ref()
                .map(|m| {
                    let mut how = m.options.clone();
                    how.extend(m.data());
                    format!(" as before ({} {})", m.fs_type, how.join(","))
                })
                .unwrap_or_default()
        ),
    ]
}

/// Rolls a data volume back by swapping in a new volume made from `snapshot`.
pub fn data_volume(
    aws: &AwsProvider,
    t: &Target,
    snapshot: &str,
    watch: &Watch,
) -> Result<String, RescueError> {
    let header = RunHeader::rollback(
        super::rollback_flow::DATA_SWAP,
        aws,
        snapshot,
        &t.instance,
        &t.volume,
    );
    journaled(
        header,
        |journal| {
            journal.record("target", "done", json!({ "target": t }))?;
            swap(aws, journal, t, snapshot, watch)
        },
        |record, journal| super::rollback_finish::finish_data(aws, record, journal, watch),
    )
}

fn swap(
    aws: &AwsProvider,
    journal: &Journal,
    t: &Target,
    snapshot: &str,
    watch: &Watch,
) -> Result<String, RescueError> {
    let run = journal.header.run.clone();
    watch.say(&format!("creating a volume from {snapshot}"));
    journal.record("create", "start", json!({}))?;
    let new = aws.create_disk(snapshot, &t.zone, &run)?;
    journal.record("create", "done", json!({"disk": new}))?;
    wait_state(aws, &new, "to become available", watch, |s| {
        s == Some(DiskState::Available)
    })?;
    if let Some(m) = &t.mount_point {
        watch.say(&format!("unmounting {}", m.display()));
        journal.record("unmount", "start", json!({}))?;
        crate::ports::mounts::unmount(m)?;
        journal.record("unmount", "done", json!({}))?;
    }
    detach_old(aws, journal, t, &new, watch)?;
    attach_new(aws, journal, t, &new, watch)?;
    Ok(new)
}

pub(super) fn wait_state(
    aws: &AwsProvider,
    volume: &str,
    what: &str,
    watch: &Watch,
    done: impl Fn(Option<DiskState>) -> bool,
) -> Result<(), RescueError> {
    wait_until(
        &format!("EBS volume {volume} {what}"),
        cloud_wait(900),
        "run `snaprescue cleanup` later to finish",
        watch,
        || Ok(done(aws.disk_state(volume)?).then_some(())),
    )
}

fn detach_old(
    aws: &AwsProvider,
    journal: &Journal,
    t: &Target,
    new: &str,
    watch: &Watch,
) -> Result<(), RescueError> {
    watch.say(&format!("detaching {} (kept)", t.volume));
    journal.record("detach", "start", json!({}))?;
    aws.detach(&t.volume, &t.instance)?;
    wait_state(aws, &t.volume, "to be detached", watch, |s| {
        s == Some(DiskState::Available)
    })?;
    aws.tag(
        &t.volume,
        &[("snaprescue-replaced-by", new), ("snaprescue-kept", "true")],
    )?;
    journal.record("detach", "done", json!({}))?;
    Ok(())
}

pub(super) fn attach_new(
    aws: &AwsProvider,
    journal: &Journal,
    t: &Target,
    new: &str,
    watch: &Watch,
) -> Result<(), RescueError> {
    if aws.disk_state(new)? != Some(DiskState::InUse(t.instance.clone())) {
        watch.say(&format!("attaching {new} at {}", t.device));
        journal.record("attach", "start", json!({"disk": new}))?;
        aws.attach_at(new, &t.instance, &t.device)?;
        wait_state(aws, new, "to be attached", watch, |s| {
            matches!(s, Some(DiskState::InUse(_)))
        })?;
        journal.record("attach", "done", json!({}))?;
    }
    remount(aws, journal, t, new, watch)
}

pub(super) fn remount(
    aws: &AwsProvider,
    journal: &Journal,
    t: &Target,
    volume: &str,
    watch: &Watch,
) -> Result<(), RescueError> {
    let (Some(m), Some(spec)) = (&t.mount_point, &t.mounted_as) else {
        return Ok(());
    };
    let table = crate::ports::mounts::MountTable::read()?;
    if table.entries.iter().any(|e| &e.mount_point == m) {
        // Mounted already (an earlier attempt got that far).
        return Ok(());
    }
    let locator = DiskLocator::system();
    let serials = aws.serials(volume);
    let device = wait_until(
        &format!("{volume} to appear as a block device here"),
        cloud_wait(120),
        "check `lsblk -o +SERIAL`; mount it by hand on the old mount point",
        watch,
        || {
            let disk = locator.find(&serials);
            Ok(match t.partition {
                None => disk,
                Some(n) => disk.and_then(|d| {
                    let parts = locator.partitions(&d);
                    parts
                        .into_iter()
                        .find(|(p, _)| *p == n)
                        .map(|(_, path)| path)
                }),
            })
        },
    )?;
    journal.record("mount", "start", json!({"device": device, "as": spec}))?;
    crate::ports::mounts::mount_as(&device, spec, m)?;
    journal.record("mount", "done", json!({}))?;
    Ok(())
}

/// The sysfs directory (`sys/class/block/NAME`) of the block device a mount names as its
/// source, links followed (`/dev/mapper/vg-data` → `dm-0`).
fn sysfs_block(sys: &Path, source: &str) -> Option<PathBuf> {
    let device = std::fs::canonicalize(source).ok()?;
    Some(sys.join("class/block").join(device.file_name()?))
}

/// Whether `source` is a device-mapper device (LVM, LUKS).
fn on_device_mapper(sys: &Path, source: &str) -> bool {
    sysfs_block(sys, source).is_some_and(|dir| dir.join("dm").exists())
}

/// The partition number of the block device `source` (`/dev/nvme1n1p2` → 2), if it is one.
fn partition_number(sys: &Path, source: &str) -> Option<u32> {
    std::fs::read_to_string(sysfs_block(sys, source)?.join("partition"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Replaces the root volume with one from `snapshot` (EC2 does it; the instance reboots),
/// keeping the old root. Returns the task id once it succeeded.
pub fn root_volume(
    aws: &AwsProvider,
    t: &Target,
    snapshot: &str,
    watch: &Watch,
) -> Result<String, RescueError> {
    let header = RunHeader::rollback(
        super::rollback_flow::ROOT_REPLACE,
        aws,
        snapshot,
        &t.instance,
        &t.volume,
    );
    // A failed replacement is not retried here: `cleanup` requests it again (same token).
    journaled(
        header,
        |journal| replace_root(aws, journal, snapshot, watch),
        |_, _| Err(RescueError::Refused("left to cleanup".into())),
    )
}

pub(super) fn replace_root(
    aws: &AwsProvider,
    journal: &Journal,
    snapshot: &str,
    watch: &Watch,
) -> Result<String, RescueError> {
    let run = &journal.header.run;
    let instance = journal.header.instance.clone().unwrap_or_default();
    watch.say(&format!(
        "replacing the root volume of {instance} from {snapshot}"
    ));
    journal.record("replace", "start", json!({}))?;
    let task = aws.call_for(
        "CreateReplaceRootVolumeTask",
        &[
            param("InstanceId", &instance),
            param("SnapshotId", snapshot),
            param("DeleteReplacedRootVolume", "false"),
            param("ClientToken", run),
            param(
                "TagSpecification.1.ResourceType",
                "replace-root-volume-task",
            ),
            param("TagSpecification.1.Tag.1.Key", RUN_TAG),
            param("TagSpecification.1.Tag.1.Value", run),
        ],
        "replaceRootVolumeTaskId",
    )?;
    journal.record("replace", "done", json!({"task": task}))?;
    wait_until(
        &format!("root volume replacement {task}"),
        cloud_wait(1800),
        "see the task in the EC2 console (Instances → Replace root volume)",
        watch,
        || {
            let state = aws.call_for(
                "DescribeReplaceRootVolumeTasks",
                &[param("ReplaceRootVolumeTaskId.1", &task)],
                "taskState",
            )?;
            match state.as_str() {
                "succeeded" => Ok(Some(())),
                "failed" | "failed-detached" | "failing" => Err(RescueError::Refused(format!(
                    "EC2 could not replace the root volume (task {task}: {state}); the old root is still attached"
                ))),
                _ => Ok(None),
            }
        },
    )?;
    journal.record("replaced", "done", json!({}))?;
    Ok(task)
}

#[cfg(test)]
mod tests {
    #[test]
    fn device_mapper_is_told_by_sysfs_through_the_mapper_link() {
        let dir = tempfile::tempdir().unwrap();
        let (sys, dev) = (dir.path().join("sys"), dir.path().join("dev"));
        std::fs::create_dir_all(sys.join("class/block/dm-3/dm")).unwrap();
        std::fs::create_dir_all(sys.join("class/block/nvme1n1")).unwrap();
        std::fs::create_dir_all(dev.join("mapper")).unwrap();
        std::fs::write(dev.join("dm-3"), "").unwrap();
        std::fs::write(dev.join("nvme1n1"), "").unwrap();
        std::os::unix::fs::symlink("../dm-3", dev.join("mapper/vg-data")).unwrap();
        let on = |p: &str| super::on_device_mapper(&sys, dev.join(p).to_str().unwrap());
        assert!(on("mapper/vg-data"));
        assert!(on("dm-3"));
        assert!(!on("nvme1n1"));
        assert!(!on("missing"));
    }
}
