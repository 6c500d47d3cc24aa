//! `snaprescue cleanup`: finishes every interrupted run found in the journal. A rescue is
//! torn down (unmount, detach, delete — what is already gone counts as done, and a disk whose
//! creation was not recorded is found by the run's tag); a rollback is finished or undone
//! the way its provider's flow says. Running it twice does nothing the second time.

use super::disk::{Resources, tear_down};
use super::journal::{Journal, RunRecord, interrupted};
use super::{RescueError, Watch};
use crate::providers::CloudProvider;
use crate::sources::SourceError;
use serde::Serialize;
use std::path::PathBuf;

/// What cleaning up one run did.
#[derive(Debug, Clone, Serialize)]
pub struct Cleaned {
    pub run: String,
    pub kind: String,
    pub cloud: String,
    pub ok: bool,
    /// What it left, in words.
    pub state: String,
}

/// Finishes every interrupted run; each result says what it left.
pub fn clean_all(watch: &Watch) -> Vec<Cleaned> {
    interrupted()
        .into_iter()
        .map(|run| {
            let outcome = clean(&run, watch);
            Cleaned {
                run: run.header.run.clone(),
                kind: run.header.kind.clone(),
                cloud: run.header.cloud.clone(),
                ok: outcome.is_ok(),
                state: outcome.unwrap_or_else(|e| format!("not finished: {e}")),
            }
        })
        .collect()
}

fn clean(run: &RunRecord, watch: &Watch) -> Result<String, SourceError> {
    let journal = Journal::resume(run)?;
    if run.header.cloud == "zfs" {
        let state = crate::sources::zfs_journal::finish(run, &journal)?;
        journal.finish("cleaned")?;
        return Ok(state);
    }
    let provider = crate::providers::reconnect(&run.header)?;
    let state = match run.header.kind.as_str() {
        "rescue" => rescue(provider.as_ref(), run, &journal, watch)?,
        super::online_rollback::KIND => {
            super::online_rollback::finish(provider.as_ref(), run, &journal, watch)?
        }
        _ => provider.finish_rollback(run, &journal, watch)?,
    };
    journal.finish("cleaned")?;
    Ok(state)
}

fn rescue(
    cloud: &dyn CloudProvider,
    run: &RunRecord,
    journal: &Journal,
    watch: &Watch,
) -> Result<String, RescueError> {
    let mut disks: Vec<String> = run.field("disk").into_iter().collect();
    if run.reached("create", "start") {
        for tagged in cloud.tagged(&run.header.run)? {
            if !disks.contains(&tagged) {
                disks.push(tagged);
            }
        }
    }
    let mount_point = run.field("mount_point").map(PathBuf::from);
    tear_down(
        cloud,
        journal,
        &Resources {
            mount_point: mount_point.clone(),
            ..Default::default()
        },
        watch,
    )?;
    for disk in &disks {
        tear_down(
            cloud,
            journal,
            &Resources {
                disk: Some(disk.clone()),
                ..Default::default()
            },
            watch,
        )?;
    }
    Ok(if disks.is_empty() {
        "nothing was created".into()
    } else {
        format!(
            "removed {} {}{}",
            cloud.noun(),
            disks.join(", "),
            mount_point
                .map(|m| format!(" and its mount {}", m.display()))
                .unwrap_or_default()
        )
    })
}
