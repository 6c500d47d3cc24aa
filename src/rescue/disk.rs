//! A rescue disk: made from a cloud snapshot, attached to this instance, found by serial,
//! mounted read-only on a private directory — and torn down (unmount, detach, delete) when
//! dropped, also when bringing it up failed or was cancelled half-way. Every step goes
//! through the journal first, so a crash leaves enough for `snaprescue cleanup`.

use super::journal::{Journal, RunHeader};
use super::{RescueError, Watch, cloud_wait, wait_until};
use crate::ports::disk_by_serial::DiskLocator;
use crate::ports::superblock::{self, FsKind};
use crate::providers::{CloudProvider, DiskState};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What a rescue run has created so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    /// Set once CreateDisk/CreateVolume was sent: an answer lost on the way still made one.
    pub create_requested: bool,
    pub disk: Option<String>,
    pub mount_point: Option<PathBuf>,
}

impl std::fmt::Debug for RescueDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RescueDisk")
            .field("run", &self.run_id())
            .field("resources", &self.resources)
            .finish()
    }
}

pub struct RescueDisk {
    cloud: Arc<dyn CloudProvider>,
    journal: Option<Journal>,
    resources: Resources,
    /// What the read-only mount cannot show (an unreplayed journal or log), if anything.
    unreplayed: Option<String>,
}

