//! `rollback` on a real btrfs volume: the old tree comes back, the newer one is kept as a
//! read-only guard, a snapshot reachable only through the top level, and the refusals (wrong
//! confirmation, busy subvolume). Directly mounted subvolumes: btrfs_rollback_mounts.rs.

mod common;
use common::rollback_lab::volume;
use common::*;
use std::fs;

/// `rollback PATH --snapshot ID --confirm data` on the lab's `data/run`.
fn roll_back_to(
    state: &std::path::Path,
    fs: &LoopFs,
    id: &str,
) -> (i32, serde_json::Value, String) {
    json(
        state,
        args![
            "rollback",
            fs.path("data/run"),
            "--snapshot",
            id,
            "--confirm",
            "data"
        ],
    )
}

#[test]
fn rollback_brings_the_old_tree_back_and_keeps_the_newer_as_a_guard() {
    if !privileged() {
        return;
    }
    let (fs, id) = volume();
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = roll_back_to(state.path(), &fs, &id);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        fs::read_to_string(fs.path("data/run/a.txt")).unwrap(),
        "version 1"
    );
    assert!(!fs.path("data/run/new.txt").exists());
    let guard = std::path::PathBuf::from(doc["guard"].as_str().unwrap());
    assert_eq!(
        fs::read_to_string(guard.join("run/a.txt")).unwrap(),
        "version 2"
    );
    assert_eq!(
        fs::read_to_string(guard.join("run/new.txt")).unwrap(),
        "written after"
    );
    assert_eq!(
        btrfs(&["property", "get", "-ts", guard.to_str().unwrap(), "ro"]).trim(),
        "ro=true"
    );
    assert!(
        fs::write(guard.join("run/x"), "x").is_err(),
        "guard must be read-only"
    );
    assert!(doc["undo"].as_str().unwrap().contains("mv "), "{doc}");
    // The snapper snapshots moved into the new subvolume and are still listed.
    assert!(fs.path("data/.snapshots/1/snapshot/run/a.txt").exists());
    let (_, listing, _) = json(state.path(), args!["snapshots", fs.path("data/run")]);
    assert!(
        listing["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == id.as_str()),
        "{listing}"
    );
}

#[test]
fn a_wrong_confirmation_changes_nothing() {
    if !privileged() {
        return;
    }
    let (fs, id) = volume();
    let state = tempfile::tempdir().unwrap();
    let (code, doc, _) = json(
        state.path(),
        args![
            "rollback",
            fs.path("data/run"),
            "--snapshot",
            id,
            "--confirm",
            "dat"
        ],
    );
    assert_eq!(code, 1);
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("does not name the subvolume"),
        "{doc}"
    );
    assert_eq!(
        fs::read_to_string(fs.path("data/run/a.txt")).unwrap(),
        "version 2"
    );
}

