//! Step 1: processes using the filesystem, their writes and deleted-but-open files.

use super::human;
use crate::ports::gpu::GpuStatus;
use crate::wizard::{Model, SignalAction};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table};

pub const KEYS: &str = "f:freeze F:freeze all t:thaw r:rescan Enter:next";

/// GPU memory used by `pid`, when NVML reports it.
pub fn gpu_memory(model: &Model, pid: i32) -> Option<u64> {
    let Some(GpuStatus::Available { devices, .. }) = &model.gpu else {
        return None;
    };
    let used: Vec<u64> = devices
        .iter()
        .flat_map(|d| &d.processes)
        .filter(|p| p.pid as i32 == pid)
        .map(|p| p.used_memory.unwrap_or(0))
        .collect();
    (!used.is_empty()).then(|| used.iter().sum())
}

pub fn draw(frame: &mut Frame, area: Rect, model: &Model) {
    let w = &model.writers;
    let [intro, table, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(3),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(format!(
                "Who is touching the filesystem of {}",
                model.path.display()
            ))
            .bold(),
            Line::from(
                "Writes may overwrite what was deleted. Freeze first: keeps GPU memory, undoable.",
            )
            .dark_gray(),
        ]),
        intro,
    );
    if !w.loaded {
        frame.render_widget(Paragraph::new("scanning /proc…"), table);
    } else if w.processes.is_empty() {
        frame.render_widget(
            Paragraph::new("No process uses this filesystem. Nothing to stop: go on with Enter.")
                .green(),
            table,
        );
    } else {
        let rows = w.processes.iter().enumerate().map(|(i, p)| {
            let rate = w
                .rates
                .get(&p.pid)
                .map(|r| format!("{}/s", human(*r as u64)))
                .unwrap_or_else(|| "-".into());
            let deleted: u64 = p.deleted_open.iter().map(|d| d.size).sum();
            let deleted = if p.deleted_open.is_empty() {
                String::new()
            } else {
                format!("{} ({})", p.deleted_open.len(), human(deleted))
            };
            let gpu = gpu_memory(model, p.pid).map(human).unwrap_or_default();
            let frozen = w.frozen.iter().any(|f| f.0 == p.pid);
            let state = if p.state == 'T' {
                "T frozen".to_string()
            } else {
                p.state.to_string()
            };
            let row = Row::new(vec![
                p.pid.to_string(),
                state,
                if p.writes() { "yes".into() } else { "".into() },
                rate,
                deleted,
                gpu,
                short_command(&p.command),
            ]);
            let style = if i == w.selected {
                Style::new().add_modifier(Modifier::REVERSED)
            } else if frozen {
                Style::new().cyan()
            } else {
                Style::new()
            };
            row.style(style)
        });
        let widths = [
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Length(5),
            Constraint::Length(11),
            Constraint::Length(14),
            Constraint::Length(9),
            Constraint::Min(10),
        ];
        let header = Row::new(vec![
            "PID",
            "STATE",
            "WRITE",
            "RATE",
            "DELETED-OPEN",
            "GPU MEM",
            "COMMAND",
        ])
        .bold();
        frame.render_widget(
            Table::new(rows, widths)
                .header(header)
                .block(Block::bordered()),
            table,
        );
    }
    let mut lines = Vec::new();
    if let Some((action, targets)) = &w.confirm {
        let verb = if *action == SignalAction::Freeze {
            "Freeze (SIGSTOP)"
        } else {
            "Thaw (SIGCONT)"
        };
        let names: Vec<String> = targets
            .iter()
            .map(|(pid, _)| {
                let cmd = w
                    .processes
                    .iter()
                    .find(|p| p.pid == *pid)
                    .map(|p| p.command.as_str())
                    .unwrap_or("");
                format!("{pid} {}", cmd.chars().take(30).collect::<String>())
            })
            .collect();
        lines.push(
            Line::from(format!("{verb} {}? y/n", names.join(", ")))
                .yellow()
                .bold(),
        );
    }
    let holders: usize = w
        .processes
        .iter()
        .filter(|p| !p.deleted_open.is_empty())
        .count();
    if holders > 0 {
        lines.push(Line::from(format!("{holders} process(es) hold deleted files open: freeze, don't kill — the data is still there.")).magenta());
    }
    if w.unreadable > 0 {
        lines.push(
            Line::from(format!(
                "{} process(es) could not be inspected (permission denied): run as root.",
                w.unreadable
            ))
            .dark_gray(),
        );
    }
    frame.render_widget(Paragraph::new(lines), footer);
}

/// The command with its program shown by name only (`/usr/bin/python3 x` → `python3 x`).
fn short_command(command: &str) -> String {
    let (program, rest) = command.split_once(' ').unwrap_or((command, ""));
    let name = program.rsplit('/').next().unwrap_or(program);
    if rest.is_empty() {
        name.to_string()
    } else {
        format!("{name} {rest}")
    }
}
