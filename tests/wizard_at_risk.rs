//! A deleted file that only a process still holds open is never left behind without a
//! question: Enter on step 1 asks while its holder runs, `q` and the finish's Enter ask
//! while it is unsaved, naming the files; `h` saves them from there, `y` goes on anyway.

mod common;

use common::screen_models::render;
use common::wizard::{keys, process};
use snaprescue::ports::processes::DeletedOpen;
use snaprescue::wizard::*;

fn holding(state: char) -> Model {
    let mut m = Model::new("/data/run".into());
    let mut p = process(10);
    p.state = state;
    p.deleted_open = vec![DeletedOpen {
        path: "/data/run/ckpt/epoch_30.pth".into(),
        handle: "/proc/10/fd/4".into(),
        size: 3 << 20,
    }];
    update(
        &mut m,
        Msg::WritersScanned {
            processes: vec![p],
            unreadable: 0,
            elapsed_secs: 2.0,
        },
    );
    m
}

#[test]
fn enter_asks_while_a_running_writer_holds_the_only_copy() {
    let mut m = holding('S');
    assert!(keys(&mut m, &[Key::Enter]).is_empty());
    assert_eq!(m.step, Step::Writers);
    assert_eq!(m.overlay, Overlay::AtRisk(Leaving::NextStep));
    let screen = render(&m);
    assert!(screen.contains("epoch_30.pth"), "names the file: {screen}");
    assert!(screen.contains("h: save them first"), "{screen}");
    // Any other key stays; y goes on.
    keys(&mut m, &[Key::Char('x')]);
    assert_eq!((m.step, m.overlay), (Step::Writers, Overlay::None));
    keys(&mut m, &[Key::Enter]);
    assert_eq!(keys(&mut m, &[Key::Char('y')]), vec![Effect::ProbeGpu]);
    assert_eq!(m.step, Step::Gpu);
}

#[test]
fn h_from_the_question_opens_the_harvest() {
    let mut m = holding('S');
    keys(&mut m, &[Key::Enter, Key::Char('h')]);
    assert_eq!(m.step, Step::Writers);
    assert!(
        matches!(m.writers.confirm, Some(Pending::HarvestTo(_))),
        "the harvest prompt is open"
    );
}

#[test]
fn a_frozen_holder_lets_enter_go_on_but_quitting_asks() {
    let mut m = holding('T');
    assert_eq!(keys(&mut m, &[Key::Enter]), vec![Effect::ProbeGpu]);
    assert!(keys(&mut m, &[Key::Char('q')]).is_empty(), "q asks first");
    assert_eq!(m.overlay, Overlay::AtRisk(Leaving::Quit));
    assert!(render(&m).contains("y: quit anyway"));
    assert_eq!(keys(&mut m, &[Key::Char('y')]), vec![Effect::Quit]);
}

#[test]
fn once_saved_nothing_is_asked() {
    let mut m = holding('S');
    m.writers.harvested.insert("/proc/10/fd/4".into());
    assert_eq!(keys(&mut m, &[Key::Enter]), vec![Effect::ProbeGpu]);
    assert_eq!(keys(&mut m, &[Key::Char('q')]), vec![Effect::Quit]);
}

#[test]
fn the_finish_asks_before_it_quits_with_an_unsaved_file() {
    let mut m = holding('T');
    m.step = Step::Finish;
    assert!(keys(&mut m, &[Key::Enter]).is_empty());
    assert_eq!(m.overlay, Overlay::AtRisk(Leaving::Quit));
}

