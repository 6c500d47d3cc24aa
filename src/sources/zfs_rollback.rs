//! ZFS rollback as a roll-forward: `zfs rollback` reaches only the newest snapshot and `-r`
//! destroys every later one, and clone/promote/rename loses local properties, children and
//! the snapshot lineage; so snaprescue takes a held guard snapshot of the current state and
//! makes the live content equal to the chosen snapshot through the restore engine. The
//! dataset, its properties, children and every snapshot stay. Refusals are decided before
//! anything changes and shared with the dry run; every step is journaled.

use super::zfs::ZfsSource;
use super::zfs_cli;
use super::{RollbackOutcome, Snapshot, SnapshotSource, SourceError, check_confirmation};
use crate::engine::roll_forward::{RollForwardPlan, plan_roll_forward};
use crate::rescue::journal::{RunHeader, journaled};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The journal kind of a roll-forward.
pub const KIND: &str = "rollback-zfs";

/// Names skipped at the top of the dataset: OpenZFS's snapshot directory when visible.
pub const SKIPPED: &[&str] = &[".zfs"];

/// Everything that refuses a roll-forward, before anything changes: the dataset's root must
/// be mounted here, writable, not the root filesystem, and unused by other processes.
pub(super) fn refusals(source: &ZfsSource) -> Result<PathBuf, SourceError> {
    let Some(live) = source.root.clone() else {
        return Err(SourceError::Refused(format!(
            "the root of dataset {} is not mounted here (only a part of it is); mount it, or \
             restore the files instead (snaprescue restore)",
            source.dataset
        )));
    };
    if live == Path::new("/") {
        return Err(SourceError::Refused(format!(
            "{} is the root filesystem: its content cannot be replaced while the system runs \
             from it; restore the files instead (snaprescue restore)",
            source.dataset
        )));
    }
    if zfs_cli::property(&source.dataset, "readonly")? == "on" {
        return Err(SourceError::Refused(format!(
            "dataset {} is read-only (readonly=on): nothing can be rolled forward in it",
            source.dataset
        )));
    }
    let device = crate::ports::fs_meta::device_of(&live)
        .map_err(SourceError::io(format!("cannot stat {}", live.display())))?;
    super::btrfs_rollback_plan::users_refusal(device, &live)?;
    Ok(live)
}

fn listed(paths: &[PathBuf]) -> String {
    let mut shown: Vec<String> = paths
        .iter()
        .take(5)
        .map(|p| crate::engine::shown(p))
        .collect();
    if paths.len() > 5 {
        shown.push(format!("… {} more", paths.len() - 5));
    }
    shown.join(", ")
}

/// The dry run: the same refusals, then what would be removed, replaced and restored.
pub fn plan(
    source: &ZfsSource,
    snapshot: &Snapshot,
    keep_guard: bool,
) -> Result<Vec<String>, SourceError> {
    let live = refusals(source)?;
    let opened = source.open(snapshot, &crate::rescue::quiet_watch())?;
    let planned = compare(&opened.root, &live)?;
    let ds = &source.dataset;
    let mut steps = vec![
        format!(
            "refuse if processes still use dataset {ds} ({})",
            live.display()
        ),
        if keep_guard {
            format!(
                "take the snapshot {ds}@snaprescue-guard-<time> of the current state and hold it (zfs hold {})",
                zfs_cli::HOLD_TAG
            )
        } else {
            format!(
                "take the snapshot {ds}@snaprescue-guard-<time>, and destroy it at the end (--no-guard)"
            )
        },
    ];
    let counted = |n: usize| format!("{n} {}", if n == 1 { "entry" } else { "entries" });
    steps.push(format!(
        "remove {} written since the snapshot (kept in the guard){}",
        counted(planned.remove.len()),
        colon(&planned.remove)
    ));
    steps.push(format!(
        "replace {} changed since with the snapshot's{}",
        counted(planned.replace.len()),
        colon(&planned.replace)
    ));
    steps.push(format!(
        "restore {} missing from the live tree, verified{}",
        counted(planned.restore.len()),
        colon(&planned.restore)
    ));
    if !planned.boundaries.is_empty() {
        steps.push(format!(
            "leave the child datasets mounted inside alone: {}",
            listed(&planned.boundaries)
        ));
    }
    steps.push(format!(
        "keep dataset {ds}, its properties, its children and every snapshot, also those after \
         {} (no `zfs rollback -r`, which would destroy them)",
        snapshot.id
    ));
    Ok(steps)
}

