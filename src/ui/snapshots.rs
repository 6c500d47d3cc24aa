//! Step 3: the snapshot timeline with the deletion estimate and the recommendation; a row a
//! policy may delete says so on a second line across the table ("deleted by policy in 5 h",
//! "subject to snapper cleanup"), in the warning colour, so it fits any width.

use super::columns::{cut, fit};
use super::human;
use crate::wizard::Model;
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table};

/// One line: snapshots as `|` and the deletion as `X`, oldest left (the recommended one is
/// marked ★ in the table, not here: one marker style); a snapshot whose time is unknown has
/// no place on it.
pub fn timeline(
    created: &[Option<DateTime<Utc>>],
    deleted_at: Option<DateTime<Utc>>,
    width: usize,
) -> String {
    let mut times: Vec<i64> = created.iter().flatten().map(|t| t.timestamp()).collect();
    times.extend(deleted_at.map(|t| t.timestamp()));
    let (Some(&lo), Some(&hi)) = (times.iter().min(), times.iter().max()) else {
        return String::new();
    };
    let span = (hi - lo).max(1) as f64;
    let pos =
        |t: i64| (((t - lo) as f64 / span) * (width.saturating_sub(1)) as f64).round() as usize;
    let mut line: Vec<char> = vec!['─'; width];
    for t in created.iter().flatten() {
        line[pos(t.timestamp())] = '|';
    }
    if let Some(t) = deleted_at {
        line[pos(t.timestamp())] = 'X';
    }
    line.into_iter().collect()
}

/// The dates at both ends of the timeline, under it: oldest left, newest right.
pub fn timeline_ends(
    created: &[Option<DateTime<Utc>>],
    deleted_at: Option<DateTime<Utc>>,
    width: usize,
) -> String {
    let mut times: Vec<DateTime<Utc>> = created.iter().flatten().copied().collect();
    times.extend(deleted_at);
    let (Some(lo), Some(hi)) = (times.iter().min(), times.iter().max()) else {
        return String::new();
    };
    // Seconds apart (a drill, a quick succession of snapshots): show the seconds.
    let format = if (*hi - *lo).num_seconds() < 3600 {
        "%m-%d %H:%M:%S"
    } else {
        "%m-%d %H:%M"
    };
    let (left, right) = (lo.format(format).to_string(), hi.format(format).to_string());
    let gap = width.saturating_sub(left.len() + right.len()).max(1);
    format!("{left}{}{right}", " ".repeat(gap))
}

