//! CBS rollback plans behind the contract's one interface. An elastic data disk takes the
//! generic online flow (detach, ApplySnapshot, wait until `Rollbacking` is false, attach,
//! remount). A non-elastic disk or the system disk is reset with ApplySnapshot's
//! `AutoStopInstance`/`AutoStartInstance`, refused on the very instance it would stop (with
//! the command to run from another machine); a guard snapshot comes first unless
//! `--no-guard`. `cleanup` finishes an interrupted stop-based run by starting the instance.

use super::api::Service;
use super::provider::TencentProvider;
use crate::providers::RollbackFlow;
use crate::rescue::journal::{Journal, RunHeader, RunRecord, journaled};
use crate::rescue::online_rollback::OnlineRollback;
use crate::rescue::{RescueError, Watch, cloud_wait, wait_until};
use crate::sources::RollbackOutcome;
use crate::sources::cloud_disk::DiskPlace;
use serde_json::json;
use std::path::PathBuf;

/// The journal kind of a stop-based rollback.
pub const STOP_AND_APPLY: &str = "rollback-tencent-stop";

/// The plan for the disk at `place`: online for an elastic data disk, else stop-based.
pub fn choose<'a>(
    tencent: &'a TencentProvider,
    place: &'a DiskPlace,
) -> Result<Box<dyn RollbackFlow + 'a>, RescueError> {
    let disk = tencent.disk(&place.disk.id)?.ok_or_else(|| {
        RescueError::Refused(format!(
            "CBS disk {} does not exist in {}",
            place.disk.id, tencent.client.region
        ))
    })?;
    if disk.portable && disk.disk_usage == "DATA_DISK" {
        return Ok(Box::new(OnlineRollback::prepare(tencent, place)?));
    }
    let instance = place.instance.clone().ok_or_else(|| {
        RescueError::Refused(format!(
            "CBS disk {} is attached to no known instance: give --instance",
            disk.id
        ))
    })?;
    Ok(Box::new(StopAndApply {
        tencent,
        disk: disk.id,
        usage: disk.disk_usage,
        instance,
        this_instance: place.this_instance.clone(),
    }))
}

struct StopAndApply<'a> {
    tencent: &'a TencentProvider,
    disk: String,
    usage: String,
    instance: String,
    this_instance: Option<String>,
}

impl StopAndApply<'_> {
    /// Refuses to stop the instance this process runs on, naming the alternatives.
    fn refuse_self_stop(&self, snapshot: &str) -> Result<(), RescueError> {
        if self.this_instance.as_deref() != Some(self.instance.as_str()) {
            return Ok(());
        }
        let (disk, instance) = (&self.disk, &self.instance);
        Err(RescueError::Refused(format!(
            "rolling {disk} back stops instance {instance} (it is {}), which is the machine \
             snaprescue runs on: it could not start it again. Either restore files from a rescue \
             disk instead (snaprescue restore PATH --snapshot {snapshot} --source tencent), or run \
             from another machine: snaprescue rollback PATH --source tencent --region {} \
             --instance {instance} --disk {disk} --snapshot {snapshot} --confirm {disk}",
            if self.usage == "SYSTEM_DISK" {
                "the system disk"
            } else {
                "a non-elastic disk"
            },
            self.tencent.client.region
        )))
    }

    fn work(
        &self,
        journal: &Journal,
        snapshot: &str,
        keep_guard: bool,
        watch: &Watch,
    ) -> Result<Option<String>, RescueError> {
        let guard = if keep_guard {
            Some(crate::rescue::guard::take_guard(
                self.tencent,
                journal,
                &self.disk,
                snapshot,
                "nothing was stopped yet; run again later",
                watch,
            )?)
        } else {
            None
        };
        watch.say(&format!(
            "stopping {}, resetting {} to {snapshot}, starting it again",
            self.instance, self.disk
        ));
        journal.record("apply", "start", json!({}))?;
        self.tencent.client.call(
            Service::Cbs,
            "ApplySnapshot",
            &json!({
                "SnapshotId": snapshot,
                "DiskId": self.disk,
                "AutoStopInstance": true,
                "AutoStartInstance": true,
            }),
        )?;
        journal.record("apply", "done", json!({}))?;
        settle(self.tencent, journal, &self.disk, &self.instance, watch)?;
        Ok(guard)
    }
}

