//! ECS rollback: a guard snapshot of the disk as it is now (tagged, waited for), then
//! StopInstance, wait Stopped, ResetDisk, StartInstance (retried while ECS still reports the
//! disk or instance busy), wait Running. Refused on the very instance it would stop.
//! Interrupted runs are finished from the journal by [`finish`]: a stopped instance is
//! started again.

use super::aliyun_disks::{EcsDisks, required};
use super::journal::{Journal, RunHeader, RunRecord, journaled};
use super::{RUN_TAG, RescueError, Watch, cloud_wait, param, wait_until};
use serde_json::json;

pub struct Request<'a> {
    pub disk: &'a str,
    pub instance: &'a str,
    pub snapshot: &'a str,
    pub keep_guard: bool,
}

pub fn plan(r: &Request) -> Vec<String> {
    let mut steps = Vec::new();
    if r.keep_guard {
        steps.push(format!("snapshot {} as it is now (guard, kept)", r.disk));
    }
    steps.push(format!(
        "stop instance {} (everything on it stops)",
        r.instance
    ));
    steps.push(format!("reset {} to {}", r.disk, r.snapshot));
    steps.push(format!("start {} again", r.instance));
    steps
}

/// Refuses to stop the instance this process runs on, naming the alternatives.
pub fn refuse_self_stop(
    r: &Request,
    this_instance: Option<&str>,
    region: &str,
) -> Result<(), RescueError> {
    if this_instance == Some(r.instance) {
        return Err(RescueError::Refused(format!(
            "rolling {} back stops instance {}, which is the machine snaprescue runs on: it could not \
             start it again. Either restore files from a rescue disk instead (snaprescue restore PATH \
             --snapshot {} --source aliyun), or run from another machine: snaprescue rollback PATH \
             --source aliyun --region {region} --instance {} --disk {} --snapshot {} --confirm {}",
            r.disk, r.instance, r.snapshot, r.instance, r.disk, r.snapshot, r.disk
        )));
    }
    Ok(())
}

/// The rollback; returns the guard snapshot id when one was made.
pub fn rollback(
    disks: &EcsDisks,
    r: &Request,
    watch: &Watch,
) -> Result<Option<String>, RescueError> {
    let header = RunHeader::rollback("rollback-aliyun", disks, r.snapshot, r.instance, r.disk);
    // Whatever failed, a stopped instance is started again.
    journaled(
        header,
        |journal| run(disks, journal, r, watch),
        |record, journal| finish(disks, record, journal, watch),
    )
}

fn run(
    disks: &EcsDisks,
    journal: &Journal,
    r: &Request,
    watch: &Watch,
) -> Result<Option<String>, RescueError> {
    let run = journal.header.run.clone();
    let mut guard = None;
    if r.keep_guard {
        watch.say(&format!("taking a guard snapshot of {}", r.disk));
        journal.record("guard", "start", json!({}))?;
        let doc = disks.ecs.call(
            "CreateSnapshot",
            &[
                param("DiskId", r.disk),
                param("SnapshotName", &format!("snaprescue-guard-{run}")),
                param(
                    "Description",
                    &format!("state of {} before rollback to {}", r.disk, r.snapshot),
                ),
                param("ClientToken", &run),
                param("Tag.1.Key", RUN_TAG),
                param("Tag.1.Value", &run),
                param("Tag.2.Key", "snaprescue-guard"),
                param("Tag.2.Value", "true"),
            ],
        )?;
        let id = required(&doc, "CreateSnapshot", "SnapshotId")?;
        journal.record("guard", "created", json!({"guard": id}))?;
        wait_until(
            &format!("guard snapshot {id} to complete"),
            cloud_wait(3600),
            "nothing was stopped yet; run again later",
            watch,
            || {
                let doc = disks.ecs.call(
                    "DescribeSnapshots",
                    &[param("SnapshotIds", &format!("[\"{id}\"]"))],
                )?;
                match doc["Snapshots"]["Snapshot"][0]["Status"].as_str() {
                    Some("accomplished") => Ok(Some(())),
                    Some("failed") => Err(RescueError::Refused(format!(
                        "the guard snapshot {id} failed; nothing was stopped"
                    ))),
                    _ => Ok(None),
                }
            },
        )?;
        journal.record("guard", "done", json!({"guard": id}))?;
        guard = Some(id);
    }
    watch.say(&format!("stopping {}", r.instance));
    journal.record("stop", "start", json!({}))?;
    disks.ecs.call(
        "StopInstance",
        &[
            param("InstanceId", r.instance),
            param("StoppedMode", "KeepCharging"),
        ],
    )?;
    wait_status(disks, r.instance, "Stopped", watch)?;
    journal.record("stop", "done", json!({}))?;
    watch.say(&format!("resetting {} to {}", r.disk, r.snapshot));
    journal.record("reset", "start", json!({}))?;
    disks.ecs.call(
        "ResetDisk",
        &[param("DiskId", r.disk), param("SnapshotId", r.snapshot)],
    )?;
    journal.record("reset", "done", json!({}))?;
    start(disks, journal, r.instance, watch)?;
    Ok(guard)
}

