//! The screens as colour SVG pictures for the README (`assets/captures/`), drawn from the
//! buffers of the screen tests' models at 80x24. `scripts/assets` writes them
//! (SNAPRESCUE_WRITE_ASSETS=1); otherwise a stale or missing picture fails here.

mod common;

use common::screen_states::states;
use common::svg::svg;
use ratatui::{Terminal, backend::TestBackend};

const PICTURES: [(&str, &str); 6] = [
    ("writers", "1-writers"),
    ("gpu", "2-gpu"),
    ("snapshots", "3-snapshots"),
    ("rollback refused", "4-rollback-refused"),
    ("picker caveat confirm", "5-restore"),
    ("finish", "6-finish"),
];

#[test]
fn the_readme_pictures_are_drawn_from_the_screens() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/captures");
    let write = std::env::var_os("SNAPRESCUE_WRITE_ASSETS").is_some();
    let all = states();
    for (state, file) in PICTURES {
        let (_, model) = all.iter().find(|(n, _)| *n == state).expect(state);
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal.draw(|f| snaprescue::ui::draw(f, model)).unwrap();
        let picture = svg(terminal.backend().buffer());
        assert!(picture.contains("<text"), "{file}: nothing drawn");
        let path = root.join(format!("{file}.svg"));
        if write {
            std::fs::create_dir_all(&root).unwrap();
            std::fs::write(&path, &picture).unwrap();
        } else {
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == picture,
                "{} is stale (or missing): run scripts/assets and commit it",
                path.display()
            );
        }
    }
}
