//! The wizard's automatic pin: picking a snapshot in step 3 asks for its pin (an effect),
//! once per snapshot; step 4 says in one line what the pin did and how to take it back; the
//! finish screen offers `u`, which unpins what this run pinned; a failed pin is a warning,
//! not a stop. Rows a policy may delete say so in step 3, in the warning colour.

mod common;

use common::screen_models::{at_risk_model, model, pinned, render, render_at};
use common::wizard::keys;
use snaprescue::pinning::UnpinOutcome;
use snaprescue::wizard::*;

fn at_snapshots() -> Model {
    let mut m = model();
    m.step = Step::Snapshots;
    m.snapshots.chosen = None;
    m
}

#[test]
fn picking_a_snapshot_pins_it_once_and_another_pins_that_one() {
    let mut m = at_snapshots();
    assert_eq!(
        keys(&mut m, &[Key::Enter]),
        vec![Effect::Pin {
            id: "259".into(),
            days: 14
        }]
    );
    assert_eq!(m.step, Step::Recovery);
    let screen = render(&m);
    assert!(
        screen.contains("Pinning 259 so no policy deletes it"),
        "{screen}"
    );
    update(
        &mut m,
        Msg::Pinned {
            id: "259".into(),
            result: Ok(pinned("259")),
        },
    );
    // Back and the same snapshot again: already pinned, nothing asked.
    assert!(keys(&mut m, &[Key::Esc, Key::Enter]).is_empty());
    // Another snapshot: pinned too (the first stays pinned: pinned data is safe data).
    assert_eq!(
        keys(&mut m, &[Key::Esc, Key::Down, Key::Enter]),
        vec![Effect::Pin {
            id: "258".into(),
            days: 14
        }]
    );
    update(
        &mut m,
        Msg::Pinned {
            id: "258".into(),
            result: Err("ECS API error Forbidden.RAM: not allowed".into()),
        },
    );
    let screen = render(&m);
    assert!(
        screen.contains("Not pinned (a policy may still delete it)"),
        "{screen}"
    );
}

#[test]
fn step4_says_what_the_pin_did_and_how_to_undo_it() {
    let mut m = model();
    m.step = Step::Recovery;
    m.snapshots.pins.on_pinned("259", Ok(pinned("259")));
    let screen = render(&m);
    assert!(
        screen.contains("Pinned: no policy can delete it now; u at the end unpins"),
        "{screen}"
    );
    insta::assert_snapshot!("recovery_pinned", screen);
}

#[test]
fn the_finish_screen_unpins_with_u_and_says_what_could_not_be_undone() {
    let mut m = model();
    m.step = Step::Finish;
    assert!(
        keys(&mut m, &[Key::Char('u')]).is_empty(),
        "nothing pinned: u does nothing"
    );
    m.snapshots.pins.on_pinned("259", Ok(pinned("259")));
    let screen = render(&m);
    assert!(screen.contains("u:unpin"), "{screen}");
    assert!(
        screen.contains("Pinned: 259 (safe from its policy); u unpins it"),
        "{screen}"
    );
    insta::assert_snapshot!("finish_pinned", screen);
    let told = exit_summary::exit_summary(&m);
    assert!(
        told.iter().any(|l| l
            == "still pinned: 259 (kept from its policy); unpin: snaprescue unpin \
                /data/run/ckpt --snapshot 259"),
        "{told:?}"
    );
    assert_eq!(
        keys(&mut m, &[Key::Char('u')]),
        vec![Effect::Unpin { id: "259".into() }]
    );
    assert!(
        keys(&mut m, &[Key::Char('u')]).is_empty(),
        "unpinning already"
    );
    update(
        &mut m,
        Msg::Unpinned {
            id: "259".into(),
            result: Ok(UnpinOutcome {
                snapshot: "259".into(),
                source: "btrfs".into(),
                undone: vec![],
                not_undone: vec!["snapper #2 was changed since the pin: left as it is".into()],
            }),
        },
    );
    assert_eq!(
        m.finish.actions,
        ["unpinned snapshot 259: not undone: snapper #2 was changed since the pin: left as it is"],
        "the report and the exit summary tell it"
    );
    let screen = render(&m);
    assert!(
        screen.contains("not undone: snapper #2 was changed"),
        "{screen}"
    );
    assert!(!screen.contains("u:unpin"), "{screen}");
}

#[test]
fn rows_a_policy_may_delete_say_so_at_80_and_60_columns() {
    let m = at_risk_model();
    for (width, height) in [(80, 24), (60, 20)] {
        let screen = render_at(&m, width, height);
        assert!(screen.contains("deleted by policy in 5 h"), "{screen}");
        assert!(screen.contains("subject to snapper cleanup"), "{screen}");
    }
}
