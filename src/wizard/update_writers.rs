//! Step 1's keys and results: freeze first, harvest deleted-but-open files, and only then,
//! optionally, terminate (blocked while a deleted file would be lost) or remount read-only.

pub use super::earlier_runs::{adopt_earlier_harvests, adopt_still_frozen, left_frozen};
use super::keymap::Action;
use super::keys::{Key, moved};
use super::message::*;
use super::model::*;
use crate::engine::harvest::HarvestTarget;
use crate::engine::keep_running::freezable;
use crate::ports::processes::ProcessUse;

/// Deleted files the process holds that were not harvested yet.
pub fn unharvested(w: &Writers, p: &ProcessUse) -> usize {
    p.deleted_open
        .iter()
        .filter(|d| !w.harvested.contains(&d.handle))
        .count()
}

/// The selected process and every listed process descending from it, less those to keep
/// running (an SSH daemon's tree holds every login).
fn tree(w: &Writers, root: &ProcessUse) -> Vec<(i32, u64)> {
    let mut pids = vec![root.pid];
    let mut i = 0;
    while i < pids.len() {
        let parent = pids[i];
        let children: Vec<i32> = w
            .processes
            .iter()
            .filter(|p| p.ppid == parent && !pids.contains(&p.pid))
            .map(|p| p.pid)
            .collect();
        pids.extend(children);
        i += 1;
    }
    let descendants = w
        .processes
        .iter()
        .filter(|p| p.pid != root.pid && pids.contains(&p.pid));
    std::iter::once(root)
        .chain(freezable(descendants))
        .map(|p| (p.pid, p.start_time))
        .collect()
}

/// What to do next, in the order that saves the most.
pub fn suggestion(w: &Writers) -> &'static str {
    // Those left running on purpose (daemons, launchers) do not count, nor those that only
    // read or sit there (a shell's cwd, an editor): freezing them saves nothing.
    let running = freezable(&w.processes)
        .iter()
        .any(|p| p.state != 'T' && (p.writes() || unharvested(w, p) > 0));
    let holding = w.processes.iter().any(|p| unharvested(w, p) > 0);
    match (running, holding) {
        (true, _) => "Next: freeze what writes or holds deleted files (f one, P its tree, F all).",
        (false, true) => "Next: h saves the deleted-but-open files to another disk.",
        (false, false) => {
            "Nothing here writes now. Enter goes on (K terminates, R remounts read-only)."
        }
    }
}

/// Leaves step 1: to step 2, or back to the rollback that sent the user here (checked again).
pub fn leave(model: &mut Model) -> Vec<Effect> {
    let r = &mut model.recovery;
    match model.snapshots.chosen.clone() {
        Some(id) if r.back_to_rollback => {
            r.back_to_rollback = false;
            r.phase = RecoveryPhase::Confirming;
            r.refusal = None;
            r.typed.clear();
            r.newer = None;
            model.step = Step::Recovery;
            vec![
                Effect::CheckRollback { id: id.clone() },
                Effect::ScanNewer { id },
            ]
        }
        _ if model.return_to.is_some() => {
            model.step = model.return_to.take().unwrap_or(Step::Gpu);
            vec![]
        }
        _ => {
            model.step = Step::Gpu;
            vec![Effect::ProbeGpu]
        }
    }
}

