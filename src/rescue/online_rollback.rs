//! The online data-disk rollback, written once over the provider contract for clouds that
//! can reset a detached disk in place: writers stopped, unmount, guard snapshot while still
//! attached (nothing writes, so it is consistent), detach, reset, wait until the disk says
//! the reset is done, attach to the same instance, find the device by serial, mount it where
//! it was with the same options. Every step is journaled; `cleanup` finishes an interrupted
//! run forward (attach and mount whatever the reset's state) and says whether the reset
//! happened. Refusals are decided before anything changes (see `online_checks`).

use super::journal::{Journal, RunHeader, RunRecord, journaled};
use super::online_checks::{self as checks, DiskHere};
use super::{RescueError, Watch, cloud_wait, wait_until};
use crate::ports::disk_by_serial::DiskLocator;
use crate::ports::mounts::MountSpec;
use crate::providers::{CloudProvider, DiskState, RollbackFlow};
use crate::sources::RollbackOutcome;
use crate::sources::cloud_disk::DiskPlace;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::PathBuf;

/// The journal kind of an online data-disk rollback.
pub const KIND: &str = "rollback-online";

/// The disk and where it is used, kept in the journal as is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OnlineTarget {
    pub disk: String,
    pub instance: String,
    pub mount_point: PathBuf,
    pub mounted_as: MountSpec,
    /// The partition holding the filesystem, when the disk is partitioned.
    pub partition: Option<u32>,
}

pub struct OnlineRollback<'a> {
    provider: &'a dyn CloudProvider,
    target: OnlineTarget,
    here: DiskHere,
    path: PathBuf,
    /// Said with the plan and the outcome (an fstab line without `nofail`).
    warnings: Vec<String>,
}

impl<'a> OnlineRollback<'a> {
    /// Checks that the disk at `place` can be rolled back from here: it is attached to the
    /// instance this runs on, mounted once here, held by no other mount namespace, and does
    /// not carry the state dir.
    pub fn prepare(
        provider: &'a dyn CloudProvider,
        place: &DiskPlace,
    ) -> Result<Self, RescueError> {
        let disk = &place.disk.id;
        let attached_to = place.disk.attached_to.first().cloned();
        let instance = place.instance.clone().or(attached_to).ok_or_else(|| {
            RescueError::Refused(format!(
                "{} {disk} is attached to no known instance: give --instance",
                provider.noun()
            ))
        })?;
        if place.this_instance.as_deref() != Some(instance.as_str()) {
            return Err(RescueError::Refused(format!(
                "the online rollback of {} {disk} unmounts and remounts it, so it runs on the \
                 instance using it ({instance}), and this machine is {}: run it there",
                provider.noun(),
                place
                    .this_instance
                    .as_deref()
                    .unwrap_or("not known to the metadata service")
            )));
        }
        if let Some(refusal) = checks::outside_host_namespace_here() {
            return Err(RescueError::Refused(refusal));
        }
        let here = DiskHere::find(&provider.serials(disk), disk, &place.path)?;
        if let Some(refusal) = checks::held_elsewhere(disk, &checks::holders(&here.devices, true)) {
            return Err(RescueError::Refused(refusal));
        }
        if let Some(refusal) = checks::state_dir_on_disk(&here.mount.mount_point) {
            return Err(RescueError::Refused(refusal));
        }
        let warnings = checks::fstab_warning(&here.mount.mount_point)
            .into_iter()
            .collect();
        Ok(Self {
            provider,
            target: OnlineTarget {
                disk: disk.clone(),
                instance,
                mount_point: here.mount.mount_point.clone(),
                mounted_as: here.mount.spec(),
                partition: here.partition,
            },
            here,
            path: place.path.clone(),
            warnings,
        })
    }

