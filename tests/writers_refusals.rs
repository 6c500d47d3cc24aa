//! Refusals change nothing (DESIGN rule 6), on a real loop-mounted ext4: `writers
//! --rescue-open DIR` on PATH's own filesystem is refused before DIR (or any parent of it)
//! is created; and a state directory on the filesystem being rescued (btrfs: in any of its
//! subvolumes) is named once at start.

mod common;
use common::*;
use std::process::Command;

#[test]
fn a_refused_harvest_creates_nothing_on_the_damaged_filesystem() {
    if !privileged() {
        return;
    }
    let fs = LoopFs::new("ext4", 64);
    let run = fs.path("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(run.join("held.bin"), vec![7u8; 100_000]).unwrap();
    let mut kids = Children(vec![]);
    kids.0.push(
        Command::new("sh")
            .args(["-c", "exec 3<held.bin; rm held.bin; exec sleep 60"])
            .current_dir(&run)
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let state = tempfile::tempdir().unwrap();
    for dir in [fs.path("harvest2"), fs.path("new/deeper/harvest")] {
        let (code, doc, _) = json(
            state.path(),
            args!["writers", run, "--rescue-open", dir, "--interval", "0"],
        );
        assert_eq!(code, 1, "{doc}");
        assert!(
            doc["error"]
                .as_str()
                .unwrap()
                .contains("is on the same filesystem as"),
            "{doc}"
        );
        assert!(!dir.exists(), "the refusal created {}", dir.display());
    }
    assert!(!fs.path("new").exists(), "the refusal created a parent");
}

/// The warning about the state directory, from `writers PATH` with the state directory at
/// `state`.
fn state_dir_warnings(state: &std::path::Path, path: &std::path::Path) -> usize {
    let (code, doc, stderr) = json(state, args!["writers", path, "--interval", "0"]);
    assert_eq!(code, 0, "{doc}");
    stderr.matches("is on the filesystem being rescued").count()
}

#[test]
fn a_state_directory_on_the_rescued_filesystem_is_named_once() {
    if !privileged() {
        return;
    }
    let fs = LoopFs::new("ext4", 64);
    let run = fs.path("run");
    std::fs::create_dir(&run).unwrap();
    // Not created yet: its nearest existing ancestor decides.
    assert_eq!(state_dir_warnings(&fs.path("state/snaprescue"), &run), 1);
    let elsewhere = tempfile::tempdir().unwrap();
    assert_eq!(state_dir_warnings(elsewhere.path(), &run), 0);
}

/// On btrfs the state directory may sit in another subvolume (another st_dev) of the same
/// filesystem: the same blocks, so the same warning.
#[test]
fn a_state_directory_in_another_btrfs_subvolume_of_the_rescued_filesystem_is_named() {
    if !privileged() {
        return;
    }
    let fs = btrfs_with_data_subvolume();
    let run = fs.path("data/run");
    std::fs::create_dir(&run).unwrap();
    let state = fs.path("state");
    std::fs::create_dir(&state).unwrap();
    assert_ne!(
        std::os::unix::fs::MetadataExt::dev(&std::fs::metadata(&state).unwrap()),
        std::os::unix::fs::MetadataExt::dev(&std::fs::metadata(&run).unwrap())
    );
    assert_eq!(state_dir_warnings(&state, &run), 1);
}
