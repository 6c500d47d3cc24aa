//! The guard snapshot a rollback takes first (DESIGN safety rule 2), the same on every cloud:
//! journaled before and after it is requested, then waited for until complete, so that
//! nothing is changed before the old state is safe.

use super::journal::Journal;
use super::{RescueError, Watch, cloud_wait, wait_until};
use crate::providers::{CloudProvider, GuardRequest};
use crate::sources::SnapshotStatus;
use serde_json::json;

/// Snapshots `disk` as it is now and waits until the snapshot is complete; returns its id.
/// `hint` says what the user can do when waiting runs out (nothing has changed yet).
pub fn take_guard(
    provider: &dyn CloudProvider,
    journal: &Journal,
    disk: &str,
    rollback_to: &str,
    hint: &str,
    watch: &Watch,
) -> Result<String, RescueError> {
    watch.say(&format!("taking a guard snapshot of {disk}"));
    journal.record("guard", "start", json!({}))?;
    let id = provider.create_snapshot(&GuardRequest {
        disk,
        run: &journal.header.run,
        before_rollback_to: rollback_to,
    })?;
    journal.record("guard", "created", json!({"guard": id}))?;
    wait_until(
        &format!("guard snapshot {id} to complete"),
        cloud_wait(3600),
        hint,
        watch,
        || match provider.snapshot_status(&id)? {
            Some(SnapshotStatus::Completed) => Ok(Some(())),
            Some(SnapshotStatus::Failed) => Err(RescueError::Refused(format!(
                "the guard snapshot {id} failed; nothing was changed"
            ))),
            _ => Ok(None),
        },
    )?;
    journal.record("guard", "done", json!({"guard": id}))?;
    Ok(id)
}

/// How a rollback that stops the instance is said: the guard first, then the stop and start.
pub fn stop_words(disk: &str, instance: &str) -> (String, String) {
    (
        "a guard snapshot of it is taken first; the instance is stopped and started again".into(),
        format!(
            "A guard snapshot of `{disk}` is taken first; instance {instance} is stopped, the \
             disk reset and the instance started again (from another machine)."
        ),
    )
}
