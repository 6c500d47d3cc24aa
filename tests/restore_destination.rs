//! Where a restore may write, on real loop volumes through the real binary: a bind mount in
//! the live tree is not crossed and what lies below it is one failure with its count; an
//! unusable destination is refused once, up front; without `--snapshot` the recommended
//! snapshot is used and named.

mod common;

use common::snapshot_lab::*;
use common::*;
use std::fs;

/// A bind mount inside the live tree is not crossed, and what lies below it is reported
/// once, not once per entry.
#[test]
fn a_directory_that_cannot_be_made_is_one_failure_with_its_count() {
    if !privileged() {
        return;
    }
    let (vol, id) = volume(|data| {
        fs::create_dir_all(data.join("proj/deep/a/b")).unwrap();
        fs::write(data.join("proj/deep/a/b/c.txt"), "c").unwrap();
        fs::write(data.join("proj/deep/a/d.txt"), "d").unwrap();
    });
    let live = vol.path("data/proj");
    fs::remove_dir_all(live.join("deep/a")).unwrap();
    let other = tempfile::tempdir().unwrap();
    sh(
        "mount",
        &[
            "--bind",
            other.path().to_str().unwrap(),
            live.join("deep").to_str().unwrap(),
        ],
    );
    let _unmount = Unmount(live.join("deep"));
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = restore(state.path(), &live, &id, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        all_names(other.path()).is_empty(),
        "crossed the bind mount: {doc}"
    );
    let failed = doc["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{doc}");
    assert_eq!(failed[0]["path"], "deep/a");
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("another filesystem") && reason.contains("3 entries"),
        "{reason}"
    );
}

/// A destination that cannot be written (a file on the way, a read-only subvolume on a
/// writable filesystem) is refused once, before anything is tried.
#[test]
fn an_unusable_destination_is_one_refusal_up_front() {
    if !privileged() {
        return;
    }
    let (vol, id) = volume(|data| {
        fs::create_dir_all(data.join("proj/x")).unwrap();
        fs::write(data.join("proj/x/f"), "f").unwrap();
    });
    let state = tempfile::tempdir().unwrap();
    let live = vol.path("data/proj");
    fs::write(vol.path("afile"), "a file").unwrap();
    for (to, says) in [
        (vol.path("afile/out"), "is not a directory"),
        (vol.path("afile"), "must name a directory"),
        (vol.path("snaps/s1/newdir"), "read-only"),
    ] {
        let out = snaprescue(
            state.path(),
            args!["restore", live, "--snapshot", id, "--to", to],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(says), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    assert!(!vol.path("snaps/s1/newdir").exists());
}

/// `deleted` and `restore` without `--snapshot` use the recommended snapshot and say which.
#[test]
fn without_snapshot_the_recommended_one_is_used_and_named() {
    if !privileged() {
        return;
    }
    let (vol, id) = volume(|data| {
        fs::create_dir_all(data.join("proj")).unwrap();
        fs::write(data.join("proj/e.pth"), "e").unwrap();
    });
    let live = vol.path("data/proj");
    fs::remove_file(live.join("e.pth")).unwrap();
    let state = tempfile::tempdir().unwrap();
    for command in ["deleted", "restore"] {
        let (code, doc, err) = json(state.path(), args![command, live]);
        assert_eq!(code, 0, "{err} {doc}");
        assert!(
            err.contains(&format!("using the recommended snapshot {id}")),
            "{err}"
        );
        assert_eq!(doc["snapshot"], id.as_str(), "{doc}");
    }
    assert_eq!(fs::read_to_string(live.join("e.pth")).unwrap(), "e");
}
