//! One recovery on PATH: the source that serves it, its snapshots, the deletion estimate and
//! the recommendation. The CLI and the wizard runtime both work through this.

use crate::engine::choose::{estimate_deletion_time, recommend};
use crate::engine::diff::{DiffError, LostCounts, TreeDiff, diff};
use crate::engine::restore_plan::PlanError;
use crate::sources::{OpenedSnapshot, Snapshot, SnapshotSource, SourceError, detect};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SessionError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Diff(#[from] DiffError),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

pub struct Session {
    /// PATH, absolute (it may no longer exist).
    pub path: PathBuf,
    pub source: Box<dyn SnapshotSource>,
    /// Newest first.
    pub snapshots: Vec<Snapshot>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub recommended: Option<usize>,
}

impl Session {
    /// Detects the source for `path` (restricted to `only` when given) and lists snapshots.
    pub fn open(path: &Path, only: Option<&str>) -> Result<Self, SessionError> {
        let absolute = crate::ports::fs_meta::resolve_lost(path).map_err(SourceError::io(
            format!("cannot resolve {}", path.display()),
        ))?;
        let mut sources = detect(&absolute)?;
        if let Some(name) = only {
            let found: Vec<&str> = sources.iter().map(|s| s.name()).collect();
            let joined = found.join(", ");
            sources.retain(|s| s.name() == name);
            if sources.is_empty() {
                return Err(SourceError::Refused(format!(
                    "source `{name}` does not serve {}; detected: {joined}",
                    absolute.display()
                ))
                .into());
            }
        }
        let source = sources.remove(0);
        let snapshots = source.list()?;
        let deleted_at = estimate_deletion_time(&absolute);
        let recommended = recommend(&snapshots, deleted_at);
        Ok(Self {
            path: absolute,
            source,
            snapshots,
            deleted_at,
            recommended,
        })
    }

    pub fn snapshot(&self, id: &str) -> Result<&Snapshot, SourceError> {
        crate::sources::find(&self.snapshots, id)
    }

    /// Opens `snapshot` and compares its copy of PATH with the live tree.
    pub fn diff(
        &self,
        snapshot: &Snapshot,
        cancel: &AtomicBool,
    ) -> Result<(OpenedSnapshot, TreeDiff), SessionError> {
        let opened = self.source.open(snapshot)?;
        let tree = diff(&opened.dir, &self.path, cancel).map_err(|e| match e {
            DiffError::NotInSnapshot(_) => SessionError::Source(SourceError::NotInSnapshot {
                path: self.path.clone(),
                snapshot: format!("{} ({})", snapshot.id, snapshot.name),
            }),
            other => other.into(),
        })?;
        Ok((opened, tree))
    }

    /// What `snapshot` would bring back (zero when PATH is not in it).
    pub fn lost_in(&self, snapshot: &Snapshot) -> Result<LostCounts, SessionError> {
        match self.diff(snapshot, &AtomicBool::new(false)) {
            Ok((_, tree)) => Ok(tree.lost()),
            Err(SessionError::Source(SourceError::NotInSnapshot { .. })) => {
                Ok(LostCounts::default())
            }
            Err(e) => Err(e),
        }
    }
}
