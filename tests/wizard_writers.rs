//! Steps 1 and 6 of the wizard's `update` for the writers: confirmations that name the
//! processes, write rates, freezing a tree, terminate blocked until deleted files are
//! harvested, and the finish offering to thaw what was frozen.

mod common;

use common::wizard::{keys, process};
use snaprescue::ports::processes::ProcessUse;
use snaprescue::wizard::*;
use std::path::PathBuf;

#[test]
fn freeze_needs_a_confirmation_naming_the_process() {
    let mut m = Model::new("/x".into());
    update(
        &mut m,
        Msg::WritersScanned {
            processes: vec![process(10), process(11)],
            unreadable: 0,
            elapsed_secs: 2.0,
        },
    );
    assert!(keys(&mut m, &[Key::Char('j'), Key::Char('f')]).is_empty());
    assert_eq!(
        m.writers.confirm,
        Some(Pending::Signal(SignalAction::Freeze, vec![(11, 1011)]))
    );
    assert!(
        keys(&mut m, &[Key::Char('n')]).is_empty(),
        "anything but y cancels"
    );
    assert_eq!(m.step, Step::Writers);
    keys(&mut m, &[Key::Char('F')]);
    let effects = keys(&mut m, &[Key::Char('y')]);
    assert_eq!(
        effects,
        vec![Effect::Signal {
            action: SignalAction::Freeze,
            targets: vec![(10, 1010), (11, 1011)]
        }]
    );
    update(
        &mut m,
        Msg::Signalled {
            action: SignalAction::Freeze,
            results: vec![(10, Ok(())), (11, Err("gone".into()))],
        },
    );
    assert_eq!(
        m.writers.frozen.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![10]
    );
    assert!(m.notice.as_deref().unwrap().contains("11: gone"));
}

#[test]
fn write_rates_come_from_two_scans() {
    let mut m = Model::new("/x".into());
    update(
        &mut m,
        Msg::WritersScanned {
            processes: vec![process(10)],
            unreadable: 0,
            elapsed_secs: 2.0,
        },
    );
    let mut later = process(10);
    later.write_bytes = Some(5000);
    update(
        &mut m,
        Msg::WritersScanned {
            processes: vec![later],
            unreadable: 0,
            elapsed_secs: 2.0,
        },
    );
    assert_eq!(m.writers.rates.get(&10), Some(&2000.0));
}

#[test]
fn finish_offers_to_thaw_what_was_frozen() {
    let mut m = Model::new("/x".into());
    update(
        &mut m,
        Msg::WritersScanned {
            processes: vec![process(10)],
            unreadable: 0,
            elapsed_secs: 2.0,
        },
    );
    update(
        &mut m,
        Msg::Signalled {
            action: SignalAction::Freeze,
            results: vec![(10, Ok(()))],
        },
    );
    // Leaving now would leave it frozen: the user is told how to thaw it.
    let note = snaprescue::wizard::update_writers::left_frozen(&m).unwrap();
    assert!(note.contains("10 (python train.py --job 10)"), "{note}");
    assert!(
        note.contains("`kill -CONT 10`") && note.contains("`snaprescue writers /x --thaw`"),
        "{note}"
    );
    m.step = Step::Finish;
    assert_eq!(
        keys(&mut m, &[Key::Char('t')]),
        vec![Effect::Signal {
            action: SignalAction::Thaw,
            targets: vec![(10, 1010)]
        }]
    );
    update(
        &mut m,
        Msg::Signalled {
            action: SignalAction::Thaw,
            results: vec![(10, Ok(()))],
        },
    );
    assert!(m.finish.thawed && m.writers.frozen.is_empty());
    assert_eq!(snaprescue::wizard::update_writers::left_frozen(&m), None);
}