fn colon(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        String::new()
    } else {
        format!(": {}", listed(paths))
    }
}

fn compare(snapshot_root: &Path, live: &Path) -> Result<RollForwardPlan, SourceError> {
    plan_roll_forward(snapshot_root, live, SKIPPED).map_err(|e| {
        SourceError::Refused(format!(
            "cannot compare the snapshot and the live tree: {e}"
        ))
    })
}

pub fn rollback(
    source: &ZfsSource,
    snapshot: &Snapshot,
    confirm: &str,
    keep_guard: bool,
    watch: &crate::rescue::Watch,
) -> Result<RollbackOutcome, SourceError> {
    check_confirmation(confirm, &source.dataset, "dataset")?;
    let live = refusals(source)?;
    let target = source.full_name(snapshot);
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    // A second rollback in the same second (the undo right after) gets `-2`, `-3`…
    let guard = (1..10)
        .map(|n| match n {
            1 => format!("{}@snaprescue-guard-{stamp}", source.dataset),
            n => format!("{}@snaprescue-guard-{stamp}-{n}", source.dataset),
        })
        .find(|name| !zfs_cli::exists(name))
        .ok_or_else(|| {
            SourceError::Refused("nine guard snapshots were taken this second: try again".into())
        })?;
    let header = RunHeader::local(KIND, "zfs", &target, &source.dataset);
    let outcome = journaled(
        header,
        |journal| {
            let fields = json!({"guard": guard, "live_root": live, "keep_guard": keep_guard});
            journal.record("guard", "start", fields)?;
            zfs_cli::snapshot(&guard).map_err(to_rescue)?;
            zfs_cli::hold(&guard).map_err(to_rescue)?;
            journal.record("guard", "done", json!({}))?;
            watch.say(&format!("guard {guard} taken and held; rolling forward"));
            journal.record("roll-forward", "start", json!({}))?;
            super::zfs_journal::roll_forward(source, snapshot, &live, watch).map_err(to_rescue)?;
            journal.record("roll-forward", "done", json!({}))?;
            if !keep_guard {
                journal.record("drop-guard", "start", json!({}))?;
                zfs_cli::release(&guard).map_err(to_rescue)?;
                zfs_cli::destroy(&guard).map_err(to_rescue)?;
                journal.record("drop-guard", "done", json!({}))?;
            }
            Ok(())
        },
        |record, _journal| super::zfs_journal::settle_failed(record),
    );
    outcome.map_err(SourceError::from)?;
    tracing::info!(dataset = %source.dataset, snapshot = %target, "rolled forward");
    let guard_short = guard.split_once('@').map_or(guard.as_str(), |(_, s)| s);
    Ok(RollbackOutcome {
        replaced: live.clone(),
        snapshot: snapshot.id.clone(),
        guard: keep_guard.then(|| PathBuf::from(&guard)),
        undo: if keep_guard {
            format!(
                "snaprescue rollback {} --snapshot {guard_short} --confirm {}",
                crate::ports::command::shell_quote(&live.to_string_lossy()),
                crate::ports::command::shell_quote(&source.dataset)
            )
        } else {
            "none: the guard was destroyed at your request (--no-guard)".into()
        },
        notes: vec![format!(
            "every snapshot of {} is still there; the guard is held: `zfs release {} {guard}` \
             before it can be destroyed",
            source.dataset,
            zfs_cli::HOLD_TAG
        )]
        .into_iter()
        .filter(|_| keep_guard)
        .collect(),
    })
}

fn to_rescue(e: impl std::fmt::Display) -> crate::rescue::RescueError {
    crate::rescue::RescueError::Refused(e.to_string())
}
