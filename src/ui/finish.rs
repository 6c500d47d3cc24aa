//! Step 6: what was restored and verified, the rollback outcome, thawing, the report file.

use super::human;
use crate::engine::restore::Verification;
use crate::wizard::Model;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, model: &Model) {
    let mut lines = Vec::new();
    if let Some(r) = &model.restore.report {
        // Counted as the confirmation counted them: files (and links), folders apart.
        let dirs = r
            .restored
            .iter()
            .filter(|x| x.kind == crate::engine::diff::EntryKind::Dir)
            .count();
        let n = r.restored.len() - dirs;
        let head = format!(
            "Restored {n} {}{} ({})",
            if n == 1 { "file" } else { "files" },
            match dirs {
                0 => String::new(),
                1 => " and 1 folder".into(),
                d => format!(" and {d} folders"),
            },
            human(r.bytes)
        );
        lines.push(if r.failed.is_empty() {
            Line::from(head).green().bold()
        } else {
            Line::from(head).yellow().bold()
        });
        if r.cancelled {
            lines.push(
                Line::from(
                    "Cancelled: the file being copied was removed; the ones listed are complete.",
                )
                .yellow(),
            );
        }
        for f in &r.failed {
            lines.push(
                Line::from(format!(
                    "  FAILED {}: {}",
                    crate::engine::shown(&f.path),
                    f.reason
                ))
                .red(),
            );
        }
        for (rel, target) in r.kept_beside() {
            lines.push(
                Line::from(format!(
                    "  {} went beside, as {} (something was in the way)",
                    crate::engine::rel_shown(&rel, &r.destination),
                    crate::engine::shown(&target)
                ))
                .yellow(),
            );
        }
        for s in &r.skipped {
            lines.push(
                Line::from(format!(
                    "  skipped {}: {}",
                    crate::engine::rel_shown(&s.path, &r.destination),
                    s.reason
                ))
                .dark_gray(),
            );
        }
        match (&model.finish.verdicts, model.finish.verify_progress) {
            (Some(verdicts), _) => {
                let bad = verdicts.iter().filter(|v| !v.ok).count();
                let shared = r
                    .restored
                    .iter()
                    .filter(|x| x.verified_by == Some(Verification::SharedExtents))
                    .count();
                let summary = format!(
                    "Verified {} files: {} OK, {bad} damaged ({shared} reflinks proven by shared extents)",
                    verdicts.len(),
                    verdicts.len() - bad
                );
                lines.push(if bad == 0 {
                    Line::from(summary).green()
                } else {
                    Line::from(summary).red()
                });
                for v in verdicts
                    .iter()
                    .filter(|v| !v.ok)
                    .chain(verdicts.iter().filter(|v| v.ok))
                    .take(6)
                {
                    let name = v
                        .path
                        .file_name()
                        .map(|n| crate::engine::shown(std::path::Path::new(n)))
                        .unwrap_or_default();
                    let line = Line::from(format!(
                        "  {} {name}: {}",
                        if v.ok { "OK  " } else { "FAIL" },
                        v.detail
                    ));
                    lines.push(if v.ok { line } else { line.red() });
                }
            }
            (None, Some((done, total))) => {
                lines.push(Line::from(format!("verifying… {done}/{total}")))
            }
            (None, None) => lines.push(Line::from("verifying…")),
        }
    }
    if let Some(Ok(o)) = &model.recovery.outcome {
        lines.push(
            Line::from(format!(
                "Rolled back {} to snapshot {}.",
                o.replaced.display(),
                o.snapshot
            ))
            .green()
            .bold(),
        );
        if let Some(g) = &o.guard {
            lines.push(Line::from(format!(
                "Previous state kept read-only at {}",
                g.display()
            )));
        }
        lines.push(Line::from(format!("To undo: {}", o.undo)));
        if model.restore.report.is_none() {
            lines.push(match &model.finish.verdicts {
                Some(v) => {
                    let bad: Vec<_> = v.iter().filter(|v| !v.ok).collect();
                    let text = format!(
                        "Checked the {} under PATH: {} OK, {} damaged",
                        crate::engine::counted(v.len(), "checkpoint"),
                        v.len() - bad.len(),
                        bad.len()
                    );
                    if bad.is_empty() {
                        Line::from(text).green()
                    } else {
                        Line::from(text).red()
                    }
                }
                None => Line::from("checking the checkpoints under PATH…"),
            });
            for v in model.finish.verdicts.iter().flatten().filter(|v| !v.ok) {
                lines.push(
                    Line::from(format!(
                        "  FAIL {}: {}",
                        crate::engine::shown(&v.path),
                        v.detail
                    ))
                    .red(),
                );
            }
        }
        for note in &o.notes {
            lines.push(Line::from(format!("Note: {note}")).yellow());
        }
    }
    match &model.finish.torch {
        Some(t) => {
            let text = format!(
                "torch.cuda ({}): {}",
                t.place(),
                crate::wizard::torch_summary(t)
            );
            lines.push(if t.gpu_ok() {
                Line::from(text).green()
            } else {
                Line::from(text).yellow()
            });
            for l in t.facts.loads.iter().filter(|l| l.failed()).take(3) {
                lines.push(
                    Line::from(format!(
                        "  torch.load failed for {}: {}",
                        crate::engine::shown(&l.path),
                        l.error.as_deref().unwrap_or("")
                    ))
                    .red(),
                );
            }
            let skipped: Vec<&str> = t
                .facts
                .loads
                .iter()
                .filter_map(|l| l.skipped.as_deref())
                .collect();
            if let Some(why) = skipped.first() {
                lines.push(
                    Line::from(format!(
                        "  {} not loaded by torch: {why}",
                        crate::engine::counted(skipped.len(), "checkpoint")
                    ))
                    .yellow(),
                );
            }
            if !t.not_loaded.is_empty() {
                lines.push(
                    Line::from(format!(
                        "  {} not loaded by torch: the job's container does not see them at that path",
                        crate::engine::counted(t.not_loaded.len(), "checkpoint")
                    ))
                    .yellow(),
                );
            }
        }
        None => lines.push(Line::from(
            "checking torch.cuda with the job's interpreter…",
        )),
    }
    let missing = crate::wizard::missing::still_missing(model);
    if !missing.is_empty() {
        lines.push(
            Line::from(format!("Still missing ({}):", missing.len()))
                .yellow()
                .bold(),
        );
        for m in &missing {
            lines.push(
                Line::from(format!(
                    "  {} — {}{}",
                    crate::engine::shown(&m.path),
                    m.where_,
                    m.in_wizard
                        .as_deref()
                        .map(|h| format!(" ({h})"))
                        .unwrap_or_default()
                ))
                .yellow(),
            );
        }
    } else if model.restore.report.is_some() || model.recovery.outcome.is_some() {
        lines.push(Line::from("Nothing lost is missing any more.").green());
    }
    let back = model.harvested_to_copy_back();
    if !back.is_empty() {
        lines.push(
            Line::from(format!(
                "{} saved from open handles {} only in {}: press b to copy them back \
                 into place (verified, nothing overwritten).",
                crate::engine::counted(back.len(), "file"),
                if back.len() == 1 { "is" } else { "are" },
                if back.iter().all(|s| s.saved_to.starts_with("/dev/shm")) {
                    "RAM (/dev/shm), which a reboot empties"
                } else {
                    "the harvest folder"
                }
            ))
            .yellow(),
        );
    }
    lines.push(Line::from(""));
    let w = &model.writers;
    if !w.frozen.is_empty() {
        let names: Vec<String> = w
            .frozen
            .iter()
            .map(|f| {
                let name = crate::ports::processes::program_name(&f.2);
                format!("{} {}", f.0, super::columns::cut(&name, 30))
            })
            .collect();
        lines.push(
            Line::from(format!(
                "Still frozen: {}. Press t to thaw {}.",
                names.join(", "),
                if w.frozen.len() == 1 { "it" } else { "them" },
            ))
            .yellow(),
        );
    } else if model.finish.thawed {
        lines.push(Line::from("Frozen processes were thawed."));
    }
    for c in crate::wizard::created(model) {
        lines.push(Line::from(format!("Kept: {c}")).dark_gray());
    }
    // The snapshots picked stay pinned unless taken back here (u); the exit summary and
    // `cleanup` name the command for later.
    let pins = &model.snapshots.pins;
    for (text, warn) in pins.finish_lines() {
        lines.push(if warn {
            Line::from(text).yellow()
        } else {
            Line::from(text).dark_gray()
        });
    }
    match &model.finish.report_file {
        Some(Ok(p)) => lines.push(Line::from(format!("Report: {} (and .txt)", p.display()))),
        Some(Err(e)) => lines.push(Line::from(format!("Report not written: {e}")).red()),
        None => lines.push(Line::from("writing the report…")),
    }
    for (text, status) in model.finish.protection.lines() {
        use crate::protect::CheckStatus;
        let line = Line::from(text);
        lines.push(match status {
            CheckStatus::Fail => line.red(),
            CheckStatus::Warn => line.yellow(),
            CheckStatus::Ok => line.green(),
            CheckStatus::Info => line,
        });
    }
    // Never scrolled past the last line (an empty box looks like nothing happened).
    let inner = area.width.saturating_sub(2);
    let rows: u16 = lines
        .iter()
        .map(|l| super::wrapped_rows(&l.to_string(), inner))
        .sum();
    let scroll = model
        .finish
        .scroll
        .min(rows.saturating_sub(area.height.saturating_sub(2)));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(Block::bordered().title("Verify and finish (↑↓ scroll)")),
        area,
    );
}
