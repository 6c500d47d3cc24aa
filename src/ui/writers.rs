//! Step 1: processes using the filesystem, their writes and deleted-but-open files, and the
//! confirmations of freeze, harvest, terminate and remount.

use super::columns::{cut, fit};
use super::{human, window};
use crate::engine::keep_running::keep_running;
use crate::ports::processes::ProcessUse;
use crate::wizard::update_writers::{suggestion, unharvested};
use crate::wizard::{Model, Pending, SignalAction, TERMINATE_GRACE_SECS};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, Wrap};

/// How a process uses the GPUs: its GPU memory when the driver reports it for this PID,
/// else `in use` when it holds a GPU device open (inside a container, or without NVML).
pub fn gpu_use(model: &Model, p: &ProcessUse) -> Option<String> {
    let memory = model.gpu.as_ref().and_then(|g| g.memory_of(p.pid));
    memory
        .map(human)
        .or_else(|| p.uses_gpu().then(|| "in use".into()))
}

/// The command with its program shown by name only (`/usr/bin/python3 x` → `python3 x`),
/// prefixed by the container runtime when there is one.
fn short_command(p: &ProcessUse) -> String {
    let container = p
        .container
        .as_ref()
        .map(|c| format!("[{c}] "))
        .unwrap_or_default();
    format!(
        "{container}{}",
        crate::ports::processes::program_name(&p.command)
    )
}

/// Under a freeze confirmation: a warning for each target that should keep running, and
/// one line naming the processes a freeze of several leaves running.
fn kept_running_lines(model: &Model, targets: &[(i32, u64)]) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut left = Vec::new();
    for p in &model.writers.processes {
        let Some(why) = keep_running(p) else { continue };
        if targets.iter().any(|(pid, _)| *pid == p.pid) {
            lines.push(Line::from(format!("{} {}: {why}", p.pid, short_command(p))).red());
        } else if targets.len() > 1 {
            left.push(format!("{} {}", p.pid, short_command(p)));
        }
    }
    if !left.is_empty() {
        lines.push(
            Line::from(format!(
                "left running (freezing them can cut you off or hang logins; f freezes one): {}",
                left.join(", ")
            ))
            .dark_gray(),
        );
    }
    lines
}

fn names(model: &Model, targets: &[(i32, u64)]) -> String {
    let shown: Vec<String> = targets
        .iter()
        .take(3)
        .map(|(pid, _)| {
            let cmd = model
                .writers
                .processes
                .iter()
                .find(|p| p.pid == *pid)
                .map(short_command)
                .unwrap_or_default();
            format!("{pid} {}", cut(&cmd, 24).trim_end())
        })
        .collect();
    let more = targets.len().saturating_sub(3);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// One row's cells: PID, state, writes, deleted-open, GPU use, command.
fn cells(model: &Model, p: &ProcessUse) -> [String; 6] {
    let w = &model.writers;
    // One fact per column: a stopped process writes nothing (its last rate would be
    // stale), one not writing has no rate.
    let writes = if p.state == 'T' {
        "stopped".to_string()
    } else if p.writes() {
        w.rates
            .get(&p.pid)
            .map(|r| format!("{}/s", human(*r as u64)))
            .unwrap_or_else(|| "writing".into())
    } else {
        "-".into()
    };
    let deleted = if p.deleted_open.is_empty() {
        String::new()
    } else {
        let bytes: u64 = p.deleted_open.iter().map(|d| d.size).sum();
        let saved = if unharvested(w, p) == 0 { " ✓" } else { "" };
        format!("{} ({}){saved}", p.deleted_open.len(), human(bytes))
    };
    let state = match p.state {
        'T' if w.froze(p.pid, p.start_time) => "T frozen".to_string(),
        // Stopped by someone else (a debugger, Ctrl-Z): not thawed at the end.
        'T' => "T stopped".to_string(),
        other => other.to_string(),
    };
    [
        p.pid.to_string(),
        state,
        writes,
        deleted,
        gpu_use(model, p).unwrap_or_default(),
        short_command(p),
    ]
}

/// Rates change every second: their column keeps a width that most of them fit.
const MIN_WIDTHS: [usize; 6] = [0, 0, 10, 0, 0, 0];
const HEADER: [&str; 6] = [
    "PID",
    "STATE",
    "WRITES",
    "DELETED-OPEN",
    "GPU MEM",
    "COMMAND",
];

fn table(frame: &mut Frame, area: Rect, model: &Model) {
    let w = &model.writers;
    let height = area.height.saturating_sub(3) as usize;
    let top = window(w.selected, height);
    let picked: Vec<usize> = (top..w.processes.len()).take(height).collect();
    let mut cells: Vec<[String; 6]> = picked
        .iter()
        .map(|&i| cells(model, &w.processes[i]))
        .collect();
    // Each fact column as wide as what it shows; the command gets the rest, cut with `…`.
    let widths = fit(
        HEADER,
        MIN_WIDTHS,
        &mut cells,
        usize::from(area.width.saturating_sub(2)),
    );
    let rows = picked.into_iter().zip(cells).map(|(i, c)| {
        let row = Row::new(c.to_vec());
        if i == w.selected {
            row.style(Style::new().add_modifier(Modifier::REVERSED))
        } else {
            row
        }
    });
    let constraints = widths.map(Constraint::Length);
    let n = w.processes.len();
    let title = format!("{n} {}", if n == 1 { "process" } else { "processes" });
    frame.render_widget(
        Table::new(rows, constraints)
            .header(Row::new(HEADER.to_vec()).bold())
            .block(Block::bordered().title(title)),
        area,
    );
}

pub fn draw(frame: &mut Frame, area: Rect, model: &Model) {
    let w = &model.writers;
    // Room for every line under the table, wrapped (the "no snapshot" warning must not push
    // the suggestion away), at least 3 rows so the table does not jump.
    let lines = footer_lines(model);
    let footer_rows = lines
        .iter()
        .map(|l| super::wrapped_rows(&l.to_string(), area.width))
        .sum::<u16>()
        .clamp(3, 8);
    let warning =
        "Writes may overwrite what was deleted. Freeze first: keeps GPU memory, undoable.";
    let own = w.self_warning.as_deref().unwrap_or("");
    let own_rows = if own.is_empty() {
        0
    } else {
        super::wrapped_rows(own, area.width).min(2)
    };
    let [intro, list, footer] = Layout::vertical([
        Constraint::Length(1 + super::wrapped_rows(warning, area.width).min(2) + own_rows),
        Constraint::Min(3),
        Constraint::Length(footer_rows),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(format!(
                "Who is touching the filesystem of {}",
                super::elide_middle(
                    &crate::engine::shown(&model.path),
                    usize::from(area.width).saturating_sub(34)
                )
            ))
            .bold(),
            Line::from(warning).dark_gray(),
            Line::from(own).yellow(),
        ])
        .wrap(Wrap { trim: true }),
        intro,
    );
    if !w.loaded {
        frame.render_widget(Paragraph::new("scanning /proc…"), list);
    } else if w.processes.is_empty() {
        frame.render_widget(
            Paragraph::new("No process uses this filesystem. Nothing to stop: go on with Enter.")
                .green(),
            list,
        );
    } else {
        table(frame, list, model);
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }),
        footer,
    );
}

