//! The ZFS source on a real pool (zfs-fuse): listing with creation, used, holds and user
//! properties, the recommendation, `deleted` and a byte-identical restore read through a
//! read-only clone that is destroyed afterwards (also after a crash, by `cleanup`), and
//! hold/release.

mod common;
use common::zfs_lab::*;
use std::fs;
use std::os::unix::fs::MetadataExt;

/// No clone of ours is left in the pool, and no mount point of one in the run directory.
fn no_clone_left(lab: &ZfsLab, run_dir: &std::path::Path) {
    let names = lab.names();
    assert!(
        !names.iter().any(|n| n.contains("/snaprescue-")),
        "a clone was left: {names:?}"
    );
    let left: Vec<_> = fs::read_dir(run_dir)
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !left
            .iter()
            .any(|n| n.to_string_lossy().starts_with("zfs-sr-")),
        "{left:?}"
    );
}

/// The binary with its state in `state` and its mount points in `run_dir`.
fn run(
    state: &std::path::Path,
    run_dir: &std::path::Path,
    args: &[&str],
    crash: Option<&str>,
) -> (i32, serde_json::Value, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_snaprescue"));
    cmd.args(args)
        .env("SNAPRESCUE_STATE_DIR", state)
        .env("SNAPRESCUE_RUN_DIR", run_dir);
    if let Some(point) = crash {
        cmd.env("SNAPRESCUE_CRASH_AT", point);
    }
    let out = cmd.output().unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.code().unwrap_or(-1),
        doc,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn snapshots_are_listed_newest_first_with_their_facts_and_the_one_holding_the_lost_files_is_recommended()
 {
    let Some(lab) = ZfsLab::new() else { return };
    let ds = lab.dataset();
    fill_project(&lab.data);
    lab.snapshot("before rm");
    let before = format!("{ds}@before rm");
    lab.zfs(&["set", "snaprescue:note=last good epoch", &before]);
    lab.zfs(&["hold", "keep", &before]);
    fs::remove_dir_all(lab.path("proj/ckpt")).unwrap();
    lab.snapshot("after rm");
    let (state, run_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lost = lab.path("proj/ckpt");
    let (code, doc, err) = run(
        state.path(),
        run_dir.path(),
        &["snapshots", lost.to_str().unwrap(), "--json"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let snaps = doc["snapshots"].as_array().unwrap();
    let ids: Vec<&str> = snaps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["after rm", "before rm"], "{doc}");
    let older = &snaps[1];
    assert_eq!(older["source"], "zfs");
    assert_eq!(older["name"], before.as_str());
    let creation: i64 = lab
        .zfs(&["get", "-H", "-p", "-o", "value", "creation", &before])
        .trim()
        .parse()
        .unwrap();
    let listed = chrono::DateTime::parse_from_rfc3339(older["created"].as_str().unwrap()).unwrap();
    assert_eq!(listed.timestamp(), creation);
    let description = older["description"].as_str().unwrap();
    assert!(description.contains("held (1)"), "{description}");
    assert!(
        description.contains("snaprescue:note=last good epoch"),
        "{description}"
    );
    assert!(description.contains("used "), "{description}");
    assert_eq!(older["recommended"], true, "{doc}");
    assert_eq!(older["lost_entries"], 2, "{doc}");
    assert_eq!(snaps[0]["recommended"], false);
    no_clone_left(&lab, run_dir.path());
    // `deleted` names the lost files.
    let proj = lab.path("proj");
    let (code, doc, err) = run(
        state.path(),
        run_dir.path(),
        &[
            "deleted",
            proj.to_str().unwrap(),
            "--snapshot",
            "before rm",
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let deleted: Vec<&str> = doc["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(deleted.contains(&"ckpt/e1.pth"), "{doc}");
    no_clone_left(&lab, run_dir.path());
    lab.zfs(&["release", "keep", &before]);
}

#[test]
fn a_restore_through_a_clone_is_byte_identical_with_metadata_and_the_clone_is_destroyed() {
    let Some(lab) = ZfsLab::new() else { return };
    fill_project(&lab.data);
    let expected = manifest(&lab.path("proj"));
    lab.snapshot("s1");
    for name in ["ckpt", "empty dir"] {
        fs::remove_dir_all(lab.path("proj").join(name)).unwrap();
    }
    for name in ["mode.txt", "outside", odd_name()] {
        fs::remove_file(lab.path("proj").join(name)).unwrap();
    }
    let (state, run_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let proj = lab.path("proj");
    let (code, doc, err) = run(
        state.path(),
        run_dir.path(),
        &[
            "restore",
            proj.to_str().unwrap(),
            "--snapshot",
            "s1",
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}\n{doc}");
    assert!(doc["failed"].as_array().unwrap().is_empty(), "{doc}");
    assert_eq!(manifest(&proj), expected);
    // The link came back as a link, pointing where it pointed; nothing was written outside.
    let link = fs::symlink_metadata(proj.join("outside")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!(
        fs::read_link(proj.join("outside")).unwrap(),
        std::path::Path::new("/etc/passwd")
    );
    assert_eq!(
        fs::symlink_metadata(proj.join("mode.txt")).unwrap().uid(),
        1234
    );
    no_clone_left(&lab, run_dir.path());
}

#[test]
fn hold_release_and_is_held_pin_a_snapshot_against_destroy() {
    use snaprescue::sources::zfs;
    let Some(lab) = ZfsLab::new() else { return };
    lab.snapshot("pin me");
    let snap = format!("{}@pin me", lab.dataset());
    assert!(!zfs::is_held(&snap).unwrap());
    zfs::hold(&snap).unwrap();
    zfs::hold(&snap).unwrap(); // twice is fine
    assert!(zfs::is_held(&snap).unwrap());
    assert_eq!(lab.get(&snap, "userrefs"), "1");
    let destroy = std::process::Command::new("zfs")
        .args(["destroy", &snap])
        .output()
        .unwrap();
    assert!(
        !destroy.status.success(),
        "a held snapshot must not be destroyable"
    );
    zfs::release(&snap).unwrap();
    zfs::release(&snap).unwrap(); // released already: fine
    assert!(!zfs::is_held(&snap).unwrap());
    assert_eq!(lab.get(&snap, "userrefs"), "0");
    // Another tool's hold is counted, and not taken off by ours.
    lab.zfs(&["hold", "keep", &snap]);
    assert_eq!(zfs::holds(&snap).unwrap().count, 1);
    zfs::release(&snap).unwrap();
    assert_eq!(lab.get(&snap, "userrefs"), "1");
    lab.zfs(&["release", "keep", &snap]);
}

#[test]
fn pin_holds_the_snapshot_and_unpin_releases_only_that_hold() {
    let Some(lab) = ZfsLab::new() else { return };
    fill_project(&lab.data);
    lab.snapshot("nightly");
    let snap = format!("{}@nightly", lab.dataset());
    let (state, run_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let proj = lab.path("proj");
    let path = proj.to_str().unwrap();
    let listed = |state: &std::path::Path| {
        let (code, doc, err) = run(state, run_dir.path(), &["snapshots", path, "--json"], None);
        assert_eq!(code, 0, "{err}");
        doc["snapshots"][0]["pinned"].clone()
    };
    assert_eq!(listed(state.path()), false);
    let pin = ["pin", path, "--snapshot", "nightly", "--json"];
    let (code, doc, err) = run(state.path(), run_dir.path(), &pin, None);
    assert_eq!(code, 0, "{doc} {err}");
    assert_eq!(lab.get(&snap, "userrefs"), "1");
    assert_eq!(listed(state.path()), true);
    let destroy = std::process::Command::new("zfs")
        .args(["destroy", &snap])
        .output()
        .unwrap();
    assert!(
        !destroy.status.success(),
        "a pinned snapshot is not destroyed"
    );
    let unpin = ["unpin", path, "--snapshot", "nightly", "--json"];
    let (code, doc, err) = run(state.path(), run_dir.path(), &unpin, None);
    assert_eq!(code, 0, "{doc} {err}");
    assert!(doc.to_string().contains("released"), "{doc}");
    assert_eq!(lab.get(&snap, "userrefs"), "0");
    // A hold of snaprescue's from before a pin is kept by that pin's unpin.
    lab.zfs(&["hold", "snaprescue", &snap]);
    let (state2, _) = (tempfile::tempdir().unwrap(), ());
    let (code, doc, err) = run(state2.path(), run_dir.path(), &pin, None);
    assert_eq!(code, 0, "{doc} {err}");
    let (_, doc, _) = run(state2.path(), run_dir.path(), &unpin, None);
    assert_eq!(lab.get(&snap, "userrefs"), "1", "{doc}");
    lab.zfs(&["release", "snaprescue", &snap]);
}

#[test]
fn every_crash_point_of_a_clone_rescue_is_cleaned_up() {
    let Some(lab) = ZfsLab::new() else { return };
    fill_project(&lab.data);
    lab.snapshot("s1");
    fs::remove_dir_all(lab.path("proj/ckpt")).unwrap();
    let proj = lab.path("proj");
    for point in ["clone:start", "clone:done", "destroy:start"] {
        let (state, run_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let args = [
            "deleted",
            proj.to_str().unwrap(),
            "--snapshot",
            "s1",
            "--json",
        ];
        let (code, _, err) = run(state.path(), run_dir.path(), &args, Some(point));
        assert_ne!(code, 0, "{point}: the run must have been killed: {err}");
        let (code, doc, err) = run(state.path(), run_dir.path(), &["cleanup", "--json"], None);
        assert_eq!(code, 0, "{point}: {err}\n{doc}");
        let runs = doc["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1, "{point}: {doc}");
        assert_eq!(runs[0]["kind"], "rescue-zfs");
        no_clone_left(&lab, run_dir.path());
        // Twice does nothing more.
        let (_, again, _) = run(state.path(), run_dir.path(), &["cleanup", "--json"], None);
        assert!(
            again["runs"].as_array().unwrap().is_empty(),
            "{point}: {again}"
        );
    }
}
