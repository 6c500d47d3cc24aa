//! Executes a restore plan by descriptor: every directory is opened below the destination's
//! anchor without following links or crossing mounts, and every entry is created in such a
//! directory (`mkdirat`, `openat(O_EXCL|O_NOFOLLOW)`, `symlinkat`, `linkat`,
//! `renameat2(RENAME_NOREPLACE)`), so a link planted in the live tree or in `--to` is never
//! written through and nothing is ever replaced. Files go through [`super::copy`]; symbolic
//! links are restored as links; hard links of the snapshot come back as hard links. Failures
//! are listed and the rest goes on; cancel leaves no temporary file, and a killed run's are
//! found through [`super::leftovers`].

use super::beneath::open_resolved;
use super::copy::{CopyMethod, Place, stage_file};
use super::diff::EntryKind;
use super::restore::{
    BATCH_BYTES, BATCH_FILES, Batch, Committed, FailedItem, Progress, RestoreReport, RestoredItem,
    Verification, commit_batch,
};
use super::restore_entries::{
    Dirs, make_dir, name_of, open_source, parent_of, raise_file_limit, restore_symlink,
};
use super::restore_plan::{ConflictPolicy, PlannedItem, RestorePlan};
use super::stage_pool::{Done, NotStaged, POOLED_MAX, StagePool, stage};
use nix::fcntl::AtFlags;
use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

struct Run<'a> {
    plan: &'a RestorePlan,
    report: RestoreReport,
    /// Directory and final target (keep-both may have renamed it) of each committed
    /// hard-link leader, by its planned target.
    placed: HashMap<PathBuf, (Arc<OwnedFd>, PathBuf)>,
    /// Planned targets of the files other files are hard links of.
    leaders: std::collections::HashSet<PathBuf>,
}

impl<'a> Run<'a> {
    fn restored(
        &mut self,
        item: &PlannedItem,
        target: &Path,
        method: Option<CopyMethod>,
        hash: Option<String>,
    ) {
        self.report.bytes += item.size;
        let verified_by = match (&method, &hash) {
            (_, Some(_)) => Some(Verification::Blake3),
            (Some(CopyMethod::Reflink), None) => Some(Verification::SharedExtents),
            _ => None,
        };
        self.report.restored.push(RestoredItem {
            verified_by,
            path: item.path.clone(),
            target: self.plan.dest.shown(target),
            kind: item.kind,
            size: item.size,
            method,
            hash,
        });
    }

    fn failed(&mut self, item: &PlannedItem, reason: String) {
        self.report.failed.push(FailedItem {
            path: item.path.clone(),
            reason,
        });
    }
}

