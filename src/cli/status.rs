//! `writers` and `gpu` without a terminal.

use super::Outcome;
use crate::engine::freeze_journal::{self, FreezeError};
use crate::engine::harvest::{HarvestTarget, harvest};
use crate::engine::keep_running::keep_running;
use crate::ports::gpu::{GpuProbe, GpuStatus, Nvml};
use crate::ports::processes::{ProcessUse, filesystem_devices, processes_using, state_of};
use humansize::{BINARY, format_size};
use serde_json::json;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What `snaprescue writers` does besides listing.
#[derive(Debug, clap::Args)]
pub struct WritersAction {
    #[arg(long, conflicts_with = "thaw")]
    pub freeze: bool,
    /// Thaw what snaprescue froze (recorded in its journal), in this run or an earlier one.
    #[arg(long)]
    pub thaw: bool,
    /// With --thaw: also thaw processes stopped by someone else (a debugger, Ctrl-Z).
    #[arg(long, requires = "thaw")]
    pub all: bool,
    /// Copy files that are deleted but still open into DIR (on another filesystem).
    #[arg(long, value_name = "DIR")]
    pub rescue_open: Option<PathBuf>,
    /// Allow --rescue-open DIR on the same filesystem as PATH (may overwrite deleted data).
    #[arg(long, requires = "rescue_open")]
    pub force: bool,
    /// Remount PATH's filesystem read-only (refused by the kernel while files are open for
    /// writing).
    #[arg(long)]
    pub remount_ro: bool,
    /// Seconds between the two scans that measure write rates.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
}

/// Bytes per second written by each process between two scans.
fn rates(before: &[ProcessUse], after: &[ProcessUse], secs: f64) -> Vec<(i32, f64)> {
    after
        .iter()
        .filter_map(|p| {
            let b = before
                .iter()
                .find(|o| o.pid == p.pid && o.start_time == p.start_time)?;
            let delta = p.write_bytes?.checked_sub(b.write_bytes?)?;
            Some((p.pid, delta as f64 / secs.max(0.001)))
        })
        .collect()
}

/// How long the commands wait for the GPU status (once `writers` has done its actions).
const GPU_PATIENCE: Duration = Duration::from_secs(10);

/// Asks the GPU on a thread of its own; calling the result gives the answer, or says the
/// driver did not answer within [`GPU_PATIENCE`].
fn ask_gpu() -> impl FnOnce() -> GpuStatus {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(Nvml.probe()));
    move || {
        rx.recv_timeout(GPU_PATIENCE)
            .unwrap_or_else(|_| GpuStatus::Unavailable {
                reason: format!(
                    "the NVIDIA driver did not answer within {} s (a GPU in a bad state?)",
                    GPU_PATIENCE.as_secs()
                ),
            })
    }
}

/// `--thaw`: what the journal says snaprescue froze, among the listed processes or frozen for
/// this PATH; with `all`, every listed process too. Returns the actions taken.
fn thaw(list: &[ProcessUse], absolute: &Path, all: bool, ok: &mut bool) -> Vec<serde_json::Value> {
    let ours = freeze_journal::still_frozen();
    let mut targets: Vec<(i32, u64)> = ours
        .iter()
        .filter(|f| f.path == absolute || list.iter().any(|p| p.pid == f.pid))
        .map(|f| (f.pid, f.start_time))
        .collect();
    let mut actions = Vec::new();
    for p in list.iter().filter(|p| p.state == 'T') {
        if targets.contains(&(p.pid, p.start_time)) {
            continue;
        }
        if all {
            targets.push((p.pid, p.start_time));
        } else {
            actions.push(json!({
                "pid": p.pid,
                "action": "thaw",
                "skipped": "stopped by someone else, not by snaprescue (a debugger, Ctrl-Z): \
                            --thaw --all thaws it too",
            }));
        }
    }
    for (pid, start) in targets {
        let result = freeze_journal::thaw(pid, start);
        *ok &= result.is_ok();
        actions.push(json!({
            "pid": pid,
            "action": "thaw",
            "error": result.err().map(|e| e.to_string()),
        }));
    }
    actions
}

