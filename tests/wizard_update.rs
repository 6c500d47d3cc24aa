//! The wizard's `update` as a pure function, steps 2 to 5: keys and results in, effects out
//! (the writers' part is in wizard_writers.rs).

mod common;

use chrono::{TimeZone, Utc};
use common::wizard::keys;
use snaprescue::engine::diff::{DiffEntry, EntryKind, EntryStatus, TreeDiff};
use snaprescue::engine::restore::RestoreReport;
use snaprescue::engine::restore_plan::ConflictPolicy;
use snaprescue::sources::{Snapshot, SnapshotStatus};
use snaprescue::wizard::*;
use std::path::PathBuf;

pub fn snapshot(id: &str, hour: u32) -> Snapshot {
    Snapshot {
        id: id.into(),
        source: "btrfs".into(),
        name: format!("snapper #{id}"),
        created: Some(Utc.with_ymd_and_hms(2026, 11, 28, hour, 0, 0).unwrap()),
        status: SnapshotStatus::Completed,
        read_only: true,
        path: PathBuf::from(format!("data/.snapshots/{id}/snapshot")),
        layout: "snapper".into(),
        description: None,
        retention: Default::default(),
        cloud: None,
        pre_run: false,
    }
}

fn entry(path: &str, kind: EntryKind, size: u64, status: EntryStatus) -> DiffEntry {
    DiffEntry {
        path: path.into(),
        kind,
        size,
        mtime: 0,
        status,
    }
}

fn at_snapshots() -> Model {
    let mut m = Model::new("/data/run/ckpt".into());
    update(
        &mut m,
        Msg::SnapshotsListed(Ok(SnapshotListing {
            source: "btrfs subvolume data".into(),
            rollback_targets: vec![("btrfs".into(), "data".into())],
            rollback_words: vec![],
            snapshots: vec![snapshot("3", 12), snapshot("2", 9), snapshot("1", 8)],
            deleted_at: Some(Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap()),
            recommended: Some(1),
            recommend_reason: "newest completed snapshot before the deletion estimate".into(),
        })),
    );
    m.step = Step::Snapshots;
    m
}

#[test]
fn opening_asks_for_writers_gpu_and_snapshots() {
    let m = Model::new("/x".into());
    assert_eq!(
        init(&m),
        vec![Effect::ScanWriters, Effect::ProbeGpu, Effect::ListSnapshots]
    );
}

#[test]
fn the_recommended_snapshot_is_preselected_and_counted() {
    let mut m = Model::new("/x".into());
    let effects = update(
        &mut m,
        Msg::SnapshotsListed(Ok(SnapshotListing {
            source: "s".into(),
            rollback_targets: vec![("btrfs".into(), "data".into())],
            rollback_words: vec![],
            snapshots: vec![snapshot("3", 12), snapshot("2", 9)],
            deleted_at: None,
            recommended: Some(1),
            recommend_reason: "newest completed snapshot before the deletion estimate".into(),
        })),
    );
    assert_eq!(
        effects,
        vec![
            Effect::CountLost { id: "3".into() },
            Effect::CountLost { id: "2".into() }
        ]
    );
    assert_eq!(m.snapshots.selected, 1);
}

