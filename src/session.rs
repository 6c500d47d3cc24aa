//! One recovery on PATH: the source that serves it, its snapshots, the deletion estimate and
//! the recommendation. The CLI and the wizard runtime both work through this.

use crate::engine::choose::{
    Recommendation, estimate_deletion_time, recommend, worth_looking_into,
};
use crate::engine::diff::{DiffError, DiffProgress, LostCounts, TreeDiff, diff_counting};
use crate::engine::restore::{Progress, RestoreReport, execute};
use crate::engine::restore_plan::{ConflictPolicy, PlanError, RestorePlan, plan};
use crate::sources::CloudOptions;
use crate::sources::{OpenedSnapshot, Snapshot, SnapshotSource, SourceError, detect};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
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
    #[error("in snapshot {snapshot}, {source}")]
    Link {
        snapshot: String,
        source: crate::engine::beneath::BeneathError,
    },
}

pub struct Session {
    /// PATH, absolute (it may no longer exist).
    pub path: PathBuf,
    /// Every source that serves PATH, local first.
    pub sources: Vec<Box<dyn SnapshotSource>>,
    /// All their snapshots in one timeline, newest first.
    pub snapshots: Vec<Snapshot>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub recommended: Option<usize>,
    /// Read-only snapshot views an interrupted run had left mounted, detached at open.
    pub unmounted: Vec<PathBuf>,
    /// Why `recommended` is the one (or why there is none).
    pub recommend_reason: String,
}

/// What each snapshot looked into would bring back, by snapshot id (an error: unreadable).
pub type LostById = HashMap<String, Result<LostCounts, String>>;

/// The recommendation over `snapshots` given what was counted in `lost` (shared by the CLI
/// and the wizard, so both show the same ★).
pub fn recommend_from(
    snapshots: &[Snapshot],
    deleted_at: Option<DateTime<Utc>>,
    lost: &LostById,
) -> Recommendation {
    // A snapshot that could not be read is never recommended (Enter would land on its
    // error): the choice is made among the others.
    let readable: Vec<usize> = (0..snapshots.len())
        .filter(|&i| !matches!(lost.get(&snapshots[i].id), Some(Err(_))))
        .collect();
    let candidates: Vec<Snapshot> = readable.iter().map(|&i| snapshots[i].clone()).collect();
    let mut chosen = recommend(&candidates, deleted_at, &|s| {
        lost.get(&s.id).and_then(|r| r.as_ref().ok()).copied()
    });
    chosen.index = chosen.index.map(|i| readable[i]);
    chosen
}

impl Session {
    /// Detects the sources for `path` (restricted to `options.source` when given) and lists
    /// their snapshots in one timeline.
    pub fn open(path: &Path, options: &CloudOptions) -> Result<Self, SessionError> {
        let absolute = crate::ports::fs_meta::resolve_lost(path).map_err(SourceError::io(
            format!("cannot resolve {}", path.display()),
        ))?;
        // Read-only views a killed run left mounted are detached before anything else.
        let unmounted = crate::ports::mount_record::sweep();
        let sources = detect(&absolute, options)?;
        let mut snapshots = Vec::new();
        for source in &sources {
            snapshots.extend(source.list()?);
        }
        snapshots.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        crate::pinning::mark_pinned(&sources, &mut snapshots);
        let deleted_at = estimate_deletion_time(&absolute);
        let first = recommend_from(&snapshots, deleted_at, &LostById::new());
        Ok(Self {
            path: absolute,
            sources,
            snapshots,
            deleted_at,
            recommended: first.index,
            recommend_reason: first.reason,
            unmounted,
        })
    }

    /// Indices of the snapshots worth looking into (local, newest first, plus the one the
    /// time alone would recommend).
    pub fn to_look_into(&self) -> Vec<usize> {
        self.snapshots
            .iter()
            .enumerate()
            .filter(|(i, s)| worth_looking_into(s, *i, self.recommended))
            .map(|(i, _)| i)
            .collect()
    }

    /// Counts what each snapshot worth looking into would bring back, and recommends by it.
    pub fn look_inside(&mut self) -> LostById {
        let lost: LostById = self
            .to_look_into()
            .into_iter()
            .map(|i| {
                let snapshot = &self.snapshots[i];
                (
                    snapshot.id.clone(),
                    self.lost_in(snapshot).map_err(|e| e.to_string()),
                )
            })
            .collect();
        let chosen = recommend_from(&self.snapshots, self.deleted_at, &lost);
        self.recommended = chosen.index;
        self.recommend_reason = chosen.reason;
        lost
    }

