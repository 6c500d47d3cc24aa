//! Step 2: GPUs, their memory and processes, joined with the processes of step 1.

use super::{human, writers::gpu_use};
use crate::ports::gpu::{DriverPids, GpuStatus};
use crate::wizard::Model;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};

pub fn draw(frame: &mut Frame, area: Rect, model: &Model) {
    let mut lines = Vec::new();
    match &model.gpu {
        None => lines.push(Line::from("asking NVML…")),
        Some(GpuStatus::Unavailable { reason }) => {
            lines.push(Line::from(format!("No GPU status: {reason}")).yellow());
            lines.push(Line::from(
                "That is fine: recovery does not need the GPU. Training jobs still show in step 1.",
            ));
        }
        Some(GpuStatus::Available {
            driver,
            devices,
            via,
            pids,
        }) => {
            lines.push(
                Line::from(format!(
                    "NVIDIA driver {driver}, {}, via {via}",
                    crate::engine::counted(devices.len(), "device")
                ))
                .bold(),
            );
            if let Some(caveat) = model.gpu.as_ref().and_then(GpuStatus::pid_caveat) {
                lines.push(Line::from(caveat.to_string()).yellow());
            }
            for d in devices {
                if let Some(e) = d.unreadable() {
                    // Not even its name could be read: only the problem is worth a line.
                    lines.push(Line::from(format!("GPU {}: {e}", d.index)).red());
                    continue;
                }
                let util = d
                    .utilization_percent
                    .map(|u| format!("{u}%"))
                    .unwrap_or_else(|| "?".into());
                let temp = d
                    .temperature_c
                    .map(|t| format!("{t}°C"))
                    .unwrap_or_default();
                let power = d
                    .power_watts
                    .map(|p| format!("{p:.0} W"))
                    .unwrap_or_default();
                lines.push(Line::from(format!(
                    "GPU {} {}  mem {}/{}  util {util}  {temp}  {power}",
                    d.index,
                    d.name,
                    human(d.memory_used),
                    human(d.memory_total)
                )));
                if let Some(e) = &d.error {
                    lines.push(Line::from(format!("  problem: {e}")).red());
                }
                for p in &d.processes {
                    let writer = model
                        .writers
                        .processes
                        .iter()
                        .find(|w| w.pid == p.pid as i32)
                        .filter(|_| *pids == DriverPids::Ours);
                    let note = match writer {
                        Some(w) if w.writes() => format!("writes to this disk: {}", w.command),
                        Some(w) => format!("uses this disk: {}", w.command),
                        None if *pids == DriverPids::Host => "host PID".into(),
                        None => "not on this disk".into(),
                    };
                    let mem = p.used_memory.map(human).unwrap_or_else(|| "?".into());
                    let mig = p
                        .mig_instance
                        .map(|i| format!("MIG {i} "))
                        .unwrap_or_default();
                    lines.push(Line::from(format!(
                        "  pid {:>7} {:<8}{mig} {mem:>10}  {note}",
                        p.pid, p.kind
                    )));
                }
            }
        }
    }
    let on_disk: Vec<String> = model
        .writers
        .processes
        .iter()
        .filter(|p| gpu_use(model, p).is_some())
        .map(|p| p.pid.to_string())
        .collect();
    if !on_disk.is_empty() {
        lines.push(
            Line::from(format!(
                "GPU jobs that touch this disk: {}",
                on_disk.join(", ")
            ))
            .magenta(),
        );
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(ratatui::widgets::Wrap { trim: false })
            .block(Block::bordered().title("GPU and processes")),
        area,
    );
}
