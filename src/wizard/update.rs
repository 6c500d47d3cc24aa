//! `update`: messages in, model changed, effects out. No I/O here.

use super::keymap::Action;
use super::keys::Key;
use super::message::*;
use super::model::*;
use super::picker::Picker;
use super::{update_finish, update_steps, update_writers};

/// What the wizard asks for when it opens: data for the first steps, in the background.
pub fn init(_model: &Model) -> Vec<Effect> {
    vec![Effect::ScanWriters, Effect::ProbeGpu, Effect::ListSnapshots]
}

pub fn update(model: &mut Model, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => on_key(model, key),
        Msg::Tick => match model.step {
            Step::Writers => vec![Effect::ScanWriters],
            Step::Gpu => vec![Effect::ProbeGpu, Effect::ScanWriters],
            _ => vec![],
        },
        Msg::WritersScanned {
            processes,
            unreadable,
            elapsed_secs,
        } => {
            let w = &mut model.writers;
            w.rates = processes
                .iter()
                .filter_map(|p| {
                    let before = w
                        .processes
                        .iter()
                        .find(|o| o.pid == p.pid && o.start_time == p.start_time)?;
                    let delta = p.write_bytes?.checked_sub(before.write_bytes?)?;
                    (elapsed_secs > 0.0).then(|| (p.pid, delta as f64 / elapsed_secs))
                })
                .collect();
            w.processes = processes;
            w.unreadable = unreadable;
            super::update_writers::adopt_earlier_harvests(w);
            w.loaded = true;
            w.selected = w.selected.min(w.processes.len().saturating_sub(1));
            vec![]
        }
        Msg::Signalled { action, results } => update_writers::on_signalled(model, action, results),
        Msg::Harvested(result) => update_writers::on_harvested(model, result),
        Msg::Remounted(result) => {
            model.notice = Some(match result {
                Ok(m) => format!("{m} is now read-only"),
                Err(e) => e,
            });
            vec![]
        }
        Msg::GpuProbed(status) => {
            model.gpu = Some(status);
            vec![]
        }
        Msg::SnapshotsListed(result) => match result {
            Ok(mut listing) => {
                // The deletion happened once: a listing made again after a restore or a
                // rollback (which change folder times) keeps the first estimate.
                if let Some(first) = model.snapshots.listing.as_ref().and_then(|l| l.deleted_at) {
                    listing.deleted_at = Some(first);
                }
                model.snapshots.selected = listing.recommended.unwrap_or(0);
                let effects = listing
                    .snapshots
                    .iter()
                    .enumerate()
                    .filter(|(i, s)| listing.worth_counting(*i, s))
                    .map(|(_, s)| Effect::CountLost { id: s.id.clone() })
                    .collect();
                model.snapshots.listing = Some(listing);
                effects
            }
            Err(e) => {
                model.snapshots.error = Some(e);
                vec![]
            }
        },
        Msg::LostCounted { id, lost } => {
            let snapshots = &mut model.snapshots;
            snapshots.lost.insert(id, lost);
            if let Some(listing) = &mut snapshots.listing {
                let before = listing.recommended;
                listing.recommend_by(&snapshots.lost);
                if before.is_none_or(|b| b == snapshots.selected) {
                    snapshots.selected = listing.recommended.unwrap_or(snapshots.selected);
                }
            }
            vec![]
        }
        // Each change is one of this run's actions (the report, the exit summary).
        Msg::Pinned { id, result } => {
            if let Ok(o) = &result
                && o.changed
            {
                let action = format!("pinned snapshot {id}: {}", o.said);
                model.finish.actions.push(action);
            }
            model.snapshots.pins.on_pinned(&id, result);
            vec![]
        }
        Msg::Unpinned { id, result } => {
            if let Ok(o) = &result {
                let mut said = o.undone.clone();
                said.extend(o.not_undone.iter().map(|n| format!("not undone: {n}")));
                let action = format!("unpinned snapshot {id}: {}", said.join("; "));
                model.finish.actions.push(action);
            }
            model.snapshots.pins.on_unpinned(&id, result);
            vec![]
        }
        Msg::NewerScanned(result) => {
            model.recovery.newer = Some(result);
            vec![]
        }
        Msg::CopiedBack(results) => {
            let ok = results.iter().filter(|r| r.1.is_ok()).count();
            let failed: Vec<String> = results
                .iter()
                .filter_map(|(p, r)| {
                    r.as_ref()
                        .err()
                        .map(|e| format!("{}: {e}", crate::engine::shown(p)))
                })
                .collect();
            model.notice = Some(if failed.is_empty() {
                format!(
                    "{} copied back into place, verified",
                    crate::engine::counted(ok, "harvested file")
                )
            } else {
                format!("{ok} copied back; not copied: {}", failed.join("; "))
            });
            for (original, result) in &results {
                match result {
                    Ok(()) => model.finish.actions.push(format!(
                        "harvested copy of {} copied back into place",
                        crate::engine::shown(original)
                    )),
                    // A copy that changed or became a link is not a saved copy any more:
                    // the file counts as at risk again (asked about, not offered as saved).
                    Err(crate::engine::harvest::CopyBackError::Untrusted(_)) => {
                        super::earlier_runs::forget_harvested(&mut model.writers, original)
                    }
                    Err(_) => {}
                }
            }
            model.finish.copied_back.extend(
                results
                    .into_iter()
                    .map(|(original, r)| (original, r.map_err(|e| e.to_string()))),
            );
            model.finish.report_pending = true;
            vec![Effect::WriteReport(Box::new(super::finish_report(model)))]
        }
        Msg::RollbackChecked(result) => {
            model.recovery.refusal = Some(result);
            vec![]
        }
        Msg::DiffReady(result) => {
            model.restore.phase = RestorePhase::Browsing;
            match result {
                Ok(d) => {
                    model
                        .finish
                        .timings
                        .push(("compare snapshot with live tree".into(), d.elapsed_ms));
                    let mut picker = Picker::new(d.snapshot_id, d.tree, d.dest, d.free_bytes);
                    picker.caveat = d.caveat;
                    picker.reflink = d.reflink;
                    model.picker = Some(picker);
                }
                Err(e) => model.restore.error = Some(e),
            }
            vec![]
        }
        Msg::DiffProgress {
            scanned,
            first_deleted,
            stage,
        } => {
            model.restore.stage = stage;
            model.restore.scanned = scanned;
            model.restore.first_deleted = first_deleted;
            vec![]
        }
        Msg::RestoreProgress(p) => {
            model.restore.progress = Some(p);
            vec![]
        }
        Msg::RestoreRefused(reason) => {
            model.restore.phase = RestorePhase::Browsing;
            model.restore.error = Some(reason);
            vec![]
        }
        Msg::RestoreDone { report, elapsed_ms } => {
            update_finish::on_restore_done(model, report, elapsed_ms)
        }
        Msg::RollbackDone(result) => update_finish::on_rollback_done(model, result),
        Msg::RollbackStage(stage) => {
            model.recovery.stage = stage;
            vec![]
        }
        Msg::VerifyProgress { done, total } => {
            model.finish.verify_progress = Some((done, total));
            vec![]
        }
        Msg::Verified {
            verdicts,
            elapsed_ms,
        } => update_finish::on_verified(model, verdicts, elapsed_ms),
        Msg::TorchChecked(report) => update_finish::on_torch(model, report),
        Msg::ReportWritten(result) => {
            model.finish.report_file = Some(result);
            vec![]
        }
        Msg::Audited(result) => {
            model.finish.protection.on_audited(result);
            vec![]
        }
        Msg::PolicyApplied(result) => {
            model.notice = Some(match &result {
                Ok((source, applied)) => format!("{source}: {}", applied.said.join("; ")),
                Err(e) => format!("Policy not applied: {e}"),
            });
            if let Ok((source, applied)) = &result
                && applied.changed
            {
                model
                    .finish
                    .actions
                    .push(format!("{source}: {}", applied.said.join("; ")));
            }
            model.finish.protection.on_applied(result)
        }
        Msg::PreRunSnapshot(result) => {
            model.notice = Some(match &result {
                Ok(t) => format!("Pre-run snapshot {} ({}) taken", t.name, t.id),
                Err(e) => format!("Pre-run snapshot not taken: {e}"),
            });
            if let Ok(t) = &result {
                model.finish.actions.push(format!(
                    "pre-run snapshot {} ({}) on {}",
                    t.name, t.id, t.source
                ));
            }
            model.finish.protection.on_snapshot(result)
        }
    }
}

