//! Every screen rendered at 80x24 (the size of a plain SSH session) on TestBackend,
//! compared with the committed snapshots in tests/snapshots/.

mod common;

use chrono::{TimeZone, Utc};
use common::screen_models::{model, picker_model, render, trainer};
use snaprescue::engine::copy::CopyMethod;
use snaprescue::engine::diff::EntryKind;
use snaprescue::engine::restore::{
    FailedItem, Progress, RestoreReport, RestoredItem, Verification,
};
use snaprescue::ports::gpu::{DriverPids, GpuStatus};
use snaprescue::sources::RollbackOutcome;
use snaprescue::wizard::*;
use std::path::PathBuf;

#[test]
fn step1_writers() {
    let mut m = model();
    insta::assert_snapshot!("writers", render(&m));
    m.writers.confirm = Some(Pending::Signal(SignalAction::Freeze, vec![(4242, 1)]));
    insta::assert_snapshot!("writers_confirm", render(&m));
}

#[test]
fn step1_writers_actions_and_sizes() {
    let mut m = model();
    m.writers.confirm = Some(Pending::HarvestTo("/dev/shm/snaprescue-harvest".into()));
    insta::assert_snapshot!("writers_harvest_prompt", render(&m));
    m.writers.confirm = None;
    m.writers.confirm = Some(Pending::Terminate {
        targets: vec![(4242, 1)],
        unharvested: 1,
    });
    insta::assert_snapshot!("writers_terminate_blocked", render(&m));
    m.writers.confirm = None;
    let handles: Vec<_> = m.writers.processes[0]
        .deleted_open
        .iter()
        .map(|d| d.handle.clone())
        .collect();
    m.writers.harvested.extend(handles);
    let screen = render(&m);
    assert!(
        screen.contains("1 (3 MiB) ✓"),
        "a harvested file is marked: {screen}"
    );
    m.writers.harvested.clear();
    // Stopped by someone else (Ctrl-Z, a debugger) is not "frozen": the end does not thaw it.
    let (pid, start) = (
        m.writers.processes[0].pid,
        m.writers.processes[0].start_time,
    );
    m.writers.processes[0].state = 'T';
    m.writers.confirm = Some(Pending::Signal(SignalAction::Thaw, vec![(pid, start)]));
    let screen = render(&m);
    assert!(screen.contains("T stopped"), "{screen}");
    assert!(
        screen.contains("1 of them stopped by someone else (not by snaprescue)"),
        "{screen}"
    );
    m.writers
        .frozen
        .push((pid, start, "python train.py".into()));
    let screen = render(&m);
    assert!(
        screen.contains("T frozen") && !screen.contains("someone else"),
        "{screen}"
    );
    m.writers.frozen.clear();
    m.writers.confirm = None;
    m.writers.processes[0].state = 'S';
    m.writers.processes.clear();
    insta::assert_snapshot!("writers_empty", render(&m));
    m.writers.processes = (0..200)
        .map(|i| {
            let mut p = trainer();
            p.pid = 10_000 + i;
            p.container = (i % 3 == 0).then(|| "docker".to_string());
            p
        })
        .collect();
    m.writers.selected = 150;
    insta::assert_snapshot!("writers_200", render(&m));
}

#[test]
fn step2_gpu() {
    let mut m = model();
    m.step = Step::Gpu;
    insta::assert_snapshot!("gpu", render(&m));
    if let Some(GpuStatus::Available { devices, .. }) = &mut m.gpu {
        let mut lost = devices[0].clone();
        lost.index = 1;
        lost.name.clear();
        lost.processes.clear();
        lost.error = Some("device 1 unreadable: device fell off the bus".into());
        devices.push(lost);
    }
    insta::assert_snapshot!("gpu_lost_device", render(&m));
    m.gpu = Some(GpuStatus::Unavailable {
        reason: "NVIDIA driver library not loaded (libnvidia-ml.so.1: not found)".into(),
    });
    insta::assert_snapshot!("gpu_no_driver", render(&m));
}

