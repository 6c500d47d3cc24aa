//! The picker's tree: expand/collapse, the deleted-only filter, search and selection.

use snaprescue::engine::diff::{DiffEntry, EntryKind, EntryStatus, TreeDiff};
use snaprescue::wizard::picker::Picker;
use std::path::PathBuf;

fn e(path: &str, kind: EntryKind, size: u64, status: EntryStatus) -> DiffEntry {
    DiffEntry {
        path: path.into(),
        kind,
        size,
        mtime: 0,
        status,
    }
}

fn picker() -> Picker {
    use EntryKind::*;
    use EntryStatus::*;
    let entries = vec![
        e("ckpt", Dir, 0, Deleted),
        e("ckpt/a.pth", File, 100, Deleted),
        e("ckpt/b.pth", File, 200, Deleted),
        e("logs", Dir, 0, Same),
        e("logs/old.log", File, 7, Deleted),
        e("logs/train.log", File, 9, Changed),
        e("train.py", File, 3, Same),
    ];
    Picker::new(
        "2".into(),
        TreeDiff {
            entries,
            unreadable: vec![],
        },
        "/live".into(),
        1000,
    )
}

fn names(p: &Picker) -> Vec<String> {
    p.rows(0, 100)
        .iter()
        .map(|r| r.entry.path.display().to_string())
        .collect()
}

#[test]
fn starts_collapsed_with_deleted_only() {
    let mut p = picker();
    assert_eq!(names(&p), ["ckpt", "logs"]);
    p.set_expanded(true);
    assert_eq!(names(&p), ["ckpt", "ckpt/a.pth", "ckpt/b.pth", "logs"]);
    p.move_cursor(3);
    p.set_expanded(true);
    assert_eq!(
        names(&p)[4..],
        ["logs/old.log"],
        "changed and same files hidden by the filter"
    );
    p.deleted_only = false;
    p.refresh();
    assert_eq!(names(&p).len(), 7);
    p.move_cursor(-10);
    p.set_expanded(false);
    assert_eq!(
        names(&p),
        ["ckpt", "logs", "logs/old.log", "logs/train.log", "train.py"]
    );
}

#[test]
fn search_shows_matches_with_their_folders() {
    let mut p = picker();
    p.deleted_only = false;
    p.set_query("TRAIN".into());
    assert_eq!(names(&p), ["logs", "logs/train.log", "train.py"]);
    p.set_query(String::new());
    assert_eq!(names(&p), ["ckpt", "logs", "train.py"]);
}

#[test]
fn selecting_a_folder_selects_its_subtree_and_deselecting_a_child_keeps_siblings() {
    let mut p = picker();
    p.toggle_selected();
    assert_eq!(p.selection(), vec![PathBuf::from("ckpt")]);
    assert_eq!(p.selection_totals(), (2, 300));
    p.set_expanded(true);
    p.move_cursor(1);
    p.toggle_selected();
    assert_eq!(p.selection(), vec![PathBuf::from("ckpt/b.pth")]);
    assert_eq!(p.selection_totals(), (1, 200));
}

#[test]
fn select_all_deleted_takes_the_topmost_deleted_entries_and_toggles() {
    let mut p = picker();
    p.toggle_all_deleted();
    assert_eq!(
        p.selection(),
        vec![PathBuf::from("ckpt"), PathBuf::from("logs/old.log")]
    );
    assert_eq!(p.selection_totals(), (3, 307));
    p.toggle_all_deleted();
    assert!(p.selection().is_empty());
}

#[test]
fn search_keeps_tree_order_through_nested_folders_and_narrowing() {
    use EntryKind::*;
    use EntryStatus::*;
    let entries = vec![
        e("a", Dir, 0, Same),
        e("a/b", Dir, 0, Same),
        e("a/b/c", Dir, 0, Same),
        e("a/b/c/run7.pt", File, 1, Deleted),
        e("a/b/other", File, 1, Same),
        e("a/b/run77.pt", File, 1, Deleted),
        e("a/z", Dir, 0, Same),
        e("a/z/run7.log", File, 1, Same),
        e("b7", Dir, 0, Same),
    ];
    let mut p = Picker::new(
        "1".into(),
        TreeDiff {
            entries,
            unreadable: vec![],
        },
        "/live".into(),
        0,
    );
    p.deleted_only = false;
    p.set_query("7".into());
    assert_eq!(
        names(&p),
        [
            "a",
            "a/b",
            "a/b/c",
            "a/b/c/run7.pt",
            "a/b/run77.pt",
            "a/z",
            "a/z/run7.log",
            "b7"
        ]
    );
    p.set_query("77".into());
    assert_eq!(names(&p), ["a", "a/b", "a/b/run77.pt"]);
    p.set_query("7".into());
    p.deleted_only = true;
    p.refresh();
    assert_eq!(
        names(&p),
        ["a", "a/b", "a/b/c", "a/b/c/run7.pt", "a/b/run77.pt"],
        "deleted-only hides the folders without deleted entries"
    );
}
