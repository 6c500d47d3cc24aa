//! The picker as a frightened user meets it: Esc clears a search before it leaves, leaving
//! with a selection asks first, Space selects once a search is kept, a search with no match
//! says so (not "nothing is missing"), a restore within one btrfs filesystem never claims
//! it does not fit. At 80x24 and 60x20.

mod common;

use common::screen_models::{picker_model, render, render_at};
use common::wizard::keys;
use snaprescue::wizard::*;

#[test]
fn esc_clears_a_kept_search_before_it_leaves_the_step() {
    let mut m = picker_model();
    keys(
        &mut m,
        &[Key::Char('/'), Key::Char('e'), Key::Char('p'), Key::Enter],
    );
    let p = m.picker.as_ref().unwrap();
    assert_eq!(p.query, "ep");
    assert!(!p.searching);
    keys(&mut m, &[Key::Esc]);
    assert_eq!(
        m.step,
        Step::Restore,
        "the first Esc only clears the search"
    );
    assert_eq!(m.picker.as_ref().unwrap().query, "");
}

#[test]
fn space_selects_once_the_search_is_kept() {
    let mut m = picker_model();
    let before = m.picker.as_ref().unwrap().selection_totals().0;
    keys(&mut m, &[Key::Char('/'), Key::Char('2'), Key::Char('0')]);
    keys(&mut m, &[Key::Char(' ')]);
    assert_eq!(
        m.picker.as_ref().unwrap().query,
        "20 ",
        "while typing, space is text"
    );
    keys(&mut m, &[Key::Backspace, Key::Enter, Key::Char(' ')]);
    let after = m.picker.as_ref().unwrap().selection_totals().0;
    assert_eq!(after, before + 1, "epoch_20.pth selected");
}

#[test]
fn leaving_with_a_selection_asks_and_only_y_leaves() {
    let mut m = picker_model();
    assert!(!m.picker.as_ref().unwrap().selection().is_empty());
    keys(&mut m, &[Key::Esc]);
    assert_eq!(m.step, Step::Restore);
    let screen = render(&m);
    assert!(
        screen.contains("Leave? The 1 selected file will be forgotten"),
        "{screen}"
    );
    keys(&mut m, &[Key::Char('n')]);
    assert_eq!(m.step, Step::Restore, "any other key stays");
    assert!(!m.picker.as_ref().unwrap().selection().is_empty());
    keys(&mut m, &[Key::Esc, Key::Char('y')]);
    assert_eq!(m.step, Step::Recovery);
}

#[test]
fn a_search_with_no_match_says_so_and_how_to_clear_it() {
    let mut m = picker_model();
    keys(
        &mut m,
        &[Key::Char('/'), Key::Char('z'), Key::Char('q'), Key::Enter],
    );
    for (w, h) in [(80, 24), (60, 20)] {
        let screen = render_at(&m, w, h);
        assert!(screen.contains("no match for \"zq\""), "{w}x{h}:\n{screen}");
        assert!(
            screen.contains("search: zq"),
            "the query stays visible at {w}x{h}:\n{screen}"
        );
        assert!(
            !screen.contains("Nothing in this folder is missing"),
            "{screen}"
        );
    }
    insta::assert_snapshot!("picker_no_match", render(&m));
    insta::assert_snapshot!("picker_no_match_60x20", render_at(&m, 60, 20));
}

#[test]
fn the_filter_and_query_have_their_own_line_and_long_paths_are_elided() {
    let mut m = picker_model();
    m.picker.as_mut().unwrap().dest =
        "/var/lib/training/experiments/resnet50-finetune/checkpoints".into();
    keys(&mut m, &[Key::Char('/'), Key::Char('e')]);
    let screen = render_at(&m, 60, 20);
    assert!(screen.contains("[deleted only]"), "{screen}");
    assert!(screen.contains("search: e"), "{screen}");
    assert!(
        screen.contains("/var/…/resnet50-finetune/checkpoints"),
        "{screen}"
    );
    assert!(
        screen.contains("Esc:clear the search"),
        "the footer says how to leave search: {screen}"
    );
}

#[test]
fn within_one_btrfs_filesystem_a_big_selection_fits() {
    let mut m = picker_model();
    let p = m.picker.as_mut().unwrap();
    p.free_bytes = 1024;
    assert!(render(&m).contains("does not fit!"));
    m.picker.as_mut().unwrap().reflink = true;
    let screen = render(&m);
    assert!(!screen.contains("does not fit"), "{screen}");
    assert!(screen.contains("reflinked, needs no space"), "{screen}");
}

/// At 60x20 the state column and the whole leave question still show: the name gives way.
#[test]
fn at_60_columns_the_state_and_the_leave_question_still_show() {
    let mut m = picker_model();
    let screen = render_at(&m, 60, 20);
    assert!(screen.contains("1 MiB deleted"), "{screen}");
    keys(&mut m, &[Key::Esc]);
    let screen = render_at(&m, 60, 20);
    assert!(
        screen.contains("will be forgotten")
            && screen.contains("y:leave")
            && screen.contains("other:stay"),
        "{screen}"
    );
}
