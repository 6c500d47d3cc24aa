//! The finish as a run goes on: the report is written again after every restore and
//! rollback and tells the whole run; after a rollback the checkpoints under PATH are
//! checked and the snapshot list is read again; going back to the picker redoes the
//! comparison, so what came back no longer shows as deleted.

mod common;

use common::wizard::process;
use snaprescue::engine::diff::EntryKind;
use snaprescue::engine::restore::{RestoreReport, RestoredItem};
use snaprescue::engine::torch_check::{JobPython, TorchFacts, TorchReport};
use snaprescue::sources::RollbackOutcome;
use snaprescue::wizard::*;

fn report(n: usize) -> RestoreReport {
    RestoreReport {
        restored: (0..n)
            .map(|i| RestoredItem {
                path: format!("e{i}.pth").into(),
                target: format!("/data/run/e{i}.pth").into(),
                kind: EntryKind::File,
                size: 10,
                method: None,
                hash: None,
                verified_by: None,
            })
            .collect(),
        bytes: 10 * n as u64,
        ..Default::default()
    }
}

fn torch() -> TorchReport {
    TorchReport {
        container_of: None,
        not_loaded: vec![],
        interpreter: "python3".into(),
        facts: TorchFacts::default(),
        diagnosis: Some("torch is not installed".into()),
        elapsed_ms: 1,
    }
}

/// The checks of the latest action end; returns the report written, if one is.
fn checks_end(m: &mut Model) -> Option<FinishReport> {
    let mut effects = update(
        m,
        Msg::Verified {
            verdicts: vec![],
            elapsed_ms: 1,
        },
    );
    effects.extend(update(m, Msg::TorchChecked(torch())));
    effects.into_iter().find_map(|e| match e {
        Effect::WriteReport(r) => Some(*r),
        _ => None,
    })
}

/// pid 77's deleted `epoch_30.pth`, saved to RAM by a harvest.
fn harvested_epoch_30() -> snaprescue::engine::harvest::HarvestReport {
    snaprescue::engine::harvest::HarvestReport {
        saved: vec![snaprescue::engine::harvest::HarvestedFile {
            pid: 77,
            start_time: 0,
            command: "python train.py".into(),
            handle: "/proc/77/fd/5".into(),
            original: "/data/run/epoch_30.pth".into(),
            saved_to: "/dev/shm/snaprescue-harvest/pid-77/epoch_30.pth".into(),
            size: 3,
            blake3: "x".into(),
        }],
        ..Default::default()
    }
}

/// The rollback of /data to snapshot 259 ended, its guard kept.
fn rolled_back_to_259() -> Msg {
    Msg::RollbackDone(Ok(RollbackOutcome {
        replaced: "/data".into(),
        snapshot: "259".into(),
        guard: Some("/data.pre-rollback-x".into()),
        undo: "mv …".into(),
        notes: vec![],
    }))
}

fn at_restore() -> Model {
    let mut m = Model::new("/data/run".into());
    m.snapshots.chosen = Some("259".into());
    m.step = Step::Restore;
    m.restore.phase = RestorePhase::Running;
    m
}

#[test]
fn the_report_is_written_after_every_restore_and_counts_them_all() {
    let mut m = at_restore();
    let effects = update(
        &mut m,
        Msg::RestoreDone {
            report: report(2),
            elapsed_ms: 5,
        },
    );
    assert!(matches!(effects[0], Effect::Verify { .. }), "{effects:?}");
    let first = checks_end(&mut m).expect("written after the first restore");
    assert_eq!((first.restored, first.actions.len()), (2, 1));
    // Back to the picker: the comparison is redone.
    let effects = update(&mut m, Msg::Key(Key::Esc));
    assert_eq!(effects, vec![Effect::LoadDiff { id: "259".into() }]);
    assert_eq!(m.step, Step::Restore);
    assert!(m.picker.is_none() && (m.restore.phase == RestorePhase::Loading));
    m.restore.phase = RestorePhase::Running;
    update(
        &mut m,
        Msg::RestoreDone {
            report: report(3),
            elapsed_ms: 5,
        },
    );
    let second = checks_end(&mut m).expect("written again after the second restore");
    assert_eq!((second.restored, second.restored_bytes), (5, 50));
    assert_eq!(second.actions.len(), 2, "{:?}", second.actions);
    assert!(checks_end(&mut m).is_none(), "once per action");
}

