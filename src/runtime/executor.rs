//! Carries out the wizard's effects: blocking work on `spawn_blocking`, each result sent
//! back as a message; restore progress throttled; each job with its own cancel token (see
//! [`super::jobs`]).

use super::state::write_report;
use crate::ports::gpu::GpuProbe;
use crate::ports::processes::{filesystem_devices, processes_using};
use crate::ports::signals::terminate;
use crate::session::Session;
use crate::sources::OpenedSnapshot;
use crate::wizard::{DiffLoaded, Effect, Msg, SignalAction, SnapshotListing, TERMINATE_GRACE_SECS};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// Carries out effects and reports back through `tx`.
pub struct Executor {
    pub path: PathBuf,
    /// Where restores go instead of PATH (`snaprescue PATH --to DIR`).
    pub to: Option<PathBuf>,
    /// Cloud source options from the command line (`--source`, `--disk`, …).
    pub cloud: crate::sources::CloudOptions,
    pub tx: UnboundedSender<Msg>,
    pub gpu: Arc<dyn GpuProbe>,
    pub session: Arc<Mutex<Option<Arc<Session>>>>,
    pub opened: Arc<Mutex<Option<(String, OpenedSnapshot)>>>,
    pub jobs: Arc<super::jobs::Jobs>,
    pub last_scan: Arc<Mutex<Instant>>,
    /// A GPU probe is running.
    pub probing: Arc<AtomicBool>,
}

impl Executor {
    fn session(&self) -> Option<Arc<Session>> {
        self.session.lock().ok()?.clone()
    }