pub fn on_action(model: &mut Model, action: Action, key: Key) -> Vec<Effect> {
    let w = &mut model.writers;
    if let Some(Pending::HarvestTo(dir)) = w.confirm.as_mut() {
        match action {
            Action::Type(c) => dir.push(c),
            Action::Erase => {
                dir.pop();
            }
            Action::No => w.confirm = None,
            Action::Yes => {
                let dir = std::mem::take(dir).into();
                w.confirm = None;
                let targets: Vec<HarvestTarget> = HarvestTarget::held_by(&w.processes)
                    .into_iter()
                    .filter(|t| !w.harvested.contains(&t.file.handle))
                    .collect();
                w.working = true;
                return vec![Effect::Harvest { targets, dir }];
            }
            _ => {}
        }
        return vec![];
    }
    if let Some(pending) = w.confirm.take() {
        return match (pending, action) {
            (Pending::Signal(action, targets), Action::Yes) => {
                w.working = action == SignalAction::Terminate;
                vec![Effect::Signal { action, targets }]
            }
            (
                Pending::Terminate {
                    targets,
                    unharvested: 0,
                },
                Action::Yes,
            )
            | (Pending::Terminate { targets, .. }, Action::TerminateAnyway) => {
                w.working = true;
                vec![Effect::Signal {
                    action: SignalAction::Terminate,
                    targets,
                }]
            }
            (Pending::Remount, Action::Yes) => vec![Effect::RemountReadOnly],
            // "h first": h there saves them at once.
            (Pending::Terminate { .. }, Action::Harvest) => {
                w.confirm = Some(Pending::HarvestTo(DEFAULT_HARVEST_DIR.to_string()));
                vec![]
            }
            _ => vec![],
        };
    }
    let current = w.processes.get(w.selected).cloned();
    if let Some(p) = current.as_ref().filter(|p| p.launcher)
        && matches!(
            action,
            Action::Freeze | Action::FreezeTree | Action::Terminate
        )
    {
        model.notice = Some(format!(
            "{} started snaprescue: it is never frozen or ended from here (this session would \
             hang); h saves its deleted-but-open files",
            p.pid
        ));
        return vec![];
    }
    match action {
        Action::Move => {
            w.selected = moved(w.selected, key.movement().unwrap_or(0), w.processes.len());
            vec![]
        }
        Action::Freeze => {
            w.confirm =
                current.map(|p| Pending::Signal(SignalAction::Freeze, vec![(p.pid, p.start_time)]));
            vec![]
        }
        Action::FreezeTree => {
            w.confirm = current.map(|p| Pending::Signal(SignalAction::Freeze, tree(w, &p)));
            vec![]
        }
        Action::FreezeAll => {
            let alive: Vec<(i32, u64)> = freezable(&w.processes)
                .iter()
                .map(|p| (p.pid, p.start_time))
                .collect();
            if alive.is_empty() {
                model.notice = Some("nothing to freeze: no listed process writes".into());
            } else {
                w.confirm = Some(Pending::Signal(SignalAction::Freeze, alive));
            }
            vec![]
        }
        Action::Thaw => {
            w.confirm =
                current.map(|p| Pending::Signal(SignalAction::Thaw, vec![(p.pid, p.start_time)]));
            vec![]
        }
        Action::ThawAll => {
            let frozen: Vec<(i32, u64)> = w
                .processes
                .iter()
                .filter(|p| p.state == 'T')
                .map(|p| (p.pid, p.start_time))
                .collect();
            if frozen.is_empty() {
                model.notice = Some("nothing to thaw: no listed process is stopped".into());
            } else {
                w.confirm = Some(Pending::Signal(SignalAction::Thaw, frozen));
            }
            vec![]
        }
        Action::Terminate => {
            w.confirm = current.map(|p| Pending::Terminate {
                unharvested: unharvested(w, &p),
                targets: vec![(p.pid, p.start_time)],
            });
            vec![]
        }
        Action::Harvest => {
            if w.processes.iter().any(|p| unharvested(w, p) > 0) {
                w.confirm = Some(Pending::HarvestTo(DEFAULT_HARVEST_DIR.to_string()));
            } else {
                model.notice = Some("no unsaved deleted-but-open files".into());
            }
            vec![]
        }
        Action::Remount => {
            w.confirm = Some(Pending::Remount);
            vec![]
        }
        Action::Refresh => vec![Effect::ScanWriters],
        Action::Next => {
            if !model.files_at_risk(true).is_empty() {
                model.overlay = Overlay::AtRisk(Leaving::NextStep);
                return vec![];
            }
            leave(model)
        }
        _ => vec![],
    }
}

pub fn on_signalled(
    model: &mut Model,
    action: SignalAction,
    results: Vec<(i32, Result<(), String>)>,
) -> Vec<Effect> {
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(pid, r)| r.as_ref().err().map(|e| format!("{pid}: {e}")))
        .collect();
    let done: Vec<i32> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(p, _)| *p)
        .collect();
    let w = &mut model.writers;
    w.working = false;
    match action {
        SignalAction::Freeze => {
            for p in w.processes.iter().filter(|p| done.contains(&p.pid)) {
                if !w.frozen.iter().any(|f| f.0 == p.pid) {
                    w.frozen.push((p.pid, p.start_time, p.command.clone()));
                }
            }
        }
        SignalAction::Thaw | SignalAction::Terminate => {
            w.frozen.retain(|f| !done.contains(&f.0));
            if model.step == Step::Finish && w.frozen.is_empty() {
                model.finish.thawed = true;
            }
        }
    }
    let verb = match action {
        SignalAction::Freeze => "frozen",
        SignalAction::Thaw => "thawed",
        SignalAction::Terminate => "terminated",
    };
    model.notice = Some(if failures.is_empty() {
        let n = done.len();
        format!(
            "{n} {} {verb}",
            if n == 1 { "process" } else { "processes" }
        )
    } else {
        format!("{} {verb}; failed: {}", done.len(), failures.join("; "))
    });
    vec![Effect::ScanWriters]
}

pub fn on_harvested(
    model: &mut Model,
    result: Result<crate::engine::harvest::HarvestReport, String>,
) -> Vec<Effect> {
    let w = &mut model.writers;
    w.working = false;
    match result {
        Ok(report) => {
            w.harvested
                .extend(report.saved.iter().map(|s| s.handle.clone()));
            let dir = report
                .saved
                .first()
                .and_then(|s| s.saved_to.parent())
                .and_then(|p| p.parent());
            model.notice = Some(match (report.failed.len(), dir) {
                (0, Some(d)) => format!(
                    "{} saved and verified under {}",
                    crate::engine::counted(report.saved.len(), "file"),
                    d.display()
                ),
                (0, None) => "nothing to save".into(),
                (n, _) => format!(
                    "{} saved, {n} failed: {}",
                    report.saved.len(),
                    report.failed[0].reason
                ),
            });
            // A second harvest adds to the first (both stay known for copy-back).
            match &mut w.last_harvest {
                Some(earlier) => {
                    earlier.saved.extend(report.saved);
                    earlier.failed.extend(report.failed);
                    earlier.manifest = report.manifest.or(earlier.manifest.take());
                }
                None => w.last_harvest = Some(report),
            }
        }
        Err(e) => model.notice = Some(format!("harvest refused: {e}")),
    }
    vec![]
}
