//! The wizard in tmux at 80x24 as a frightened user meets it: the seed's rm -rf of a whole
//! folder, a search with no match, a freeze that outlives a killed wizard, a harvested file
//! copied back from the finish, and a large cross-filesystem restore cancelled mid-way.

mod common;
use common::tmux::{Tmux, checkpoints};
use common::*;
use std::process::Command;

/// The seed's accident in the wizard: the drill's earlier run folder was removed with
/// `rm -rf` (PATH no longer exists, its parent does); select all deleted and restore. This
/// failed with "No such file or directory" before the wizard and the CLI shared one restore.
#[test]
fn a_whole_run_folder_removed_comes_back_through_the_wizard() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab");
    let out = Command::new(env!("CARGO_BIN_EXE_snaprescue"))
        .args(["drill", "--no-wizard"])
        .env("SNAPRESCUE_DRILL_DIR", &lab)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gone = lab.join("mnt/data/experiments/checkpoints/run-20250405");
    assert!(!gone.exists() && gone.parent().unwrap().exists());
    let t = Tmux::start("folder", dir.path(), &[gone.as_os_str()]);
    t.wait_for("1 Stop writers");
    // The drill's writer still holds epoch_30.pth, deleted: moving on asks first.
    t.drill_to_snapshots();
    // A search for something that is not there, then Esc: the search goes, not the step.
    t.keys(&["Enter"]);
    t.wait_for("Rescue: open a read-only copy");
    t.keys(&["Enter"]);
    t.wait_for("config.yaml");
    t.keys(&["/", "z", "z", "Enter"]);
    let screen = t.wait_for("no match for \"zz\"");
    assert!(screen.contains("Esc clears the search"), "{screen}");
    t.keys(&["Escape"]);
    let screen = t.wait_for("config.yaml");
    assert!(
        screen.contains("5 Restore"),
        "still in the picker: {screen}"
    );
    t.keys(&["a", "Enter"]);
    t.wait_for("Restore 2 files?");
    t.keys(&["Enter"]);
    let screen = t.wait_for("Verified");
    assert!(!screen.contains("FAILED"), "{screen}");
    let snap = t
        .lab
        .join("mnt/data/.snapshots/2/snapshot/experiments/checkpoints/run-20250405");
    assert_eq!(
        checkpoints(&gone.join("ckpt")),
        checkpoints(&snap.join("ckpt"))
    );
    assert_eq!(
        std::fs::read(gone.join("config.yaml")).unwrap(),
        std::fs::read(snap.join("config.yaml")).unwrap()
    );
}

