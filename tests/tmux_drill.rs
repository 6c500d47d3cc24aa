//! End to end: the real binary in tmux at 80x24, `drill` through every step of the wizard
//! to a completed, verified restore; then `drill --clean` leaves nothing behind.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
    lab: PathBuf,
    state: PathBuf,
}

impl Tmux {
    /// A tmux server of our own (socket named by `tag` and our pid) running, at 80x24,
    /// `snaprescue ARGS` with the lab and state directories in `dir`; `drill` when ARGS is
    /// `["drill"]`, the wizard on a path otherwise.
    fn start(tag: &str, dir: &Path, args: &[&std::ffi::OsStr]) -> Self {
        let t = Tmux {
            socket: format!("snaprescue-e2e-{tag}-{}", std::process::id()),
            lab: dir.join("lab"),
            state: dir.join("state"),
        };
        let status = Command::new("tmux")
            .args(["-L", &t.socket, "new-session", "-d", "-s", "e2e"])
            .args(["-x", "80", "-y", "24", "--", "env"])
            .arg(format!("SNAPRESCUE_DRILL_DIR={}", t.lab.display()))
            .arg(format!("SNAPRESCUE_STATE_DIR={}", t.state.display()))
            .arg(env!("CARGO_BIN_EXE_snaprescue"))
            .args(args)
            .status()
            .unwrap();
        assert!(status.success());
        t
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "e2e"]).stdout)
            .into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "e2e", k]);
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "waited for {text:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// From step 3: the chosen snapshot, Rescue, every deleted entry selected (once `shown`
    /// is listed), the restore confirmed at its `question`.
    fn rescue_all_deleted(&self, shown: &str, question: &str) {
        self.keys(&["Enter"]);
        self.wait_for("Rescue: open a read-only copy");
        self.keys(&["Enter"]);
        self.wait_for(shown);
        self.keys(&["a", "Enter"]);
        self.wait_for(question);
        self.keys(&["Enter"]);
    }

    fn pane_dead(&self) -> bool {
        String::from_utf8_lossy(
            &self
                .tmux(&["display", "-p", "-t", "e2e", "#{pane_dead}"])
                .stdout,
        )
        .trim()
            == "1"
    }

    fn alive(&self) -> bool {
        self.tmux(&["has-session", "-t", "e2e"]).status.success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
        let out = Command::new(env!("CARGO_BIN_EXE_snaprescue"))
            .args(["drill", "--clean"])
            .env("SNAPRESCUE_DRILL_DIR", &self.lab)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "drill --clean failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Tears the drill down even when an assertion fails.
struct CleanOnDrop(PathBuf);

impl Drop for CleanOnDrop {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_snaprescue"))
            .args(["drill", "--clean"])
            .env("SNAPRESCUE_DRILL_DIR", &self.0)
            .output();
    }
}

fn checkpoints(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn drill_through_the_wizard_to_a_verified_restore() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start("drill", dir.path(), &["drill".as_ref()]);

    let screen = t.wait_for("DELETED-OPEN");
    t.wait_for("1 (1.00 MiB)");
    assert!(screen.contains("1 Stop writers"), "{screen}");
    t.keys(&["f"]);
    t.wait_for("y/n");
    t.keys(&["y"]);
    t.wait_for("T frozen");
    t.keys(&["Enter"]);
    t.wait_for("GPU and processes");
    t.keys(&["Enter"]);
    let screen = t.wait_for("4 files, 3.00 MiB");
    assert!(
        screen.contains("★") && screen.contains("daily-backup"),
        "{screen}"
    );
    t.rescue_all_deleted("epoch_20.safetensors", "Restore 4 files?");
    let screen = t.wait_for("Verified 4 files: 4 OK");
    assert!(screen.contains("Still frozen"), "{screen}");
    t.keys(&["t"]);
    t.wait_for("Frozen processes were thawed");
    t.wait_for("Report:");
    // Keep the pane after the wizard ends, to read what it printed on leaving.
    t.tmux(&["set-option", "-t", "e2e", "remain-on-exit", "on"]);
    t.keys(&["Enter"]);
    // epoch_30.pth is still only in the writer's open file: quitting asks first.
    t.wait_for("Not saved yet");
    t.keys(&["y"]);
    let start = Instant::now();
    while t.alive() && !t.pane_dead() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "wizard did not quit"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let left = t.screen();
    assert!(left.contains("snaprescue: restore from snapshot"), "{left}");
    assert!(
        left.contains("snaprescue: in all: 4 entries restored"),
        "{left}"
    );
    assert!(left.contains("snaprescue: still missing: 1"), "{left}");
    assert!(left.contains("epoch_30.pth — in no snapshot"), "{left}");
    assert!(
        left.contains("--rescue-open"),
        "a shell command, not a key: {left}"
    );
    assert!(left.contains("snaprescue: report: "), "{left}");
    assert!(
        !left.contains("left frozen"),
        "thawed, so not named as frozen: {left}"
    );

    let mnt = t.lab.join("mnt/data");
    let restored = checkpoints(&mnt.join("experiments/resnet50-finetune/checkpoints"));
    let snapshot =
        checkpoints(&mnt.join(".snapshots/2/snapshot/experiments/resnet50-finetune/checkpoints"));
    assert_eq!(restored.len(), 4);
    assert_eq!(
        restored, snapshot,
        "restored checkpoints differ from the snapshot"
    );
    let reports: Vec<PathBuf> = std::fs::read_dir(t.state.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(reports.len(), 2, "JSON and text report");
    let json_report = reports
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json_report).unwrap()).unwrap();
    assert_eq!(doc["restored"], 4);
    let verdicts = doc["verdicts"].as_array().unwrap();
    assert_eq!(
        verdicts
            .iter()
            .filter(|v| v.as_str().unwrap().starts_with("OK"))
            .count(),
        4,
        "{doc}"
    );
    assert!(doc["torch"].as_str().is_some());
    let text = std::fs::read_to_string(json_report.with_extension("txt")).unwrap();
    assert!(
        text.contains("verify: OK") && text.contains("time: restore"),
        "{text}"
    );
}

