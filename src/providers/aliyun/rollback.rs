//! ECS rollback plans behind the contract's one interface. A detachable data disk rolled back
//! from the instance using it takes the generic online flow (unmount, guard, DetachDisk,
//! ResetDisk on the `Available` disk, AttachDisk again, remount): no stop, no reboot. Any
//! other disk, or a run from another machine, takes the stop-and-reset flow: a guard snapshot
//! of the disk as it is now (tagged, waited for), then StopInstance, wait Stopped, ResetDisk,
//! StartInstance (retried while ECS still reports the disk or instance busy), wait Running —
//! refused on the very instance it would stop, with the command to run from elsewhere.
//! Interrupted stop-and-reset runs are finished from the journal by [`finish`]: a stopped
//! instance is started again.

use super::provider::AliyunProvider;
use crate::providers::{CloudProvider, RollbackFlow};
use crate::rescue::journal::{Journal, RunHeader, RunRecord, journaled};
use crate::rescue::online_rollback::OnlineRollback;
use crate::rescue::{RescueError, Watch, cloud_wait, param, wait_until};
use crate::sources::RollbackOutcome;
use crate::sources::cloud_disk::DiskPlace;
use serde_json::json;
use std::path::PathBuf;

/// The journal kind of a stop-and-reset rollback.
pub const STOP_RESET: &str = "rollback-aliyun";

pub struct Request<'a> {
    pub disk: &'a str,
    pub instance: &'a str,
    pub snapshot: &'a str,
    pub keep_guard: bool,
}

/// The stop-and-reset plan for the disk at `place`.
struct StopAndReset<'a> {
    aliyun: &'a AliyunProvider,
    disk: &'a str,
    instance: String,
    this_instance: Option<&'a str>,
    /// Why the online flow does not apply, said when the stop is refused here.
    not_online: Option<String>,
}

/// The plan for the disk at `place`: online for a detachable data disk of the instance this
/// runs on, else stop-and-reset; refused when the disk belongs to no known instance.
pub fn choose<'a>(
    aliyun: &'a AliyunProvider,
    place: &'a DiskPlace,
) -> Result<Box<dyn RollbackFlow + 'a>, RescueError> {
    let disk = aliyun
        .ecs
        .describe_disks(None, Some(&place.disk.id))?
        .into_iter()
        .next()
        .ok_or_else(|| {
            RescueError::Refused(format!(
                "ECS disk {} does not exist in {}: check --disk and --region",
                place.disk.id, aliyun.ecs.region
            ))
        })?;
    let attached = Some(disk.instance_id.as_str()).filter(|i| !i.is_empty());
    let instance = place.instance.as_deref().or(attached).ok_or_else(|| {
        RescueError::Refused(format!(
            "ECS disk {} is attached to no known instance: give --instance",
            place.disk.id
        ))
    })?;
    let here = place.this_instance.as_deref() == Some(instance);
    let not_online = if disk.kind == "system" {
        Some("it is the system disk".to_string())
    } else if !disk.portable {
        Some("it cannot be detached (Portable=false)".to_string())
    } else {
        None
    };
    if here && not_online.is_none() {
        return Ok(Box::new(OnlineRollback::prepare(aliyun, place)?));
    }
    Ok(Box::new(StopAndReset {
        aliyun,
        disk: &place.disk.id,
        instance: instance.to_string(),
        this_instance: place.this_instance.as_deref(),
        not_online,
    }))
}

impl StopAndReset<'_> {
    /// The request, refused when it would stop the instance snaprescue runs on.
    fn request<'a>(
        &'a self,
        snapshot: &'a str,
        keep_guard: bool,
    ) -> Result<Request<'a>, RescueError> {
        let request = Request {
            disk: self.disk,
            instance: &self.instance,
            snapshot,
            keep_guard,
        };
        refuse_self_stop(
            &request,
            self.this_instance,
            &self.aliyun.ecs.region,
            self.not_online.as_deref(),
        )?;
        Ok(request)
    }
}

