//! What each step does with the actions its keymap gives keys (see `keymaps.rs`).

use super::keymap::Action;
use super::keys::{Key, moved};
use super::message::*;
use super::model::*;

pub fn on_step_action(model: &mut Model, action: Action, key: Key) -> Vec<Effect> {
    match model.step {
        Step::Writers => super::update_writers::on_action(model, action, key),
        Step::Gpu => gpu(model, action),
        Step::Snapshots => snapshots(model, action, key),
        Step::Recovery => recovery(model, action, key),
        Step::Restore => restore(model, action, key),
        Step::Finish => finish(model, action, key),
    }
}

fn go(model: &mut Model, step: Step) -> Vec<Effect> {
    model.step = step;
    match step {
        Step::Writers => vec![Effect::ScanWriters],
        Step::Gpu => vec![Effect::ProbeGpu],
        _ => vec![],
    }
}

fn gpu(model: &mut Model, action: Action) -> Vec<Effect> {
    match action {
        Action::Refresh => vec![Effect::ProbeGpu],
        Action::Next => go(model, Step::Snapshots),
        Action::Back => go(model, Step::Writers),
        _ => vec![],
    }
}

fn snapshots(model: &mut Model, action: Action, key: Key) -> Vec<Effect> {
    let count = model
        .snapshots
        .listing
        .as_ref()
        .map_or(0, |l| l.snapshots.len());
    match action {
        Action::Move => {
            model.snapshots.selected =
                moved(model.snapshots.selected, key.movement().unwrap_or(0), count);
            vec![]
        }
        Action::Next => {
            let Some(s) = model
                .snapshots
                .listing
                .as_ref()
                .and_then(|l| l.snapshots.get(model.snapshots.selected))
            else {
                model.notice = Some("no snapshot to choose".into());
                return vec![];
            };
            let id = s.id.clone();
            model.snapshots.chosen = Some(id.clone());
            model.recovery = Recovery::default();
            model.picker = None;
            let mut effects = go(model, Step::Recovery);
            effects.extend(model.snapshots.pins.on_chosen(&id));
            effects
        }
        Action::Back => go(model, Step::Gpu),
        _ => vec![],
    }
}

fn recovery(model: &mut Model, action: Action, key: Key) -> Vec<Effect> {
    let Some(id) = model.snapshots.chosen.clone() else {
        return go(model, Step::Snapshots);
    };
    let target = model.rollback_target();
    let r = &mut model.recovery;
    match (r.phase, action) {
        (RecoveryPhase::Running, _) => vec![],
        // Refused before anything is typed: the fix is offered from here.
        (RecoveryPhase::Confirming, Action::FixWriters) => {
            r.phase = RecoveryPhase::Choosing;
            r.back_to_rollback = true;
            go(model, Step::Writers)
        }
        (RecoveryPhase::Confirming, Action::CheckAgain) => {
            r.refusal = None;
            vec![Effect::CheckRollback { id }]
        }
        (RecoveryPhase::Confirming, Action::Type(c)) => {
            r.typed.push(c);
            vec![]
        }
        (RecoveryPhase::Confirming, Action::Erase) => {
            r.typed.pop();
            vec![]
        }
        (RecoveryPhase::Confirming, Action::Back) => {
            r.phase = RecoveryPhase::Choosing;
            vec![]
        }
        (RecoveryPhase::Confirming, Action::Yes) if r.typed == target => {
            r.phase = RecoveryPhase::Running;
            vec![Effect::Rollback {
                id,
                confirm: r.typed.clone(),
            }]
        }
        (RecoveryPhase::Confirming, Action::Yes) => {
            model.notice = Some(format!("type `{target}` exactly to confirm the rollback"));
            vec![]
        }
        (RecoveryPhase::Choosing, Action::Move) => {
            r.choice = if key.movement().unwrap_or(0) < 0 {
                RecoveryChoice::Rescue
            } else {
                RecoveryChoice::Rollback
            };
            vec![]
        }
        (RecoveryPhase::Choosing, Action::Next) => match r.choice {
            RecoveryChoice::Rescue => {
                model.step = Step::Restore;
                model.restore = RestoreRun {
                    phase: RestorePhase::Loading,
                    ..RestoreRun::default()
                };
                model.picker = None;
                vec![Effect::LoadDiff { id }]
            }
            RecoveryChoice::Rollback => {
                r.phase = RecoveryPhase::Confirming;
                r.typed.clear();
                r.newer = None;
                r.refusal = None;
                vec![
                    Effect::CheckRollback { id: id.clone() },
                    Effect::ScanNewer { id },
                ]
            }
        },
        (RecoveryPhase::Choosing, Action::Back) => go(model, Step::Snapshots),
        _ => vec![],
    }
}