fn on_key(model: &mut Model, key: Key) -> Vec<Effect> {
    let Some(action) = super::keymap::action(model, key) else {
        return vec![];
    };
    match model.overlay {
        Overlay::Help => {
            model.overlay = Overlay::None;
            return vec![];
        }
        Overlay::QuitConfirm => {
            model.overlay = Overlay::None;
            if action == Action::Yes {
                model.quitting = true;
                return vec![Effect::CancelAll, Effect::Quit];
            }
            return vec![];
        }
        Overlay::AtRisk(leaving) => {
            model.overlay = Overlay::None;
            return match (action, leaving) {
                (Action::Yes, Leaving::NextStep) => super::update_writers::leave(model),
                (Action::Yes, Leaving::Quit) => {
                    model.quitting = true;
                    vec![Effect::Quit]
                }
                (Action::Harvest, _) => {
                    // Saving from a later step's question: leaving step 1 comes back to it,
                    // with what it held (the picker's selection, the finish).
                    model.return_to = (model.step != Step::Writers).then_some(model.step);
                    model.step = Step::Writers;
                    super::update_writers::on_action(model, Action::Harvest, key)
                }
                _ => vec![],
            };
        }
        Overlay::None => {}
    }
    match action {
        Action::Quit => {
            if model.typing() || model.busy() {
                model.overlay = Overlay::QuitConfirm;
            } else if !model.files_at_risk(false).is_empty() {
                model.overlay = Overlay::AtRisk(Leaving::Quit);
            } else {
                model.quitting = true;
                return vec![Effect::Quit];
            }
            vec![]
        }
        Action::Help => {
            model.overlay = Overlay::Help;
            vec![]
        }
        action => {
            model.notice = None;
            update_steps::on_step_action(model, action, key)
        }
    }
}
