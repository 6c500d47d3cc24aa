//! Finishing ZFS runs from their journal: a clone rescue is destroyed; a roll-forward that
//! failed in-process is put back from its guard, one cut by a crash is finished forward by
//! `snaprescue cleanup` (the user confirmed it, and the guard holds the previous state).
//! Both are idempotent: running them twice does nothing more.

use super::zfs::ZfsSource;
use super::{Snapshot, SnapshotSource, SourceError};
use crate::engine::roll_forward::{execute_roll_forward, verify_equal};
use crate::rescue::RescueError;
use crate::rescue::journal::{Journal, RunRecord};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Makes the live tree at `live` equal to `snapshot`, and proves it.
pub fn roll_forward(
    source: &ZfsSource,
    snapshot: &Snapshot,
    live: &Path,
    watch: &crate::rescue::Watch,
) -> Result<(), SourceError> {
    let opened = source.open(snapshot, watch)?;
    let refused = |e: crate::engine::roll_forward::RollForwardError| {
        SourceError::Refused(format!("roll-forward to {}: {e}", snapshot.name))
    };
    let planned = crate::engine::roll_forward::plan_roll_forward(
        &opened.root,
        live,
        super::zfs_rollback::SKIPPED,
    )
    .map_err(refused)?;
    let never = AtomicBool::new(false);
    execute_roll_forward(&opened.root, live, &planned, &never).map_err(refused)?;
    verify_equal(&opened.root, live, super::zfs_rollback::SKIPPED).map_err(refused)
}

/// The source and the listed snapshot `short` of the dataset mounted at `live`.
fn reopen(live: &Path, short: &str) -> Result<(ZfsSource, Snapshot), SourceError> {
    let source = ZfsSource::detect(live)?.map_err(SourceError::Refused)?;
    let snapshot = super::find(&source.list()?, short)?.clone();
    Ok((source, snapshot))
}

fn short(full: &str) -> &str {
    full.split_once('@').map_or(full, |(_, s)| s)
}

/// A roll-forward that failed in this process: the live tree is put back from the guard.
pub fn settle_failed(run: &RunRecord) -> Result<String, RescueError> {
    let refused = |e: SourceError| RescueError::Refused(e.to_string());
    let guard = run.field("guard").unwrap_or_default();
    if !run.reached("roll-forward", "start") {
        return Ok(
            if run.reached("guard", "start") && super::zfs_cli::exists(&guard) {
                format!("nothing in the live tree was changed; the guard {guard} was kept")
            } else {
                "nothing was changed".into()
            },
        );
    }
    if run.reached("roll-forward", "done") {
        return Ok(format!(
            "the roll-forward to {} was done; the guard {guard} could not be dropped",
            run.header.snapshot
        ));
    }
    let live = PathBuf::from(run.field("live_root").unwrap_or_default());
    let (source, snapshot) = reopen(&live, short(&guard)).map_err(refused)?;
    roll_forward(&source, &snapshot, &live, &crate::rescue::quiet_watch()).map_err(refused)?;
    Ok(format!(
        "the live tree was put back as it was, from the guard {guard} (kept, held)"
    ))
}

/// `snaprescue cleanup` for an interrupted ZFS run.
pub fn finish(run: &RunRecord, journal: &Journal) -> Result<String, SourceError> {
    match run.header.kind.as_str() {
        super::zfs_clone::KIND => {
            let Some(clone) = run.field("clone") else {
                return Ok("nothing was created".into());
            };
            let mount_point = PathBuf::from(run.field("mount_point").unwrap_or_default());
            journal.record("destroy", "start", serde_json::json!({"clone": clone}))?;
            super::zfs_clone::destroy_clone(&clone, &mount_point)?;
            journal.record("destroy", "done", serde_json::json!({}))?;
            Ok(format!("destroyed the read-only clone {clone}"))
        }
        super::zfs_rollback::KIND => finish_rollback(run, journal),
        other => Err(SourceError::Refused(format!(
            "journal of run {} has an unknown ZFS kind `{other}`",
            run.header.run
        ))),
    }
}

fn finish_rollback(run: &RunRecord, journal: &Journal) -> Result<String, SourceError> {
    let guard = run.field("guard").unwrap_or_default();
    let target = &run.header.snapshot;
    if !run.reached("guard", "done") {
        if run.reached("guard", "start") && super::zfs_cli::exists(&guard) {
            super::zfs_cli::hold(&guard)?;
            return Ok(format!(
                "nothing in the live tree was changed; the guard {guard} was taken and is held"
            ));
        }
        return Ok("nothing was changed".into());
    }
    let live = PathBuf::from(run.field("live_root").unwrap_or_default());
    if !run.reached("roll-forward", "done") {
        let (source, snapshot) = reopen(&live, short(target))?;
        journal.record("roll-forward", "start", serde_json::json!({}))?;
        roll_forward(&source, &snapshot, &live, &crate::rescue::quiet_watch())?;
        journal.record("roll-forward", "done", serde_json::json!({}))?;
    }
    let keep_guard = run
        .events
        .iter()
        .find_map(|e| e["keep_guard"].as_bool())
        .unwrap_or(true);
    if !keep_guard && !run.reached("drop-guard", "done") {
        super::zfs_cli::release(&guard)?;
        super::zfs_cli::destroy(&guard)?;
        return Ok(format!(
            "finished the roll-forward of {} to {target}; the guard was destroyed (--no-guard)",
            live.display()
        ));
    }
    Ok(format!(
        "finished the roll-forward of {} to {target}; the previous state is in the held guard {guard}",
        live.display()
    ))
}