#[test]
fn a_busy_subvolume_is_refused_with_the_processes_named() {
    if !privileged() {
        return;
    }
    let (fs, id) = volume();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .current_dir(fs.path("data/run"))
        .spawn()
        .unwrap();
    let state = tempfile::tempdir().unwrap();
    let (code, doc, _) = json(
        state.path(),
        args![
            "rollback",
            fs.path("data/run"),
            "--snapshot",
            id,
            "--confirm",
            "data"
        ],
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(code, 1);
    let message = doc["error"].as_str().unwrap();
    assert!(
        message.contains(&format!("{} (sleep 30)", child.id())),
        "{message}"
    );
    assert_eq!(
        fs::read_to_string(fs.path("data/run/a.txt")).unwrap(),
        "version 2"
    );
}

/// The subvolume is visible inside a mounted parent subvolume, its snapshot only through
/// the top level (not mounted): the snapshot is read through a private read-only mount,
/// which must outlive the copy.
#[test]
fn a_snapshot_reachable_only_through_the_top_level_is_rolled_back_to() {
    if !privileged() {
        return;
    }
    let mut fs = LoopFs::new("btrfs", 300);
    btrfs(&["subvolume", "create", fs.path("outer").to_str().unwrap()]);
    let data = fs.path("outer/data");
    btrfs(&["subvolume", "create", data.to_str().unwrap()]);
    fs::create_dir_all(data.join("run")).unwrap();
    fs::write(data.join("run/a.txt"), "version 1").unwrap();
    snapshot(&data, &fs.path("snaps/1"));
    next_second();
    fs::write(data.join("run/a.txt"), "version 2").unwrap();
    fs.unmount();
    fs.mount_with("subvol=outer");
    let state = tempfile::tempdir().unwrap();
    let (_, listing, err) = json(state.path(), args!["snapshots", fs.path("data/run")]);
    let id = listing["snapshots"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{err} {listing}"))
        .to_string();
    let (code, doc, err) = json(
        state.path(),
        args![
            "rollback",
            fs.path("data/run"),
            "--snapshot",
            id,
            "--confirm",
            "outer/data"
        ],
    );
    assert_eq!(code, 0, "{err} {doc}");
    assert_eq!(
        fs::read_to_string(fs.path("data/run/a.txt")).unwrap(),
        "version 1"
    );
    let guard = std::path::PathBuf::from(doc["guard"].as_str().unwrap());
    assert_eq!(
        fs::read_to_string(guard.join("run/a.txt")).unwrap(),
        "version 2"
    );
}

/// `snaprescue` is usually started from inside what was lost: its shell is not a reason to
/// refuse, but after the swap it sits in the kept previous state, and the answer says so.
#[test]
fn a_shell_inside_the_subvolume_is_told_it_now_sees_the_previous_state() {
    if !privileged() {
        return;
    }
    let (fs, id) = volume();
    let state = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"echo $$ > "$3/shell.pid"; "$0" rollback "$1" --snapshot "$2" --confirm data --json; true"#)
        .arg(env!("CARGO_BIN_EXE_snaprescue"))
        .arg(fs.path("data/run"))
        .arg(&id)
        .arg(state.path())
        .current_dir(fs.path("data/run"))
        .env("SNAPRESCUE_STATE_DIR", state.path())
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(
        fs::read_to_string(fs.path("data/run/a.txt")).unwrap(),
        "version 1",
        "{doc}"
    );
    let shell = fs::read_to_string(state.path().join("shell.pid")).unwrap();
    let note = doc["notes"][0].as_str().unwrap_or_else(|| panic!("{doc}"));
    assert!(note.contains(&format!("(pid {})", shell.trim())), "{note}");
    assert!(note.contains("previous state"), "{note}");
}

/// Names planted where the guard will go (`data.pre-rollback-<time>`, as links for the
/// next seconds): the rollback is not broken by them nor writes through them; the guard
/// takes the next free name.
#[test]
fn a_name_planted_where_the_guard_goes_is_left_alone() {
    if !privileged() {
        return;
    }
    let (fs, id) = volume();
    let state = tempfile::tempdir().unwrap();
    let decoy = fs.path("decoy");
    fs::create_dir(&decoy).unwrap();
    let now = chrono::Utc::now();
    for s in 0..4 {
        let stamp = (now + chrono::Duration::seconds(s)).format("%Y%m%dT%H%M%SZ");
        std::os::unix::fs::symlink(&decoy, fs.path(&format!("data.pre-rollback-{stamp}"))).unwrap();
    }
    let (code, doc, err) = roll_back_to(state.path(), &fs, &id);
    assert_eq!(code, 0, "{err} {doc}");
    let guard = doc["guard"].as_str().unwrap();
    assert!(guard.ends_with("-2"), "{guard}");
    assert_eq!(
        fs::read_to_string(fs.path("data/run/a.txt")).unwrap(),
        "version 1"
    );
    assert_eq!(
        fs::read_dir(&decoy).unwrap().count(),
        0,
        "nothing went through a link"
    );
}