#[test]
fn after_a_rollback_the_checkpoints_under_path_are_checked_and_the_list_read_again() {
    let mut m = at_restore();
    m.restore.phase = RestorePhase::Browsing;
    m.step = Step::Recovery;
    m.recovery.phase = RecoveryPhase::Running;
    let effects = update(&mut m, rolled_back_to_259());
    assert!(
        effects.contains(&Effect::VerifyUnder {
            root: "/data/run".into()
        }),
        "{effects:?}"
    );
    assert!(effects.contains(&Effect::ListSnapshots), "{effects:?}");
    let written = checks_end(&mut m).expect("the report after a rollback");
    assert_eq!(
        written.actions,
        vec![
            "rollback of /data to snapshot 259; previous state kept read-only at \
             /data.pre-rollback-x; to undo: mv …"
                .to_string()
        ]
    );
    assert!(written.rollback.is_some());
}

/// A rollback changes folder times, so the list read again after it estimates the deletion
/// later: the first estimate stays (on the timeline and in the report).
#[test]
fn the_deletion_estimate_does_not_move_when_the_list_is_read_again() {
    use chrono::{TimeZone, Utc};
    let listing = |hour| SnapshotListing {
        source: "btrfs".into(),
        rollback_targets: vec![],
        rollback_words: vec![],
        snapshots: vec![],
        deleted_at: Some(Utc.with_ymd_and_hms(2026, 11, 28, hour, 30, 0).unwrap()),
        recommended: None,
        recommend_reason: String::new(),
    };
    let mut m = at_restore();
    update(&mut m, Msg::SnapshotsListed(Ok(listing(11))));
    update(&mut m, Msg::SnapshotsListed(Ok(listing(14))));
    let first = Utc.with_ymd_and_hms(2026, 11, 28, 11, 30, 0).unwrap();
    assert_eq!(
        m.snapshots.listing.as_ref().unwrap().deleted_at,
        Some(first)
    );
    assert_eq!(
        finish_report(&m).deleted_at.as_deref(),
        Some("2026-11-28T11:30:00+00:00")
    );
}

/// What came back stays in the summary when Rescue is opened again, the files only a
/// harvest saved stay missing after a rollback (their process may be gone), and the shell
/// is told shell commands, not the wizard's keys.
#[test]
fn the_exit_summary_tells_the_whole_run_in_shell_terms() {
    let mut m = at_restore();
    update(
        &mut m,
        Msg::RestoreDone {
            report: report(2),
            elapsed_ms: 5,
        },
    );
    m.writers.last_harvest = Some(harvested_epoch_30());
    // Rescue opened again: the run's restore is not forgotten.
    m.restore = RestoreRun::default();
    let lines = snaprescue::wizard::exit_summary::exit_summary(&m);
    let text = lines.join("\n");
    assert!(
        text.contains("restore from snapshot 259: 2 restored"),
        "{text}"
    );
    assert!(text.contains("in all: 2 entries restored"), "{text}");
    assert!(
        text.contains("epoch_30.pth — in no snapshot; saved from pid 77"),
        "{text}"
    );
    assert!(
        text.contains("cp -n --preserve=all /dev/shm/snaprescue-harvest/pid-77/epoch_30.pth /data/run/epoch_30.pth"),
        "{text}"
    );
    assert!(
        !text.contains("b copies"),
        "no wizard key at the shell: {text}"
    );
}

