//! Every screen, in its busiest states, drawn at every size a terminal can have (down to
//! 1x1, a pane split too far, and wide ones): drawing never panics, and at 40 columns the
//! step bar and the key hints (wrapped) still show under any screen without an overlay.

mod common;

use common::screen_models::render_at;
use common::screen_states::states;
use snaprescue::wizard::keymap;
use snaprescue::wizard::*;

#[test]
fn every_screen_draws_at_every_size() {
    let sizes = [
        (1, 1),
        (2, 2),
        (10, 3),
        (20, 5),
        (30, 8),
        (40, 12),
        (60, 15),
        (80, 24),
        (132, 43),
        (250, 80),
    ];
    for (name, m) in states() {
        for (w, h) in sizes {
            let drawn = std::panic::catch_unwind(|| render_at(&m, w, h));
            assert!(drawn.is_ok(), "{name} at {w}x{h} panicked");
        }
    }
}

#[test]
fn at_40_columns_the_step_bar_and_the_keys_still_show() {
    for (name, m) in states()
        .into_iter()
        .filter(|(_, m)| m.overlay == Overlay::None)
    {
        let screen = render_at(&m, 40, 12);
        let lines: Vec<&str> = screen.lines().collect();
        // Narrow: the current step keeps its name, the others their numbers.
        assert!(lines[0].contains(m.step.title()), "{name}: {screen}");
        assert!(
            lines[0].contains("1") && lines[0].contains("6"),
            "{name}: {screen}"
        );
        let bottom = lines[lines.len() - 3..].join(" ");
        // While a name is typed, q and ? are text: the footer says how to finish instead;
        // a question says what any other key answers.
        let keys = match keymap::Mode::of(&m).keymap().unbound {
            keymap::Unbound::Typed => bottom.contains("Esc"),
            keymap::Unbound::Answers(..) => bottom.contains("other:"),
            keymap::Unbound::Ignored => bottom.contains("?:help") && bottom.contains("q:quit"),
        };
        assert!(keys, "{name}: {screen}");
    }
}
