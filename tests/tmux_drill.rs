//! End to end: the real binary in tmux at 80x24, `drill` through every step of the wizard
//! to a completed, verified restore; then `drill --clean` leaves nothing behind. More runs
//! of the wizard in tests/tmux_wizard.rs.

mod common;
use common::tmux::{CleanOnDrop, Tmux, checkpoints};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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
    // A pin of a drill snapshot (snapper's timeline cleanup) goes with the lab.
    let (code, pinned, err) = json(
        state.path(),
        args!["pin", lost, "--snapshot", "data/.snapshots/2/snapshot"],
    );
    assert_eq!(
        (code, &pinned["changed"]),
        (0, &true.into()),
        "{pinned} {err}"
    );
    let image = lab.join("lab.img");
    let out = Command::new(bin)
        .args(["drill", "--clean"])
        .env("SNAPRESCUE_DRILL_DIR", &lab)
        .env("SNAPRESCUE_STATE_DIR", state.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        !copy.exists(),
        "drill --clean removes what its runs harvested"
    );
    assert!(said.contains("removed 1 harvested copy"), "{said}");
    assert!(said.contains("forgot 1 pin(s)"), "{said}");
    let (_, cleanup, _) = json(state.path(), args!["cleanup"]);
    assert_eq!(cleanup["pins_kept"], serde_json::json!([]), "{cleanup}");
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
