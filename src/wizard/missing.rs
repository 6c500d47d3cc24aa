//! What is still missing at the end of a run, for the finish screen, the report and the
//! summary printed on exit: every lost entry of the chosen snapshot's comparison that did
//! not come back (and which snapshot holds it), and deleted files that only a process's open
//! handle held (in no snapshot), saved or not.

use super::model::Model;
use crate::engine::diff::{EntryKind, EntryStatus};
use std::collections::HashSet;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// Relative to PATH for snapshot entries; absolute for deleted-open files.
    pub path: PathBuf,
    /// Where it still is: "in snapshot 259", or "in no snapshot; …".
    pub where_: String,
}

/// Every lost entry that did not come back, in tree order, then the open-file ones.
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
                });
            }
        }
    }
    let saved: Vec<_> = model
        .writers
        .last_harvest
        .iter()
        .flat_map(|h| h.saved.iter())
        .collect();
    for p in &model.writers.processes {
        for d in &p.deleted_open {
            let back = model
                .finish
                .copied_back
                .iter()
                .any(|(o, r)| o == &d.path && r.is_ok());
            if !d.path.starts_with(&model.path) || in_tree.contains(&d.path) || back {
                continue;
            }
            let where_ = match saved.iter().find(|s| s.handle == d.handle) {
                Some(s) => format!(
                    "in no snapshot; saved from pid {}'s open file to {}{}",
                    p.pid,
                    crate::engine::shown(&s.saved_to),
                    if s.saved_to.starts_with("/dev/shm") {
                        " (RAM: a reboot loses it; b copies it back into place)"
                    } else {
                        ""
                    }
                ),
                None => format!(
                    "in no snapshot; only in pid {}'s open file (step 1: h saves it)",
                    p.pid
                ),
            };
            out.push(Missing {
                // Named like the snapshot's entries: relative to PATH.
                path: d
                    .path
                    .strip_prefix(&model.path)
                    .map(|p| p.to_path_buf())
                    .unwrap_or_else(|_| d.path.clone()),
                where_,
            });
        }
    }
    out
}