#[test]
fn rescue_loads_the_diff_and_restores_the_selection() {
    let mut m = at_snapshots();
    let picked = keys(&mut m, &[Key::Enter]);
    assert!(
        matches!(picked[..], [Effect::Pin { .. }]),
        "pinned (wizard_pin)"
    );
    assert_eq!(m.step, Step::Recovery);
    assert_eq!(m.snapshots.chosen.as_deref(), Some("2"));
    assert_eq!(
        keys(&mut m, &[Key::Enter]),
        vec![Effect::LoadDiff { id: "2".into() }]
    );
    assert!(m.busy(), "loading the diff counts as work");
    let tree = TreeDiff {
        entries: vec![
            entry("a.pth", EntryKind::File, 10, EntryStatus::Deleted),
            entry("logs", EntryKind::Dir, 0, EntryStatus::Same),
            entry("logs/train.log", EntryKind::File, 5, EntryStatus::Changed),
        ],
        unreadable: vec![],
    };
    update(
        &mut m,
        Msg::DiffReady(Ok(DiffLoaded {
            elapsed_ms: 2,
            snapshot_id: "2".into(),
            tree,
            dest: "/data/run/ckpt".into(),
            free_bytes: 1 << 30,
            reflink: false,
            caveat: None,
        })),
    );
    assert!(
        keys(&mut m, &[Key::Enter]).is_empty(),
        "nothing selected yet"
    );
    assert!(m.notice.is_some());
    keys(&mut m, &[Key::Char('a'), Key::Enter, Key::Char('c')]);
    let effects = keys(&mut m, &[Key::Char('y')]);
    assert_eq!(
        effects,
        vec![Effect::Restore {
            id: "2".into(),
            selection: vec!["a.pth".into()],
            policy: ConflictPolicy::KeepBoth
        }]
    );
    // While it runs, q asks first and x cancels.
    keys(&mut m, &[Key::Char('q')]);
    assert_eq!(m.overlay, Overlay::QuitConfirm);
    keys(&mut m, &[Key::Char('n')]);
    assert_eq!(
        keys(&mut m, &[Key::Char('x')]),
        vec![Effect::Cancel(Job::Restore)]
    );
    let effects = update(
        &mut m,
        Msg::RestoreDone {
            report: RestoreReport::default(),
            elapsed_ms: 5,
        },
    );
    assert_eq!(m.step, Step::Finish);
    assert!(
        matches!(
            effects.as_slice(),
            // … and step 3's counts, stale now, are counted again.
            [
                Effect::Verify { .. },
                Effect::TorchCheck { python: None, .. },
                Effect::CountLost { .. },
                ..
            ]
        ),
        "{effects:?}"
    );
    assert!(
        update(
            &mut m,
            Msg::Verified {
                verdicts: vec![],
                elapsed_ms: 1
            }
        )
        .is_empty(),
        "the report waits for the torch check"
    );
    let torch = snaprescue::engine::torch_check::TorchReport {
        container_of: None,
        not_loaded: vec![],
        interpreter: "python3".into(),
        facts: Default::default(),
        diagnosis: Some("torch is not installed".into()),
        elapsed_ms: 3,
    };
    let effects = update(&mut m, Msg::TorchChecked(torch));
    let [Effect::WriteReport(r)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(r.snapshot.as_deref(), Some("2"));
    assert_eq!(r.torch.as_deref(), Some("torch is not installed"));
    let steps: Vec<&str> = r.timings.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(
        steps,
        [
            "compare snapshot with live tree",
            "restore",
            "verify",
            "torch check"
        ]
    );
}

#[test]
fn rollback_runs_only_after_the_target_is_typed_exactly() {
    let mut m = at_snapshots();
    keys(&mut m, &[Key::Enter, Key::Down]);
    assert_eq!(
        keys(&mut m, &[Key::Enter]),
        vec![
            Effect::CheckRollback { id: "2".into() },
            Effect::ScanNewer { id: "2".into() }
        ]
    );
    assert!(m.typing());
    assert!(keys(&mut m, &[Key::Char('d'), Key::Char('a'), Key::Enter]).is_empty());
    assert!(m.notice.as_deref().unwrap().contains("type `data`"));
    keys(&mut m, &[Key::Char('q')]);
    assert!(!m.quitting, "q is text while typing");
    keys(&mut m, &[Key::Backspace]);
    let effects = keys(&mut m, &[Key::Char('t'), Key::Char('a'), Key::Enter]);
    assert_eq!(
        effects,
        vec![Effect::Rollback {
            id: "2".into(),
            confirm: "data".into()
        }]
    );
}

#[test]
fn esc_goes_back_and_q_quits_when_idle() {
    let mut m = at_snapshots();
    keys(&mut m, &[Key::Esc]);
    assert_eq!(m.step, Step::Gpu);
    keys(&mut m, &[Key::Char('?')]);
    assert_eq!(m.overlay, Overlay::Help);
    keys(&mut m, &[Key::Char('x')]);
    assert_eq!(m.overlay, Overlay::None);
    assert_eq!(keys(&mut m, &[Key::Char('q')]), vec![Effect::Quit]);
    assert!(m.quitting);
}

#[test]
fn comparing_shows_a_counter_and_can_be_cancelled() {
    let mut m = at_snapshots();
    keys(&mut m, &[Key::Enter, Key::Enter]);
    assert!((m.restore.phase == RestorePhase::Loading));
    update(
        &mut m,
        Msg::DiffProgress {
            scanned: 120_000,
            first_deleted: vec!["ckpt/epoch_10.pth".into()],
            stage: String::new(),
        },
    );
    assert_eq!(m.restore.scanned, 120_000);
    assert_eq!(
        m.restore.first_deleted,
        vec![PathBuf::from("ckpt/epoch_10.pth")]
    );
    // Only the comparison is cancelled: a later restore or rollback gets a token of its own.
    assert_eq!(
        keys(&mut m, &[Key::Char('x')]),
        vec![Effect::Cancel(Job::Diff)]
    );
    assert_eq!(m.step, Step::Recovery);
    assert!(!m.busy());
}

#[test]
fn only_the_newest_local_snapshots_and_the_recommended_one_are_counted() {
    let mut m = Model::new("/x".into());
    let snapshots: Vec<Snapshot> = (0..10)
        .map(|i| snapshot(&format!("{}", 100 - i), 20 - i))
        .collect();
    let effects = update(
        &mut m,
        Msg::SnapshotsListed(Ok(SnapshotListing {
            source: "s".into(),
            rollback_targets: vec![],
            rollback_words: vec![],
            snapshots,
            deleted_at: None,
            recommended: Some(8),
            recommend_reason: "newest completed snapshot before the deletion estimate".into(),
        })),
    );
    let counted: Vec<&str> = effects
        .iter()
        .map(|e| match e {
            Effect::CountLost { id } => id.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        counted,
        ["100", "99", "98", "97", "96", "95", "92"],
        "six newest plus the recommended"
    );
}

#[test]
fn a_running_rollback_shows_its_stage() {
    let mut m = at_snapshots();
    m.step = Step::Recovery;
    m.recovery.phase = RecoveryPhase::Running;
    let effects = update(
        &mut m,
        Msg::RollbackStage("waiting for instance i-1 to be Stopped (12 s)".into()),
    );
    assert!(effects.is_empty());
    assert_eq!(
        m.recovery.stage,
        "waiting for instance i-1 to be Stopped (12 s)"
    );
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| snaprescue::ui::draw(f, &m)).unwrap();
    let screen: String = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(
        screen.contains("rolling back… waiting for instance i-1"),
        "{screen}"
    );
}

/// A (08:00) holds the lost files, B (09:00) was taken after the `rm`: once both are counted
/// the ★ and the preselected row move to A, with the reason the CLI gives.
#[test]
fn counts_move_the_recommendation_to_the_snapshot_holding_the_lost_files() {
    use snaprescue::engine::diff::LostCounts;
    let mut m = Model::new("/x".into());
    update(
        &mut m,
        Msg::SnapshotsListed(Ok(SnapshotListing {
            source: "s".into(),
            rollback_targets: vec![],
            rollback_words: vec![],
            snapshots: vec![snapshot("B", 9), snapshot("A", 8)],
            deleted_at: Some(Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap()),
            recommended: Some(0),
            recommend_reason: "newest completed snapshot before the deletion estimate".into(),
        })),
    );
    assert_eq!(m.snapshots.selected, 0);
    let counted = |entries, bytes| Ok(LostCounts { entries, bytes });
    update(
        &mut m,
        Msg::LostCounted {
            id: "B".into(),
            lost: counted(0, 0),
        },
    );
    update(
        &mut m,
        Msg::LostCounted {
            id: "A".into(),
            lost: counted(2, 300),
        },
    );
    let listing = m.snapshots.listing.as_ref().unwrap();
    assert_eq!(listing.recommended, Some(1));
    assert!(
        listing
            .recommend_reason
            .contains("holds 2 of the lost entries"),
        "{}",
        listing.recommend_reason
    );
    assert_eq!(
        m.snapshots.selected, 1,
        "the recommended row is preselected"
    );
}

/// A snapshot whose contents could not be read (a name the listing could not carry, a
/// broken subvolume) is never recommended, even when it is the newest before the deletion.
#[test]
fn an_unreadable_snapshot_is_never_recommended() {
    use snaprescue::session::{LostById, recommend_from};
    let snapshots = vec![snapshot("263", 10), snapshot("259", 9)];
    let deleted = Some(Utc.with_ymd_and_hms(2026, 11, 28, 11, 0, 0).unwrap());
    let mut lost = LostById::new();
    lost.insert("263".into(), Err("no longer there".into()));
    assert_eq!(recommend_from(&snapshots, deleted, &lost).index, Some(1));
    lost.insert("259".into(), Err("no longer there".into()));
    assert_eq!(recommend_from(&snapshots, deleted, &lost).index, None);
}