/// Freeze in the wizard, then `kill -9` the wizard: the writer stays stopped, and the next
/// command names it as left frozen by snaprescue and thaws it.
#[test]
fn a_freeze_survives_a_killed_wizard_in_the_journal() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start("kill", dir.path(), &["drill".as_ref()]);
    t.wait_for("DELETED-OPEN");
    t.keys(&["f"]);
    t.wait_for("y/n");
    t.keys(&["y"]);
    t.wait_for("T frozen");
    let wizard: i32 = String::from_utf8_lossy(
        &t.tmux(&["list-panes", "-t", "e2e", "-F", "#{pane_pid}"])
            .stdout,
    )
    .trim()
    .parse()
    .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(wizard),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let lost = t
        .lab
        .join("mnt/data/experiments/resnet50-finetune/checkpoints");
    let (_, doc, err) = json(&t.state, args!["writers", lost]);
    let left: Vec<i64> = doc["left_frozen"]
        .as_array()
        .unwrap_or_else(|| panic!("{err} {doc}"))
        .iter()
        .map(|p| p["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(left.len(), 1, "{doc}");
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", left[0])).unwrap();
    assert!(stat.contains(") T "), "still stopped: {stat}");
    let (code, _, err) = json(&t.state, args!["writers", lost, "--thaw"]);
    assert_eq!(code, 0, "{err}");
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", left[0])).unwrap();
    assert!(!stat.contains(") T "), "thawed: {stat}");
}

/// The newest checkpoint is in no snapshot, only in the writer's open file: saved with `h`
/// in step 1 (to RAM), then copied back into place from the finish with `b`, verified.
#[test]
fn a_harvested_checkpoint_is_copied_back_into_place_from_the_finish() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let harvest = tempfile::tempdir_in("/dev/shm").unwrap();
    let t = Tmux::start("back", dir.path(), &["drill".as_ref()]);
    t.wait_for("1 (1.00 MiB)");
    t.keys(&["f"]);
    t.wait_for("y/n");
    t.keys(&["y"]);
    t.wait_for("T frozen");
    t.keys(&["h"]);
    t.wait_for("/dev/shm/snaprescue-harvest");
    // Type our own folder instead of the default.
    for _ in 0.."/dev/shm/snaprescue-harvest".len() {
        t.keys(&["BSpace"]);
    }
    t.tmux(&[
        "send-keys",
        "-t",
        "e2e",
        "-l",
        harvest.path().to_str().unwrap(),
    ]);
    t.keys(&["Enter"]);
    t.wait_for("saved and verified");
    t.keys(&["Enter"]);
    t.wait_for("GPU and processes");
    t.keys(&["Enter"]);
    t.wait_for("★");
    t.rescue_all_deleted("epoch_20.safetensors", "Restore 4 files?");
    let screen = t.wait_for("press b to copy them back");
    assert!(screen.contains("RAM"), "{screen}");
    t.keys(&["b"]);
    t.wait_for("copied back into place, verified");
    let back = t
        .lab
        .join("mnt/data/experiments/resnet50-finetune/checkpoints/epoch_30.pth");
    let copy = walkdir::WalkDir::new(harvest.path())
        .into_iter()
        .flatten()
        .find(|e| e.file_name() == "epoch_30.pth")
        .expect("the harvested copy");
    assert_eq!(
        std::fs::read(&back).unwrap(),
        std::fs::read(copy.path()).unwrap()
    );
    // Nothing is missing any more.
    let screen = t.screen();
    assert!(!screen.contains("Still missing"), "{screen}");
}

/// A large restore across filesystems (`snaprescue PATH --to DIR`, PATH's btrfs snapshot to
/// an ext4 disk): the progress bar shows bytes, rate and time left, `x` cancels, the finish
/// says so, and no temporary file is left.
#[test]
fn a_cross_filesystem_restore_shows_its_progress_and_can_be_cancelled() {
    if !privileged() {
        return;
    }
    use std::io::Write;
    let (vol, _) = common::snapshot_lab::volume_of(2400, |data| {
        std::fs::create_dir(data.join("ckpt")).unwrap();
        let mut big = std::fs::File::create(data.join("ckpt/model.pth")).unwrap();
        let chunk: Vec<u8> = (0..(8u32 << 20)).map(|i| (i % 251) as u8).collect();
        for _ in 0..256 {
            big.write_all(&chunk).unwrap();
        }
        big.sync_all().unwrap();
    });
    let live = vol.path("data/ckpt");
    std::fs::remove_dir_all(&live).unwrap();
    let ext4 = LoopFs::new("ext4", 2400);
    let to = ext4.path("out");
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start(
        "cross",
        dir.path(),
        &[live.as_os_str(), "--to".as_ref(), to.as_os_str()],
    );
    t.wait_for("1 Stop writers");
    t.keys(&["Enter"]);
    t.wait_for("GPU and processes");
    t.keys(&["Enter"]);
    t.wait_for("★");
    t.rescue_all_deleted("model.pth", "Restore 1 file?");
    let screen = t.wait_for(" left");
    assert!(
        screen.contains("iB/s"),
        "rate shown (MiB/s or GiB/s): {screen}"
    );
    assert!(screen.contains("x:cancel"), "{screen}");
    t.keys(&["x"]);
    let screen = t.wait_for("Cancelled");
    assert!(screen.contains("Verify and finish"), "{screen}");
    restore_lab::no_temp_files(&ext4.mount);
    assert!(!to.join("model.pth").exists());
}