    pub(super) fn blocking(&self, work: impl FnOnce() -> Msg + Send + 'static) {
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let _ = tx.send(work());
        });
    }

    pub(super) fn with_session(
        &self,
        work: impl FnOnce(&Session) -> Msg + Send + 'static,
        missing: impl FnOnce(String) -> Msg,
    ) {
        match self.session() {
            Some(s) => self.blocking(move || work(&s)),
            None => {
                let _ = self.tx.send(missing("snapshots are not listed yet".into()));
            }
        }
    }

    pub fn run(&self, effect: Effect) {
        match effect {
            Effect::ScanWriters => {
                let path = self.path.clone();
                let last = self.last_scan.clone();
                self.blocking(move || {
                    let devices = filesystem_devices(&path).unwrap_or_default();
                    let (processes, unreadable) = processes_using(&devices);
                    let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
                    let elapsed_secs = last.elapsed().as_secs_f64();
                    *last = Instant::now();
                    Msg::WritersScanned {
                        processes,
                        unreadable,
                        elapsed_secs,
                    }
                });
            }
            Effect::Signal { action, targets } => {
                let path = self.path.clone();
                self.blocking(move || {
                    use crate::engine::freeze_journal::{freeze, thaw};
                    let grace = Duration::from_secs(TERMINATE_GRACE_SECS);
                    let results = targets
                        .into_iter()
                        .map(|(pid, start)| {
                            // Freezes and thaws go through the journal (DESIGN rule 6).
                            let result = match action {
                                SignalAction::Freeze => freeze(pid, start, &path),
                                SignalAction::Thaw => thaw(pid, start),
                                SignalAction::Terminate => {
                                    terminate(pid, start, grace).map_err(Into::into)
                                }
                            };
                            (pid, result.map_err(|e| e.to_string()))
                        })
                        .collect();
                    std::thread::sleep(Duration::from_millis(30));
                    Msg::Signalled { action, results }
                });
            }
            Effect::Harvest { targets, dir } => {
                let path = self.path.clone();
                self.blocking(move || {
                    let result = crate::engine::harvest::harvest(&targets, &dir, &path, false);
                    Msg::Harvested(result.map_err(|e| e.to_string()))
                });
            }
            Effect::RemountReadOnly => {
                let path = self.path.clone();
                self.blocking(move || {
                    let result = crate::ports::mounts::remount_read_only_holding(&path)
                        .map(|mount| mount.display().to_string())
                        .map_err(|e| e.to_string());
                    Msg::Remounted(result)
                });
            }
            Effect::ProbeGpu => {
                // One probe at a time: a wedged driver must not pile up a thread per tick.
                if self.probing.swap(true, Ordering::AcqRel) {
                    return;
                }
                let (gpu, probing) = (self.gpu.clone(), self.probing.clone());
                self.blocking(move || {
                    let status = gpu.probe();
                    probing.store(false, Ordering::Release);
                    Msg::GpuProbed(status)
                });
            }
            Effect::ListSnapshots => {
                let (path, cloud) = (self.path.clone(), self.cloud.clone());
                let slot = self.session.clone();
                self.blocking(move || match Session::open(&path, &cloud) {
                    Ok(session) => {
                        let listing = SnapshotListing {
                            source: session.describe(),
                            rollback_targets: session.rollback_targets(),
                            rollback_words: session.rollback_words(),
                            snapshots: session.snapshots.clone(),
                            deleted_at: session.deleted_at,
                            recommended: session.recommended,
                            recommend_reason: session.recommend_reason.clone(),
                        };
                        if let Ok(mut s) = slot.lock() {
                            *s = Some(Arc::new(session));
                        }
                        Msg::SnapshotsListed(Ok(listing))
                    }
                    Err(e) => Msg::SnapshotsListed(Err(e.to_string())),
                });
            }
            Effect::CountLost { id } => {
                let id2 = id.clone();
                self.with_session(
                    move |s| {
                        let lost = s
                            .snapshot(&id)
                            .map_err(Into::into)
                            .and_then(|snap| s.lost_in(snap))
                            .map_err(|e| e.to_string());
                        Msg::LostCounted { id, lost }
                    },
                    |e| Msg::LostCounted {
                        id: id2,
                        lost: Err(e),
                    },
                );
            }
            Effect::ScanNewer { id } => self.with_session(
                move |s| {
                    let result = s.snapshot(&id).map_err(|e| e.to_string()).and_then(|snap| {
                        let root = s
                            .source_of(snap)
                            .map_err(|e| e.to_string())?
                            .live_root()
                            .ok_or("the live copy is not reachable from this machine")?;
                        let created = snap.created.ok_or("the snapshot's time is unknown")?;
                        Ok(crate::engine::newer::files_newer_than(
                            &root,
                            created.timestamp(),
                            8,
                        ))
                    });
                    Msg::NewerScanned(result)
                },
                |e| Msg::NewerScanned(Err(e)),
            ),
            Effect::CopyBack { files } => self.blocking(move || {
                Msg::CopiedBack(
                    files
                        .into_iter()
                        .map(|saved| {
                            let r = crate::engine::harvest::copy_back(&saved);
                            (saved.original, r)
                        })
                        .collect(),
                )
            }),
            Effect::CheckRollback { id } => self.with_session(
                move |s| {
                    let verdict = s
                        .snapshot(&id)
                        .and_then(|snap| s.source_of(snap)?.rollback_plan(snap, true))
                        .map(|_| ())
                        .map_err(|e| e.to_string());
                    Msg::RollbackChecked(verdict)
                },
                |e| Msg::RollbackChecked(Err(e)),
            ),
            Effect::LoadDiff { id } => {
                let to = self.to.clone();
                let (opened, cancel, tx) = (
                    self.opened.clone(),
                    self.jobs.start(crate::wizard::Job::Diff),
                    self.tx.clone(),
                );
                self.with_session(
                    move |s| {
                        let started = Instant::now();
                        let progress = crate::engine::diff::DiffProgress::default();
                        let done = AtomicBool::new(false);
                        let result = std::thread::scope(|scope| {
                            scope.spawn(|| {
                                while !done.load(Ordering::Relaxed) {
                                    std::thread::sleep(Duration::from_millis(100));
                                    let first_deleted = progress
                                        .first_deleted
                                        .lock()
                                        .map(|v| v.clone())
                                        .unwrap_or_default();
                                    let scanned = progress.scanned.load(Ordering::Relaxed);
                                    let stage = progress
                                        .stage
                                        .lock()
                                        .map(|s| s.clone())
                                        .unwrap_or_default();
                                    let _ = tx.send(Msg::DiffProgress {
                                        scanned,
                                        first_deleted,
                                        stage,
                                    });
                                }
                            });
                            let result = s
                                .snapshot(&id)
                                .map_err(Into::into)
                                .and_then(|snap| s.diff_counting(snap, &cancel, &progress));
                            done.store(true, Ordering::Relaxed);
                            result
                        });
                        match result {
                            Ok((snapshot_dir, tree)) => {
                                let caveat = snapshot_dir.caveat().map(str::to_string);
                                let dest = to.clone().unwrap_or_else(|| s.path.clone());
                                let reflink =
                                    crate::engine::restore_plan::reflinks(&snapshot_dir.dir, &dest);
                                if let Ok(mut slot) = opened.lock() {
                                    *slot = Some((id.clone(), snapshot_dir));
                                }
                                let free_bytes =
                                    crate::ports::fs_meta::free_bytes(&dest).unwrap_or(0);
                                Msg::DiffReady(Ok(DiffLoaded {
                                    snapshot_id: id,
                                    tree,
                                    dest,
                                    free_bytes,
                                    reflink,
                                    caveat,
                                    elapsed_ms: started.elapsed().as_millis(),
                                }))
                            }
                            Err(e) => Msg::DiffReady(Err(e.to_string())),
                        }
                    },
                    |e| Msg::DiffReady(Err(e)),
                );
            }
            Effect::Restore {
                id,
                selection,
                policy,
            } => {
                let to = self.to.clone();
                let (opened, cancel, tx) = (
                    self.opened.clone(),
                    self.jobs.start(crate::wizard::Job::Restore),
                    self.tx.clone(),
                );
                self.with_session(
                    move |s| {
                        let guard = opened.lock().unwrap_or_else(|e| e.into_inner());
                        let Some((_, snapshot)) = guard.as_ref().filter(|(o, _)| *o == id) else {
                            return Msg::RestoreRefused(format!(
                                "snapshot {id} is not open; go back and choose it again"
                            ));
                        };
                        let started = Instant::now();
                        let mut last = Instant::now() - Duration::from_secs(1);
                        let restored = s.restore(
                            snapshot,
                            &selection,
                            to.as_deref(),
                            policy,
                            &cancel,
                            &mut |p| {
                                if last.elapsed() >= Duration::from_millis(100) {
                                    last = Instant::now();
                                    let _ = tx.send(Msg::RestoreProgress(p.clone()));
                                }
                            },
                        );
                        let report = match restored {
                            Ok((_, report)) => report,
                            Err(e) => return Msg::RestoreRefused(e.to_string()),
                        };
                        Msg::RestoreDone {
                            report,
                            elapsed_ms: started.elapsed().as_millis(),
                        }
                    },
                    Msg::RestoreRefused,
                );
            }
            Effect::Cancel(job) => self.jobs.cancel(job),
            Effect::CancelAll => self.jobs.cancel_all(),
            Effect::VerifyUnder { root } => self.verify_under(root),
            Effect::Verify { files, recorded } => self.verify(files, recorded),
            Effect::TorchCheck {
                python,
                checkpoints,
            } => self.torch_check(python, checkpoints),
            Effect::Rollback { id, confirm } => {
                let (opened, cancel, tx) = (
                    self.opened.clone(),
                    self.jobs.start(crate::wizard::Job::Rollback),
                    self.tx.clone(),
                );
                self.with_session(
                    move |s| {
                        // Release our own view of the snapshot before swapping subvolumes.
                        if let Ok(mut slot) = opened.lock() {
                            *slot = None;
                        }
                        let tx = std::sync::Mutex::new(tx);
                        let say = |text: &str| {
                            if let Ok(tx) = tx.lock() {
                                let _ = tx.send(Msg::RollbackStage(text.to_string()));
                            }
                        };
                        let watch = crate::rescue::Watch {
                            cancel: &cancel,
                            stage: &say,
                        };
                        let result = s.snapshot(&id).and_then(|snap| {
                            s.source_of(snap)?.rollback(snap, &confirm, true, &watch)
                        });
                        Msg::RollbackDone(result.map_err(|e| e.to_string()))
                    },
                    |e| Msg::RollbackDone(Err(e)),
                );
            }
            Effect::WriteReport(report) => {
                self.blocking(move || Msg::ReportWritten(write_report(&report)))
            }
            Effect::Pin { id, days } => self.pin(id, days),
            Effect::Unpin { id } => self.unpin(id),
            Effect::AuditProtection => self.audit_protection(),
            Effect::ApplyPolicy => self.apply_policy(),
            Effect::TakePreRunSnapshot => self.take_pre_run_snapshot(),
            Effect::Quit => {}
        }
    }
}

#[cfg(test)]
#[path = "executor_tests.rs"]
mod tests;