/// Runs the plan. `progress` is called after each chunk and item.
pub fn execute(
    plan: &RestorePlan,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> RestoreReport {
    let mut run = Run {
        plan,
        report: RestoreReport {
            destination: plan.dest.root.clone(),
            skipped: plan.skipped.clone(),
            failed: plan
                .unreadable
                .iter()
                .map(|u| FailedItem {
                    path: u.path.clone(),
                    reason: u.reason.clone(),
                })
                .collect(),
            ..Default::default()
        },
        placed: HashMap::new(),
        leaders: plan
            .items
            .iter()
            .filter_map(|i| Some(plan.items[i.link_to?].target.clone()))
            .collect(),
    };
    let mut dirs = match open_resolved(&plan.dest.anchor) {
        Ok(anchor) => Dirs {
            anchor,
            anchor_path: plan.dest.anchor.clone(),
            open: HashMap::new(),
        },
        Err(e) => {
            // Resolved when the restore was planned; a link there now was planted since.
            run.report.failed.push(FailedItem {
                path: PathBuf::new(),
                reason: format!(
                    "the destination changed since it was resolved ({e}); nothing was written"
                ),
            });
            return run.report;
        }
    };
    raise_file_limit();
    let writes_in: Vec<PathBuf> = plan
        .items
        .iter()
        .filter(|i| i.kind != EntryKind::Dir)
        .map(|i| parent_of(&i.target).to_path_buf())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let record =
        super::leftovers::Record::new(super::copy::run_tag(), &plan.dest.anchor, writes_in).write();
    if let Err(e) = &record {
        tracing::warn!(error = %e, "restore record not written; a killed run's temporary files would need removing by hand");
    }
    let alternatives = plan.policy.alternatives();
    for (target, source) in &plan.dest.parents {
        let mode = if source.is_some() { 0o700 } else { 0o755 };
        if let Err(reason) = make_dir(&mut dirs, target, mode, false) {
            let n = plan.items.len();
            run.report.failed.push(FailedItem {
                path: PathBuf::new(),
                reason: format!(
                    "cannot create {}: {reason}; none of the {n} entries was restored",
                    super::shown(&plan.dest.shown(target))
                ),
            });
            return run.report;
        }
    }
    let started = std::time::Instant::now();
    let mut state = Progress {
        items_total: plan.items.len(),
        bytes_total: plan.bytes,
        ..Default::default()
    };
    let mut created_dirs: Vec<(PathBuf, PathBuf, PathBuf)> = plan
        .dest
        .parents
        .iter()
        .filter_map(|(t, s)| s.clone().map(|s| (PathBuf::new(), t.clone(), s)))
        .collect();
    let mut followers = Vec::new();
    // (directory target, its failure's index, entries below it not attempted)
    let mut blocked: Vec<(PathBuf, usize, usize)> = Vec::new();
    let committed = std::thread::scope(|scope| {
        let (to_commit, batches) = std::sync::mpsc::sync_channel::<Batch>(1);
        let committer = scope.spawn(move || {
            batches
                .into_iter()
                .flat_map(|b| commit_batch(b, alternatives))
                .collect::<Committed>()
        });
        let mut batcher = Batcher {
            batch: Vec::new(),
            bytes: 0,
            to_commit,
        };
        let mut pool = StagePool::start(scope, plan.reflink, cancel);
        let mut own_bytes = 0u64;
        for (index, item) in plan.items.iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                run.report.cancelled = true;
                break;
            }
            // Below a directory that could not be made: counted once, on that directory.
            if let Some(blocked) = blocked
                .iter_mut()
                .rev()
                .find(|(dir, _, _)| item.target.starts_with(dir))
            {
                blocked.2 += 1;
                state.items_done += 1;
                continue;
            }
            state.current = item.path.clone();
            state.elapsed_ms = started.elapsed().as_millis() as u64;
            progress(&state);
            let outcome = match item.kind {
                EntryKind::Dir => match make_dir(&mut dirs, &item.target, 0o700, item.beside) {
                    Ok(made) => {
                        if made {
                            created_dirs.push((
                                item.path.clone(),
                                item.target.clone(),
                                item.source.clone(),
                            ));
                        }
                        Ok(None)
                    }
                    Err(e) => Err(e),
                },
                EntryKind::Symlink => restore_symlink(&mut dirs, item, alternatives)
                    .map(|c| Some(item.target.with_file_name(c.name))),
                _ if item.link_to.is_some() => {
                    followers.push(index);
                    continue;
                }
                _ => match dirs.get(parent_of(&item.target)) {
                    Err(e) => Err(e.to_string()),
                    Ok(dir) => {
                        let place = Place {
                            dir,
                            name: name_of(&item.target).to_os_string(),
                        };
                        if item.size <= POOLED_MAX {
                            for done in pool.submit(item, place) {
                                batcher.absorb(done, &mut run, &mut state);
                            }
                        } else {
                            let pooled = pool.bytes();
                            let mut on_bytes = |n: u64| {
                                own_bytes += n;
                                state.bytes_done = own_bytes + pooled;
                                state.elapsed_ms = started.elapsed().as_millis() as u64;
                                progress(&state);
                            };
                            let staged = stage(item, place, plan.reflink, cancel, &mut on_bytes);
                            batcher.absorb(
                                Done {
                                    item,
                                    outcome: staged,
                                },
                                &mut run,
                                &mut state,
                            );
                        }
                        state.bytes_done = own_bytes + pool.bytes();
                        if run.report.cancelled {
                            break;
                        }
                        continue;
                    }
                },
            };
            match outcome {
                Ok(target) => {
                    let target = target.unwrap_or_else(|| item.target.clone());
                    run.restored(item, &target, None, None);
                }
                Err(reason) => {
                    if item.kind == EntryKind::Dir {
                        blocked.push((item.target.clone(), run.report.failed.len(), 0));
                    }
                    run.failed(item, reason)
                }
            }
            state.items_done += 1;
        }
        // What the workers still copy is waited for; what was verified before a cancel is kept.
        pool.finish(&mut |done, pooled| match done {
            Some(done) => batcher.absorb(done, &mut run, &mut state),
            None => {
                state.bytes_done = own_bytes + pooled;
                state.elapsed_ms = started.elapsed().as_millis() as u64;
                progress(&state);
            }
        });
        let _ = batcher.to_commit.send(batcher.batch);
        drop(batcher.to_commit);
        committer.join().unwrap_or_default()
    });
    for (item, outcome) in committed {
        match outcome {
            Ok(c) => {
                let target = item.target.with_file_name(&c.name);
                if run.leaders.contains(&item.target)
                    && let Ok(dir) = dirs.get(parent_of(&item.target))
                {
                    run.placed
                        .insert(item.target.clone(), (dir, target.clone()));
                }
                run.restored(item, &target, Some(c.method), c.hash);
            }
            Err(reason) => run.failed(item, reason),
        }
    }
    for (_, index, hidden) in blocked {
        if hidden > 0 {
            let s = if hidden == 1 { "entry" } else { "entries" };
            run.report.failed[index].reason += &format!("; its {hidden} {s} were not restored");
        }
    }
    if !run.report.cancelled {
        for index in followers {
            restore_follower(&mut run, &mut dirs, index, cancel);
        }
    }
    // Directory metadata last (deepest first), so our writes inside do not change it.
    for (path, target, source) in created_dirs.iter().rev() {
        let result = dirs.get(target).map_err(|e| e.to_string()).and_then(|fd| {
            let dir = File::from(fd.try_clone().map_err(|e| e.to_string())?);
            let src = File::open(source).map_err(|e| e.to_string())?;
            let meta = src.metadata().map_err(|e| e.to_string())?;
            super::attrs::apply_to_open(&dir, &meta, &src).map_err(|e| e.to_string())
        });
        if let Err(e) = result {
            run.report.failed.push(FailedItem {
                path: path.clone(),
                reason: format!("directory restored but its metadata not: {e}"),
            });
        }
    }
    super::restore_entries::sync_parents(&mut dirs, &run.report.restored, &plan.dest.anchor);
    progress(&state);
    drop(record);
    run.report
}

