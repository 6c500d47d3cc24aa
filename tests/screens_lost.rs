//! Screens about what is lost, at 80x24 on TestBackend: a name with an escape sequence is
//! drawn escaped (it can neither rewrite the terminal nor fake a row), and the finish lists
//! what is still missing and scrolls.

mod common;

use common::screen_models::{picker_model, render, trainer};
use snaprescue::engine::copy::CopyMethod;
use snaprescue::engine::diff::EntryKind;
use snaprescue::engine::restore::{FailedItem, RestoreReport, RestoredItem};
use snaprescue::wizard::*;
use std::path::PathBuf;

/// A file name holding an escape sequence and a newline is drawn escaped in the picker and
/// on the finish screen: it can neither rewrite the terminal nor fake a row.
#[test]
fn control_characters_in_names_are_drawn_escaped() {
    use snaprescue::engine::diff::{DiffEntry, EntryStatus, TreeDiff};
    use std::os::unix::ffi::OsStrExt;
    let evil = PathBuf::from(std::ffi::OsStr::from_bytes(b"x\x1b[2J\nFAKE.pth"));
    let mut m = picker_model();
    let tree = TreeDiff {
        entries: vec![DiffEntry {
            path: evil.clone(),
            kind: EntryKind::File,
            size: 10,
            mtime: 0,
            status: EntryStatus::Deleted,
        }],
        unreadable: vec![],
    };
    m.picker = Some(snaprescue::wizard::picker::Picker::new(
        "259".into(),
        tree,
        "/data/run".into(),
        1 << 30,
    ));
    let screen = render(&m);
    assert!(screen.contains(r"x\u{1b}[2J\nFAKE.pth"), "{screen}");
    assert!(!screen.contains('\u{1b}'));
    m.step = Step::Finish;
    m.restore.report = Some(RestoreReport {
        failed: vec![FailedItem {
            path: evil,
            reason: "No space left on device".into(),
        }],
        ..Default::default()
    });
    let screen = render(&m);
    assert!(screen.contains(r"FAILED x\u{1b}[2J\nFAKE.pth"), "{screen}");
}

/// The finish lists every lost entry that did not come back and where it still is, and
/// scrolls: a fourth failure is not cut off at 80x24.
#[test]
fn step6_still_missing_and_scrolling() {
    let mut m = picker_model();
    m.step = Step::Finish;
    m.restore.report = Some(RestoreReport {
        restored: vec![RestoredItem {
            path: "epoch_10.pth".into(),
            target: "/data/run/ckpt/epoch_10.pth".into(),
            kind: EntryKind::File,
            size: 1 << 20,
            method: Some(CopyMethod::Copy),
            hash: None,
            verified_by: None,
        }],
        failed: (1..=20)
            .map(|i| FailedItem {
                path: format!("f{i}.pth").into(),
                reason: "No space left on device".into(),
            })
            .collect(),
        ..Default::default()
    });
    m.writers.processes = vec![trainer()];
    m.writers.processes[0].deleted_open = vec![snaprescue::ports::processes::DeletedOpen {
        path: "/data/run/ckpt/epoch_30.pth".into(),
        handle: "/proc/4242/fd/7".into(),
        size: 3 << 20,
    }];
    let screen = render(&m);
    let bottom = {
        let mut end = m.clone();
        keys_scroll(&mut end, 20);
        render(&end)
    };
    assert!(bottom.contains("Still missing (3):"), "{bottom}");
    assert!(
        bottom.contains("epoch_20.pth — in snapshot 259"),
        "{bottom}"
    );
    assert!(
        bottom.contains("old/epoch_5.pth — in snapshot 259"),
        "{bottom}"
    );
    assert!(bottom.contains("only in pid 4242's open file"), "{bottom}");
    assert!(
        !screen.contains("FAILED f20.pth"),
        "does not fit at 80x24: {screen}"
    );
    insta::assert_snapshot!("finish_still_missing", screen);
    keys_scroll(&mut m, 10);
    let scrolled = render(&m);
    assert!(scrolled.contains("FAILED f20.pth"), "{scrolled}");
    assert!(!scrolled.contains("FAILED f1.pth"), "{scrolled}");
}

fn keys_scroll(m: &mut Model, n: usize) {
    for _ in 0..n {
        update(m, Msg::Key(Key::Down));
    }
}