/// snaprescue's own files on the disk being rescued: one line at the top of step 1.
#[test]
fn step1_says_when_snaprescue_itself_is_on_the_disk() {
    let mut m = model();
    m.writers.self_warning = Some(
        "snaprescue itself is on this disk: pip's cache (/data/.cache/pip). Next time run it \
         from RAM (/dev/shm; README: When it happens for real)"
            .into(),
    );
    let screen = render(&m);
    assert!(
        screen.contains("snaprescue itself is on this disk"),
        "{screen}"
    );
    assert!(
        screen.contains("python train.py"),
        "the table still shows: {screen}"
    );
    insta::assert_snapshot!("writers_self_on_disk", screen);
}

#[test]
fn step3_snapshots() {
    let mut m = model();
    m.step = Step::Snapshots;
    insta::assert_snapshot!("snapshots", render(&m));
    let listing = m.snapshots.listing.as_mut().unwrap();
    let mut ebs = listing.snapshots[0].clone();
    ebs.id = "snap-0a1b2c3d4e5f60718".into();
    ebs.source = "aws".into();
    ebs.name = "nightly data volume".into();
    ebs.created = Some(Utc.with_ymd_and_hms(2026, 11, 28, 6, 0, 0).unwrap());
    ebs.cloud = Some(snaprescue::sources::CloudDetails {
        disk_id: "vol-0123456789abcdef0".into(),
        size_gib: 500,
        progress: "100%".into(),
        ..Default::default()
    });
    listing.snapshots.insert(1, ebs);
    listing.source = "btrfs subvolume data (id 256) on /dev/nvme1n1; EBS volume vol-0123456789abcdef0 in us-east-1 (us-east-1a)".into();
    let screen = render(&m);
    // The id is what `restore --snapshot` takes: never cut; the name gives way with `…`.
    assert!(screen.contains("snap-0a1b2c3d4e5f60718 "), "{screen}");
    assert!(screen.contains("[aws] nightly data…"), "{screen}");
    insta::assert_snapshot!("snapshots_local_and_cloud", screen);
    m.snapshots.listing = None;
    m.snapshots.error = Some(
        "no snapshot source serves /srv (ext4 filesystem at /srv). Checked: btrfs (/srv is ext4)."
            .into(),
    );
    insta::assert_snapshot!("snapshots_error", render(&m));
}

#[test]
fn step4_recovery() {
    let mut m = model();
    m.step = Step::Recovery;
    insta::assert_snapshot!("recovery", render(&m));
    m.recovery.choice = RecoveryChoice::Rollback;
    m.recovery.phase = RecoveryPhase::Confirming;
    m.recovery.refusal = Some(Ok(()));
    m.recovery.typed = "da".into();
    m.recovery.newer = Some(Ok(NewerFiles {
        count: 2,
        bytes: 4096,
        newest: vec![("run/logs/train.log".into(), 1_764_331_200)],
    }));
    insta::assert_snapshot!("recovery_rollback_confirm", render(&m));
}

#[test]
fn step4_cloud_rollback_confirm() {
    let mut m = model();
    m.step = Step::Recovery;
    let listing = m.snapshots.listing.as_mut().unwrap();
    listing.source = "EBS volume vol-0a1b2c3d4e5f60718 in us-east-1 (us-east-1a)".into();
    listing.rollback_targets = vec![("aws".into(), "vol-0a1b2c3d4e5f60718".into())];
    listing.rollback_words = vec![(
        "aws".into(),
        snaprescue::sources::RollbackWords {
            noun: "EBS volume".into(),
            kept: "the current volume is detached and kept, tagged snaprescue-kept".into(),
            how_kept: "The current volume `vol-0a1b2c3d4e5f60718` is detached and kept, never \
                       deleted."
                .into(),
        },
    )];
    for s in &mut listing.snapshots {
        s.source = "aws".into();
    }
    m.recovery.choice = RecoveryChoice::Rollback;
    m.recovery.phase = RecoveryPhase::Confirming;
    m.recovery.refusal = Some(Ok(()));
    m.recovery.typed = "vol-0a".into();
    m.recovery.newer = Some(Ok(NewerFiles {
        count: 1,
        bytes: 1 << 30,
        newest: vec![("ckpt/epoch_31.pt".into(), 1_764_331_200)],
    }));
    insta::assert_snapshot!("recovery_cloud_rollback_confirm", render(&m));
}

