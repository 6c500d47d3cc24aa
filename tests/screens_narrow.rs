//! Every screen state at 60x20 (a split pane), as snapshots, and what must stay whole there
//! and at 80x24: commands, key hints and questions are cut with `…` or wrapped, never
//! silently.

mod common;

use common::screen_models::{render, render_at};
use common::screen_states::states;
use snaprescue::wizard::*;

#[test]
fn every_state_at_60x20() {
    for (name, m) in states() {
        insta::assert_snapshot!(
            format!("narrow_{}", name.replace(' ', "_")),
            render_at(&m, 60, 20)
        );
    }
}

#[test]
fn the_command_column_shows_the_whole_command_at_80_and_marks_a_cut_at_60() {
    let (_, m) = states().into_iter().find(|(n, _)| *n == "writers").unwrap();
    let wide = render(&m);
    assert!(wide.contains("python train.py --epochs 90"), "{wide}");
    let narrow = render_at(&m, 60, 20);
    assert!(narrow.contains("python train…"), "{narrow}");
    // The warning above the table wraps instead of losing its end.
    assert!(narrow.contains("undoable."), "{narrow}");
}

#[test]
fn the_help_fits_a_short_terminal_keys_first() {
    let (_, mut m) = states().into_iter().find(|(n, _)| *n == "writers").unwrap();
    m.overlay = Overlay::Help;
    let short = render_at(&m, 60, 20);
    // Every key of step 1 shows, down to q; the description gives way.
    for key in ["f/P/F", "t/T", "Enter", "q "] {
        assert!(short.contains(&format!("│{key}")), "{key}: {short}");
    }
    assert!(!short.contains("Step 1, stop the writers"), "{short}");
    let tall = render(&m);
    assert!(tall.contains("Step 1, stop the writers"), "{tall}");
}

/// A refused restore says the whole reason, wrapped under the selection, at 80 and 60
/// columns (a tester saw only "restore refused: cannot use destination").
#[test]
fn a_restore_refusal_shows_its_whole_reason() {
    let mut m = common::screen_models::picker_model();
    m.restore.error = Some(
        "cannot use destination /data/run/ckpt/experiments/checkpoints: a symbolic link is \
         in the live tree where a folder was (experiments/checkpoints → /tmp/elsewhere); \
         nothing was changed"
            .into(),
    );
    for (w, h) in [(80, 24), (60, 20)] {
        let screen = render_at(&m, w, h);
        assert!(screen.contains("nothing was changed"), "{w}x{h}: {screen}");
    }
}

/// Step 1 when no snapshot serves PATH (`snaprescue /tmp`): the warning and the suggestion
/// both show whole at 80x24 and 60x20.
#[test]
fn step1_without_a_snapshot_source_says_all_of_it() {
    let mut m = common::screen_models::model();
    m.snapshots.error = Some(
        "no snapshot source serves /tmp (ext4 filesystem at /). Checked: btrfs (/tmp is \
         ext4), aws (not an EC2 instance), aliyun (not an ECS instance)"
            .into(),
    );
    for (w, h) in [(80, 24), (60, 20)] {
        let screen = render_at(&m, w, h);
        assert!(
            screen.contains("the only rescue here."),
            "{w}x{h}: {screen}"
        );
        assert!(screen.contains("Next:"), "{w}x{h}: {screen}");
    }
}
