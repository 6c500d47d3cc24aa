//! Draws the model: a step bar, the current step's screen, a notice line and the keys.
//! One file per step; nothing here changes state.

mod finish;
mod gpu;
mod picker;
mod recovery;
mod snapshots;
mod writers;

use crate::wizard::{Model, Overlay, Step};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

pub use writers::gpu_use;

pub fn human(bytes: u64) -> String {
    humansize::format_size(bytes, humansize::BINARY)
}

pub fn draw(frame: &mut Frame, model: &Model) {
    let hints = match model.step {
        Step::Writers => writers::keys(model),
        Step::Gpu => gpu::KEYS,
        Step::Snapshots => snapshots::KEYS,
        Step::Recovery => recovery::keys(model),
        Step::Restore => picker::keys(model),
        Step::Finish => finish::keys(model),
    };
    // While a name is typed, q and ? are text: the footer does not offer them.
    let hints = if model.typing() {
        hints.to_string()
    } else {
        format!("{hints} ?:help q:quit")
    };
    // On a narrow terminal the key hints wrap rather than lose `?:help q:quit` at the end,
    // and a long notice (an error from the kernel) wraps rather than being cut.
    let width = frame.area().width;
    let hint_rows = wrapped_rows(&hints, width).min(3);
    let notice_rows = model
        .notice
        .as_deref()
        .map_or(1, |n| wrapped_rows(n, width).min(3));
    let [bar, body, notice, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(notice_rows),
        Constraint::Length(hint_rows),
    ])
    .areas(frame.area());
    frame.render_widget(step_bar(model, width), bar);
    match model.step {
        Step::Writers => writers::draw(frame, body, model),
        Step::Gpu => gpu::draw(frame, body, model),
        Step::Snapshots => snapshots::draw(frame, body, model),
        Step::Recovery => recovery::draw(frame, body, model),
        Step::Restore => picker::draw(frame, body, model),
        Step::Finish => finish::draw(frame, body, model),
    }
    if let Some(text) = &model.notice {
        frame.render_widget(
            Paragraph::new(text.as_str())
                .yellow()
                .wrap(Wrap { trim: true }),
            notice,
        );
    }
    frame.render_widget(
        Paragraph::new(hints)
            .dark_gray()
            .wrap(ratatui::widgets::Wrap { trim: true }),
        keys,
    );
    match model.overlay {
        Overlay::Help => popup(frame, "Help", &help(model), 72, 9),
        Overlay::QuitConfirm => popup(
            frame,
            "Quit?",
            "Work is still running.\nQuit and cancel it? (y/n)\nA cancelled restore leaves no partial file.",
            50,
            5,
        ),
        Overlay::AtRisk(leaving) => {
            let files = model.files_at_risk(leaving == crate::wizard::Leaving::NextStep);
            let mut text = String::from(
                "Deleted, and still only in a process's open file: its data is lost when the \
                 process closes or ends.\n",
            );
            for f in files.iter().take(4) {
                text.push_str(&format!(
                    "  {}\n",
                    elide_middle(&crate::engine::shown(f), 60)
                ));
            }
            if files.len() > 4 {
                text.push_str(&format!("  and {} more\n", files.len() - 4));
            }
            text.push_str(match leaving {
                crate::wizard::Leaving::NextStep => {
                    "h: save them first   y: go on anyway   other: stay"
                }
                crate::wizard::Leaving::Quit => "h: save them first   y: quit anyway   other: stay",
            });
            let rows = 4 + files.len().min(5) as u16;
            popup(frame, "Not saved yet", &text, 66, rows);
        }
        Overlay::None => {}
    }
}

fn step_bar(model: &Model, width: u16) -> Line<'static> {
    // Too narrow for every title: only the current step keeps its name.
    let full: usize = Step::ALL
        .iter()
        .map(|s| s.title().chars().count() + 5)
        .sum::<usize>()
        - 3;
    let compact = usize::from(width) < full;
    let mut spans = Vec::new();
    for (i, step) in Step::ALL.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" › ").dark_gray());
        }
        let label = if compact && *step != model.step {
            format!("{}", i + 1)
        } else {
            format!("{} {}", i + 1, step.title())
        };
        let style = if *step == model.step {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else if step.index() < model.step.index() {
            Style::new().fg(Color::Green)
        } else {
            Style::new().fg(Color::DarkGray)
        };
        spans.push(Span::styled(label, style));
    }
    Line::from(spans)
}

