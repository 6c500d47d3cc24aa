//! `snapshots` and `deleted` on real btrfs volumes: layouts, recommendation, hidden
//! snapshots reached through a temporary top-level mount, and the errors for bad input.

mod common;
use common::*;
use std::fs;

/// data subvolume with a snapper snapshot, a custom one, a timeshift one, a snapshot taken
/// after the deletion, and an unrelated subvolume's snapshot.
fn layouts() -> LoopFs {
    let fs = btrfs_with_data_subvolume();
    let data = fs.path("data");
    btrfs(&["subvolume", "create", fs.path("other").to_str().unwrap()]);
    fs::create_dir_all(data.join("run/ckpt")).unwrap();
    fs::write(data.join("run/ckpt/a.pth"), vec![7u8; 4096]).unwrap();
    snapshot(&data, &fs.path("data/.snapshots/1/snapshot"));
    fs::write(
        fs.path("data/.snapshots/1/info.xml"),
        "<?xml version=\"1.0\"?><snapshot><type>single</type><num>1</num><date>2026-01-01 00:00:00</date><description>first</description></snapshot>",
    )
    .unwrap();
    next_second();
    fs::write(data.join("run/ckpt/b.pth"), vec![8u8; 8192]).unwrap();
    snapshot(&data, &fs.path("snaps/manual-2"));
    snapshot(&fs.path("other"), &fs.path("snaps/other-1"));
    next_second();
    fs::write(data.join("run/ckpt/c.pth"), vec![9u8; 100]).unwrap();
    snapshot(
        &data,
        &fs.path("timeshift-btrfs/snapshots/2026-11-28_10-00-01/data"),
    );
    next_second();
    for f in ["a.pth", "b.pth", "c.pth"] {
        fs::remove_file(data.join("run/ckpt").join(f)).unwrap();
    }
    next_second();
    snapshot(&data, &fs.path("snaps/after-deletion"));
    fs
}

