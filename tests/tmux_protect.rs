//! End to end in tmux at 80x24 through the drill: after the restore, the finish screen
//! audits the lab's btrfs subvolume, and `s` (after its question) takes a pre-run snapshot
//! in snapper's layout, which the audit then counts.

mod common;
use common::privileged;
use common::tmux::Tmux;

#[test]
fn the_finish_screen_audits_the_disk_and_s_takes_a_pre_run_snapshot() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start("protect", dir.path(), &["drill".as_ref()]);
    t.drill_to_snapshots();
    t.rescue_all_deleted("epoch_20.safetensors", "Restore 4 files?");
    t.wait_for("Verified 4 files: 4 OK");
    let footer = t.wait_for("s:pre-run snapshot");
    assert!(
        footer.contains("p:protect"),
        "the drill has no policy: {footer}"
    );
    t.keys(&["s"]);
    t.wait_for("Take a pre-run snapshot of btrfs subvolume");
    t.keys(&["Enter"]);
    // The lines are at the end of the finish screen: scrolled to them.
    for _ in 0..40 {
        t.keys(&["Down"]);
    }
    let screen = t.wait_for("Pre-run snapshot snapper #");
    assert!(!screen.contains("not taken"), "{screen}");
    // Audited again: the pre-run snapshot is no longer to improve.
    t.wait_for("0 to improve");
    let snapshots = t.lab.join("mnt/data/.snapshots");
    let made: Vec<String> = std::fs::read_dir(&snapshots)
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("info.xml")).ok())
        .filter(|x| x.contains("<key>snaprescue</key>") && x.contains("<value>pre-run</value>"))
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(made[0].contains("<description>pre-run-"), "{}", made[0]);
}
