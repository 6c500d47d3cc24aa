//! Draws the model: a step bar, the current step's screen, a notice line and the keys.
//! One file per step; nothing here changes state.

mod columns;
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
    let hints = crate::wizard::keymap::footer(model);
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
        Overlay::Help => {
            let height = usize::from(frame.area().height).saturating_sub(2);
            let text = help_text(model, 70.min(usize::from(width).saturating_sub(2)), height);
            let rows = text.lines().count() as u16;
            popup(frame, "Help — any key closes", &text, 72, rows);
        }
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
    // `p` and `s` ask in a popup, seen wherever the finish screen is scrolled to.
    if model.step == Step::Finish
        && let Some(question) = model.finish.protection.question()
    {
        let text = format!("{question}\nEnter/y: yes   other: no");
        let width = 66.min(frame.area().width);
        let rows = text
            .lines()
            .map(|l| wrapped_rows(l, width.saturating_sub(2)))
            .sum();
        popup(frame, "Before the next run", &text, width, rows);
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

/// The help popup's text, wrapped to `width` with each key's text hanging beside its keys.
/// On a short terminal the keys come first: the screen's description is left out.
fn help_text(model: &Model, width: usize, height: usize) -> String {
    let (about, rows) = crate::wizard::keymap::help(model);
    let mut lines = Vec::new();
    for (keys, text) in rows {
        let indent = keys.chars().count() + 2;
        for (i, line) in word_wrap(&text, width.saturating_sub(indent).max(10))
            .into_iter()
            .enumerate()
        {
            let lead = if i == 0 {
                format!("{keys}  ")
            } else {
                " ".repeat(indent)
            };
            lines.push(format!("{lead}{line}"));
        }
    }
    let about = word_wrap(&about, width);
    if about.len() + 1 + lines.len() <= height {
        lines.splice(0..0, about.into_iter().chain([String::new()]));
    }
    lines.join("\n")
}

/// `text` broken into rows of at most `width` columns at spaces (a longer word has a row
/// of its own).
pub fn word_wrap(text: &str, width: usize) -> Vec<String> {
    let mut rows = vec![String::new()];
    for word in text.split_whitespace() {
        let row = rows.last_mut().expect("one row at least");
        if row.is_empty() {
            row.push_str(word);
        } else if row.chars().count() + 1 + word.chars().count() <= width {
            row.push(' ');
            row.push_str(word);
        } else {
            rows.push(word.to_string());
        }
    }
    rows
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