fn ids_by_layout(doc: &serde_json::Value) -> Vec<(String, String, bool)> {
    doc["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["layout"].as_str().unwrap().to_string(),
                s["path"].as_str().unwrap().to_string(),
                s["recommended"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn lists_every_layout_newest_first_and_recommends_the_last_before_deletion() {
    if !privileged() {
        return;
    }
    let fs = layouts();
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = json(state.path(), args!["snapshots", fs.path("data/run/ckpt")]);
    assert_eq!(code, 0, "{err}");
    let found = ids_by_layout(&doc);
    let paths: Vec<&str> = found.iter().map(|f| f.1.as_str()).collect();
    assert_eq!(
        paths,
        [
            "snaps/after-deletion",
            "timeshift-btrfs/snapshots/2026-11-28_10-00-01/data",
            "snaps/manual-2",
            "data/.snapshots/1/snapshot"
        ],
        "newest first, the unrelated subvolume's snapshot left out"
    );
    let recommended: Vec<&str> = found.iter().filter(|f| f.2).map(|f| f.1.as_str()).collect();
    assert_eq!(
        recommended,
        ["timeshift-btrfs/snapshots/2026-11-28_10-00-01/data"]
    );
    let layouts: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(layouts, ["subvolume", "timeshift", "subvolume", "snapper"]);
    let snapper = &doc["snapshots"][3];
    assert_eq!(snapper["name"], "snapper #1: first");
    for s in doc["snapshots"].as_array().unwrap() {
        for key in ["id", "source", "created", "status", "name", "recommended"] {
            assert!(!s[key].is_null(), "{key} missing in {s}");
        }
        assert!(chrono::DateTime::parse_from_rfc3339(s["created"].as_str().unwrap()).is_ok());
    }
}

/// A snapshot taken in the same second as the deletion, just after it, holds nothing that was
/// lost; `btrfs subvolume list` would show it at that whole second, before the deletion
/// time. Its creation time to the nanosecond keeps it from being recommended.
#[test]
fn a_snapshot_in_the_second_of_the_deletion_but_after_it_is_not_recommended() {
    if !privileged() {
        return;
    }
    let fs = LoopFs::new("btrfs", 128);
    let data = fs.path("data");
    btrfs(&["subvolume", "create", data.to_str().unwrap()]);
    fs::create_dir_all(data.join("ckpt")).unwrap();
    fs::write(data.join("ckpt/a.pth"), vec![7u8; 4096]).unwrap();
    snapshot(&data, &fs.path("snaps/before"));
    next_second();
    // Start at the top of a second so that the deletion and the snapshot share it.
    let now = chrono::Utc::now();
    let into_second = u64::from(now.timestamp_subsec_millis());
    std::thread::sleep(std::time::Duration::from_millis(1000 - into_second + 20));
    fs::remove_file(data.join("ckpt/a.pth")).unwrap();
    snapshot(&data, &fs.path("snaps/same-second"));
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = json(state.path(), args!["snapshots", fs.path("data/ckpt")]);
    assert_eq!(code, 0, "{err}");
    let found = ids_by_layout(&doc);
    assert_eq!(found[0].1, "snaps/same-second", "{doc}");
    assert!(!found[0].2, "taken after the deletion: {doc}");
    assert_eq!(found[1].1, "snaps/before");
    assert!(found[1].2, "{doc}");
    let created = doc["snapshots"][0]["created"].as_str().unwrap();
    assert!(created.contains('.'), "sub-second precision: {created}");
}

#[test]
fn each_candidate_holds_what_it_held() {
    if !privileged() {
        return;
    }
    let fs = layouts();
    let state = tempfile::tempdir().unwrap();
    let (_, doc, _) = json(state.path(), args!["snapshots", fs.path("data/run/ckpt")]);
    let id_of = |path: &str| {
        doc["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["path"] == path)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (code, deleted, err) = json(
        state.path(),
        args![
            "deleted",
            fs.path("data/run/ckpt"),
            "--snapshot",
            id_of("snaps/manual-2")
        ],
    );
    assert_eq!(code, 0, "{err}");
    let names: Vec<&str> = deleted["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a.pth", "b.pth"]);
    assert_eq!(deleted["lost"]["bytes"], 4096 + 8192);
    let (_, none, _) = json(
        state.path(),
        args![
            "deleted",
            fs.path("data/run/ckpt"),
            "--snapshot",
            id_of("snaps/after-deletion")
        ],
    );
    assert_eq!(none["deleted"].as_array().unwrap().len(), 0);
}

#[test]
fn hidden_snapshots_are_reached_through_a_private_read_only_mount() {
    if !privileged() {
        return;
    }
    let mut fs = layouts();
    fs.unmount();
    fs.mount_with("subvol=data");
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = json(state.path(), args!["snapshots", fs.path("run/ckpt")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(doc["snapshots"].as_array().unwrap().len(), 4);
    let listed = |key: &str, value: &str| {
        doc["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s[key] == value)
            .unwrap_or_else(|| panic!("no {key} {value}: {doc}"))
            .clone()
    };
    let deleted_in = |snapshot: &serde_json::Value| {
        let (code, deleted, err) = json(
            state.path(),
            args![
                "deleted",
                fs.path("run/ckpt"),
                "--snapshot",
                snapshot["id"].as_str().unwrap()
            ],
        );
        assert_eq!(code, 0, "{err}");
        deleted["deleted"].clone()
    };
    assert_eq!(
        deleted_in(&listed("path", "snaps/manual-2"))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Snapper's snapshots below the mounted subvolume: btrfs lists them relative to it
    // unless asked for full paths; they are named from the top level like the others.
    let snapper = listed("layout", "snapper");
    assert_eq!(snapper["path"], "data/.snapshots/1/snapshot", "{snapper}");
    assert_eq!(deleted_in(&snapper)[0]["path"], "a.pth");
    // Ours only: another run on this machine may hold a view of its own meanwhile.
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let left: Vec<&str> = mountinfo
        .lines()
        .filter(|l| l.contains("/run/snaprescue/mnt-") && l.contains(&fs.device))
        .collect();
    assert!(left.is_empty(), "temporary mount left behind: {left:?}");
}

#[test]
fn unknown_snapshot_id_lists_the_valid_ones() {
    if !privileged() {
        return;
    }
    let fs = layouts();
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = json(
        state.path(),
        args!["deleted", fs.path("data/run/ckpt"), "--snapshot", "9999"],
    );
    assert_eq!(code, 1);
    let message = doc["error"].as_str().unwrap();
    assert!(
        message.contains("unknown snapshot id `9999`") && message.contains("snaps/manual-2"),
        "{message}"
    );
    assert!(err.contains("valid ids"));
}

#[test]
fn path_created_after_the_snapshot_is_named_in_the_error() {
    if !privileged() {
        return;
    }
    let fs = layouts();
    fs::create_dir(fs.path("data/fresh")).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (_, doc, _) = json(state.path(), args!["snapshots", fs.path("data/fresh")]);
    let id = doc["snapshots"][1]["id"].as_str().unwrap().to_string();
    let (code, doc, _) = json(
        state.path(),
        args!["deleted", fs.path("data/fresh"), "--snapshot", id],
    );
    assert_eq!(code, 1);
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("does not exist in snapshot"),
        "{doc}"
    );
}

#[test]
fn a_path_on_ext4_says_which_sources_were_checked() {
    if !privileged() {
        return;
    }
    let fs = LoopFs::new("ext4", 32);
    let state = tempfile::tempdir().unwrap();
    let (code, doc, _) = json(state.path(), args!["snapshots", fs.path("lost/dir")]);
    assert_eq!(code, 1);
    let message = doc["error"].as_str().unwrap();
    assert!(
        message.contains("no snapshot source serves")
            && message.contains("btrfs (")
            && message.contains("ext4"),
        "{message}"
    );
}

#[test]
fn without_root_the_error_says_to_use_root() {
    if !privileged() {
        return;
    }
    let fs = layouts();
    let state = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_snaprescue"))
        .args(["snapshots", fs.path("data/run/ckpt").to_str().unwrap()])
        .env("SNAPRESCUE_STATE_DIR", state.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs root"), "{err}");
}

#[test]
fn bad_usage_exits_2() {
    let state = tempfile::tempdir().unwrap();
    // PATH is required (`--snapshot` is not: the recommended one is used).
    let out = snaprescue(state.path(), args!["deleted"]);
    assert_eq!(out.status.code(), Some(2));
    let out = snaprescue(
        state.path(),
        args!["restore", "/tmp", "--conflict", "overwrite"],
    );
    assert_eq!(out.status.code(), Some(2));
}
