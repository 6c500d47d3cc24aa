//! Every screen, in its busiest states, drawn at every size a terminal can have (down to
//! 1x1, a pane split too far, and wide ones): drawing never panics, and at 40 columns the
//! step bar and the key hints (wrapped) still show under any screen without an overlay.

mod common;

use common::screen_models::{model, picker_model, render_at};
use snaprescue::engine::newer::NewerFiles;
use snaprescue::engine::restore::Progress;
use snaprescue::ports::gpu::GpuStatus;
use snaprescue::wizard::*;

/// One model per screen state worth drawing.
fn states() -> Vec<(&'static str, Model)> {
    let mut out = Vec::new();
    let mut m = model();
    out.push(("writers", m.clone()));
    m.writers.confirm = Some(Pending::Terminate {
        targets: vec![(4242, 1)],
        unharvested: 1,
    });
    out.push(("writers terminate", m.clone()));
    m.writers.confirm = None;
    m.writers.harvest_dir = Some("/dev/shm/snaprescue-harvest".into());
    out.push(("writers harvest", m.clone()));
    m.writers.harvest_dir = None;
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
    m.recovery.confirming = true;
    m.recovery.refusal = Some(Ok(()));
    m.recovery.typed = "da".into();
    m.recovery.newer = Some(Ok(NewerFiles {
        count: 3,
        bytes: 1 << 30,
        newest: vec![("ckpt/epoch_31.pt".into(), 1_764_331_200)],
    }));
    out.push(("rollback confirm", m.clone()));
    m.recovery.running = true;
    m.recovery.stage = "waiting for the instance to stop (40 s)".into();
    out.push(("rollback running", m.clone()));

    let mut m = picker_model();
    out.push(("picker", m.clone()));
    m.picker.as_mut().unwrap().caveat = Some("the journal was not replayed ".repeat(6));
    m.restore.confirming = true;
    out.push(("picker caveat confirm", m.clone()));
    m.restore.confirming = false;
    m.restore.running = true;
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
    m.restore.loading = true;
    m.restore.stage = "creating a rescue EBS volume from snap-0123456789abcdef0".into();
    out.push(("rescue disk", m.clone()));

    let mut m = model();
    m.step = Step::Finish;
    m.writers.frozen = vec![(4242, 1, "python train.py".into())];
    out.push(("finish", m.clone()));
    m.overlay = Overlay::Help;
    out.push(("help", m.clone()));
    m.overlay = Overlay::QuitConfirm;
    out.push(("quit", m));
    out
}

#[test]
fn every_screen_draws_at_every_size() {
    let sizes = [
        (1, 1),
        (2, 2),
        (10, 3),
        (20, 5),
        (30, 8),
        (40, 12),
        (60, 15),
        (80, 24),
        (132, 43),
        (250, 80),
    ];
    for (name, m) in states() {
        for (w, h) in sizes {
            let drawn = std::panic::catch_unwind(|| render_at(&m, w, h));
            assert!(drawn.is_ok(), "{name} at {w}x{h} panicked");
        }
    }
}

#[test]
fn at_40_columns_the_step_bar_and_the_keys_still_show() {
    for (name, m) in states()
        .into_iter()
        .filter(|(_, m)| m.overlay == Overlay::None)
    {
        let screen = render_at(&m, 40, 12);
        let lines: Vec<&str> = screen.lines().collect();
        // Narrow: the current step keeps its name, the others their numbers.
        assert!(lines[0].contains(m.step.title()), "{name}: {screen}");
        assert!(
            lines[0].contains("1") && lines[0].contains("6"),
            "{name}: {screen}"
        );
        let bottom = lines[lines.len() - 3..].join(" ");
        // While a name is typed, q and ? are text: the footer says how to finish instead.
        let keys = if m.typing() {
            bottom.contains("Esc")
        } else {
            bottom.contains("?:help") && bottom.contains("q:quit")
        };
        assert!(keys, "{name}: {screen}");
    }
}