impl RollbackFlow for StopAndApply<'_> {
    fn words(&self) -> (String, String) {
        crate::rescue::guard::stop_words(&self.disk, &self.instance)
    }

    fn plan(&self, snapshot: &str, keep_guard: bool) -> Result<Vec<String>, RescueError> {
        self.refuse_self_stop(snapshot)?;
        let mut steps = Vec::new();
        if keep_guard {
            steps.push(format!("snapshot {} as it is now (guard, kept)", self.disk));
        }
        steps.extend([
            format!("stop instance {} (everything on it stops)", self.instance),
            format!("reset {} to {snapshot} (ApplySnapshot)", self.disk),
            format!("start {} again", self.instance),
        ]);
        Ok(steps)
    }

    fn run(
        &self,
        snapshot: &str,
        keep_guard: bool,
        watch: &Watch,
    ) -> Result<RollbackOutcome, RescueError> {
        self.refuse_self_stop(snapshot)?;
        let header = RunHeader::rollback(
            STOP_AND_APPLY,
            self.tencent,
            snapshot,
            &self.instance,
            &self.disk,
        );
        let guard = journaled(
            header,
            |journal| self.work(journal, snapshot, keep_guard, watch),
            |record, journal| finish(self.tencent, record, journal, watch),
        )?;
        Ok(RollbackOutcome {
            replaced: PathBuf::from(&self.disk),
            snapshot: snapshot.to_string(),
            undo: match &guard {
                Some(g) => format!(
                    "ApplySnapshot {g} to {} with AutoStopInstance and AutoStartInstance",
                    self.disk
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

fn instance_state(tencent: &TencentProvider, instance: &str) -> Result<String, RescueError> {
    let response = tencent.client.call(
        Service::Cvm,
        "DescribeInstancesStatus",
        &json!({"InstanceIds": [instance]}),
    )?;
    Ok(response["InstanceStatusSet"]
        .as_array()
        .and_then(|s| s.iter().find(|i| i["InstanceId"] == instance))
        .and_then(|i| i["InstanceState"].as_str())
        .unwrap_or_default()
        .to_string())
}

/// Waits for the reset to end, then for the instance to run (started if it stayed stopped).
fn settle(
    tencent: &TencentProvider,
    journal: &Journal,
    disk: &str,
    instance: &str,
    watch: &Watch,
) -> Result<(), RescueError> {
    let hint = "check the instance in the CVM console; `snaprescue cleanup` starts it again";
    journal.record("settle", "start", json!({}))?;
    wait_until(
        &format!("CBS disk {disk} to finish its rollback"),
        cloud_wait(1800),
        hint,
        watch,
        || {
            Ok(tencent
                .disk(disk)?
                .is_none_or(|d| !d.rollbacking)
                .then_some(()))
        },
    )?;
    wait_until(
        &format!("instance {instance} to run"),
        cloud_wait(900),
        hint,
        watch,
        || match instance_state(tencent, instance)?.as_str() {
            "RUNNING" => Ok(Some(())),
            "STOPPED" => match tencent.client.call(
                Service::Cvm,
                "StartInstances",
                &json!({"InstanceIds": [instance]}),
            ) {
                // AutoStartInstance got there first: it is starting.
                Err(e)
                    if e.code()
                        .is_some_and(|c| c.starts_with("UnsupportedOperation.InstanceState")) =>
                {
                    Ok(None)
                }
                Err(e) => Err(e.into()),
                Ok(_) => Ok(None),
            },
            _ => Ok(None),
        },
    )?;
    journal.record("settle", "done", json!({}))
}

/// Finishes an interrupted rollback of either kind.
pub fn finish(
    tencent: &TencentProvider,
    run: &RunRecord,
    journal: &Journal,
    watch: &Watch,
) -> Result<String, RescueError> {
    if run.header.kind != STOP_AND_APPLY {
        return Err(RescueError::Refused(format!(
            "journal {} has a kind of run Tencent Cloud does not know: `{}`",
            run.path.display(),
            run.header.kind
        )));
    }
    let watch = &watch.uncancellable();
    let instance = run.header.instance.clone().unwrap_or_default();
    let disk = run.header.disk.clone().unwrap_or_default();
    if run.reached("apply", "start") {
        settle(tencent, journal, &disk, &instance, watch)?;
    }
    let reset = run.reset_outcome("apply", &disk);
    Ok(format!(
        "{reset}; instance {instance} is running{}",
        run.field("guard")
            .map(|g| format!("; guard snapshot {g} is kept"))
            .unwrap_or_default()
    ))
}
