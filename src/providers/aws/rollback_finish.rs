//! Finishing an EBS rollback that was interrupted (a crash, or an error half-way): a data
//! swap whose old volume is already detached is completed, one that got less far is undone;
//! a root replacement is requested again with the same client token and polled.

use super::provider::AwsProvider;
use super::rollback::{Target, attach_new, remount, replace_root, wait_state};
use crate::providers::{CloudProvider, DiskState};
use crate::rescue::journal::{Journal, RunRecord};
use crate::rescue::{RescueError, Watch};

/// Finishes an interrupted data-volume swap: when the old volume is already detached the
/// swap is completed (the user confirmed it); otherwise it is undone (the new volume
/// deleted, the old one mounted again). Returns what state it left.
pub fn finish_data(
    aws: &AwsProvider,
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
        new = aws.tagged(&run.header.run)?.into_iter().next();
    }
    let old_state = aws.disk_state(&t.volume)?;
    let old_attached = matches!(
        old_state,
        Some(DiskState::InUse(_)) | Some(DiskState::Attaching(_))
    );
    match new {
        Some(new) if !old_attached => {
            wait_state(aws, &new, "to settle", watch, |s| {
                matches!(s, Some(DiskState::Available) | Some(DiskState::InUse(_)))
            })?;
            aws.tag(
                &t.volume,
                &[
                    ("snaprescue-replaced-by", &new),
                    ("snaprescue-kept", "true"),
                ],
            )?;
            attach_new(aws, journal, &t, &new, watch)?;
            Ok(format!(
                "rolled back: {new} (from {}) is attached at {}; the old volume {} is kept",
                run.header.snapshot, t.device, t.volume
            ))
        }
        new => {
            if let Some(new) = new {
                let resources = crate::rescue::disk::Resources {
                    disk: Some(new),
                    ..Default::default()
                };
                crate::rescue::disk::tear_down(aws, journal, &resources, watch)?;
            }
            remount(aws, journal, &t, &t.volume, watch)?;
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
    aws: &AwsProvider,
    journal: &Journal,
    watch: &Watch,
) -> Result<String, RescueError> {
    let snapshot = journal.header.snapshot.clone();
    let task = replace_root(aws, journal, &snapshot, watch)?;
    Ok(format!(
        "root volume replaced from {snapshot} (task {task})"
    ))
}