fn status(disks: &EcsDisks, instance: &str) -> Result<String, RescueError> {
    let doc = disks
        .ecs
        .call("DescribeInstanceStatus", &[param("InstanceId.1", instance)])?;
    let statuses = doc["InstanceStatuses"]["InstanceStatus"].as_array();
    Ok(statuses
        .and_then(|s| s.iter().find(|i| i["InstanceId"] == instance))
        .and_then(|i| i["Status"].as_str())
        .unwrap_or_default()
        .to_string())
}

fn wait_status(
    disks: &EcsDisks,
    instance: &str,
    wanted: &str,
    watch: &Watch,
) -> Result<(), RescueError> {
    wait_until(
        &format!("instance {instance} to be {wanted}"),
        cloud_wait(900),
        "check the instance in the ECS console; `snaprescue cleanup` starts it again",
        watch,
        || Ok((status(disks, instance)? == wanted).then_some(())),
    )
}

/// StartInstance, retried while ECS says the disk or instance is still busy.
fn start(
    disks: &EcsDisks,
    journal: &Journal,
    instance: &str,
    watch: &Watch,
) -> Result<(), RescueError> {
    watch.say(&format!("starting {instance}"));
    journal.record("start", "start", json!({}))?;
    if status(disks, instance)? != "Running" {
        wait_until(
            &format!("ECS to accept StartInstance for {instance}"),
            cloud_wait(900),
            "start the instance from the ECS console",
            watch,
            || match disks
                .ecs
                .call("StartInstance", &[param("InstanceId", instance)])
            {
                Ok(_) => Ok(Some(())),
                Err(e)
                    if e.has_code(&[
                        "IncorrectDiskStatus",
                        "IncorrectInstanceStatus",
                        "OperationConflict",
                    ]) =>
                {
                    if status(disks, instance)? == "Running" {
                        return Ok(Some(()));
                    }
                    Ok(None)
                }
                Err(e) => Err(e.into()),
            },
        )?;
        wait_status(disks, instance, "Running", watch)?;
    }
    journal.record("start", "done", json!({}))?;
    Ok(())
}

/// Finishes an interrupted rollback: the instance is started again if it was stopped.
pub fn finish(
    disks: &EcsDisks,
    run: &RunRecord,
    journal: &Journal,
    watch: &Watch,
) -> Result<String, RescueError> {
    let watch = &watch.uncancellable();
    let instance = run.header.instance.clone().unwrap_or_default();
    let disk = run.header.disk.clone().unwrap_or_default();
    let guard = run.field("guard");
    if run.reached("stop", "start") {
        start(disks, journal, &instance, watch)?;
    }
    let reset = if run.reached("reset", "done") {
        format!("{disk} was reset to {}", run.header.snapshot)
    } else if run.reached("reset", "start") {
        format!(
            "{disk} may or may not have been reset to {} (check its data)",
            run.header.snapshot
        )
    } else {
        format!("{disk} was not reset")
    };
    Ok(format!(
        "{reset}; instance {instance} is running{}",
        guard
            .map(|g| format!("; guard snapshot {g} is kept"))
            .unwrap_or_default()
    ))
}
