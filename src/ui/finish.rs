//! Step 6: what was restored and verified, the rollback outcome, thawing, the report file.

use super::human;
use crate::engine::restore::Verification;
use crate::wizard::Model;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};

pub const KEYS: &str = "t:thaw frozen Enter:quit Esc:back";

pub fn draw(frame: &mut Frame, area: Rect, model: &Model) {
    let mut lines = Vec::new();
    if let Some(r) = &model.restore.report {
        let files = r
            .restored
            .iter()
            .filter(|x| x.verified_by.is_some())
            .count();
        let shared = r
            .restored
            .iter()
            .filter(|x| x.verified_by == Some(Verification::SharedExtents))
            .count();
        let head = format!(
            "Restored {} entries ({}); {files} files verified: {} by BLAKE3, {shared} reflinks by shared extents",
            r.restored.len(),
            human(r.bytes),
            files - shared
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
        for f in r.failed.iter().take(5) {
            lines.push(Line::from(format!("  FAILED {}: {}", f.path.display(), f.reason)).red());
        }
        for s in r.skipped.iter().take(5) {
            lines.push(
                Line::from(format!("  skipped {}: {}", s.path.display(), s.reason)).dark_gray(),
            );
        }
        for x in r
            .restored
            .iter()
            .filter(|x| x.verified_by.is_some())
            .take(6)
        {
            let proof = match &x.hash {
                Some(h) => format!("blake3 {}…", &h[..12.min(h.len())]),
                None => "reflink, extents shared".into(),
            };
            lines.push(Line::from(format!(
                "  OK {}  {}  {proof}",
                x.path.display(),
                human(x.size)
            )));
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
    }
    lines.push(Line::from(""));
    let w = &model.writers;
    if !w.frozen.is_empty() {
        let names: Vec<String> = w
            .frozen
            .iter()
            .map(|f| format!("{} {}", f.0, f.2.chars().take(30).collect::<String>()))
            .collect();
        lines.push(
            Line::from(format!(
                "Still frozen: {}. Press t to thaw them.",
                names.join(", ")
            ))
            .yellow(),
        );
    } else if model.finish.thawed {
        lines.push(Line::from("Frozen processes were thawed."));
    }
    match &model.finish.report_file {
        Some(Ok(p)) => lines.push(Line::from(format!("Report: {} (and .txt)", p.display()))),
        Some(Err(e)) => lines.push(Line::from(format!("Report not written: {e}")).red()),
        None => lines.push(Line::from("writing the report…")),
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title("Verify and finish")),
        area,
    );
}
