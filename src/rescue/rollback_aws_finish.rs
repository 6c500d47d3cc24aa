//! Finishing an EBS rollback that was interrupted (a crash, or an error half-way): a data
//! swap whose old volume is already detached is completed, one that got less far is undone;
//! a root replacement is requested again with the same client token and polled.

use super::aws_disks::Ec2Disks;
use super::journal::{Journal, RunRecord};
use super::rollback_aws::{Target, attach_new, remount, replace_root, wait_state};
use super::{DiskState, RescueCloud, RescueError, Watch};

/// Finishes an interrupted data-volume swap: when the old volume is already detached the
/// swap is completed (the user confirmed it); otherwise it is undone (the new volume
/// deleted, the old one mounted again). Returns what state it left.
pub fn finish_data(
    disks: &Ec2Disks,
    run: &RunRecord,
    journal: &Journal,
    watch: &Watch,
) -> Result<String, RescueError> {
    let watch = &watch.uncancellable();
    let t: Target = run
        .events
        .iter()
        .find(|e| e["step"] == "target")
        .and_then(|e| serde_json::from_value(e["target"].clone()).ok())
        .ok_or_else(|| {
            RescueError::Refused("the journal has no target; nothing was changed".into())
        })?;
    let mut new = run.field("disk");
    if new.is_none() {
        new = disks.tagged(&run.header.run)?.into_iter().next();
    }
    let old_state = disks.disk_state(&t.volume)?;
    let old_attached = matches!(
        old_state,
        Some(DiskState::InUse(_)) | Some(DiskState::Attaching(_))
    );
    match new {
        Some(new) if !old_attached => {
            wait_state(disks, &new, "to settle", watch, |s| {
                matches!(s, Some(DiskState::Available) | Some(DiskState::InUse(_)))
            })?;
            disks.tag(
                &t.volume,
                &[
                    ("snaprescue-replaced-by", &new),
                    ("snaprescue-kept", "true"),
                ],
            )?;
            attach_new(disks, journal, &t, &new, watch)?;
            Ok(format!(
                "rolled back: {new} (from {}) is attached at {}; the old volume {} is kept",
                run.header.snapshot, t.device, t.volume
            ))
        }
        new => {
            if let Some(new) = new {
                let resources = super::disk::Resources {
                    disk: Some(new),
                    ..Default::default()
                };
                super::disk::tear_down(disks, journal, &resources, watch)?;
            }
            remount(disks, journal, &t, &t.volume, watch)?;
            Ok(format!(
                "not rolled back: {} is still attached and mounted; the new volume was removed",
                t.volume
            ))
        }
    }
}

/// Finishes an interrupted root replacement: the task is requested again with the same
/// client token (EC2 returns the same task) and polled to its end.
pub fn finish_root(
    disks: &Ec2Disks,
    journal: &Journal,
    watch: &Watch,
) -> Result<String, RescueError> {
    let snapshot = journal.header.snapshot.clone();
    let task = replace_root(disks, journal, &snapshot, watch)?;
    Ok(format!(
        "root volume replaced from {snapshot} (task {task})"
    ))
}