    fn work(
        &self,
        journal: &Journal,
        snapshot: &str,
        keep_guard: bool,
        watch: &Watch,
    ) -> Result<Option<String>, RescueError> {
        let (p, t) = (self.provider, &self.target);
        journal.record("target", "done", json!({ "target": t }))?;
        watch.say(&format!("unmounting {}", t.mount_point.display()));
        journal.record("unmount", "start", json!({}))?;
        crate::ports::mounts::unmount(&t.mount_point)?;
        journal.record("unmount", "done", json!({}))?;
        let still = checks::holders(&self.here.devices, false);
        if let Some(refusal) = checks::held_elsewhere(&t.disk, &still) {
            return Err(RescueError::Refused(refusal));
        }
        let guard = if keep_guard {
            Some(super::guard::take_guard(
                p,
                journal,
                &t.disk,
                snapshot,
                "the disk is unmounted but still attached; `snaprescue cleanup` mounts it again",
                watch,
            )?)
        } else {
            None
        };
        watch.say(&format!("detaching {}", t.disk));
        journal.record("detach", "start", json!({}))?;
        p.detach(&t.disk, &t.instance)?;
        wait_for(p, &t.disk, "to be detached", watch, |s| {
            s == &DiskState::Available
        })?;
        journal.record("detach", "done", json!({}))?;
        watch.say(&format!("resetting {} to {snapshot}", t.disk));
        journal.record("reset", "start", json!({}))?;
        p.reset_disk(&t.disk, snapshot)?;
        journal.record("reset", "done", json!({}))?;
        wait_reset(p, &t.disk, watch)?;
        journal.record("reset_finished", "done", json!({}))?;
        attach_and_mount(p, journal, t, watch)?;
        Ok(guard)
    }
}

impl RollbackFlow for OnlineRollback<'_> {
    fn words(&self) -> (String, String) {
        let (disk, mp) = (&self.target.disk, self.target.mount_point.display());
        (
            format!(
                "a guard snapshot is taken first; {mp} is unmounted, the disk detached, reset \
                 and attached again: gone for a few minutes, no reboot"
            ),
            format!(
                "A guard snapshot of `{disk}` is taken first. {mp} is unmounted, {disk} detached, \
                 reset and attached again, and {mp} mounted as before: it is gone for a few \
                 minutes; nothing reboots."
            ),
        )
    }

    fn plan(&self, snapshot: &str, keep_guard: bool) -> Result<Vec<String>, RescueError> {
        let t = &self.target;
        if let Some(refusal) = checks::writers_refusal(&t.mount_point, &self.path) {
            return Err(RescueError::Refused(refusal));
        }
        let mp = t.mount_point.display();
        let mut steps = vec![
            format!("check that no process uses {mp} (stop the writers first)"),
            format!("unmount {mp}"),
        ];
        if keep_guard {
            steps.push(format!("snapshot {} as it is now (guard, kept)", t.disk));
        }
        steps.extend([
            format!("detach {} from {}", t.disk, t.instance),
            format!("reset {} to {snapshot} and wait until it is done", t.disk),
            format!(
                "attach {} to {} again and find it by serial",
                t.disk, t.instance
            ),
            format!(
                "mount it on {mp} as before ({} {})",
                t.mounted_as.fs_type,
                t.mounted_as.options.join(",")
            ),
        ]);
        steps.extend(self.warnings.iter().cloned());
        Ok(steps)
    }

    fn run(
        &self,
        snapshot: &str,
        keep_guard: bool,
        watch: &Watch,
    ) -> Result<RollbackOutcome, RescueError> {
        let t = &self.target;
        if let Some(refusal) = checks::writers_refusal(&t.mount_point, &self.path) {
            return Err(RescueError::Refused(refusal));
        }
        let header = RunHeader::rollback(KIND, self.provider, snapshot, &t.instance, &t.disk);
        let guard = journaled(
            header,
            |journal| self.work(journal, snapshot, keep_guard, watch),
            |record, journal| finish(self.provider, record, journal, watch),
        )?;
        Ok(RollbackOutcome {
            replaced: t.mount_point.clone(),
            snapshot: snapshot.to_string(),
            undo: match &guard {
                Some(g) => format!(
                    "roll back again to the guard snapshot: snaprescue rollback {} --snapshot {g} \
                     --confirm {}",
                    self.path.display(),
                    t.disk
                ),
                None => {
                    "no guard snapshot was taken (--no-guard): the previous state is gone".into()
                }
            },
            guard: guard.map(PathBuf::from),
            notes: self.warnings.clone(),
        })
    }
}

fn wait_for(
    provider: &dyn CloudProvider,
    disk: &str,
    what: &str,
    watch: &Watch,
    done: impl Fn(&DiskState) -> bool,
) -> Result<(), RescueError> {
    wait_until(
        &format!("{} {disk} {what}", provider.noun()),
        cloud_wait(900),
        "run `snaprescue cleanup` later: it attaches and mounts the disk again",
        watch,
        || match provider.disk_state(disk)? {
            Some(state) => Ok(done(&state).then_some(())),
            None => Err(RescueError::Refused(format!(
                "{} {disk} no longer exists",
                provider.noun()
            ))),
        },
    )
}

