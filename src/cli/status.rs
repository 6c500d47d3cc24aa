//! `writers` and `gpu` without a terminal.

use super::Outcome;
use crate::ports::gpu::{GpuProbe, GpuStatus, Nvml};
use crate::ports::processes::{filesystem_devices, processes_using, signal, state_of};
use humansize::{BINARY, format_size};
use nix::sys::signal::Signal;
use serde_json::json;
use std::fmt::Write;
use std::path::Path;

pub fn writers(path: &Path, freeze: bool, thaw: bool) -> anyhow::Result<Outcome> {
    let devices = filesystem_devices(path)?;
    let (mut list, denied) = processes_using(&devices);
    let mut actions = Vec::new();
    let mut ok = true;
    if freeze || thaw {
        let sig = if freeze {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        };
        for p in &list {
            if p.state == 'Z' {
                continue;
            }
            let result = signal(p.pid, p.start_time, sig);
            ok &= result.is_ok();
            actions.push(json!({
                "pid": p.pid,
                "action": if freeze { "freeze" } else { "thaw" },
                "error": result.err().map(|e| e.to_string()),
            }));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        for p in &mut list {
            if let Some(s) = state_of(p.pid) {
                p.state = s;
            }
        }
    }
    let mut human = String::new();
    for p in &list {
        writeln!(
            human,
            "{:>7} {} {:<40} {}{}",
            p.pid,
            p.state,
            p.command.chars().take(40).collect::<String>(),
            if p.writes() { "writing " } else { "" },
            if p.deleted_open.is_empty() {
                String::new()
            } else {
                format!(
                    "holds {} deleted file(s), {}",
                    p.deleted_open.len(),
                    format_size(p.deleted_open.iter().map(|d| d.size).sum::<u64>(), BINARY)
                )
            }
        )?;
    }
    if list.is_empty() {
        writeln!(human, "no process uses this filesystem")?;
    }
    if denied > 0 {
        writeln!(
            human,
            "{denied} process(es) could not be inspected (permission denied): run as root"
        )?;
    }
    Ok(Outcome {
        json: json!({ "processes": list, "unreadable": denied, "actions": actions }),
        human,
        ok,
    })
}

pub fn gpu() -> Outcome {
    let status = Nvml.probe();
    let human = match &status {
        GpuStatus::Unavailable { reason } => format!("{reason}\n"),
        GpuStatus::Available { driver, devices } => {
            let mut text = format!("driver {driver}\n");
            for d in devices {
                let _ = writeln!(
                    text,
                    "GPU {} {} {}/{} {}% {} processes",
                    d.index,
                    d.name,
                    format_size(d.memory_used, BINARY),
                    format_size(d.memory_total, BINARY),
                    d.utilization_percent.unwrap_or(0),
                    d.processes.len()
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