/// Under the table: the question waiting for an answer, or the suggested next move, and
/// what the user must know (no snapshot serves PATH, launchers, unreadable processes).
fn footer_lines(model: &Model) -> Vec<Line<'static>> {
    let w = &model.writers;
    let mut lines = Vec::new();
    if let Some(pending) = &w.confirm {
        let text = match pending {
            Pending::HarvestTo(dir) => {
                lines.push(
                    Line::from(
                        "Save deleted-but-open files to (another disk; Enter saves, Esc cancels):",
                    )
                    .yellow(),
                );
                format!("{dir}▏")
            }
            Pending::Signal(SignalAction::Freeze, t) => {
                format!("Freeze (SIGSTOP) {}? y/n", names(model, t))
            }
            Pending::Signal(SignalAction::Thaw, t) => {
                format!("Thaw (SIGCONT) {}? y/n", names(model, t))
            }
            Pending::Signal(SignalAction::Terminate, t)
            | Pending::Terminate {
                targets: t,
                unharvested: 0,
            } => {
                format!(
                    "Terminate {}: SIGTERM, SIGKILL after {TERMINATE_GRACE_SECS} s? y/n",
                    names(model, t)
                )
            }
            Pending::Terminate {
                targets,
                unharvested,
            } => format!(
                "{} holds {} not saved: terminating DESTROYS {}. h first; ! kills anyway",
                names(model, targets),
                crate::engine::counted(*unharvested, "deleted file"),
                if *unharvested == 1 { "it" } else { "them" }
            ),
            Pending::Remount => {
                "Remount this filesystem read-only (fails while files are open for writing)? y/n"
                    .into()
            }
        };
        lines.push(Line::from(text).yellow().bold());
        if let Pending::Signal(SignalAction::Freeze, t) = pending {
            lines.extend(kept_running_lines(model, t));
        }
        if let Pending::Signal(SignalAction::Thaw, t) = pending {
            let others = t
                .iter()
                .filter(|(pid, start)| !w.froze(*pid, *start))
                .count();
            if others > 0 {
                lines.push(
                    Line::from(format!(
                        "{others} of them stopped by someone else (not by snaprescue)"
                    ))
                    .yellow(),
                );
            }
        }
    } else if w.working {
        lines.push(Line::from("working…").yellow());
    } else if w.loaded && !w.processes.is_empty() {
        lines.push(Line::from(suggestion(w)).cyan());
    }
    // Said here, not only at step 3: without a snapshot, saving the open files is all.
    if let Some(e) = &model.snapshots.error {
        lines.push(
            Line::from(format!(
                "No snapshot can bring PATH back: {e}. Deleted files still open in a process \
                 can be saved with h: that is the only rescue here."
            ))
            .yellow(),
        );
    }
    for p in w.processes.iter().filter(|p| p.launcher) {
        lines.push(
            Line::from(format!(
                "{} started snaprescue: listed to save its deleted-but-open files; never frozen or ended.",
                p.pid
            ))
            .dark_gray(),
        );
    }
    if w.unreadable > 0 {
        lines.push(
            Line::from(format!(
                "{} could not be inspected (permission denied): run as root.",
                crate::engine::counted(w.unreadable, "process")
            ))
            .dark_gray(),
        );
    }
    lines
}