#[test]
fn step5_picker_confirm_and_progress() {
    let mut m = picker_model();
    insta::assert_snapshot!("picker", render(&m));
    m.restore.phase = RestorePhase::Confirming;
    insta::assert_snapshot!("picker_confirm", render(&m));
    m.restore.phase = RestorePhase::Browsing;
    m.restore.phase = RestorePhase::Running;
    m.restore.progress = Some(Progress {
        items_done: 1,
        items_total: 3,
        bytes_done: 1 << 20,
        bytes_total: 5 << 19,
        current: PathBuf::from("old/epoch_5.pth"),
        elapsed_ms: 2_000,
    });
    insta::assert_snapshot!("picker_progress", render(&m));
}

#[test]
fn step5_while_comparing() {
    let mut m = model();
    m.step = Step::Restore;
    m.restore.phase = RestorePhase::Loading;
    m.restore.scanned = 412_733;
    m.restore.first_deleted = vec![
        "checkpoints/epoch_10.pth".into(),
        "checkpoints/epoch_20.pth".into(),
    ];
    insta::assert_snapshot!("picker_comparing", render(&m));
}

#[test]
fn step5_while_a_cloud_rescue_disk_is_made() {
    let mut m = model();
    m.step = Step::Restore;
    m.restore.phase = RestorePhase::Loading;
    m.restore.stage =
        "waiting for EBS volume vol-0a1b2c3d4e5f60718 to become available (12 s)".into();
    insta::assert_snapshot!("picker_rescue_disk", render(&m));
}

#[test]
fn step5_on_a_rescue_mount_that_could_not_replay_its_journal() {
    let mut m = picker_model();
    let caveat = snaprescue::ports::superblock::FsKind::Ext {
        needs_recovery: true,
    }
    .unreplayed_writes();
    m.picker.as_mut().unwrap().caveat = caveat;
    insta::assert_snapshot!("picker_unreplayed_journal", render(&m));
}

#[test]
fn step6_finish() {
    let mut m = model();
    m.step = Step::Finish;
    m.writers.frozen = vec![(4242, 1, "python train.py --epochs 90".into())];
    m.restore.report = Some(RestoreReport {
        destination: "/data/run/ckpt".into(),
        restored: vec![RestoredItem {
            path: "epoch_20.pth".into(),
            target: "/data/run/ckpt/epoch_20.pth".into(),
            kind: EntryKind::File,
            size: 1 << 20,
            method: Some(CopyMethod::Reflink),
            hash: None,
            verified_by: Some(Verification::SharedExtents),
        }],
        skipped: vec![],
        failed: vec![FailedItem {
            path: "epoch_10.pth".into(),
            reason: "No space left on device".into(),
        }],
        bytes: 1 << 20,
        ..Default::default()
    });
    m.finish.report_file = Some(Ok(
        "/root/.local/state/snaprescue/reports/report-1.json".into()
    ));
    use snaprescue::engine::verify::{Format, Verdict};
    m.finish.verdicts = Some(vec![
        Verdict {
            path: "/data/run/ckpt/epoch_20.pth".into(),
            format: Format::PytorchZip,
            ok: true,
            detail: "OK: zip with 10 members, CRCs match, pickle protocol 2".into(),
        },
        Verdict {
            path: "/data/run/ckpt/epoch_10.pth".into(),
            format: Format::PytorchZip,
            ok: false,
            detail: "CRC mismatch in epoch_10/data/3".into(),
        },
    ]);
    m.finish.torch = Some(snaprescue::engine::torch_check::TorchReport {
        container_of: None,
        not_loaded: vec![],
        interpreter: "/opt/conda/envs/train/bin/python3".into(),
        facts: snaprescue::engine::torch_check::TorchFacts {
            torch: Some("2.5.1".into()),
            cuda_build: Some("12.4".into()),
            available: Some(true),
            count: 1,
            names: vec!["NVIDIA H200".into()],
            ..Default::default()
        },
        diagnosis: None,
        elapsed_ms: 2100,
    });
    insta::assert_snapshot!("finish", render(&m));
    if let Some(t) = &mut m.finish.torch {
        // The job ran in a container: checked there, one checkpoint not at that path in it.
        t.container_of = Some(4242);
        t.not_loaded = vec!["/data/run/ckpt/epoch_20.pth".into()];
    }
    insta::assert_snapshot!("finish_job_in_a_container", render(&m));
    if let Some(t) = &mut m.finish.torch {
        t.container_of = None;
        t.not_loaded.clear();
    }
    m.restore.report = None;
    m.recovery.outcome = Some(Ok(RollbackOutcome {
        replaced: "/mnt/data".into(),
        snapshot: "259".into(),
        guard: Some("/mnt/data.pre-rollback-20261128T120000Z".into()),
        undo: "mv /mnt/data /mnt/data.rolled-back && …".into(),
        notes: vec![
            "the working directory of `bash` (pid 812) is in the previous state now: `cd \"$PWD\"` there to see the rolled-back files".into(),
        ],
    }));
    insta::assert_snapshot!("finish_rollback", render(&m));
}