/// Against a path no snapshot source serves, step 1 says so at once: saving the open files
/// is the only rescue. A process that only sits there (its cwd) is not suggested for a
/// freeze.
#[test]
fn step1_says_when_no_snapshot_can_help_and_suggests_freezing_only_what_writes() {
    let mut m = Model::new("/tmp/x".into());
    update(
        &mut m,
        Msg::WritersScanned {
            processes: vec![process(10)],
            unreadable: 0,
            elapsed_secs: 2.0,
        },
    );
    m.snapshots.error = Some("no snapshot source serves /tmp/x (ext4 filesystem at /)".into());
    let screen = render(&m);
    assert!(
        screen.contains("No snapshot can bring PATH back"),
        "{screen}"
    );
    assert!(screen.contains("Nothing here writes now"), "{screen}");
    assert!(!screen.contains("Next: freeze"), "{screen}");
}

/// What would refuse a rollback (processes using the subvolume) is shown before anything is
/// typed, with the fix offered from there: `f` goes to step 1, `r` checks again.
#[test]
fn a_rollback_refusal_shows_before_the_confirmation_and_offers_the_fix() {
    let mut m = Model::new("/data/run".into());
    update(
        &mut m,
        Msg::SnapshotsListed(Ok(SnapshotListing {
            source: "btrfs subvolume data".into(),
            rollback_targets: vec![("btrfs".into(), "data".into())],
            rollback_words: vec![],
            snapshots: vec![],
            deleted_at: None,
            recommended: None,
            recommend_reason: String::new(),
        })),
    );
    m.snapshots.chosen = Some("259".into());
    m.step = Step::Recovery;
    let effects = keys(&mut m, &[Key::Down, Key::Enter]);
    assert!(
        effects.contains(&Effect::CheckRollback { id: "259".into() }),
        "{effects:?}"
    );
    update(
        &mut m,
        Msg::RollbackChecked(Err(
            "processes still use /data: 4242 (python train.py)".into()
        )),
    );
    let screen = render(&m);
    assert!(screen.contains("Rollback is not possible now"), "{screen}");
    assert!(screen.contains("4242 (python"), "{screen}");
    assert!(
        !screen.contains("Type `data`"),
        "no confirmation to type: {screen}"
    );
    assert!(keys(&mut m, &[Key::Char('d')]).is_empty());
    assert!(
        m.recovery.typed.is_empty(),
        "nothing is typed while refused"
    );
    assert_eq!(
        keys(&mut m, &[Key::Char('r')]),
        vec![Effect::CheckRollback { id: "259".into() }]
    );
    update(&mut m, Msg::RollbackChecked(Err("still busy".into())));
    assert_eq!(keys(&mut m, &[Key::Char('f')]), vec![Effect::ScanWriters]);
    assert_eq!(m.step, Step::Writers);
    // Done in step 1: Enter leads back to the rollback, checked again.
    assert_eq!(
        keys(&mut m, &[Key::Enter]),
        vec![
            Effect::CheckRollback { id: "259".into() },
            Effect::ScanNewer { id: "259".into() }
        ]
    );
    assert_eq!(m.step, Step::Recovery);
    assert!(m.recovery.phase == RecoveryPhase::Confirming && m.recovery.refusal.is_none());
}

/// `h` from the finish's quit question saves the files in step 1, and leaving step 1 then
/// comes back to the finish (not through every step again).
#[test]
fn saving_from_the_finish_returns_to_the_finish() {
    let mut m = holding('T');
    m.step = Step::Finish;
    keys(&mut m, &[Key::Enter]);
    assert_eq!(m.overlay, Overlay::AtRisk(Leaving::Quit));
    keys(&mut m, &[Key::Char('h')]);
    assert_eq!(m.step, Step::Writers);
    assert!(matches!(m.writers.confirm, Some(Pending::HarvestTo(_))));
    m.writers.confirm = None;
    m.writers.harvested.insert("/proc/10/fd/4".into());
    assert!(keys(&mut m, &[Key::Enter]).is_empty());
    assert_eq!(m.step, Step::Finish);
}