#[test]
fn drill_clean_removes_everything_it_made() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab");
    let bin = env!("CARGO_BIN_EXE_snaprescue");
    let _cleanup = CleanOnDrop(lab.clone());
    let out = Command::new(bin)
        .args(["drill", "--no-wizard"])
        .env("SNAPRESCUE_DRILL_DIR", &lab)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lost = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = json(
        state.path(),
        args!["deleted", lost, "--snapshot", "data/.snapshots/2/snapshot"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(doc["deleted"].as_array().unwrap().len(), 4);
    let (_, writers, _) = json(state.path(), args!["writers", lost]);
    let writer = writers["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["command"].as_str().unwrap().contains("drill-writer"))
        .expect("writer listed");
    let held = &writer["deleted_open"][0];
    assert!(
        held["path"]
            .as_str()
            .unwrap()
            .ends_with("checkpoints/epoch_30.pth"),
        "{writer}"
    );
    assert_eq!(
        held["size"].as_u64().unwrap(),
        std::fs::metadata(lab.join(
            "mnt/data/.snapshots/2/snapshot/experiments/resnet50-finetune/checkpoints/epoch_20.pth"
        ))
        .unwrap()
        .len()
    );
    let pid = writer["pid"].as_i64().unwrap() as i32;
    // The writer's deleted checkpoint saved where the wizard's `h` saves it by default.
    let (code, saved, err) = json(
        state.path(),
        args![
            "writers",
            lost,
            "--rescue-open",
            "/dev/shm/snaprescue-harvest",
            "--interval",
            "0"
        ],
    );
    assert_eq!(code, 0, "{err}");
    let copy = PathBuf::from(saved["harvest"]["saved"][0]["saved_to"].as_str().unwrap());
    assert!(copy.exists());
    let image = lab.join("lab.img");
    let out = Command::new(bin)
        .args(["drill", "--clean"])
        .env("SNAPRESCUE_DRILL_DIR", &lab)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        !copy.exists(),
        "drill --clean removes what its runs harvested"
    );
    assert!(said.contains("removed 1 harvested copy"), "{said}");
    assert!(!image.exists() && !lab.exists());
    assert!(
        !std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(lab.to_str().unwrap())
    );
    assert!(
        sh("losetup", &["-a"])
            .lines()
            .all(|l| !l.contains(image.to_str().unwrap()))
    );
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap()
                .contains(") Z")
    );
    // Twice is fine (after a crash there may be nothing left).
    assert!(
        Command::new(bin)
            .args(["drill", "--clean"])
            .env("SNAPRESCUE_DRILL_DIR", &lab)
            .status()
            .unwrap()
            .success()
    );
}

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
    t.wait_for("1 (1.00 MiB)");
    t.keys(&["Enter"]);
    // The drill's writer still holds epoch_30.pth, deleted: moving on asks first.
    t.wait_for("Not saved yet");
    t.keys(&["y"]);
    t.wait_for("GPU and processes");
    t.keys(&["Enter"]);
    t.wait_for("★");
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
    assert!(screen.contains("MiB/s"), "rate shown: {screen}");
    assert!(screen.contains("x:cancel"), "{screen}");
    t.keys(&["x"]);
    let screen = t.wait_for("Cancelled");
    assert!(screen.contains("Verify and finish"), "{screen}");
    restore_lab::no_temp_files(&ext4.mount);
    assert!(!to.join("model.pth").exists());
}
