//! Step 4: rescue (browse a read-only copy) or rollback (typed confirmation, with what is lost).

use super::human;
use crate::wizard::{Model, RecoveryChoice, RecoveryPhase};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, model: &Model) {
    let r = &model.recovery;
    let snap = model.chosen_snapshot();
    let name = snap
        .map(|s| format!("{} ({})", s.id, s.name))
        .unwrap_or_default();
    let when = snap
        .map(|s| s.created_text("%Y-%m-%d %H:%M:%S UTC"))
        .unwrap_or_default();
    let target = model.rollback_target();
    // Said by the source that rolls back; a subvolume's words until the list says.
    let words = snap
        .and_then(|s| {
            let listing = model.snapshots.listing.as_ref()?;
            listing
                .rollback_words
                .iter()
                .find(|(source, _)| *source == s.source)
                .map(|(_, w)| w.clone())
        })
        .unwrap_or_else(|| crate::sources::RollbackWords::subvolume(&target));
    let crate::sources::RollbackWords {
        noun,
        kept,
        how_kept,
    } = words;
    let mut lines = vec![Line::from(format!("Snapshot {name}, taken {when}")).bold()];
    // What the pin made when it was picked, and how to take it back.
    match snap.and_then(|s| model.snapshots.pins.line(&s.id)) {
        Some((text, true)) => lines.push(Line::from(text).yellow()),
        Some((text, false)) => lines.push(Line::from(text).dark_gray()),
        None => {}
    }
    lines.push(Line::from(""));
    let option = |on: bool, text: String| {
        if on {
            Line::from(format!("▶ {text}")).reversed()
        } else {
            Line::from(format!("  {text}"))
        }
    };
    lines.push(option(
        r.choice == RecoveryChoice::Rescue,
        "Rescue: open a read-only copy and pick files to copy back (recommended)".into(),
    ));
    lines.push(Line::from("    nothing live changes except the files you restore").dark_gray());
    lines.push(option(
        r.choice == RecoveryChoice::Rollback,
        format!("Rollback: put {noun} `{target}` back to the snapshot time"),
    ));
    lines.push(Line::from(format!("    {kept}")).dark_gray());
    lines.push(Line::from(""));
    if r.phase == RecoveryPhase::Running {
        lines.push(Line::from(format!("rolling back… {}", r.stage)).yellow());
    } else if let Some(Err(e)) = &r.outcome {
        lines.push(Line::from(format!("rollback refused: {e}")).red());
    } else if let (true, Some(Err(refusal))) = (r.phase == RecoveryPhase::Confirming, &r.refusal) {
        lines.push(Line::from(format!("Rollback is not possible now: {refusal}")).red());
        lines.push(Line::from(
            "f takes you to step 1 to stop them; leaving it comes back here.",
        ));
    } else if r.phase == RecoveryPhase::Confirming {
        if r.refusal.is_none() {
            lines.push(Line::from("checking what could stop the rollback…").dark_gray());
        }
        match &r.newer {
            None => lines.push(Line::from(
                "looking for what was written since the snapshot…",
            )),
            Some(Err(e)) => {
                lines.push(Line::from(format!("cannot tell what would be lost: {e}")).red())
            }
            Some(Ok(n)) => {
                lines.push(
                    Line::from(format!(
                        "Rollback sets aside {}, {}, written after the snapshot; newest:",
                        crate::engine::counted(n.count as usize, "file"),
                        human(n.bytes)
                    ))
                    .yellow(),
                );
                for (path, mtime) in n.newest.iter().take(5) {
                    let t = chrono::DateTime::<chrono::Utc>::from_timestamp(*mtime, 0)
                        .map(|t| t.format("%m-%d %H:%M:%S").to_string())
                        .unwrap_or_default();
                    lines.push(Line::from(format!("  {t}  {}", crate::engine::shown(path))));
                }
            }
        }
        lines.push(Line::from(how_kept));
        lines.push(
            Line::from(format!(
                "Type `{target}` and Enter to roll back, Esc to cancel: {}▏",
                r.typed
            ))
            .bold(),
        );
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title("Rescue or rollback")),
        area,
    );
}
