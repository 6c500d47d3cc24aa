//! Keys of each step.

use super::keys::{Key, moved};
use super::message::*;
use super::model::*;

pub fn on_step_key(model: &mut Model, key: Key) -> Vec<Effect> {
    match model.step {
        Step::Writers => super::update_writers::on_key(model, key),
        Step::Gpu => gpu(model, key),
        Step::Snapshots => snapshots(model, key),
        Step::Recovery => recovery(model, key),
        Step::Restore => restore(model, key),
        Step::Finish => finish(model, key),
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

fn gpu(model: &mut Model, key: Key) -> Vec<Effect> {
    match key {
        Key::Char('r') => vec![Effect::ProbeGpu],
        Key::Enter | Key::Tab | Key::Char('n') => go(model, Step::Snapshots),
        Key::Esc | Key::BackTab => go(model, Step::Writers),
        _ => vec![],
    }
}

fn snapshots(model: &mut Model, key: Key) -> Vec<Effect> {
    let count = model
        .snapshots
        .listing
        .as_ref()
        .map_or(0, |l| l.snapshots.len());
    match key {
        k if k.movement().is_some() => {
            model.snapshots.selected =
                moved(model.snapshots.selected, k.movement().unwrap_or(0), count);
            vec![]
        }
        Key::Enter | Key::Tab | Key::Char('n') => {
            let Some(s) = model
                .snapshots
                .listing
                .as_ref()
                .and_then(|l| l.snapshots.get(model.snapshots.selected))
            else {
                model.notice = Some("no snapshot to choose".into());
                return vec![];
            };
            model.snapshots.chosen = Some(s.id.clone());
            model.recovery = Recovery::default();
            model.picker = None;
            go(model, Step::Recovery)
        }
        Key::Esc | Key::BackTab => go(model, Step::Gpu),
        _ => vec![],
    }
}

fn recovery(model: &mut Model, key: Key) -> Vec<Effect> {
    let Some(id) = model.snapshots.chosen.clone() else {
        return go(model, Step::Snapshots);
    };
    let target = model.rollback_target();
    let r = &mut model.recovery;
    if r.running {
        return vec![];
    }
    // Refused before anything is typed: the fix is offered from here.
    if r.confirming && matches!(r.refusal, Some(Err(_))) {
        return match key {
            Key::Char('f') => {
                r.confirming = false;
                r.back_to_rollback = true;
                go(model, Step::Writers)
            }
            Key::Char('r') => {
                r.refusal = None;
                vec![Effect::CheckRollback { id }]
            }
            Key::Esc => {
                r.confirming = false;
                vec![]
            }
            _ => vec![],
        };
    }
    if r.confirming {
        match key {
            Key::Char(c) => r.typed.push(c),
            Key::Backspace => {
                r.typed.pop();
            }
            Key::Esc => r.confirming = false,
            Key::Enter if r.typed == target => {
                r.running = true;
                return vec![Effect::Rollback {
                    id,
                    confirm: r.typed.clone(),
                }];
            }
            Key::Enter => {
                model.notice = Some(format!("type `{target}` exactly to confirm the rollback"))
            }
            _ => {}
        }
        return vec![];
    }
    match key {
        k if k.movement().is_some() => {
            r.choice = if k.movement().unwrap_or(0) < 0 {
                RecoveryChoice::Rescue
            } else {
                RecoveryChoice::Rollback
            };
            vec![]
        }
        Key::Enter => match r.choice {
            RecoveryChoice::Rescue => {
                model.step = Step::Restore;
                model.restore = RestoreRun {
                    loading: true,
                    ..RestoreRun::default()
                };
                model.picker = None;
                vec![Effect::LoadDiff { id }]
            }
            RecoveryChoice::Rollback => {
                r.confirming = true;
                r.typed.clear();
                r.newer = None;
                r.refusal = None;
                vec![
                    Effect::CheckRollback { id: id.clone() },
                    Effect::ScanNewer { id },
                ]
            }
        },
        Key::Esc | Key::BackTab => go(model, Step::Snapshots),
        _ => vec![],
    }
}

fn restore(model: &mut Model, key: Key) -> Vec<Effect> {
    let run = &mut model.restore;
    if run.running {
        if matches!(key, Key::Esc | Key::Char('x')) && !run.cancelling {
            run.cancelling = true;
            return vec![Effect::Cancel(Job::Restore)];
        }
        return vec![];
    }
    let Some(picker) = model.picker.as_mut() else {
        if matches!(key, Key::Esc | Key::BackTab | Key::Char('x')) {
            let was_loading = run.loading;
            run.loading = false;
            let mut effects = if was_loading {
                vec![Effect::Cancel(Job::Diff)]
            } else {
                vec![]
            };
            effects.extend(go(model, Step::Recovery));
            return effects;
        }
        return vec![];
    };
    if run.leaving {
        run.leaving = false;
        return if key == Key::Char('y') {
            go(model, Step::Recovery)
        } else {
            vec![]
        };
    }
    if picker.searching {
        match key {
            Key::Char(c) => picker.set_query(format!("{}{c}", picker.query)),
            Key::Backspace => {
                let mut q = picker.query.clone();
                q.pop();
                picker.set_query(q);
            }
            Key::Esc => {
                picker.searching = false;
                picker.set_query(String::new());
            }
            Key::Enter => picker.searching = false,
            k => picker.move_cursor(k.movement().unwrap_or(0)),
        }
        return vec![];
    }
    if run.confirming {
        return match key {
            Key::Enter | Key::Char('y') => {
                run.confirming = false;
                run.running = true;
                run.progress = None;
                vec![Effect::Restore {
                    id: picker.snapshot_id.clone(),
                    selection: picker.selection(),
                    policy: run.policy,
                }]
            }
            Key::Char('c') => {
                use crate::engine::restore_plan::ConflictPolicy::*;
                run.policy = if run.policy == Skip { KeepBoth } else { Skip };
                vec![]
            }
            _ => {
                run.confirming = false;
                vec![]
            }
        };
    }
    match key {
        k if k.movement().is_some() => picker.move_cursor(k.movement().unwrap_or(0)),
        Key::Right | Key::Char('l') => picker.set_expanded(true),
        Key::Left | Key::Char('h') => picker.set_expanded(false),
        Key::Char(' ') => picker.toggle_selected(),
        Key::Char('a') => picker.toggle_all_deleted(),
        Key::Char('d') => {
            picker.deleted_only = !picker.deleted_only;
            picker.refresh();
        }
        Key::Char('/') => picker.searching = true,
        Key::Enter => {
            if picker.selection().is_empty() {
                model.notice =
                    Some("nothing selected: space selects, a selects all deleted".into());
            } else {
                run.confirming = true;
            }
        }
        // Esc clears a search first (as in yazi and lazygit), then asks before a selection
        // is forgotten, then goes back.
        Key::Esc if !picker.query.is_empty() => picker.set_query(String::new()),
        Key::Esc | Key::BackTab if !picker.selection().is_empty() => run.leaving = true,
        Key::Esc | Key::BackTab => return go(model, Step::Recovery),
        _ => {}
    }
    vec![]
}

fn finish(model: &mut Model, key: Key) -> Vec<Effect> {
    match key {
        k if k.movement().is_some() => {
            let delta = k.movement().unwrap_or(0);
            let scroll = model.finish.scroll as isize + delta;
            model.finish.scroll = scroll.clamp(0, 500) as u16;
            vec![]
        }
        Key::Char('b') if !model.harvested_to_copy_back().is_empty() => {
            vec![Effect::CopyBack {
                files: model.harvested_to_copy_back(),
            }]
        }
        Key::Char('t') if !model.writers.frozen.is_empty() => vec![Effect::Signal {
            action: SignalAction::Thaw,
            targets: model.writers.frozen.iter().map(|f| (f.0, f.1)).collect(),
        }],
        // Back to the picker after a restore or rollback: the comparison is redone, so what
        // came back no longer shows as deleted.
        Key::Esc | Key::BackTab => match model.snapshots.chosen.clone() {
            Some(id) if model.restore.report.is_some() || model.recovery.outcome.is_some() => {
                model.step = Step::Restore;
                model.picker = None;
                model.restore = RestoreRun {
                    loading: true,
                    ..RestoreRun::default()
                };
                model.recovery.outcome = None;
                vec![Effect::LoadDiff { id }]
            }
            _ => go(model, Step::Restore),
        },
        Key::Enter if !model.files_at_risk(false).is_empty() => {
            model.overlay = Overlay::AtRisk(Leaving::Quit);
            vec![]
        }
        Key::Enter => {
            model.quitting = true;
            vec![Effect::Quit]
        }
        _ => vec![],
    }
}
