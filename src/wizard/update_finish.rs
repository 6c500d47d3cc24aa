//! Step 6: after a restore or a rollback, verify what came back and run the torch check with
//! the job's own interpreter, then write the report.

use super::message::*;
use super::model::*;
use crate::engine::diff::EntryKind;
use crate::engine::restore::RestoreReport;
use crate::engine::torch_check::{JobPython, TorchReport};
use crate::engine::verify::Verdict;
use crate::sources::RollbackOutcome;
use std::path::PathBuf;

/// The interpreter of the training job seen in step 1, as the job invoked it: of the Python
/// processes, one using a GPU first (a training job, not a notebook or TensorBoard), then
/// one with a conda or virtualenv environment. A job in a container is checked in it.
pub fn job_python(model: &Model) -> Option<JobPython> {
    let job = model
        .writers
        .processes
        .iter()
        .filter(|p| p.python.is_some())
        .max_by_key(|p| {
            (
                p.uses_gpu(),
                !p.python_env.is_empty(),
                std::cmp::Reverse(p.pid),
            )
        })?;
    JobPython::of(job)
}

pub fn on_restore_done(model: &mut Model, report: RestoreReport, elapsed_ms: u128) -> Vec<Effect> {
    model.restore.phase = RestorePhase::Browsing;
    model.step = Step::Finish;
    model.finish.timings.push(("restore".into(), elapsed_ms));
    let files: Vec<PathBuf> = report
        .restored
        .iter()
        .filter(|r| r.kind == EntryKind::File)
        .map(|r| r.target.clone())
        .collect();
    let recorded = report
        .restored
        .iter()
        .filter_map(|r| Some((r.target.clone(), r.hash.clone()?)))
        .collect();
    let checkpoints = files
        .iter()
        .filter(|f| crate::engine::verify::is_checkpoint(f))
        .cloned()
        .collect();
    let f = &mut model.finish;
    f.restored_total.0 += report.restored.len();
    f.restored_total.1 += report.bytes;
    let beside: String = report
        .kept_beside()
        .iter()
        .map(|(rel, target)| {
            format!(
                "; {} went beside, as {}",
                crate::engine::rel_shown(rel, &report.destination),
                crate::engine::shown(target)
            )
        })
        .collect();
    f.actions.push(format!(
        "restore from snapshot {}: {} restored ({}), {} skipped, {} failed{}{beside}",
        model.snapshots.chosen.as_deref().unwrap_or("?"),
        report.restored.len(),
        humansize::format_size(report.bytes, humansize::BINARY),
        report.skipped.len(),
        report.failed.len(),
        if report.cancelled { ", cancelled" } else { "" }
    ));
    start_checks(model);
    model.restore.report = Some(report);
    // What step 3 counted is stale now: counted again.
    model.snapshots.lost.clear();
    let recount: Vec<Effect> = model
        .snapshots
        .listing
        .iter()
        .flat_map(|l| {
            l.snapshots
                .iter()
                .enumerate()
                .filter(|(i, s)| l.worth_counting(*i, s))
                .map(|(_, s)| Effect::CountLost { id: s.id.clone() })
        })
        .collect();
    vec![
        Effect::Verify { files, recorded },
        Effect::TorchCheck {
            python: job_python(model),
            checkpoints,
        },
    ]
    .into_iter()
    .chain(recount)
    .chain(model.finish.protection.on_finish())
    .collect()
}

pub fn on_rollback_done(model: &mut Model, result: Result<RollbackOutcome, String>) -> Vec<Effect> {
    model.recovery.phase = RecoveryPhase::Choosing;
    let ok = result.is_ok();
    model.recovery.outcome = Some(result);
    if !ok {
        return vec![];
    }
    model.step = Step::Finish;
    // The live tree was replaced: harvested files copied back before are in the guard
    // now, not in place; they count as missing again (and `b` offers them again).
    model.finish.copied_back.clear();
    if let Some(Ok(o)) = &model.recovery.outcome {
        model.finish.actions.push(format!(
            "rollback of {} to snapshot {}{}; to undo: {}",
            crate::engine::shown(&o.replaced),
            o.snapshot,
            o.guard
                .as_ref()
                .map(|g| format!(
                    "; previous state kept read-only at {}",
                    crate::engine::shown(g)
                ))
                .unwrap_or_default(),
            o.undo
        ));
    }
    start_checks(model);
    // What was listed and counted before is stale now.
    model.snapshots.lost.clear();
    vec![
        Effect::VerifyUnder {
            root: model.path.clone(),
        },
        Effect::TorchCheck {
            python: job_python(model),
            checkpoints: vec![],
        },
        Effect::ListSnapshots,
    ]
    .into_iter()
    .chain(model.finish.protection.on_finish())
    .collect()
}