pub fn draw(frame: &mut Frame, area: Rect, model: &Model) {
    let s = &model.snapshots;
    let Some(listing) = &s.listing else {
        let text = match &s.error {
            Some(e) => Line::from(e.clone()).red(),
            None => Line::from("looking for snapshots…"),
        };
        frame.render_widget(
            Paragraph::new(text)
                .wrap(ratatui::widgets::Wrap { trim: true })
                .block(Block::bordered().title("Snapshots")),
            area,
        );
        return;
    };
    let [head, table] = Layout::vertical([Constraint::Length(7), Constraint::Min(3)]).areas(area);
    let deleted = listing
        .deleted_at
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "unknown".into());
    let created: Vec<_> = listing.snapshots.iter().rev().map(|x| x.created).collect();
    let width = (head.width as usize).saturating_sub(12).clamp(10, 60);
    let counting = if listing.counting(&s.lost) {
        " (still counting what the local snapshots hold…)"
    } else {
        ""
    };
    let recommendation = match listing.recommended {
        Some(_) => format!("★ {}{counting}", listing.recommend_reason),
        None => format!("no ★: {}{counting}", listing.recommend_reason),
    };
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(listing.source.clone()).bold(),
            Line::from(format!(
                "deleted at about {deleted} (X; its folder's mtime)"
            )),
            Line::from(format!(
                "timeline  {}",
                timeline(&created, listing.deleted_at, width)
            )),
            Line::from(format!(
                "          {}",
                timeline_ends(&created, listing.deleted_at, width)
            ))
            .dark_gray(),
            Line::from(recommendation).dark_gray(),
        ])
        .wrap(ratatui::widgets::Wrap { trim: false }),
        head,
    );
    if listing.snapshots.is_empty() {
        frame.render_widget(Paragraph::new("No read-only snapshot of this subvolume exists, so there is nothing to restore from here.").red(), table);
        return;
    }
    let now = Utc::now();
    let risks: Vec<Option<String>> = listing
        .snapshots
        .iter()
        .map(|snap| snap.retention.risk_text(now))
        .collect();
    let mut cells: Vec<[String; 5]> = listing
        .snapshots
        .iter()
        .enumerate()
        .map(|(i, snap)| {
            let lost = match (&snap.cloud, s.lost.get(&snap.id)) {
                // Looking inside a cloud snapshot needs a disk made from it: show its facts.
                (Some(c), _) => format!("{} GiB disk, {}", c.size_gib, c.progress),
                (None, None) if listing.worth_counting(i, snap) => "counting…".to_string(),
                (None, None) => "—".to_string(),
                (None, Some(Ok(l))) => format!(
                    "{}, {}",
                    crate::engine::counted(l.entries as usize, "file"),
                    human(l.bytes)
                ),
                (None, Some(Err(e))) => format!("unreadable: {e}"),
            };
            let mark = if listing.recommended == Some(i) {
                "★"
            } else {
                ""
            };
            let name = if snap.source == "btrfs" {
                snap.name.clone()
            } else {
                format!("[{}] {}", snap.source, snap.name)
            };
            [
                mark.to_string(),
                snap.id.clone(),
                snap.created_text("%m-%d %H:%M:%S"),
                cut(&lost, 24),
                name,
            ]
        })
        .collect();
    // The id is what the CLI takes: shown whole; the name gets the rest, cut with `…`.
    let header = ["", "ID", "CREATED (UTC)", "WOULD BRING BACK", "NAME"];
    let widths = fit(
        header,
        [1, 0, 0, 16, 0],
        &mut cells,
        usize::from(table.width.saturating_sub(2)),
    )
    .map(Constraint::Length);
    let rows = cells.into_iter().enumerate().map(|(i, c)| {
        let row = match risks[i] {
            Some(_) => Row::new(c.to_vec()).height(2).yellow(),
            None => Row::new(c.to_vec()),
        };
        if i == s.selected {
            row.style(Style::new().add_modifier(Modifier::REVERSED))
        } else {
            row
        }
    });
    let header = Row::new(header.to_vec()).bold();
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(Block::bordered()),
        table,
    );
    // The second line of each row at risk, across the whole table.
    let mut y = table.y + 2;
    for risk in &risks {
        let height = if risk.is_some() { 2 } else { 1 };
        if let Some(text) = risk
            && y + 1 < table.bottom().saturating_sub(1)
        {
            let line = Rect::new(table.x + 1, y + 1, table.width.saturating_sub(2), 1);
            frame.render_widget(Paragraph::new(format!("  ↳ {text}")).yellow(), line);
        }
        y += height;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timeline_places_deletion_after_snapshots() {
        let t = |h| Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap();
        assert_eq!(
            timeline(&[Some(t(0)), Some(t(5))], Some(t(10)), 11),
            "|────|────X"
        );
    }

    #[test]
    fn both_ends_of_the_timeline_carry_their_dates() {
        let t = |h| Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap();
        assert_eq!(
            timeline_ends(&[Some(t(0)), Some(t(5))], Some(t(10)), 30),
            "01-01 00:00        01-01 10:00"
        );
    }

    #[test]
    fn a_snapshot_of_unknown_time_has_no_place_on_the_timeline() {
        let t = |h| Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap();
        assert_eq!(
            timeline(&[Some(t(0)), None, Some(t(5))], Some(t(10)), 11),
            "|────|────X"
        );
    }
}