/// Staged files waiting for their batch's sync and commit.
struct Batcher<'a> {
    batch: Batch<'a>,
    bytes: u64,
    to_commit: std::sync::mpsc::SyncSender<Batch<'a>>,
}

impl<'a> Batcher<'a> {
    /// A staged file joins the batch (sent to the committer when full); a failure is
    /// reported; a cancel is noted.
    fn absorb(&mut self, done: Done<'a>, run: &mut Run, state: &mut Progress) {
        match done.outcome {
            Ok(staged) => {
                self.bytes += done.item.size;
                self.batch.push((done.item, staged));
                if self.bytes >= BATCH_BYTES || self.batch.len() >= BATCH_FILES {
                    let _ = self.to_commit.send(std::mem::take(&mut self.batch));
                    self.bytes = 0;
                }
            }
            Err(NotStaged::Cancelled) => run.report.cancelled = true,
            Err(NotStaged::Failed(reason)) => run.failed(done.item, reason),
        }
        state.items_done += 1;
    }
}

/// A hard link of the snapshot: linked to its leader's copy, or copied on its own when the
/// leader did not come back.
fn restore_follower(run: &mut Run<'_>, dirs: &mut Dirs, index: usize, cancel: &AtomicBool) {
    let plan = run.plan;
    let item = &plan.items[index];
    let leader = item
        .link_to
        .and_then(|l| run.placed.get(&plan.items[l].target).cloned());
    let parent = match dirs.get(parent_of(&item.target)) {
        Ok(p) => p,
        Err(e) => return run.failed(item, e.to_string()),
    };
    if let Some((leader_dir, leader_target)) = leader {
        let linked = nix::unistd::linkat(
            leader_dir.as_fd(),
            name_of(&leader_target),
            parent.as_fd(),
            name_of(&item.target),
            AtFlags::empty(),
        );
        match linked {
            Ok(()) => {
                return run.restored(item, &item.target.clone(), Some(CopyMethod::HardLink), None);
            }
            Err(nix::errno::Errno::EEXIST) if plan.policy == ConflictPolicy::Skip => {
                return run.failed(
                    item,
                    "appeared in the live tree while restoring; nothing was overwritten".into(),
                );
            }
            Err(_) => {} // another filesystem or a taken name: copy it on its own
        }
    }
    let copied = open_source(&item.source).and_then(|input| {
        let place = Place {
            dir: parent.clone(),
            name: name_of(&item.target).to_os_string(),
        };
        let staged = stage_file(input, place, plan.reflink, cancel, &mut |_| {})
            .map_err(|e| e.to_string())?;
        staged.file().sync_all().map_err(|e| e.to_string())?;
        staged
            .commit(plan.policy.alternatives())
            .map_err(|e| e.to_string())
    });
    match copied {
        Ok(c) => {
            let target = item.target.with_file_name(&c.name);
            run.restored(item, &target, Some(c.method), c.hash);
        }
        Err(reason) => run.failed(item, reason),
    }
}
