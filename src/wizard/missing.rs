//! What is still missing at the end of a run, for the finish screen, the report and the
//! summary printed on exit: every lost entry of the chosen snapshot's comparison that did
//! not come back (and which snapshot holds it), and deleted files that only a process's open
//! handle held (in no snapshot), saved or not.

use super::model::Model;
use crate::engine::diff::{EntryKind, EntryStatus};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// Relative to PATH when below it.
    pub path: PathBuf,
    /// Where it still is: "in snapshot 259", or "in no snapshot; …".
    pub where_: String,
    /// What to do about it in the wizard (a key), if anything.
    pub in_wizard: Option<String>,
    /// The same at the shell, once the wizard has closed.
    pub at_shell: Option<String>,
}

/// Every lost entry that did not come back, in tree order, then the ones only a process's
/// open file held (saved by a harvest or not).
pub fn still_missing(model: &Model) -> Vec<Missing> {
    let mut out = Vec::new();
    let rolled_back = matches!(model.recovery.outcome, Some(Ok(_)));
    let restored: HashSet<&PathBuf> = model
        .restore
        .report
        .iter()
        .flat_map(|r| r.restored.iter().map(|x| &x.path))
        .collect();
    let mut in_tree: HashSet<PathBuf> = HashSet::new();
    if let Some(p) = &model.picker {
        for e in &p.entries {
            in_tree.insert(model.path.join(&e.path));
            let lost = e.status == EntryStatus::Deleted && e.kind != EntryKind::Dir;
            if lost && !rolled_back && !restored.contains(&e.path) {
                out.push(Missing {
                    path: e.path.clone(),
                    where_: format!("in snapshot {}", p.snapshot_id),
                    in_wizard: None,
                    at_shell: Some(format!(
                        "snaprescue restore {} --snapshot {}",
                        crate::engine::shown(&model.path),
                        p.snapshot_id
                    )),
                });
            }
        }
    }
    let relative = |p: &Path| {
        p.strip_prefix(&model.path)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| p.to_path_buf())
    };
    // Saved from an open handle (the process may be gone since): the copy is where it is.
    let saved: Vec<_> = model
        .writers
        .last_harvest
        .iter()
        .flat_map(|h| h.saved.iter())
        .filter(|s| s.original.starts_with(&model.path) && !in_tree.contains(&s.original))
        .filter(|s| !model.finish.is_back(&s.original))
        .collect();
    for s in &saved {
        let ram = s.saved_to.starts_with("/dev/shm");
        out.push(Missing {
            path: relative(&s.original),
            where_: format!(
                "in no snapshot; saved from pid {}'s open file to {}{}",
                s.pid,
                crate::engine::shown(&s.saved_to),
                if ram { " (RAM: a reboot loses it)" } else { "" }
            ),
            in_wizard: Some("b copies it back into place".into()),
            at_shell: Some(format!(
                "cp -n --preserve=all {} {}",
                crate::engine::shown(&s.saved_to),
                crate::engine::shown(&s.original)
            )),
        });
    }
    for p in &model.writers.processes {
        for d in &p.deleted_open {
            let done = saved
                .iter()
                .any(|s| s.handle == d.handle || s.original == d.path);
            if !d.path.starts_with(&model.path)
                || in_tree.contains(&d.path)
                || model.finish.is_back(&d.path)
                || done
            {
                continue;
            }
            out.push(Missing {
                path: relative(&d.path),
                where_: format!("in no snapshot; only in pid {}'s open file", p.pid),
                in_wizard: Some("step 1: h saves it".into()),
                at_shell: Some(format!(
                    "snaprescue writers {} --rescue-open /dev/shm/snaprescue-harvest",
                    crate::engine::shown(&model.path)
                )),
            });
        }
    }
    out
}