pub fn writers(path: &Path, action: &WritersAction) -> anyhow::Result<Outcome> {
    let devices = filesystem_devices(path)?;
    let absolute = crate::ports::fs_meta::resolve_lost(path).unwrap_or(path.to_path_buf());
    // Named before anything is done, so a --thaw run still shows what it found.
    let left_frozen = freeze_journal::still_frozen();
    let (first, _) = processes_using(&devices);
    let started = Instant::now();
    // The GPU is asked while the write rates are measured: its jobs are joined by pid.
    let gpu = ask_gpu();
    std::thread::sleep(Duration::from_secs_f64(action.interval.clamp(0.0, 60.0)));
    let (mut list, denied) = processes_using(&devices);
    let rates = rates(&first, &list, started.elapsed().as_secs_f64());
    let mut actions = Vec::new();
    let mut ok = true;
    let mut harvested = None;
    if let Some(dir) = &action.rescue_open {
        let targets = HarvestTarget::held_by(&list);
        let report = harvest(&targets, dir, path, action.force)?;
        ok &= report.failed.is_empty();
        harvested = Some(report);
    }
    if action.freeze {
        for p in list.iter().filter(|p| p.state != 'Z') {
            if let Some(why) = keep_running(p) {
                actions.push(json!({ "pid": p.pid, "action": "freeze", "skipped": why }));
                continue;
            }
            match freeze_journal::freeze(p.pid, p.start_time, &absolute) {
                Err(e @ FreezeError::AlreadyStopped { .. }) => actions
                    .push(json!({ "pid": p.pid, "action": "freeze", "skipped": e.to_string() })),
                result => {
                    ok &= result.is_ok();
                    actions.push(json!({
                        "pid": p.pid,
                        "action": "freeze",
                        "error": result.err().map(|e| e.to_string()),
                    }));
                }
            }
        }
    }
    if action.thaw {
        actions.extend(thaw(&list, &absolute, action.all, &mut ok));
    }
    if action.freeze || action.thaw {
        std::thread::sleep(Duration::from_millis(50));
        for p in &mut list {
            if let Some(s) = state_of(p.pid) {
                p.state = s;
            }
        }
    }
    let mut remounted = None;
    if action.remount_ro {
        remounted = Some(crate::ports::mounts::remount_read_only_holding(path)?);
    }
    // Only now, after the actions: a wedged driver must not hold up stopping the writers.
    let gpu = gpu();
    let mut human = String::new();
    for line in freeze_journal::describe(&left_frozen) {
        writeln!(human, "{line}")?;
    }
    if let Some(m) = &remounted {
        writeln!(human, "{} is now read-only", m.display())?;
    }
    for p in &list {
        let rate = rates
            .iter()
            .find(|r| r.0 == p.pid)
            .map(|r| format!("{}/s", format_size(r.1 as u64, BINARY)))
            .unwrap_or_default();
        let deleted = if p.deleted_open.is_empty() {
            String::new()
        } else {
            let bytes = p.deleted_open.iter().map(|d| d.size).sum::<u64>();
            format!(
                " holds {}, {}",
                crate::engine::counted(p.deleted_open.len(), "deleted file"),
                format_size(bytes, BINARY)
            )
        };
        let gpu_use = match gpu.memory_of(p.pid) {
            Some(m) => format!(" GPU {}", format_size(m, BINARY)),
            None if p.uses_gpu() => " GPU in use".into(),
            None => String::new(),
        };
        writeln!(
            human,
            "{:>7} {} {:>12} {:<40}{}{gpu_use}{deleted}",
            p.pid,
            p.state,
            rate,
            crate::ports::processes::program_name(&p.command)
                .chars()
                .take(40)
                .collect::<String>(),
            if p.writes() { " writing" } else { "" }
        )?;
    }
    if list.is_empty() {
        writeln!(human, "no process uses this filesystem")?;
    }
    if let Some(caveat) = gpu.pid_caveat() {
        writeln!(human, "GPU: {caveat}")?;
    }
    let spared = list.iter().filter(|p| action.freeze && p.state != 'Z');
    for (p, why) in spared.filter_map(|p| Some((p, keep_running(p)?))) {
        writeln!(
            human,
            "left running: {} {} ({why}); the wizard can freeze it alone",
            p.pid, p.command
        )?;
    }
    // Skips for another reason than keep_running (those are the "left running" lines).
    for a in actions.iter().filter(|a| a["skipped"].is_string()) {
        let (verb, reason) = (a["action"].as_str(), a["skipped"].as_str().unwrap_or(""));
        if verb == Some("thaw") || reason.contains("already stopped") {
            let done = if verb == Some("thaw") {
                "thawed"
            } else {
                "frozen"
            };
            writeln!(human, "{} not {done}: {reason}", a["pid"])?;
        }
    }
    // What was done, by name: "froze 4242 python train.py".
    for a in actions
        .iter()
        .filter(|a| a["error"].is_null() && a["skipped"].is_null())
    {
        let done = match a["action"].as_str() {
            Some("freeze") => "froze",
            Some("thaw") => "thawed",
            _ => continue,
        };
        let command = list
            .iter()
            .find(|p| a["pid"] == p.pid)
            .map(|p| crate::ports::processes::program_name(&p.command))
            .unwrap_or_default();
        writeln!(human, "{done} {} {command}", a["pid"])?;
    }
    for a in actions.iter().filter(|a| a["error"].is_string()) {
        writeln!(
            human,
            "FAILED to {} {}: {}",
            a["action"].as_str().unwrap_or(""),
            a["pid"],
            a["error"].as_str().unwrap_or("")
        )?;
    }
    if denied > 0 {
        writeln!(
            human,
            "{denied} process(es) could not be inspected (permission denied): run as root"
        )?;
    }
    if let Some(report) = &harvested {
        for s in &report.saved {
            writeln!(
                human,
                "saved {} (pid {}) to {}",
                crate::engine::shown(&s.original),
                s.pid,
                crate::engine::shown(&s.saved_to)
            )?;
        }
        for f in &report.failed {
            writeln!(
                human,
                "FAILED to save {} (pid {}): {}",
                crate::engine::shown(&f.original),
                f.pid,
                f.reason
            )?;
        }
    }
    let processes: Vec<serde_json::Value> = list
        .iter()
        .map(|p| {
            let mut v = serde_json::to_value(p).unwrap_or_default();
            v["write_rate"] = json!(rates.iter().find(|r| r.0 == p.pid).map(|r| r.1));
            v["gpu_memory"] = json!(gpu.memory_of(p.pid));
            v
        })
        .collect();
    Ok(Outcome {
        json: json!({ "processes": processes, "gpu": gpu_summary(&gpu), "unreadable": denied, "actions": actions, "left_frozen": left_frozen, "harvest": harvested, "remounted_read_only": remounted }),
        human,
        ok,
    })
}

