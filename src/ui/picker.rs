//! Step 5: the file picker over the snapshot, the restore confirmation and its progress.

use super::{human, window};
use crate::engine::diff::{EntryKind, EntryStatus};
use crate::engine::restore_plan::ConflictPolicy;
use crate::wizard::{Model, RestorePhase};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Gauge, Paragraph};

pub fn draw(frame: &mut Frame, area: Rect, model: &Model) {
    let run = &model.restore;
    let Some(p) = &model.picker else {
        let lines = match &run.error {
            Some(e) => vec![Line::from(format!("cannot open the snapshot: {e}")).red()],
            None => {
                let mut lines = vec![if run.stage.is_empty() || run.scanned > 0 {
                    Line::from(format!(
                        "comparing the snapshot with the live tree… {} entries",
                        run.scanned
                    ))
                } else {
                    Line::from(format!("{}…", run.stage))
                }];
                if !run.first_deleted.is_empty() {
                    lines.push(Line::from("deleted entries found so far:").dark_gray());
                }
                let room = area.height.saturating_sub(4) as usize;
                lines.extend(
                    run.first_deleted
                        .iter()
                        .take(room)
                        .map(|p| Line::from(format!("  {}", crate::engine::shown(p))).red()),
                );
                lines
            }
        };
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(ratatui::widgets::Wrap { trim: false })
                .block(Block::bordered().title("Restore")),
            area,
        );
        return;
    };
    // A rescue mount that could not replay the disk's journal says so above the list.
    let caveat = p.caveat.as_ref().map(|c| format!("warning: {c}"));
    let caveat_rows = caveat
        .as_ref()
        .map_or(0, |c| super::wrapped_rows(c, area.width));
    // A refusal (an error from the kernel, a path) wraps whole under the selection line.
    let foot_rows = match &run.error {
        Some(e) => 1 + super::wrapped_rows(&format!("restore refused: {e}"), area.width).min(4),
        None if area.width < 80 => 3,
        None => 2,
    };
    let [head, filter_line, caveat_area, list, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(caveat_rows),
        Constraint::Min(3),
        Constraint::Length(foot_rows),
    ])
    .areas(area);
    let filter = if p.deleted_only {
        "[deleted only] (d: show everything)"
    } else {
        "[everything] (d: deleted only)"
    };
    let search = if p.searching || !p.query.is_empty() {
        format!(
            "  search: {}{}",
            p.query,
            if p.searching { "▏" } else { "" }
        )
    } else {
        "  /: search".to_string()
    };
    let prefix = format!("snapshot {} → ", p.snapshot_id);
    let room = usize::from(area.width).saturating_sub(prefix.chars().count());
    frame.render_widget(
        Paragraph::new(format!(
            "{prefix}{}",
            super::elide_middle(&crate::engine::shown(&p.dest), room)
        ))
        .bold(),
        head,
    );
    frame.render_widget(Paragraph::new(format!("{filter}{search}")), filter_line);
    if let Some(text) = caveat {
        frame.render_widget(
            Paragraph::new(text)
                .yellow()
                .wrap(ratatui::widgets::Wrap { trim: true }),
            caveat_area,
        );
    }
    let height = list.height.saturating_sub(2) as usize;
    // [x] + space, arrow, size (10), state (8), spaces, borders.
    let name_width = usize::from(list.width)
        .saturating_sub(4 + 2 + 1 + 10 + 1 + 8 + 2)
        .min(36);
    let top = window(p.cursor, height);
    let rows: Vec<Line> = p
        .rows(top, height)
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let e = row.entry;
            let name = e
                .path
                .file_name()
                .map(|n| crate::engine::shown(std::path::Path::new(n)))
                .unwrap_or_else(|| ".".into());
            let arrow = match (e.kind, row.expanded) {
                (EntryKind::Dir, true) => "▾ ",
                (EntryKind::Dir, false) => "▸ ",
                (EntryKind::Symlink, _) => "→ ",
                _ => "  ",
            };
            let status = match e.status {
                EntryStatus::Deleted => "deleted",
                EntryStatus::Changed => "changed",
                EntryStatus::Same => "",
            };
            let size = if e.kind == EntryKind::Dir {
                human(row.bytes)
            } else {
                human(e.size)
            };
            let text = format!(
                "{} {}{arrow}{name:<w$} {size:>10} {status}",
                if row.selected { "[x]" } else { "[ ]" },
                "  ".repeat(row.depth as usize),
                // The name gives way first on a narrow terminal, so size and state stay.
                w = name_width.saturating_sub(row.depth as usize * 2)
            );
            let mut line = Line::from(text);
            if e.status == EntryStatus::Deleted {
                line = line.red();
            }
            if top + i == p.cursor {
                line = line.style(Style::new().add_modifier(Modifier::REVERSED));
            }
            line
        })
        .collect();
    let empty = rows.is_empty();
    let body = if empty {
        vec![Line::from(if !p.query.is_empty() {
            format!("no match for \"{}\" — Esc clears the search", p.query)
        } else if p.deleted_only {
            "Nothing in this folder is missing from the live tree (d shows everything). Files \
             only a process held open are in no snapshot: see step 1."
                .into()
        } else {
            "The snapshot holds nothing in this folder.".into()
        })]
    } else {
        rows
    };
    frame.render_widget(
        Paragraph::new(body)
            .block(Block::bordered().title(crate::engine::counted(p.visible_len(), "row"))),
        list,
    );
    let (count, bytes) = p.selection_totals();
    let space = if p.reflink {
        "same btrfs: reflinked, needs no space".to_string()
    } else if bytes > p.free_bytes {
        format!(
            "free at destination: {} — does not fit!",
            human(p.free_bytes)
        )
    } else {
        format!("free at destination: {}", human(p.free_bytes))
    };
    let files = if count == 1 { "file" } else { "files" };
    let mut foot_lines = vec![Line::from(format!(
        "selected: {count} {files}, {}   {space}",
        human(bytes),
    ))];
    if run.phase.restoring() {
        let progress = run.progress.clone().unwrap_or_default();
        let ratio = if progress.bytes_total == 0 {
            0.0
        } else {
            progress.bytes_done as f64 / progress.bytes_total as f64
        };
        let speed = match (progress.rate(), progress.seconds_left()) {
            (Some(rate), Some(left)) => format!(
                "  {}/s, {} left",
                human(rate as u64),
                if left >= 60 {
                    format!("{}m{:02}s", left / 60, left % 60)
                } else {
                    format!("{left}s")
                }
            ),
            _ => String::new(),
        };
        // Bytes, rate and time left always show; the file being copied gets what is left.
        let head = format!(
            "{} / {}{speed}{}",
            human(progress.bytes_done),
            human(progress.bytes_total),
            if run.phase == RestorePhase::Cancelling {
                "  cancelling…"
            } else {
                ""
            }
        );
        let room = usize::from(foot.width).saturating_sub(head.chars().count() + 2);
        let label = format!(
            "{head}  {}",
            super::elide_middle(&crate::engine::shown(&progress.current), room)
        );
        frame.render_widget(
            Gauge::default().ratio(ratio.clamp(0.0, 1.0)).label(label),
            foot,
        );
        return;
    }
    if run.phase == RestorePhase::Leaving {
        foot_lines.push(
            Line::from(format!(
                "Leave? The {count} selected {files} will be forgotten."
            ))
            .yellow()
            .bold(),
        );
    } else if run.phase == RestorePhase::Confirming {
        let policy = match run.policy {
            ConflictPolicy::Skip => "skip them",
            ConflictPolicy::KeepBoth => "keep both (name.restored-<time>)",
        };
        foot_lines.push(
            Line::from(format!(
                "Restore {count} {files}? Existing files: {policy}."
            ))
            .yellow()
            .bold(),
        );
    } else if let Some(e) = &run.error {
        foot_lines.push(Line::from(format!("restore refused: {e}")).red());
    }
    frame.render_widget(
        Paragraph::new(foot_lines).wrap(ratatui::widgets::Wrap { trim: true }),
        foot,
    );
}
