//! One keymap per screen mode, read by `update`, the footer and the help alike: every key
//! the footer names does something there, every key it does not name does nothing, and the
//! help lists what the footer lists. Checked in every mode of every step.

mod common;

use common::screen_models::render;
use common::screen_states::states;
use snaprescue::wizard::keymap::{self, Mode, Unbound};
use snaprescue::wizard::*;

/// What a key press changed: the effects, and whether the model moved at all.
fn press(m: &Model, key: Key) -> (Vec<Effect>, bool) {
    let mut after = m.clone();
    let effects = update(&mut after, Msg::Key(key));
    let changed = format!("{after:?}") != format!("{m:?}");
    (effects, changed)
}

#[test]
fn every_key_the_footer_names_does_something() {
    use keymap::Action::{Close, Move, Open};
    for (name, m) in states() {
        let map = Mode::of(&m).keymap();
        let footer = keymap::footer(&m);
        let common: &[keymap::Binding] = if map.common { keymap::COMMON } else { &[] };
        let active: Vec<&keymap::Binding> = map
            .bindings
            .iter()
            .chain(common)
            .filter(|b| !b.label.is_empty() && b.when.is_none_or(|holds| holds(&m)))
            .collect();
        let acts = |key: &Key| {
            let (effects, changed) = press(&m, *key);
            changed || !effects.is_empty()
        };
        for b in &active {
            assert!(
                footer.contains(b.shown),
                "{name}: {} not in {footer:?}",
                b.shown
            );
            // Moving, opening and closing depend on the row under the cursor (nothing moves
            // past an edge, a file does not open): one key of the group must act.
            let group: Vec<&&keymap::Binding> =
                active.iter().filter(|o| o.label == b.label).collect();
            let ok = if group
                .iter()
                .all(|g| [Move, Open, Close].contains(&g.action))
            {
                group.iter().flat_map(|g| g.keys).any(acts)
            } else {
                b.keys.iter().all(acts)
            };
            assert!(
                ok,
                "{name}: {:?} ({}) is in the footer but does nothing",
                b.keys, b.label
            );
        }
    }
}

#[test]
fn keys_outside_the_keymap_do_nothing() {
    let letters = ('a'..='z').chain('A'..='Z').chain(['!', '/', ' ', '?']);
    let others = [
        Key::Enter,
        Key::Esc,
        Key::Tab,
        Key::BackTab,
        Key::Left,
        Key::Right,
        Key::Backspace,
    ];
    for (name, m) in states() {
        let map = Mode::of(&m).keymap();
        if map.unbound != Unbound::Ignored {
            continue; // typed into a field, or answering a question
        }
        for key in letters.clone().map(Key::Char).chain(others) {
            if keymap::action(&m, key).is_some() {
                continue;
            }
            let (effects, changed) = press(&m, key);
            assert!(
                effects.is_empty() && !changed,
                "{name}: {key:?} is in no keymap yet changed the wizard"
            );
        }
    }
}

#[test]
fn the_help_explains_every_key_of_the_footer() {
    for (name, m) in states() {
        if m.overlay != Overlay::None {
            continue;
        }
        let mut shown = m.clone();
        shown.overlay = Overlay::Help;
        let (_, rows) = keymap::help(&shown);
        let keys: Vec<String> = rows.iter().map(|r| r.0.trim().to_string()).collect();
        for part in keymap::footer(&m).split(' ').filter(|p| p.contains(':')) {
            let (k, _) = part.split_once(':').unwrap();
            if k == "other" || k == "any key" {
                continue;
            }
            assert!(
                keys.iter().any(|h| h == k),
                "{name}: help lacks {k}: {keys:?}"
            );
        }
    }
}

#[test]
fn a_question_names_what_any_other_key_does_and_q_answers_it() {
    for (name, m) in states() {
        let Unbound::Answers(_, word) = Mode::of(&m).keymap().unbound else {
            continue;
        };
        assert!(keymap::footer(&m).ends_with(word), "{name}");
        // q answers the question like any other key: it never quits from a question.
        let mut after = m.clone();
        let effects = update(&mut after, Msg::Key(Key::Char('q')));
        assert!(
            !effects.contains(&Effect::Quit),
            "{name}: q quit from a question"
        );
    }
}

#[test]
fn the_restore_question_shows_its_own_keys_not_the_pickers() {
    let (_, m) = states()
        .into_iter()
        .find(|(n, _)| *n == "picker caveat confirm")
        .unwrap();
    let screen = render(&m);
    let last = screen.lines().last().unwrap();
    assert!(
        last.contains("Enter:restore c:skip/keep both other:cancel"),
        "{screen}"
    );
    assert!(!screen.contains("a:all-deleted"), "{screen}");
}