impl RollbackFlow for StopAndReset<'_> {
    fn words(&self) -> (String, String) {
        crate::rescue::guard::stop_words(self.disk, &self.instance)
    }

    fn plan(&self, snapshot: &str, keep_guard: bool) -> Result<Vec<String>, RescueError> {
        Ok(plan(&self.request(snapshot, keep_guard)?))
    }

    fn run(
        &self,
        snapshot: &str,
        keep_guard: bool,
        watch: &Watch,
    ) -> Result<RollbackOutcome, RescueError> {
        let request = self.request(snapshot, keep_guard)?;
        let guard = rollback(self.aliyun, &request, watch)?;
        Ok(RollbackOutcome {
            replaced: PathBuf::from(self.disk),
            snapshot: snapshot.to_string(),
            undo: match &guard {
                Some(g) => format!(
                    "stop {}, ResetDisk {} to the guard snapshot {g}, start it again",
                    self.instance, self.disk
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

/// Refuses to stop the instance this process runs on, naming the alternatives; `why` says
/// why the disk cannot be rolled back online instead.
pub fn refuse_self_stop(
    r: &Request,
    this_instance: Option<&str>,
    region: &str,
    why: Option<&str>,
) -> Result<(), RescueError> {
    if this_instance == Some(r.instance) {
        return Err(RescueError::Refused(format!(
            "rolling {} back stops instance {}{}, which is the machine snaprescue runs on: it \
             could not start it again. Either restore files from a rescue disk instead (snaprescue restore PATH \
             --snapshot {} --source aliyun), or run from another machine: snaprescue rollback PATH \
             --source aliyun --region {region} --instance {} --disk {} --snapshot {} --confirm {}",
            r.disk,
            r.instance,
            why.map(|w| format!(" ({w}, so it cannot be reset online)"))
                .unwrap_or_default(),
            r.snapshot,
            r.instance,
            r.disk,
            r.snapshot,
            r.disk
        )));
    }
    Ok(())
}

/// The rollback; returns the guard snapshot id when one was made.
pub fn rollback(
    aliyun: &AliyunProvider,
    r: &Request,
    watch: &Watch,
) -> Result<Option<String>, RescueError> {
    let header = RunHeader::rollback(STOP_RESET, aliyun, r.snapshot, r.instance, r.disk);
    // Whatever failed, a stopped instance is started again.
    journaled(
        header,
        |journal| run(aliyun, journal, r, watch),
        |record, journal| finish(aliyun, record, journal, watch),
    )
}

fn run(
    aliyun: &AliyunProvider,
    journal: &Journal,
    r: &Request,
    watch: &Watch,
) -> Result<Option<String>, RescueError> {
    let guard = if r.keep_guard {
        Some(crate::rescue::guard::take_guard(
            aliyun,
            journal,
            r.disk,
            r.snapshot,
            "nothing was stopped yet; run again later",
            watch,
        )?)
    } else {
        None
    };
    watch.say(&format!("stopping {}", r.instance));
    journal.record("stop", "start", json!({}))?;
    aliyun.ecs.call(
        "StopInstance",
        &[
            param("InstanceId", r.instance),
            param("StoppedMode", "KeepCharging"),
        ],
    )?;
    wait_status(aliyun, r.instance, "Stopped", watch)?;
    journal.record("stop", "done", json!({}))?;
    watch.say(&format!("resetting {} to {}", r.disk, r.snapshot));
    journal.record("reset", "start", json!({}))?;
    aliyun.reset_disk(r.disk, r.snapshot)?;
    journal.record("reset", "done", json!({}))?;
    start(aliyun, journal, r.instance, watch)?;
    Ok(guard)
}

fn status(aliyun: &AliyunProvider, instance: &str) -> Result<String, RescueError> {
    let doc = aliyun
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
    aliyun: &AliyunProvider,
    instance: &str,
    wanted: &str,
    watch: &Watch,
) -> Result<(), RescueError> {
    wait_until(
        &format!("instance {instance} to be {wanted}"),
        cloud_wait(900),
        "check the instance in the ECS console; `snaprescue cleanup` starts it again",
        watch,
        || Ok((status(aliyun, instance)? == wanted).then_some(())),
    )
}

/// StartInstance, retried while ECS says the disk or instance is still busy.
fn start(
    aliyun: &AliyunProvider,
    journal: &Journal,
    instance: &str,
    watch: &Watch,
) -> Result<(), RescueError> {
    watch.say(&format!("starting {instance}"));
    journal.record("start", "start", json!({}))?;
    if status(aliyun, instance)? != "Running" {
        wait_until(
            &format!("ECS to accept StartInstance for {instance}"),
            cloud_wait(900),
            "start the instance from the ECS console",
            watch,
            || match aliyun
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
                    if status(aliyun, instance)? == "Running" {
                        return Ok(Some(()));
                    }
                    Ok(None)
                }
                Err(e) => Err(e.into()),
            },
        )?;
        wait_status(aliyun, instance, "Running", watch)?;
    }
    journal.record("start", "done", json!({}))?;
    Ok(())
}

/// Finishes an interrupted rollback: the instance is started again if it was stopped.
pub fn finish(
    aliyun: &AliyunProvider,
    run: &RunRecord,
    journal: &Journal,
    watch: &Watch,
) -> Result<String, RescueError> {
    let watch = &watch.uncancellable();
    let instance = run.header.instance.clone().unwrap_or_default();
    let disk = run.header.disk.clone().unwrap_or_default();
    let guard = run.field("guard");
    if run.reached("stop", "start") {
        start(aliyun, journal, &instance, watch)?;
    }
    let reset = run.reset_outcome("reset", &disk);
    Ok(format!(
        "{reset}; instance {instance} is running{}",
        guard
            .map(|g| format!("; guard snapshot {g} is kept"))
            .unwrap_or_default()
    ))
}