/// Where the GPU facts of `writers` came from, or why there are none.
fn gpu_summary(gpu: &GpuStatus) -> serde_json::Value {
    match gpu {
        GpuStatus::Available {
            via, devices, pids, ..
        } => {
            json!({"state": "available", "via": via, "devices": devices.len(), "pids": pids})
        }
        GpuStatus::Unavailable { reason } => json!({"state": "unavailable", "reason": reason}),
    }
}

pub fn gpu() -> Outcome {
    let status = ask_gpu()();
    let human = match &status {
        GpuStatus::Unavailable { reason } => format!("{reason}\n"),
        GpuStatus::Available {
            driver,
            devices,
            via,
            ..
        } => {
            let mut text = format!("driver {driver} (via {via})\n");
            if let Some(caveat) = status.pid_caveat() {
                let _ = writeln!(text, "{caveat}");
            }
            for d in devices {
                if let Some(error) = d.unreadable() {
                    let _ = writeln!(text, "GPU {}: {error}", d.index);
                    continue;
                }
                let _ = writeln!(
                    text,
                    "GPU {} {} {}/{} {}% {} processes{}",
                    d.index,
                    d.name,
                    format_size(d.memory_used, BINARY),
                    format_size(d.memory_total, BINARY),
                    d.utilization_percent.unwrap_or(0),
                    d.processes.len(),
                    d.error
                        .as_ref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                );
            }
            text
        }
    };
    Outcome {
        json: serde_json::to_value(&status).unwrap_or_default(),
        human,
        ok: true,
    }
}