/// A harvested file copied back, then a rollback to a snapshot without it: the live tree
/// was replaced, so the file is missing again and `b` offers the copy again (a tester saw
/// "Nothing lost is missing any more" here).
#[test]
fn a_rollback_after_a_copy_back_counts_the_file_missing_again() {
    let mut m = at_restore();
    m.restore.phase = RestorePhase::Browsing;
    m.writers.last_harvest = Some(harvested_epoch_30());
    update(
        &mut m,
        Msg::CopiedBack(vec![("/data/run/epoch_30.pth".into(), Ok(()))]),
    );
    assert!(snaprescue::wizard::missing::still_missing(&m).is_empty());
    m.step = Step::Recovery;
    m.recovery.phase = RecoveryPhase::Running;
    update(&mut m, rolled_back_to_259());
    let missing = snaprescue::wizard::missing::still_missing(&m);
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(
        missing[0].in_wizard.as_deref(),
        Some("b copies it back into place")
    );
    assert_eq!(m.harvested_to_copy_back().len(), 1);
}

/// The torch check runs with the training job's interpreter: of the Python processes seen
/// in step 1, the one on a GPU, then one in a conda/venv environment.
#[test]
fn the_torch_check_uses_the_gpu_jobs_python_not_tensorboards() {
    let mut m = Model::new("/data/run".into());
    let python = |pid: i32, path: &str| {
        let mut p = process(pid);
        p.python = Some(path.into());
        p
    };
    let mut board = python(10, "/srv/venv/bin/python");
    board.python_env = vec![("VIRTUAL_ENV".into(), "/srv/venv".into())];
    let mut trainer = python(30, "/opt/conda/envs/train/bin/python");
    trainer.gpu_files = vec!["/dev/nvidia0".into()];
    trainer.other_root = true;
    let shell = process(5);
    m.writers.processes = vec![
        shell,
        board.clone(),
        python(20, "/usr/bin/python3"),
        trainer,
    ];
    // The trainer runs in a container: its path is its own, and the check runs in there.
    assert_eq!(
        job_python(&m),
        Some(JobPython {
            path: "/opt/conda/envs/train/bin/python".into(),
            container: Some((30, 1030)),
        })
    );
    m.writers.processes.pop();
    assert_eq!(
        job_python(&m).map(|j| (j.path, j.container)),
        Some((board.python.unwrap(), None))
    );
    m.writers.processes.truncate(1);
    assert_eq!(job_python(&m), None, "no Python job: python3 from PATH");
}

/// What went beside its place (keep-both, or a planted link in the way of PATH itself) is
/// named with where it went, on the finish and in the run's actions (a tester saw "into
/// …/run-20250405" while the files were in `run-20250405.restored-…`).
#[test]
fn entries_kept_beside_are_named_with_where_they_went() {
    let item = |path: &str, target: &str, kind| RestoredItem {
        path: path.into(),
        target: target.into(),
        kind,
        size: 1,
        method: None,
        hash: None,
        verified_by: None,
    };
    let report = RestoreReport {
        destination: "/data/run".into(),
        restored: vec![
            item("", "/data/run.restored-1", EntryKind::Dir),
            item("a.pth", "/data/run.restored-1/a.pth", EntryKind::File),
        ],
        skipped: vec![snaprescue::engine::restore_plan::SkippedItem {
            path: "".into(),
            reason: "a symbolic link is in the live tree".into(),
        }],
        ..Default::default()
    };
    assert_eq!(
        report.kept_beside(),
        vec![("".into(), "/data/run.restored-1".into())]
    );
    let mut m = at_restore();
    update(
        &mut m,
        Msg::RestoreDone {
            report,
            elapsed_ms: 1,
        },
    );
    assert!(
        m.finish.actions[0].ends_with("; run went beside, as /data/run.restored-1"),
        "{:?}",
        m.finish.actions
    );
    let screen = common::screen_models::render(&m);
    assert!(
        screen.contains("run went beside, as /data/run.restored-1"),
        "{screen}"
    );
    assert!(screen.contains("skipped run: a symbolic link"), "{screen}");
}
