//! The report as the real wizard writes it, in tmux at 80x24 through the drill: written
//! again after each of two restores (counting both), and after a rollback (the rollback and
//! the checks of the checkpoints under PATH in it, the deletion estimate unmoved).

mod common;
use common::privileged;
use common::tmux::Tmux;
use std::path::Path;
use std::time::{Duration, Instant};

/// Waits until the newest report (`report-*.txt` in the state directory) says `text`.
fn report_saying(state: &Path, text: &str) -> String {
    let start = Instant::now();
    loop {
        let newest = std::fs::read_dir(state.join("reports"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
        let body = newest
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        if body.contains(text) {
            return body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no report says {text:?}; newest:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// In the picker: search `name`, keep the search, select the match, restore it.
fn restore_one(t: &Tmux, name: &str) {
    t.keys(&["/"]);
    t.tmux(&["send-keys", "-t", "e2e", "-l", name]);
    t.keys(&["Enter"]);
    t.wait_for(&format!("search: {name}"));
    t.wait_for("1 row─");
    t.keys(&["Space", "Enter"]);
    t.wait_for("Restore 1 file?");
    t.keys(&["Enter"]);
}

#[test]
fn the_report_follows_two_restores_and_a_rollback() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start("report", dir.path(), &["drill".as_ref()]);
    t.drill_to_snapshots();
    t.keys(&["Enter"]);
    t.wait_for("Rescue: open a read-only copy");
    t.keys(&["Enter"]);
    t.wait_for("epoch_20.safetensors");

    restore_one(&t, "epoch_10.pth");
    let first = report_saying(&t.state, "restored: 1 entries");
    let estimate = first
        .lines()
        .find(|l| l.starts_with("deletion estimated at:"))
        .unwrap()
        .to_string();
    // Back to the picker: compared again, the restored file no longer deleted.
    t.keys(&["Escape"]);
    t.wait_for("epoch_20.safetensors");
    restore_one(&t, "epoch_20.pth");
    let second = report_saying(&t.state, "restored: 2 entries");
    assert_eq!(
        second.matches("action: restore from snapshot").count(),
        2,
        "{second}"
    );

    // Then a rollback: refused while the drill's writer uses the disk; ended from step 1
    // (it holds a deleted file not saved: `!` ends it anyway), then typed and done.
    t.keys(&["Escape"]);
    t.wait_for("epoch_20.safetensors");
    t.keys(&["Escape"]);
    t.wait_for("Rescue: open a read-only copy");
    t.keys(&["Down", "Enter"]);
    t.wait_for("Rollback is not possible now");
    t.keys(&["f"]);
    t.wait_for("1 Stop writers");
    t.keys(&["K"]);
    t.wait_for("!:terminate anyway");
    t.keys(&["!"]);
    let start = Instant::now();
    while t.screen().contains("1 (1.00 MiB)") {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", t.screen());
        std::thread::sleep(Duration::from_millis(200));
    }
    t.keys(&["Enter"]);
    t.wait_for("Type `data`");
    t.tmux(&["send-keys", "-t", "e2e", "-l", "data"]);
    t.keys(&["Enter"]);
    let after = report_saying(&t.state, "rollback: ");
    assert!(after.contains("action: rollback of"), "{after}");
    assert!(
        after.contains("restored: 2 entries"),
        "the restores stay counted: {after}"
    );
    // The checkpoints under PATH after the rollback were checked.
    assert!(
        after.contains("verify: OK") && after.contains("epoch_20.pth"),
        "{after}"
    );
    assert!(!after.contains("verify: FAIL"), "{after}");
    assert!(
        after.contains(&estimate),
        "the estimate did not move: {after}"
    );
    let screen = t.wait_for("Verify and finish");
    assert!(screen.contains("6 Finish"), "{screen}");
}
