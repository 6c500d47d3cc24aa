//! `snapshots`, `deleted`, `restore` and `rollback` without a terminal.

use super::Outcome;
use super::listing_json::DeletedDoc;
use crate::engine::diff::{EntryKind, EntryStatus};
use crate::engine::path_json;
use crate::session::Session;
use crate::sources::CloudOptions;
use humansize::{BINARY, format_size};
use serde_json::{Value, json};
use std::fmt::Write;
use std::path::Path;

pub fn snapshots(path: &Path, cloud: &CloudOptions) -> anyhow::Result<Outcome> {
    let mut session = Session::open(path, cloud)?;
    let lost = session.look_inside();
    let mut human = format!("{}\n", session.describe());
    match session.deleted_at {
        Some(t) => writeln!(human, "deletion estimated at {}", t.to_rfc3339())?,
        None => writeln!(human, "deletion time unknown")?,
    }
    let mut rows = Vec::new();
    for (i, s) in session.snapshots.iter().enumerate() {
        let recommended = session.recommended == Some(i);
        let mut row = serde_json::to_value(s)?;
        row["recommended"] = json!(recommended);
        row["created"] = json!(s.created.map(|t| t.to_rfc3339()));
        let holds = match lost.get(&s.id) {
            Some(Ok(l)) => {
                row["lost_entries"] = json!(l.entries);
                row["lost_bytes"] = json!(l.bytes);
                format!(
                    "holds {} lost ({})",
                    l.entries,
                    format_size(l.bytes, BINARY)
                )
            }
            Some(Err(e)) => {
                row["lost_error"] = json!(e);
                "unreadable".into()
            }
            None if s.cloud.is_some() => "not looked into (cloud)".into(),
            None => "not looked into".into(),
        };
        if recommended {
            row["recommend_reason"] = json!(session.recommend_reason);
        }
        rows.push(row);
        let risk = s
            .retention
            .risk_text(chrono::Utc::now())
            .map(|r| format!("  [{r}]"))
            .or_else(|| s.retention.pinned.then(|| "  [pinned]".to_string()))
            .unwrap_or_default();
        writeln!(
            human,
            "{} {:>6}  {:<23}  {:<28}  {}{risk}",
            if recommended { "*" } else { " " },
            s.id,
            s.created_text("%Y-%m-%d %H:%M:%S UTC"),
            holds,
            s.name
        )?;
    }
    if session.snapshots.is_empty() {
        writeln!(human, "no read-only snapshots of this subvolume were found")?;
    } else {
        let mark = if session.recommended.is_some() {
            "* = recommended: "
        } else {
            "no recommendation: "
        };
        writeln!(human, "{mark}{}", session.recommend_reason)?;
    }
    Ok(Outcome {
        json: json!({
            "path": path_json(&session.path),
            "source": session.describe(),
            "deleted_at": session.deleted_at.map(|t| t.to_rfc3339()),
            "recommend_reason": session.recommend_reason,
            "snapshots": rows,
        }),
        human,
        ok: true,
    })
}

/// Removes the cloud rescue disk behind `opened`, if there is one, and says how that went.
pub(super) fn close_rescue(
    mut opened: crate::sources::OpenedSnapshot,
    watch: &crate::rescue::Watch,
) -> Option<Value> {
    let disk = opened.rescue.take()?;
    let mut doc = json!({
        "disk": disk.disk_id(),
        "run": disk.run_id(),
        "unreplayed_writes": disk.unreplayed_writes(),
    });
    drop(opened);
    match disk.close(watch) {
        Ok(()) => doc["removed"] = json!(true),
        Err(e) => {
            doc["removed"] = json!(false);
            doc["error"] = json!(e.to_string());
        }
    }
    Some(doc)
}

/// Says what became of the rescue disk and what its mount could not show; true when it
/// was removed (or there was none).
pub(super) fn describe_rescue(human: &mut String, rescue: &Option<Value>) -> anyhow::Result<bool> {
    let Some(r) = rescue else {
        return Ok(true);
    };
    let removed = r["removed"] == true;
    if let Some(caveat) = r["unreplayed_writes"].as_str() {
        writeln!(human, "warning: {caveat}")?;
    }
    writeln!(
        human,
        "rescue disk {}: {}",
        r["disk"].as_str().unwrap_or("-"),
        if removed {
            "detached and deleted"
        } else {
            "NOT removed: run `snaprescue cleanup`"
        }
    )?;
    Ok(removed)
}

/// The snapshot named by `--snapshot`, else the recommended one (looked inside first, as
/// `snapshots` does), and the line that says which was used.
fn chosen_snapshot(
    session: &mut Session,
    id: Option<&str>,
) -> anyhow::Result<(crate::sources::Snapshot, Option<String>)> {
    if let Some(id) = id {
        return Ok((session.snapshot(id)?.clone(), None));
    }
    session.look_inside();
    let Some(index) = session.recommended else {
        anyhow::bail!(
            "no snapshot is recommended for {} ({}); name one with --snapshot ID \
             (`snaprescue snapshots PATH` lists them)",
            crate::engine::shown(&session.path),
            session.recommend_reason
        );
    };
    let snapshot = session.snapshots[index].clone();
    let line = format!(
        "using the recommended snapshot {} ({}): {}",
        snapshot.id, snapshot.name, session.recommend_reason
    );
    Ok((snapshot, Some(line)))
}