fn restore(model: &mut Model, action: Action, key: Key) -> Vec<Effect> {
    let run = &mut model.restore;
    if run.phase.restoring() {
        if action == Action::Cancel && run.phase == RestorePhase::Running {
            run.phase = RestorePhase::Cancelling;
            return vec![Effect::Cancel(Job::Restore)];
        }
        return vec![];
    }
    let Some(picker) = model.picker.as_mut() else {
        if action != Action::Back {
            return vec![];
        }
        let was_loading = run.phase == RestorePhase::Loading;
        run.phase = RestorePhase::Browsing;
        let mut effects = if was_loading {
            vec![Effect::Cancel(Job::Diff)]
        } else {
            vec![]
        };
        effects.extend(go(model, Step::Recovery));
        return effects;
    };
    match (run.phase, action) {
        (RestorePhase::Leaving, Action::Yes) => {
            run.phase = RestorePhase::Browsing;
            return go(model, Step::Recovery);
        }
        (RestorePhase::Leaving, _) => run.phase = RestorePhase::Browsing,
        (_, Action::Type(c)) => picker.set_query(format!("{}{c}", picker.query)),
        (_, Action::Erase) => {
            let mut q = picker.query.clone();
            q.pop();
            picker.set_query(q);
        }
        (_, Action::KeepSearch) => picker.searching = false,
        (_, Action::ClearSearch) => {
            picker.searching = false;
            picker.set_query(String::new());
        }
        (RestorePhase::Confirming, Action::Yes) => {
            run.phase = RestorePhase::Running;
            run.progress = None;
            return vec![Effect::Restore {
                id: picker.snapshot_id.clone(),
                selection: picker.selection(),
                policy: run.policy,
            }];
        }
        (RestorePhase::Confirming, Action::SwitchConflict) => {
            use crate::engine::restore_plan::ConflictPolicy::*;
            run.policy = if run.policy == Skip { KeepBoth } else { Skip };
        }
        (RestorePhase::Confirming, _) => run.phase = RestorePhase::Browsing,
        (_, Action::Move) => picker.move_cursor(key.movement().unwrap_or(0)),
        (_, Action::Open) => picker.set_expanded(true),
        (_, Action::Close) => picker.set_expanded(false),
        (_, Action::Select) => picker.toggle_selected(),
        (_, Action::SelectAllDeleted) => picker.toggle_all_deleted(),
        (_, Action::FilterDeleted) => {
            picker.deleted_only = !picker.deleted_only;
            picker.refresh();
        }
        (_, Action::Search) => picker.searching = true,
        (_, Action::Next) if picker.selection().is_empty() => {
            model.notice = Some("nothing selected: space selects, a selects all deleted".into());
        }
        (_, Action::Next) => run.phase = RestorePhase::Confirming,
        // Leaving with a selection asks first (leaving forgets it).
        (_, Action::Back) if !picker.selection().is_empty() => run.phase = RestorePhase::Leaving,
        (_, Action::Back) => return go(model, Step::Recovery),
        _ => {}
    }
    vec![]
}

fn finish(model: &mut Model, action: Action, key: Key) -> Vec<Effect> {
    let protection = &mut model.finish.protection;
    if protection.asking.is_some() {
        return protection.answer(action == Action::Yes);
    }
    match action {
        Action::ApplyPolicy => {
            protection.ask(super::protection::ProtectAsk::ApplyPolicy);
            vec![]
        }
        Action::PreRunSnapshot => {
            protection.ask(super::protection::ProtectAsk::TakeSnapshot);
            vec![]
        }
        Action::Move => {
            let delta = key.movement().unwrap_or(0);
            let scroll = model.finish.scroll as isize + delta;
            model.finish.scroll = scroll.clamp(0, 500) as u16;
            vec![]
        }
        Action::CopyBack => vec![Effect::CopyBack {
            files: model.harvested_to_copy_back(),
        }],
        Action::Unpin => model.snapshots.pins.unpin_all(),
        Action::ThawFrozen => vec![Effect::Signal {
            action: SignalAction::Thaw,
            targets: model.writers.frozen.iter().map(|f| (f.0, f.1)).collect(),
        }],
        // Back to the picker after a restore or rollback: the comparison is redone, so what
        // came back no longer shows as deleted.
        Action::Back => match model.snapshots.chosen.clone() {
            Some(id) if model.restore.report.is_some() || model.recovery.outcome.is_some() => {
                model.step = Step::Restore;
                model.picker = None;
                model.restore = RestoreRun {
                    phase: RestorePhase::Loading,
                    ..RestoreRun::default()
                };
                model.recovery.outcome = None;
                vec![Effect::LoadDiff { id }]
            }
            _ => go(model, Step::Restore),
        },
        Action::Next if !model.files_at_risk(false).is_empty() => {
            model.overlay = Overlay::AtRisk(Leaving::Quit);
            vec![]
        }
        Action::Next => {
            model.quitting = true;
            vec![Effect::Quit]
        }
        _ => vec![],
    }
}