/// Waits until the disk no longer reports a reset in progress.
fn wait_reset(provider: &dyn CloudProvider, disk: &str, watch: &Watch) -> Result<(), RescueError> {
    wait_for(provider, disk, "to finish its reset", watch, |s| {
        !matches!(s, DiskState::Resetting | DiskState::Detaching)
    })
}

/// Attaches the disk to its instance (unless it is already) and mounts it where it was.
fn attach_and_mount(
    provider: &dyn CloudProvider,
    journal: &Journal,
    t: &OnlineTarget,
    watch: &Watch,
) -> Result<(), RescueError> {
    let attached_here = |s: &DiskState| matches!(s, DiskState::InUse(i) if *i == t.instance);
    let state = provider.disk_state(&t.disk)?;
    if !state.as_ref().is_some_and(attached_here) {
        if !matches!(state, Some(DiskState::Attaching(_))) {
            wait_for(provider, &t.disk, "to settle", watch, |s| {
                matches!(s, DiskState::Available | DiskState::InUse(_))
            })?;
            watch.say(&format!("attaching {} to {}", t.disk, t.instance));
            journal.record("attach", "start", json!({}))?;
            if provider.disk_state(&t.disk)? == Some(DiskState::Available) {
                attach(provider, t, watch)?;
            }
        }
        wait_for(provider, &t.disk, "to be attached", watch, attached_here)?;
        journal.record("attach", "done", json!({}))?;
    }
    let table = crate::ports::mounts::MountTable::read()?;
    if table.entries.iter().any(|e| e.mount_point == t.mount_point) {
        return Ok(());
    }
    let locator = DiskLocator::system();
    let serials = provider.serials(&t.disk);
    let device = wait_until(
        &format!("{} to appear as a block device here", t.disk),
        cloud_wait(120),
        "check `lsblk -o +SERIAL`; mount it by hand on the old mount point",
        watch,
        || {
            let disk = locator.find(&serials);
            Ok(match t.partition {
                None => disk,
                Some(n) => disk.and_then(|d| {
                    locator
                        .partitions(&d)
                        .into_iter()
                        .find(|(p, _)| *p == n)
                        .map(|(_, path)| path)
                }),
            })
        },
    )?;
    watch.say(&format!("mounting {} again", t.mount_point.display()));
    journal.record("mount", "start", json!({"device": device}))?;
    crate::ports::mounts::mount_as(&device, &t.mounted_as, &t.mount_point)?;
    journal.record("mount", "done", json!({}))?;
    Ok(())
}

/// Attaches the disk, asked again while the cloud says a reset is still settling.
fn attach(
    provider: &dyn CloudProvider,
    t: &OnlineTarget,
    watch: &Watch,
) -> Result<(), RescueError> {
    wait_until(
        &format!("{} to accept the attach of {}", provider.name(), t.disk),
        cloud_wait(900),
        "run `snaprescue cleanup` later: it attaches and mounts the disk again",
        watch,
        || match provider.attach(&t.disk, &t.instance) {
            Ok(()) => Ok(Some(())),
            Err(e) if provider.still_settling(&e) => Ok(None),
            Err(e) => Err(e.into()),
        },
    )
}

/// Finishes an interrupted online rollback forward: waits out a running reset, attaches the
/// disk to its instance and mounts it where it was, and says whether the reset happened.
pub fn finish(
    provider: &dyn CloudProvider,
    run: &RunRecord,
    journal: &Journal,
    watch: &Watch,
) -> Result<String, RescueError> {
    let watch = &watch.uncancellable();
    let t: OnlineTarget = run
        .events
        .iter()
        .find(|e| e["step"] == "target")
        .and_then(|e| serde_json::from_value(e["target"].clone()).ok())
        .ok_or_else(|| {
            RescueError::Refused("the journal has no target; nothing was changed".into())
        })?;
    if run.reached("reset", "start") {
        wait_reset(provider, &t.disk, watch)?;
    }
    attach_and_mount(provider, journal, &t, watch)?;
    let reset = run.reset_outcome("reset", &t.disk);
    Ok(format!(
        "{reset}; it is attached to {} and mounted on {}{}",
        t.instance,
        t.mount_point.display(),
        run.field("guard")
            .map(|g| format!("; guard snapshot {g} is kept"))
            .unwrap_or_default()
    ))
}