/// The session on PATH, the named or recommended snapshot (said on stderr when chosen for
/// the user), opened and compared with the live tree: what `deleted` and `restore` share.
pub(super) fn open_chosen(
    path: &Path,
    id: Option<&str>,
    cloud: &CloudOptions,
) -> anyhow::Result<(
    Session,
    crate::sources::Snapshot,
    crate::sources::OpenedSnapshot,
    crate::engine::diff::TreeDiff,
    crate::rescue::Watch<'static>,
)> {
    let mut session = Session::open(path, cloud)?;
    let (snapshot, using) = chosen_snapshot(&mut session, id)?;
    if let Some(line) = &using {
        eprintln!("snaprescue: {}", super::usage::for_terminal(line));
    }
    let watch = super::cloud_runs::interruptible();
    let (opened, tree) = session.open_and_diff(&snapshot, &watch, &Default::default())?;
    Ok((session, snapshot, opened, tree, watch))
}

/// `deleted`; only the form asked for (`json`) is built: a listing of 200,000 entries
/// costs its formatting twice otherwise.
pub fn deleted(
    path: &Path,
    id: Option<&str>,
    cloud: &CloudOptions,
    json: bool,
) -> anyhow::Result<Outcome<DeletedDoc>> {
    let (session, snapshot, opened, tree, watch) = open_chosen(path, id, cloud)?;
    let rescue = close_rescue(opened, &watch);
    let lost = tree.lost();
    let mut human = String::new();
    for e in tree
        .with_status(EntryStatus::Deleted)
        .chain(tree.with_status(EntryStatus::Changed))
        .filter(|_| !json)
    {
        let mark = if e.status == EntryStatus::Deleted {
            "deleted"
        } else {
            "changed"
        };
        let size = if e.kind == EntryKind::Dir {
            "dir".into()
        } else {
            format_size(e.size, BINARY)
        };
        writeln!(
            human,
            "{mark:8} {size:>10}  {}",
            rel_shown(&e.path, &session.path)
        )?;
    }
    writeln!(
        human,
        "{} lost entries, {} in snapshot {}",
        lost.entries,
        format_size(lost.bytes, BINARY),
        snapshot.id
    )?;
    let removed = describe_rescue(&mut human, &rescue)?;
    Ok(Outcome {
        json: DeletedDoc {
            path: session.path.clone(),
            snapshot: snapshot.id,
            tree,
            lost,
            rescue,
        },
        human,
        ok: removed,
    })
}

/// PATH-relative `rel` for people: PATH's own name when `rel` is PATH itself.
pub(super) use crate::engine::rel_shown;

pub fn rollback(
    path: &Path,
    id: &str,
    confirm: Option<&str>,
    keep_guard: bool,
    cloud: &CloudOptions,
) -> anyhow::Result<Outcome> {
    let session = Session::open(path, cloud)?;
    let snapshot = session.snapshot(id)?.clone();
    let source = session.source_of(&snapshot)?;
    let Some(confirm) = confirm else {
        let steps = source.rollback_plan(&snapshot, keep_guard)?;
        // The same words the wizard's step 4 shows for this rollback; with --no-guard the
        // current state is not kept, whatever the source's usual words say.
        let what_happens = if keep_guard {
            source.rollback_words().how_kept
        } else {
            format!(
                "With --no-guard the current state of `{}` is not kept: this cannot be undone.",
                source.rollback_target()
            )
        };
        let mut human = format!(
            "dry run: rolling {} back to {} would:\n{what_happens}\n",
            source.rollback_target(),
            snapshot.id
        );
        for (i, step) in steps.iter().enumerate() {
            writeln!(human, "  {}. {step}", i + 1)?;
        }
        writeln!(
            human,
            "everything written since {} would be gone from it ({}); confirm with --confirm {}",
            snapshot.created_text("%Y-%m-%dT%H:%M:%S%:z"),
            source.rollback_words().kept,
            source.rollback_target()
        )?;
        return Ok(Outcome {
            json: json!({
                "dry_run": true,
                "target": source.rollback_target(),
                "snapshot": snapshot.id,
                "steps": steps,
                "what_happens": what_happens,
            }),
            human,
            ok: true,
        });
    };
    let watch = super::cloud_runs::interruptible();
    let outcome = source.rollback(&snapshot, confirm, keep_guard, &watch)?;
    let mut human = format!(
        "rolled back {} to snapshot {}\nprevious state kept at: {}\nto undo: {}\n",
        outcome.replaced.display(),
        snapshot.id,
        outcome
            .guard
            .as_ref()
            .map(|g| g.display().to_string())
            .unwrap_or_else(|| "(not kept)".into()),
        outcome.undo
    );
    for note in &outcome.notes {
        human.push_str(&format!("note: {note}\n"));
    }
    Ok(Outcome {
        json: serde_json::to_value(&outcome)?,
        human,
        ok: true,
    })
}
