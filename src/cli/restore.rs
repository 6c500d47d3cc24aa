//! `restore` without a terminal: the recommended or named snapshot, the one restore path
//! the wizard uses too, and a report that counts by kind and says where each entry went.

use super::Outcome;
use super::listing_json::RestoreDoc;
use super::recover::{close_rescue, describe_rescue, open_chosen, rel_shown};
use crate::engine::diff::{EntryKind, EntryStatus, TreeDiff};
use crate::engine::restore::RestoreReport;
use crate::engine::restore_plan::ConflictPolicy;
use crate::sources::CloudOptions;
use humansize::{BINARY, format_size};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The smallest selection covering every deleted entry: deleted entries whose parent is not.
pub fn deleted_roots(tree: &TreeDiff) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    for e in tree.with_status(EntryStatus::Deleted) {
        if !roots
            .iter()
            .any(|r| e.path.starts_with(r) && !r.as_os_str().is_empty())
        {
            roots.push(e.path.clone());
        }
    }
    roots
}

/// "3 files, 1 directory and 2 links restored (…)": what came back, counted by kind.
fn restored_summary(report: &RestoreReport) -> String {
    let count = |kind: EntryKind| report.restored.iter().filter(|r| r.kind == kind).count();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = vec![plural(count(EntryKind::File), "file", "files")];
    let dirs = count(EntryKind::Dir);
    if dirs > 0 {
        parts.push(plural(dirs, "directory", "directories"));
    }
    let links = count(EntryKind::Symlink);
    if links > 0 {
        parts.push(plural(links, "link", "links"));
    }
    parts.join(", ")
}

pub fn restore(
    path: &Path,
    id: Option<&str>,
    cloud: &CloudOptions,
    only_deleted: bool,
    to: Option<&Path>,
    policy: ConflictPolicy,
    json: bool,
) -> anyhow::Result<Outcome<RestoreDoc>> {
    let (session, snapshot, opened, tree, watch) = open_chosen(path, id, cloud)?;
    let selection = if only_deleted {
        deleted_roots(&tree)
    } else {
        vec![PathBuf::new()]
    };
    let restored = if selection.is_empty() {
        Ok(None)
    } else {
        session
            .restore(&opened, &selection, to, policy, watch.cancel, &mut |_| {})
            .map(Some)
    };
    let rescue = close_rescue(opened, &watch);
    // The engine's advice names no flag (the wizard has none); here the flag is `--to`.
    let restored = restored.map_err(|e| match e {
        crate::session::SessionError::Plan(
            crate::engine::restore_plan::PlanError::NoSpace { .. }
            | crate::engine::restore_plan::PlanError::ReadOnly(_),
        ) => anyhow::anyhow!("{e} (--to DIR restores there)"),
        other => other.into(),
    });
    let (planned, report) = match restored? {
        Some((p, r)) => (Some(p), r),
        None => (None, RestoreReport::default()),
    };
    // With --json the text is not shown: 100,000 restored files are not formatted.
    let mut human = if json {
        String::new()
    } else {
        report_text(&report, &session, &selection, planned.as_ref())?
    };
    let removed = describe_rescue(&mut human, &rescue)?;
    Ok(Outcome {
        ok: report.failed.is_empty() && !report.cancelled && removed,
        json: RestoreDoc {
            report,
            snapshot: snapshot.id,
            rescue,
        },
        human,
    })
}

/// What a restore did, for people: where each entry went, what was skipped or failed, and
/// the count.
fn report_text(
    report: &RestoreReport,
    session: &crate::session::Session,
    selection: &[PathBuf],
    planned: Option<&crate::engine::restore_plan::RestorePlan>,
) -> anyhow::Result<String> {
    let mut human = String::new();
    for r in &report.restored {
        // Kept beside an existing entry: say where it went.
        let beside = match (r.path.file_name(), r.target.file_name()) {
            (Some(a), Some(b)) if a != b => format!(" → {}", crate::engine::shown(Path::new(b))),
            _ => String::new(),
        };
        writeln!(
            human,
            "restored {}{beside}",
            rel_shown(&r.path, &session.path)
        )?;
    }
    for s in &report.skipped {
        writeln!(
            human,
            "skipped  {}: {}",
            rel_shown(&s.path, &session.path),
            s.reason
        )?;
    }
    for f in &report.failed {
        writeln!(
            human,
            "FAILED   {}: {}",
            rel_shown(&f.path, &session.path),
            f.reason
        )?;
    }
    for point in &session.unmounted {
        writeln!(
            human,
            "unmounted {} (a read-only snapshot view an interrupted run had left)",
            crate::engine::shown(point)
        )?;
    }
    if !report.swept.is_empty() {
        writeln!(
            human,
            "removed {} an interrupted restore had left",
            crate::engine::counted(report.swept.len(), "temporary file")
        )?;
    }
    if selection.is_empty() {
        writeln!(
            human,
            "nothing under PATH is missing from the live tree; nothing to restore"
        )?;
    }
    let how = match planned {
        Some(p) if p.reflink => "reflinked or copied, verified",
        _ => "copied and verified",
    };
    if report.cancelled {
        writeln!(
            human,
            "CANCELLED: {} were complete and verified before the cancel ({}); \
             nothing partial was left; run the same command again to finish",
            restored_summary(report),
            format_size(report.bytes, BINARY),
        )?;
    } else {
        writeln!(
            human,
            "{} restored ({}, {how}), {} skipped, {} failed",
            restored_summary(report),
            format_size(report.bytes, BINARY),
            report.skipped.len(),
            report.failed.len()
        )?;
    }
    Ok(human)
}
