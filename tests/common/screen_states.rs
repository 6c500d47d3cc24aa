//! One wizard model per screen state worth drawing or pressing keys in: every step, and
//! every mode of it (questions, typed fields, running work, popups).

use super::screen_models::{model, picker_model};
use snaprescue::engine::newer::NewerFiles;
use snaprescue::engine::restore::Progress;
use snaprescue::ports::gpu::GpuStatus;
use snaprescue::wizard::*;

/// One model per screen state worth drawing.
pub fn states() -> Vec<(&'static str, Model)> {
    let mut out = Vec::new();
    let mut m = model();
    out.push(("writers", m.clone()));
    m.writers.confirm = Some(Pending::Terminate {
        targets: vec![(4242, 1)],
        unharvested: 1,
    });
    out.push(("writers terminate", m.clone()));
    m.writers.confirm = None;
    m.writers.confirm = Some(Pending::HarvestTo("/dev/shm/snaprescue-harvest".into()));
    out.push(("writers harvest", m.clone()));
    m.writers.confirm = None;
    m.writers.processes.clear();
    out.push(("writers empty", m.clone()));

    let mut m = model();
    m.step = Step::Gpu;
    out.push(("gpu", m.clone()));
    m.gpu = Some(GpuStatus::Unavailable {
        reason: "NVIDIA driver library not loaded (libnvidia-ml.so.1: cannot open)".into(),
    });
    out.push(("gpu unavailable", m.clone()));

    let mut m = model();
    m.step = Step::Snapshots;
    out.push(("snapshots", m.clone()));

    let mut m = model();
    m.step = Step::Recovery;
    m.recovery.choice = RecoveryChoice::Rollback;
    m.recovery.phase = RecoveryPhase::Confirming;
    m.recovery.refusal = Some(Ok(()));
    m.recovery.typed = "da".into();
    m.recovery.newer = Some(Ok(NewerFiles {
        count: 3,
        bytes: 1 << 30,
        newest: vec![("ckpt/epoch_31.pt".into(), 1_764_331_200)],
    }));
    out.push(("rollback confirm", m.clone()));
    m.recovery.phase = RecoveryPhase::Running;
    m.recovery.stage = "waiting for the instance to stop (40 s)".into();
    out.push(("rollback running", m.clone()));

    let mut m = picker_model();
    out.push(("picker", m.clone()));
    m.picker.as_mut().unwrap().caveat = Some("the journal was not replayed ".repeat(6));
    m.restore.phase = RestorePhase::Confirming;
    out.push(("picker caveat confirm", m.clone()));
    m.restore.phase = RestorePhase::Browsing;
    m.restore.phase = RestorePhase::Running;
    m.restore.progress = Some(Progress {
        items_done: 1,
        items_total: 3,
        bytes_done: 1 << 20,
        bytes_total: 5 << 19,
        current: "old/epoch_5.pth".into(),
        elapsed_ms: 2_000,
    });
    out.push(("picker progress", m.clone()));

    let mut m = model();
    m.step = Step::Restore;
    m.restore.phase = RestorePhase::Loading;
    m.restore.stage = "creating a rescue EBS volume from snap-0123456789abcdef0".into();
    out.push(("rescue disk", m.clone()));

    let mut m = model();
    m.step = Step::Finish;
    m.writers.frozen = vec![(4242, 1, "python train.py".into())];
    out.push(("finish", m.clone()));
    m.overlay = Overlay::Help;
    out.push(("help", m.clone()));
    m.overlay = Overlay::QuitConfirm;
    out.push(("quit", m.clone()));
    m.overlay = Overlay::AtRisk(Leaving::Quit);
    out.push(("at risk quit", m));
    extra_states(&mut out);
    out
}

/// The modes the drawing states above do not reach.
fn extra_states(out: &mut Vec<(&'static str, Model)>) {
    let mut m = model();
    m.writers.confirm = Some(Pending::Signal(SignalAction::Freeze, vec![(4242, 1)]));
    out.push(("writers freeze confirm", m.clone()));
    m.writers.confirm = None;
    m.overlay = Overlay::AtRisk(Leaving::NextStep);
    out.push(("at risk next", m));

    let mut m = model();
    m.step = Step::Snapshots;
    m.snapshots.listing = None;
    m.snapshots.error = Some("no snapshot source serves /tmp (ext4 filesystem at /)".into());
    out.push(("snapshots none", m));

    let mut m = model();
    m.step = Step::Recovery;
    out.push(("recovery", m.clone()));
    m.recovery.phase = RecoveryPhase::Confirming;
    m.recovery.refusal = Some(Err("processes still use /data: 4242 python".into()));
    out.push(("rollback refused", m));

    out.push(("snapshots at risk", super::screen_models::at_risk_model()));
    let mut m = model();
    m.step = Step::Recovery;
    m.snapshots
        .pins
        .on_pinned("259", Ok(super::screen_models::pinned("259")));
    out.push(("recovery pinned", m.clone()));
    m.step = Step::Finish;
    out.push(("finish pinned", m));

    let mut m = model();
    m.step = Step::Finish;
    m.finish.protection.audit = Some(protection::AuditState::Done(vec![
        super::screen_models::unprotected_audit(),
    ]));
    out.push(("finish protection", m.clone()));
    m.finish.protection.ask(protection::ProtectAsk::ApplyPolicy);
    out.push(("finish protect ask", m));

    let mut m = picker_model();
    m.picker.as_mut().unwrap().searching = true;
    out.push(("picker searching", m.clone()));
    let p = m.picker.as_mut().unwrap();
    p.searching = false;
    p.set_query("epoch".into());
    out.push(("picker searched", m.clone()));
    let mut m = picker_model();
    m.picker.as_mut().unwrap().toggle_all_deleted();
    m.restore.phase = RestorePhase::Leaving;
    out.push(("picker leaving", m));
}