    /// One line per source.
    pub fn describe(&self) -> String {
        self.sources
            .iter()
            .map(|s| s.describe())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// (source name, what to type to confirm its rollback).
    pub fn rollback_targets(&self) -> Vec<(String, String)> {
        self.sources
            .iter()
            .map(|s| (s.name().to_string(), s.rollback_target()))
            .collect()
    }

    /// (source name, how its rollback is said).
    pub fn rollback_words(&self) -> Vec<(String, crate::sources::RollbackWords)> {
        self.sources
            .iter()
            .map(|s| (s.name().to_string(), s.rollback_words()))
            .collect()
    }

    pub fn source_of(&self, snapshot: &Snapshot) -> Result<&dyn SnapshotSource, SourceError> {
        self.sources
            .iter()
            .find(|s| s.name() == snapshot.source)
            .map(|s| s.as_ref())
            .ok_or_else(|| {
                SourceError::Refused(format!(
                    "no source `{}` for snapshot {}",
                    snapshot.source, snapshot.id
                ))
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
        self.diff_counting(snapshot, cancel, &DiffProgress::default())
    }

    /// [`Session::diff`], counting compared entries into `progress`.
    pub fn diff_counting(
        &self,
        snapshot: &Snapshot,
        cancel: &AtomicBool,
        progress: &DiffProgress,
    ) -> Result<(OpenedSnapshot, TreeDiff), SessionError> {
        let say = |text: &str| {
            if let Ok(mut stage) = progress.stage.lock() {
                *stage = text.to_string();
            }
        };
        let watch = crate::rescue::Watch {
            cancel,
            stage: &say,
        };
        self.open_and_diff(snapshot, &watch, progress)
    }

    /// Opens `snapshot` reporting to `watch` (a cloud rescue disk takes minutes), then
    /// compares its copy of PATH with the live tree.
    pub fn open_and_diff(
        &self,
        snapshot: &Snapshot,
        watch: &crate::rescue::Watch,
        progress: &DiffProgress,
    ) -> Result<(OpenedSnapshot, TreeDiff), SessionError> {
        let opened = self.source_of(snapshot)?.open(snapshot, watch)?;
        // PATH is looked up inside the snapshot without following a link on the way: a
        // snapshot holding `models -> /etc` must never show or restore host files.
        let rel = opened
            .dir
            .strip_prefix(&opened.root)
            .unwrap_or(Path::new(""));
        crate::engine::beneath::check_no_link_above(&opened.root, rel).map_err(|source| {
            SessionError::Link {
                snapshot: format!("{} ({})", snapshot.id, snapshot.name),
                source,
            }
        })?;
        let tree =
            diff_counting(&opened.dir, &self.path, watch.cancel, progress).map_err(
                |e| match e {
                    DiffError::NotInSnapshot(_) => {
                        SessionError::Source(SourceError::NotInSnapshot {
                            path: self.path.clone(),
                            snapshot: format!("{} ({})", snapshot.id, snapshot.name),
                        })
                    }
                    other => other.into(),
                },
            )?;
        Ok((opened, tree))
    }

    /// Restores `selection` (relative to PATH; empty path: all of it) from `opened` to PATH,
    /// or into `to`: the one restore path of the CLI and the wizard. Temporary files a killed
    /// run left are removed first; missing parents are created (a whole folder removed with
    /// `rm -rf`); PATH may be a deleted file.
    pub fn restore(
        &self,
        opened: &OpenedSnapshot,
        selection: &[PathBuf],
        to: Option<&Path>,
        policy: ConflictPolicy,
        cancel: &AtomicBool,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(RestorePlan, RestoreReport), SessionError> {
        let swept = crate::engine::leftovers::sweep();
        if !swept.removed.is_empty() {
            tracing::info!(
                removed = swept.removed.len(),
                "temporary files of killed restores removed"
            );
        }
        // `--to` is resolved once, as typed (a link in it is the user's choice of place);
        // from here on it is only opened without following links.
        let to = match to {
            Some(dir) => Some(crate::ports::fs_meta::resolve_lost(dir).map_err(|source| {
                SessionError::Plan(PlanError::Destination {
                    path: dir.into(),
                    source,
                })
            })?),
            None => None,
        };
        let to = to.as_deref();
        if let Some(dir) = to
            && std::fs::metadata(dir).is_ok_and(|m| !m.is_dir())
        {
            return Err(SessionError::Plan(PlanError::Destination {
                path: dir.into(),
                source: std::io::Error::other(
                    "--to must name a directory (made when missing), and this is a file",
                ),
            }));
        }
        let dest = match to {
            None => self.path.clone(),
            // A single file goes into DIR under its own name; a directory's content into DIR.
            Some(dir) => match std::fs::symlink_metadata(&opened.dir) {
                Ok(m) if !m.is_dir() => dir.join(self.path.file_name().unwrap_or_default()),
                _ => dir.to_path_buf(),
            },
        };
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let planned = plan(&opened.dir, &dest, selection, policy, &stamp)?;
        let mut report = execute(&planned, cancel, progress);
        report.swept = swept.removed;
        Ok((planned, report))
    }

    /// Whether one of the newest local snapshots holds PATH (cloud snapshots are not opened:
    /// that needs a disk made from each).
    pub fn held_by_a_local_snapshot(&self) -> bool {
        let watch = crate::rescue::quiet_watch();
        self.to_look_into().into_iter().any(|i| {
            let snapshot = &self.snapshots[i];
            self.source_of(snapshot)
                .and_then(|source| source.open(snapshot, &watch))
                .is_ok_and(|opened| opened.dir.symlink_metadata().is_ok())
        })
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
