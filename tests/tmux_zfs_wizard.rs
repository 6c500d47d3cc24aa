//! The wizard in tmux on a ZFS dataset (zfs-fuse): the snapshot picker shows the dataset's
//! snapshots, a rescue through the read-only clone restores the deleted checkpoints
//! byte for byte, and the rollback typed as the dataset's name rolls it forward.

mod common;
use common::tmux::Tmux;
use common::zfs_lab::*;
use std::fs;

#[test]
fn the_wizard_restores_and_rolls_back_on_a_zfs_dataset() {
    let Some(lab) = ZfsLab::new() else { return };
    if !snaprescue::ports::command::exists("tmux") {
        assert!(
            std::env::var_os("SNAPRESCUE_REQUIRE_PRIVILEGED").is_none(),
            "tmux is needed"
        );
        eprintln!("skipped: no tmux");
        return;
    }
    fill_project(&lab.data);
    let at_s1 = manifest(&lab.path("proj"));
    lab.snapshot("before rm");
    fs::write(lab.path("proj/later.txt"), "written after the snapshot").unwrap();
    fs::remove_dir_all(lab.path("proj/ckpt")).unwrap();
    lab.snapshot("after rm");
    let dir = tempfile::tempdir().unwrap();
    let lost = lab.path("proj/ckpt");
    let t = Tmux::start("zfs", dir.path(), &[lost.as_os_str()]);
    t.wait_for("1 Stop writers");
    t.keys(&["Enter"]);
    t.wait_for("GPU and processes");
    t.keys(&["Enter"]);
    t.wait_for("★");
    // Both looked into (what each would bring back is shown): the ★ and the cursor are on
    // the one holding the checkpoints.
    t.wait_for("0 files, 0 B");
    let screen = t.wait_for("2 files, 2.86 MiB");
    assert!(screen.contains("★ before rm"), "{screen}");
    assert!(screen.contains("after rm"), "{screen}");
    // The recommended one (holding the checkpoints) is under the cursor: rescue from it.
    t.keys(&["Enter"]);
    t.wait_for("Rescue: open a read-only copy");
    t.keys(&["Enter"]);
    t.wait_for("e1.pth");
    t.keys(&["a", "Enter"]);
    t.wait_for("Restore 2 files?");
    t.keys(&["Enter"]);
    let screen = t.wait_for("Verified");
    assert!(!screen.contains("FAILED"), "{screen}");
    let restored = manifest(&lab.path("proj"));
    for (path, what) in &at_s1 {
        if path.starts_with("ckpt") {
            assert_eq!(restored.get(path), Some(what), "{}", path.display());
        }
    }
    // Back to step 4 and roll the dataset back: later.txt goes (kept in the guard).
    // Back in the picker, compared again: nothing is missing any more.
    t.keys(&["Escape"]);
    t.wait_for("Nothing in this folder is missing");
    t.keys(&["Escape"]);
    t.wait_for("Rescue: open a read-only copy");
    t.keys(&["Down", "Enter"]);
    let dataset = lab.dataset();
    t.wait_for(&format!("Type `{dataset}`"));
    t.tmux(&["send-keys", "-t", "e2e", "-l", &dataset]);
    t.keys(&["Enter"]);
    let screen = t.wait_for("Verify and finish");
    assert!(screen.contains("6 Finish"), "{screen}");
    assert_eq!(manifest(&lab.path("proj")), at_s1);
    let snapshots = lab.names();
    assert!(
        snapshots.iter().any(|n| n.contains("@snaprescue-guard-")),
        "{snapshots:?}"
    );
    assert!(snapshots.iter().any(|n| n.ends_with("@after rm")));
    // Leaving the wizard destroys the read-only clones it read through.
    t.tmux(&["set-option", "-t", "e2e", "remain-on-exit", "on"]);
    t.keys(&["Enter"]);
    let start = std::time::Instant::now();
    while t.alive() && !t.pane_dead() {
        assert!(start.elapsed().as_secs() < 30, "{}", t.screen());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let left = lab.names();
    assert!(!left.iter().any(|n| n.contains("/snaprescue-")), "{left:?}");
}