/// Seconds to wait for the attached disk to show up here: `SNAPRESCUE_DEVICE_WAIT_SECS`,
/// else 120.
fn device_wait() -> Duration {
    Duration::from_secs(
        std::env::var("SNAPRESCUE_DEVICE_WAIT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(120),
    )
}

impl RescueDisk {
    /// Makes, attaches and mounts a disk from `snapshot` in `zone` for `instance`.
    pub fn open(
        cloud: Arc<dyn CloudProvider>,
        snapshot: &str,
        zone: &str,
        instance: &str,
        watch: &Watch,
    ) -> Result<Self, RescueError> {
        let mut header = RunHeader::new("rescue", cloud.as_ref(), snapshot);
        header.instance = Some(instance.to_string());
        let journal = Journal::begin(header)?;
        let mut disk = Self {
            cloud,
            journal: Some(journal),
            resources: Resources::default(),
            unreplayed: None,
        };
        if let Err(cause) = disk.bring_up(snapshot, zone, instance, watch) {
            // Tear the half-built disk down now, so that the error can say what became of it.
            let noun = disk.cloud.noun();
            let outcome = disk.close_inner(&watch.uncancellable());
            let cleanup = match (disk.resources.disk.as_deref(), outcome) {
                (None, Ok(())) => "no rescue disk was left behind".to_string(),
                (Some(id), Ok(())) => format!("the rescue {noun} {id} it made was removed"),
                (id, Err(e)) => format!(
                    "the rescue {noun} {} could NOT be removed ({e}): run `snaprescue cleanup`",
                    id.unwrap_or("(if one was made)")
                ),
            };
            return Err(RescueError::AfterCleanup {
                cause: Box::new(cause),
                cleanup,
            });
        }
        Ok(disk)
    }

    pub fn run_id(&self) -> &str {
        self.journal
            .as_ref()
            .map(|j| j.header.run.as_str())
            .unwrap_or("")
    }

    pub fn disk_id(&self) -> Option<&str> {
        self.resources.disk.as_deref()
    }

    /// Writes in the disk's journal or log that the read-only mount does not show.
    pub fn unreplayed_writes(&self) -> Option<&str> {
        self.unreplayed.as_deref()
    }

    /// Where the disk's filesystem is mounted (its root).
    pub fn root(&self) -> &Path {
        self.resources
            .mount_point
            .as_deref()
            .unwrap_or(Path::new("/"))
    }

    fn bring_up(
        &mut self,
        snapshot: &str,
        zone: &str,
        instance: &str,
        watch: &Watch,
    ) -> Result<(), RescueError> {
        let cloud = self.cloud.clone();
        let journal = self.journal.as_ref().expect("open journal");
        let run = journal.header.run.clone();
        let noun = cloud.noun();
        watch.say(&format!(
            "creating a rescue {noun} from {snapshot} in {zone}"
        ));
        journal.record(
            "create",
            "start",
            json!({"snapshot": snapshot, "zone": zone}),
        )?;
        self.resources.create_requested = true;
        let disk = cloud.create_disk(snapshot, zone, &run)?;
        self.resources.disk = Some(disk.clone());
        journal.record("create", "done", json!({"disk": disk}))?;
        wait_until(
            &format!("{noun} {disk} to become available"),
            cloud_wait(900),
            "large snapshots take longer to turn into disks; run again later (cleanup removes this one)",
            watch,
            || match cloud.disk_state(&disk)? {
                Some(DiskState::Available) => Ok(Some(())),
                Some(DiskState::Other(s)) if s.contains("error") => Err(RescueError::Refused(
                    format!("{noun} {disk} could not be created (state {s})"),
                )),
                None => Err(RescueError::Refused(format!(
                    "{noun} {disk} disappeared while it was being created"
                ))),
                _ => Ok(None),
            },
        )?;
        watch.say(&format!("attaching {disk} to {instance}"));
        journal.record(
            "attach",
            "start",
            json!({"disk": disk, "instance": instance}),
        )?;
        if let Err(e) = cloud.attach(&disk, instance) {
            // A retried attach whose first answer was lost (done, then a 5xx or a timeout) is
            // refused because the disk is already attaching here: that attach is done.
            match cloud.disk_state(&disk) {
                Ok(Some(DiskState::Attaching(i) | DiskState::InUse(i))) if i == instance => {
                    tracing::info!(disk, instance, error = %e, "attach answered with an error but done");
                    watch.say(&format!(
                        "{disk} is attaching to {instance}: the attach was done, its answer lost"
                    ));
                }
                _ => return Err(e.into()),
            }
        }
        wait_until(
            &format!("{noun} {disk} to be attached to {instance}"),
            cloud_wait(300),
            "the instance may have no free device slot; detach a disk you do not need",
            watch,
            || match cloud.disk_state(&disk)? {
                Some(DiskState::InUse(i)) if i == instance => Ok(Some(())),
                Some(DiskState::InUse(i)) => Err(RescueError::Refused(format!(
                    "{noun} {disk} was attached to {i}, not {instance}"
                ))),
                _ => Ok(None),
            },
        )?;
        journal.record("attach", "done", json!({"disk": disk}))?;
        let locator = DiskLocator::system();
        let serials = cloud.serials(&disk);
        let device = wait_until(
            &format!(
                "{disk} to appear as a block device here (serial {})",
                serials.join(" or ")
            ),
            device_wait(),
            "the cloud says it is attached but no device with that serial exists: is this the \
             instance it was attached to (--attach-to)? Check `lsblk -o +SERIAL` and dmesg",
            watch,
            || Ok(locator.find(&serials)),
        )?;
        journal.record("device", "done", json!({"device": device}))?;
        let (device, kind) = filesystem_on(&locator, &device)?;
        if let FsKind::Btrfs { fsid, .. } = &kind
            && let Some(refusal) = superblock::btrfs_clone_refusal(fsid, &locator.sys)
        {
            return Err(RescueError::Refused(refusal));
        }
        let base = crate::ports::mount_record::run_dir();
        let dir = std::fs::create_dir_all(&base)
            .and_then(|_| tempfile::Builder::new().prefix("rescue-").tempdir_in(&base))
            .map_err(RescueError::io("cannot create a mount point"))?
            .keep();
        self.resources.mount_point = Some(dir.clone());
        let options = superblock::rescue_options(&kind, &locator.sys);
        journal.record(
            "mount",
            "start",
            json!({"mount_point": dir, "device": device, "fs": kind.fs_type(), "options": options}),
        )?;
        watch.say(&format!(
            "mounting {} read-only ({})",
            device.display(),
            kind.fs_type()
        ));
        crate::ports::mounts::mount_read_only(&device, kind.fs_type(), &options, &dir)?;
        journal.record("mount", "done", json!({}))?;
        self.unreplayed = kind.unreplayed_writes();
        Ok(())
    }

    /// Unmounts, detaches and deletes now, reporting what failed.
    pub fn close(mut self, watch: &Watch) -> Result<(), RescueError> {
        self.close_inner(watch)
    }

    fn close_inner(&mut self, watch: &Watch) -> Result<(), RescueError> {
        let Some(journal) = self.journal.take() else {
            return Ok(());
        };
        // On failure the journal stays unfinished, for `snaprescue cleanup`.
        self.tear_down_all(&journal, watch)?;
        journal.finish("done")
    }

    fn tear_down_all(&mut self, journal: &Journal, watch: &Watch) -> Result<(), RescueError> {
        let cloud = self.cloud.as_ref();
        if self.resources.disk.is_none() && self.resources.create_requested {
            // The create call failed or its answer was lost: a disk may exist, with our tag.
            self.resources.disk = cloud.tagged(&journal.header.run)?.into_iter().next();
        }
        tear_down(cloud, journal, &self.resources, watch)
    }
}

impl Drop for RescueDisk {
    fn drop(&mut self) {
        let run = self.run_id().to_string();
        if let Err(e) = self.close_inner(&super::quiet_watch()) {
            tracing::error!(run, error = %e, "rescue disk not removed");
            eprintln!(
                "snaprescue: the rescue disk of run {run} was not fully removed: {e}. \
                 Run `snaprescue cleanup` to finish."
            );
        }
    }
}

/// The device (or partition) holding a filesystem snaprescue can mount.
fn filesystem_on(locator: &DiskLocator, device: &Path) -> Result<(PathBuf, FsKind), RescueError> {
    let probe = |d: &Path| {
        superblock::probe(d).map_err(RescueError::io(format!("cannot read {}", d.display())))
    };
    if let Some(kind) = probe(device)? {
        return Ok((device.to_path_buf(), kind));
    }
    for (_, part) in locator.partitions(device) {
        if let Some(kind) = probe(&part)? {
            return Ok((part, kind));
        }
    }
    Err(RescueError::Refused(format!(
        "no ext4, XFS or btrfs filesystem on {} or its partitions; mount it by hand read-only",
        device.display()
    )))
}

/// Unmounts, detaches and deletes what `resources` names, recording each step; anything
/// already gone counts as done, so this can be repeated.
pub fn tear_down(
    cloud: &dyn CloudProvider,
    journal: &Journal,
    resources: &Resources,
    watch: &Watch,
) -> Result<(), RescueError> {
    let watch = &watch.uncancellable();
    if let Some(dir) = &resources.mount_point {
        journal.record("unmount", "start", json!({"mount_point": dir}))?;
        crate::ports::mounts::unmount(dir)?;
        match std::fs::remove_dir(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(dir = %dir.display(), error = %e, "mount point not removed")
            }
            _ => {}
        }
        journal.record("unmount", "done", json!({}))?;
    }
    let Some(disk) = &resources.disk else {
        return Ok(());
    };
    let noun = cloud.noun();
    let gone_or_available = || match cloud.disk_state(disk)? {
        None | Some(DiskState::Available) => Ok(Some(())),
        _ => Ok(None),
    };
    match cloud.disk_state(disk)? {
        None => {}
        Some(DiskState::InUse(instance)) | Some(DiskState::Attaching(instance)) => {
            watch.say(&format!("detaching {disk}"));
            journal.record(
                "detach",
                "start",
                json!({"disk": disk, "instance": instance}),
            )?;
            cloud.detach(disk, &instance)?;
            wait_until(
                &format!("{noun} {disk} to be detached"),
                cloud_wait(300),
                "run `snaprescue cleanup` again later",
                watch,
                gone_or_available,
            )?;
            journal.record("detach", "done", json!({}))?;
        }
        Some(_) => wait_until(
            &format!("{noun} {disk} to settle"),
            cloud_wait(900),
            "run `snaprescue cleanup` again later",
            watch,
            gone_or_available,
        )?,
    }
    watch.say(&format!("deleting {disk}"));
    journal.record("delete", "start", json!({"disk": disk}))?;
    cloud.delete(disk)?;
    wait_until(
        &format!("{noun} {disk} to be deleted"),
        cloud_wait(300),
        "run `snaprescue cleanup` again later",
        watch,
        || Ok(cloud.disk_state(disk)?.is_none().then_some(())),
    )?;
    journal.record("delete", "done", json!({}))?;
    Ok(())
}