/// Help for the screen in front of the user: its own keys first, then the common ones.
fn help(model: &Model) -> String {
    let step = match model.step {
        Step::Writers => {
            "Stop the writers: f freezes the selected process, P its tree, F all that write; \
             t/T thaw; h saves deleted-but-open files to another disk; K terminates (after h); \
             R remounts the filesystem read-only."
        }
        Step::Gpu => "GPU and processes: r refreshes.",
        Step::Snapshots => {
            "Pick a snapshot: ↑↓ choose, Enter uses it. ★ holds the most lost files (cloud: \
             the newest before the deletion, X on the timeline)."
        }
        Step::Recovery => {
            "Rescue browses a read-only copy (nothing live changes but what you restore). \
             Rollback replaces the whole subvolume after you type its name; the current one \
             is kept read-only."
        }
        Step::Restore => {
            "→/l open, ←/h close, space select, a all deleted, d deleted-only filter, / search \
             (Enter keeps it, Esc clears it), Enter restores, c (when asked) keep both or \
             skip, x cancels a running restore."
        }
        Step::Finish => {
            "↑↓ scroll, b copies harvested files back, t thaws frozen processes, Enter quits, \
             Esc goes back to the picker (compared again)."
        }
    };
    format!(
        "{step}\n\n\
         Everywhere: ↑/↓ or j/k, PgUp/PgDn, g/G move; Enter next; Esc back; ? help; q quit \
         (asks first while work runs or files are unsaved). Nothing is overwritten: \
         conflicts are skipped or kept beside.\n\
         Press any key to close."
    )
}

/// A centred box with text.
pub fn popup(frame: &mut Frame, title: &str, text: &str, width: u16, height: u16) {
    let area = frame.area();
    let w = width.min(area.width);
    let h = (height + 2).min(area.height);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(text.to_string())
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(title.to_string())),
        rect,
    );
}

/// Rows `text` takes when word-wrapped to `width` columns (as `Wrap { trim: true }` does).
pub fn wrapped_rows(text: &str, width: u16) -> u16 {
    let width = usize::from(width.max(1));
    let mut rows = 1u16;
    let mut used = 0usize;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        let need = if used == 0 { len } else { used + 1 + len };
        if need <= width {
            used = need;
            continue;
        }
        if used != 0 {
            rows += 1;
        }
        // A word longer than the row is broken over as many rows as it fills.
        rows += ((len - 1) / width) as u16;
        used = (len - 1) % width + 1;
    }
    rows
}

/// `path` shortened in the middle to fit `width` columns, keeping its first component and
/// as many of its last ones as fit: `/var/…/resnet50-finetune/checkpoints`.
pub fn elide_middle(path: &str, width: usize) -> String {
    if path.chars().count() <= width {
        return path.to_string();
    }
    let parts: Vec<&str> = path.split('/').collect();
    let head = if path.starts_with('/') {
        format!("/{}/…", parts.get(1).copied().unwrap_or(""))
    } else {
        format!("{}/…", parts[0])
    };
    let mut tail = String::new();
    for part in parts.iter().skip(2).rev() {
        let candidate = format!("/{part}{tail}");
        if head.chars().count() + candidate.chars().count() > width {
            break;
        }
        tail = candidate;
    }
    if tail.is_empty() {
        // Not even the last component fits: keep its end.
        let last = parts.last().copied().unwrap_or("");
        let keep = width.saturating_sub(1);
        let chars: Vec<char> = last.chars().collect();
        return format!(
            "…{}",
            chars[chars.len().saturating_sub(keep)..]
                .iter()
                .collect::<String>()
        );
    }
    format!("{head}{tail}")
}

/// The top-left `height` rows window that keeps `cursor` visible (page by page).
pub fn window(cursor: usize, height: usize) -> usize {
    cursor.checked_div(height).map_or(0, |page| page * height)
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_paths_are_elided_in_the_middle() {
        let p = "/var/lib/training/experiments/resnet50-finetune/checkpoints";
        assert_eq!(super::elide_middle(p, 80), p);
        assert_eq!(
            super::elide_middle(p, 40),
            "/var/…/resnet50-finetune/checkpoints"
        );
        assert_eq!(super::elide_middle(p, 12), "…checkpoints");
    }

    #[test]
    fn wrapped_rows_counts_words_that_do_not_fit() {
        assert_eq!(super::wrapped_rows("", 10), 1);
        assert_eq!(super::wrapped_rows("aaa bbb", 7), 1);
        assert_eq!(super::wrapped_rows("aaa bbb ccc", 7), 2);
        assert_eq!(super::wrapped_rows("aaaaaaaaaa", 4), 3);
        assert_eq!(super::wrapped_rows("ab aaaaaaaaaa", 4), 4);
    }
}