#[test]
fn terminate_is_blocked_until_deleted_files_are_harvested() {
    use snaprescue::engine::harvest::{HarvestReport, HarvestedFile};
    use snaprescue::ports::processes::DeletedOpen;
    let mut m = Model::new("/x".into());
    let mut holder = process(10);
    holder.deleted_open = vec![DeletedOpen {
        path: "/x/epoch_30.pth".into(),
        handle: "/proc/10/fd/3".into(),
        size: 9,
    }];
    update(
        &mut m,
        Msg::WritersScanned {
            processes: vec![holder],
            unreadable: 0,
            elapsed_secs: 1.0,
        },
    );
    keys(&mut m, &[Key::Char('K')]);
    assert_eq!(
        m.writers.confirm,
        Some(Pending::Terminate {
            targets: vec![(10, 1010)],
            unharvested: 1
        })
    );
    assert!(
        keys(&mut m, &[Key::Char('y')]).is_empty(),
        "y does not destroy an unsaved deleted file"
    );
    keys(&mut m, &[Key::Char('h')]);
    assert!(m.typing(), "the harvest directory is typed");
    let effects = keys(&mut m, &[Key::Char('2'), Key::Enter]);
    let [Effect::Harvest { targets, dir }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(dir, &PathBuf::from(format!("{DEFAULT_HARVEST_DIR}2")));
    assert_eq!(targets[0].file.handle, PathBuf::from("/proc/10/fd/3"));
    let saved = HarvestedFile {
        pid: 10,
        start_time: 0,
        command: "python".into(),
        handle: "/proc/10/fd/3".into(),
        original: "/x/epoch_30.pth".into(),
        saved_to: "/dev/shm/h/pid-10/epoch_30.pth".into(),
        size: 9,
        blake3: "ab".into(),
    };
    update(
        &mut m,
        Msg::Harvested(Ok(HarvestReport {
            saved: vec![saved],
            failed: vec![],
            manifest: None,
        })),
    );
    keys(&mut m, &[Key::Char('K')]);
    assert_eq!(
        m.writers.confirm,
        Some(Pending::Terminate {
            targets: vec![(10, 1010)],
            unharvested: 0
        })
    );
    assert_eq!(
        keys(&mut m, &[Key::Char('y')]),
        vec![Effect::Signal {
            action: SignalAction::Terminate,
            targets: vec![(10, 1010)]
        }]
    );
    assert!(
        m.busy(),
        "terminate waits up to the grace period: quitting asks first"
    );
}

#[test]
fn freezing_a_tree_takes_the_listed_descendants() {
    let mut m = Model::new("/x".into());
    let mut parent = process(10);
    parent.ppid = 1;
    let mut worker = process(11);
    worker.ppid = 10;
    let mut grandchild = process(12);
    grandchild.ppid = 11;
    let stranger = process(13);
    update(
        &mut m,
        Msg::WritersScanned {
            processes: vec![parent, worker, grandchild, stranger],
            unreadable: 0,
            elapsed_secs: 1.0,
        },
    );
    keys(&mut m, &[Key::Char('P')]);
    assert_eq!(
        m.writers.confirm,
        Some(Pending::Signal(
            SignalAction::Freeze,
            vec![(10, 1010), (11, 1011), (12, 1012)]
        ))
    );
}

/// On a root filesystem the SSH daemon and the system logger are "users" of the disk too:
/// freezing all (or a tree) leaves them running and says so; freezing one of them alone is
/// possible, under a warning.
#[test]
fn freezing_all_leaves_the_ssh_daemon_and_system_services_running() {
    let mut m = Model::new("/".into());
    let job = process(10);
    let mut sshd = process(20);
    sshd.command = "sshd: root@pts/0".into();
    sshd.exe = Some("/usr/sbin/sshd".into());
    let mut shell = process(21);
    shell.ppid = 20;
    shell.command = "-bash".into();
    let mut journald = process(30);
    journald.command = "/usr/lib/systemd/systemd-journald".into();
    update(
        &mut m,
        Msg::WritersScanned {
            processes: vec![job, sshd, shell, journald],
            unreadable: 0,
            elapsed_secs: 1.0,
        },
    );
    keys(&mut m, &[Key::Char('F')]);
    assert_eq!(
        m.writers.confirm,
        Some(Pending::Signal(
            SignalAction::Freeze,
            vec![(10, 1010), (21, 1021)]
        ))
    );
    let screen = common::screen_models::render(&m);
    assert!(
        screen.contains("left running (freezing them can cut you off or hang logins"),
        "{screen}"
    );
    assert!(
        screen.contains("sshd: root@pts/0, 30 systemd-journald"),
        "{screen}"
    );
    keys(&mut m, &[Key::Char('n'), Key::Char('j'), Key::Char('P')]);
    assert_eq!(
        m.writers.confirm,
        Some(Pending::Signal(
            SignalAction::Freeze,
            vec![(20, 1020), (21, 1021)]
        )),
        "the tree of the selected daemon: chosen by hand"
    );
    keys(&mut m, &[Key::Char('n'), Key::Char('f')]);
    assert_eq!(
        m.writers.confirm,
        Some(Pending::Signal(SignalAction::Freeze, vec![(20, 1020)]))
    );
    let screen = common::screen_models::render(&m);
    assert!(
        screen.contains("20 sshd: root@pts/0: serves SSH logins: freezing it can cut you off"),
        "{screen}"
    );
}

/// A process that started snaprescue (listed only for its deleted-but-open files) is never
/// frozen or ended from the wizard: it would hang the session. Once the others are frozen,
/// the suggestion moves on to saving its files.
#[test]
fn a_launcher_is_never_frozen_or_ended_and_does_not_hold_up_the_suggestion() {
    let mut m = Model::new("/x".into());
    let job = process(10);
    let mut kernel = process(20);
    kernel.launcher = true;
    kernel.command = "python -m ipykernel_launcher".into();
    kernel.deleted_open = vec![snaprescue::ports::processes::DeletedOpen {
        path: "/x/epoch_10.pth".into(),
        handle: "/proc/20/fd/3".into(),
        size: 10,
    }];
    update(
        &mut m,
        Msg::WritersScanned {
            processes: vec![job.clone(), kernel.clone()],
            unreadable: 0,
            elapsed_secs: 1.0,
        },
    );
    keys(&mut m, &[Key::Char('F')]);
    assert_eq!(
        m.writers.confirm,
        Some(Pending::Signal(SignalAction::Freeze, vec![(10, 1010)]))
    );
    let screen = common::screen_models::render(&m);
    assert!(
        screen.contains("20 started snaprescue: listed to save its deleted-but-open files"),
        "{screen}"
    );
    keys(&mut m, &[Key::Char('n'), Key::Char('j')]);
    for key in ['f', 'P', 'K'] {
        assert!(keys(&mut m, &[Key::Char(key)]).is_empty());
        assert_eq!(m.writers.confirm, None, "{key}");
        assert!(
            m.notice
                .as_deref()
                .unwrap()
                .contains("20 started snaprescue"),
            "{key}: {:?}",
            m.notice
        );
    }
    let frozen_job = ProcessUse { state: 'T', ..job };
    update(
        &mut m,
        Msg::WritersScanned {
            processes: vec![frozen_job, kernel],
            unreadable: 0,
            elapsed_secs: 1.0,
        },
    );
    assert!(
        snaprescue::wizard::update_writers::suggestion(&m.writers).starts_with("Next: h saves"),
        "{}",
        snaprescue::wizard::update_writers::suggestion(&m.writers)
    );
}