/// A new action's checks begin: its verdicts, torch check and report are pending.
fn start_checks(model: &mut Model) {
    model.finish.verdicts = None;
    model.finish.verify_progress = None;
    model.finish.torch = None;
    model.finish.report_pending = true;
}

pub fn on_verified(model: &mut Model, verdicts: Vec<Verdict>, elapsed_ms: u128) -> Vec<Effect> {
    model.finish.timings.push(("verify".into(), elapsed_ms));
    model.finish.verdicts = Some(verdicts);
    report_when_complete(model)
}

pub fn on_torch(model: &mut Model, report: TorchReport) -> Vec<Effect> {
    model
        .finish
        .timings
        .push(("torch check".into(), report.elapsed_ms));
    model.finish.torch = Some(report);
    report_when_complete(model)
}

fn report_when_complete(model: &mut Model) -> Vec<Effect> {
    if let (Some(verdicts), Some(torch)) = (&mut model.finish.verdicts, &model.finish.torch) {
        crate::engine::verify::confirm_legacy_by_loads(verdicts, &torch.facts.loads);
    }
    if model.finish.verdicts.is_some()
        && model.finish.torch.is_some()
        && model.finish.report_pending
    {
        // Written again after every action, so it always tells the whole run.
        model.finish.report_pending = false;
        vec![Effect::WriteReport(Box::new(finish_report(model)))]
    } else {
        vec![]
    }
}

/// One line for the torch check.
pub fn torch_summary(report: &TorchReport) -> String {
    let f = &report.facts;
    match &report.diagnosis {
        None => format!(
            "torch {} (CUDA {}) sees {}: {}{}",
            f.torch.as_deref().unwrap_or("?"),
            f.cuda_build.as_deref().unwrap_or("?"),
            crate::engine::counted(f.count as usize, "GPU"),
            f.names.join(", "),
            f.proven()
        ),
        Some(d) => d.clone(),
    }
}

/// What this run created and keeps: harvested files, the rollback guard. (Temporary
/// snapshot mounts are undone when snaprescue exits.)
pub fn created(model: &Model) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(h) = &model.writers.last_harvest
        && let Some(m) = &h.manifest
    {
        out.push(format!(
            "{}, manifest {}",
            crate::engine::counted(h.saved.len(), "harvested file"),
            m.display()
        ));
    }
    if let Some(Ok(o)) = &model.recovery.outcome
        && let Some(g) = &o.guard
    {
        out.push(format!("rollback guard (read-only) {}", g.display()));
    }
    out
}

/// The summary of this run, for the report file.
pub fn finish_report(model: &Model) -> FinishReport {
    let report = model.restore.report.as_ref();
    FinishReport {
        snaprescue: crate::VERSION.to_string(),
        path: model.path.display().to_string(),
        snapshot: model.snapshots.chosen.clone(),
        deleted_at: model
            .snapshots
            .listing
            .as_ref()
            .and_then(|l| l.deleted_at)
            .map(|t| t.to_rfc3339()),
        restored: model.finish.restored_total.0,
        restored_bytes: model.finish.restored_total.1,
        skipped: report.map_or(vec![], |r| {
            r.skipped
                .iter()
                .map(|s| format!("{}: {}", crate::engine::shown(&s.path), s.reason))
                .collect()
        }),
        failed: report.map_or(vec![], |r| {
            r.failed
                .iter()
                .map(|f| format!("{}: {}", crate::engine::shown(&f.path), f.reason))
                .collect()
        }),
        rollback: match &model.recovery.outcome {
            Some(Ok(o)) => Some(format!(
                "{} rolled back to {}; undo: {}",
                o.replaced.display(),
                o.snapshot,
                o.undo
            )),
            _ => None,
        },
        frozen: model.writers.frozen.iter().map(|f| f.0).collect(),
        verdicts: model
            .finish
            .verdicts
            .iter()
            .flatten()
            .map(|v| {
                format!(
                    "{} {}: {}",
                    if v.ok { "OK" } else { "FAIL" },
                    crate::engine::shown(&v.path),
                    v.detail
                )
            })
            .collect(),
        torch: model.finish.torch.as_ref().map(torch_summary),
        timings: model.finish.timings.clone(),
        created: created(model),
        actions: model.finish.actions.clone(),
        still_missing: super::missing::still_missing(model)
            .into_iter()
            .map(|m| {
                let fix = m.at_shell.map(|f| format!(" ({f})")).unwrap_or_default();
                format!("{}: {}{fix}", crate::engine::shown(&m.path), m.where_)
            })
            .collect(),
    }
}