#[test]
fn overlays() {
    let mut m = model();
    m.overlay = Overlay::Help;
    insta::assert_snapshot!("help", render(&m));
    m.overlay = Overlay::QuitConfirm;
    insta::assert_snapshot!("quit_confirm", render(&m));
}

#[test]
fn gpu_processes_join_the_writers_by_pid() {
    let m = model();
    let [trainer, shell] = &m.writers.processes[..] else {
        panic!()
    };
    assert_eq!(
        snaprescue::ui::gpu_use(&m, trainer).as_deref(),
        Some("38.10 GiB")
    );
    assert_eq!(snaprescue::ui::gpu_use(&m, shell), None);
    // On a MIG GPU the instance is named beside the process.
    let mut m = m.clone();
    if let Some(GpuStatus::Available { devices, .. }) = &mut m.gpu {
        devices[0].processes[0].mig_instance = Some(2);
    }
    m.step = Step::Gpu;
    let screen = render(&m);
    let line = screen.lines().find(|l| l.contains("pid    4242")).unwrap();
    assert!(line.contains("MIG 2"), "{screen}");
}

/// Inside a container the driver's PIDs are the host's: one equal to a PID here is a
/// coincidence, so no memory is joined; a process holding /dev/nvidiaN is still a GPU job.
#[test]
fn in_a_container_gpu_jobs_are_known_by_their_device_files_not_by_pid() {
    let mut m = model();
    if let Some(GpuStatus::Available { pids, .. }) = &mut m.gpu {
        *pids = DriverPids::Host;
    }
    // The driver's pid 977 is some host process, not this container's shell 977.
    if let Some(GpuStatus::Available { devices, .. }) = &mut m.gpu {
        devices[0].processes[0].pid = 977;
    }
    let [trainer, shell] = &m.writers.processes[..] else {
        panic!()
    };
    assert_eq!(
        snaprescue::ui::gpu_use(&m, trainer).as_deref(),
        Some("in use")
    );
    assert_eq!(snaprescue::ui::gpu_use(&m, shell), None);
    m.step = Step::Gpu;
    insta::assert_snapshot!("gpu_in_a_container", render(&m));
    m.step = Step::Writers;
    insta::assert_snapshot!("writers_in_a_container", render(&m));
}

#[test]
fn gpu_command_without_a_driver_is_one_line_and_success() {
    if common::nvidia_driver_here() {
        return; // a real GPU machine: scripts/gpu-check covers it
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snaprescue"))
        .args(["gpu", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["state"], "unavailable");
    // One line, the reason in words (not the loader's error text).
    let reason = doc["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("no NVIDIA driver here (libnvidia-ml.so.1 is not installed)"),
        "{doc}"
    );
    assert!(reason.len() < 100, "{reason}");
}