/// The same from the picker's `q`: leaving step 1 comes back to the picker with its
/// selection, which going through steps 3 and 4 again would have forgotten.
#[test]
fn saving_from_the_picker_returns_to_the_picker_with_its_selection() {
    let mut m = common::screen_models::picker_model();
    let held = holding('T');
    m.writers = held.writers;
    let selected = m.picker.as_ref().unwrap().selection();
    assert!(!selected.is_empty());
    keys(&mut m, &[Key::Char('q')]);
    assert_eq!(m.overlay, Overlay::AtRisk(Leaving::Quit));
    keys(&mut m, &[Key::Char('h')]);
    assert_eq!(m.step, Step::Writers);
    m.writers.confirm = None;
    m.writers.harvested.insert("/proc/10/fd/4".into());
    keys(&mut m, &[Key::Enter]);
    assert_eq!(m.step, Step::Restore);
    assert_eq!(m.picker.as_ref().unwrap().selection(), selected);
}

/// A file an earlier run saved (its manifest in the harvest folder) is not asked about
/// again when the same process still holds it; a process that only has the same pid (its
/// start time differs) is.
#[test]
fn a_file_an_earlier_run_saved_is_not_asked_about_again() {
    use snaprescue::engine::harvest::HarvestedFile;
    let saved = |start_time| HarvestedFile {
        pid: 10,
        start_time,
        command: "python".into(),
        handle: "/proc/10/fd/4".into(),
        original: "/data/run/ckpt/epoch_30.pth".into(),
        saved_to: "/dev/shm/snaprescue-harvest/pid-10/epoch_30.pth".into(),
        size: 3 << 20,
        blake3: "b3".into(),
    };
    let rescan = |m: &mut Model| {
        let processes = m.writers.processes.clone();
        update(
            m,
            Msg::WritersScanned {
                processes,
                unreadable: 0,
                elapsed_secs: 1.0,
            },
        );
    };
    let start = holding('S').writers.processes[0].start_time;
    let mut m = holding('S');
    m.writers.earlier = vec![saved(start)];
    rescan(&mut m);
    assert!(m.files_at_risk(false).is_empty());
    assert_eq!(m.harvested_to_copy_back().len(), 1, "offered for copy-back");
    keys(&mut m, &[Key::Enter]);
    assert_eq!(m.step, Step::Gpu, "not asked");

    let mut m = holding('S');
    m.writers.earlier = vec![saved(start + 1)];
    rescan(&mut m);
    assert_eq!(
        m.files_at_risk(false).len(),
        1,
        "another process with that pid"
    );
}

/// A copy-back refused because the harvested copy changed or became a link: the copy no
/// longer counts as saved, so the file is at risk again (`q` asks) and not offered again.
#[test]
fn a_harvested_copy_found_changed_no_longer_counts_as_saved() {
    use snaprescue::engine::harvest::{CopyBackError, HarvestReport, HarvestedFile};
    let mut m = holding('T');
    m.writers.harvested.insert("/proc/10/fd/4".into());
    m.writers.last_harvest = Some(HarvestReport {
        saved: vec![HarvestedFile {
            pid: 10,
            start_time: 0,
            command: "python".into(),
            handle: "/proc/10/fd/4".into(),
            original: "/data/run/ckpt/epoch_30.pth".into(),
            saved_to: "/dev/shm/snaprescue-harvest/pid-10/epoch_30.pth".into(),
            size: 3,
            blake3: "b3".into(),
        }],
        ..Default::default()
    });
    assert!(m.files_at_risk(false).is_empty());
    update(
        &mut m,
        Msg::CopiedBack(vec![(
            "/data/run/ckpt/epoch_30.pth".into(),
            Err(CopyBackError::Untrusted(
                "the harvested copy changed".into(),
            )),
        )]),
    );
    assert_eq!(m.files_at_risk(false).len(), 1);
    assert!(m.harvested_to_copy_back().is_empty());
    keys(&mut m, &[Key::Char('q')]);
    assert_eq!(m.overlay, Overlay::AtRisk(Leaving::Quit));
}
