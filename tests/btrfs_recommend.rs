//! The ★ brings something back: on real btrfs volumes, `snapshots` recommends the snapshot
//! holding the most lost entries and says why, also when PATH is a parent of what was
//! deleted and the deletion estimate falls before every snapshot.

mod common;
use common::*;
use std::fs;

/// Snapshot A with the checkpoints, `rm`, snapshot B, then a new file in the same folder.
fn a_rm_b_new_file() -> LoopFs {
    let fs = LoopFs::new("btrfs", 128);
    let data = fs.path("data");
    btrfs(&["subvolume", "create", data.to_str().unwrap()]);
    fs::create_dir_all(data.join("run/ckpt")).unwrap();
    fs::write(data.join("run/ckpt/a.pth"), vec![7u8; 4096]).unwrap();
    fs::write(data.join("run/ckpt/b.pth"), vec![8u8; 8192]).unwrap();
    next_second();
    snapshot(&data, &fs.path("snaps/A"));
    next_second();
    fs::remove_file(data.join("run/ckpt/a.pth")).unwrap();
    fs::remove_file(data.join("run/ckpt/b.pth")).unwrap();
    next_second();
    snapshot(&data, &fs.path("snaps/B"));
    next_second();
    fs::write(data.join("run/ckpt/new.log"), b"epoch 11\n").unwrap();
    fs
}

fn recommended(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["recommended"] == true)
        .map(|s| {
            (
                s["path"].as_str().unwrap().to_string(),
                s["recommend_reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn the_snapshot_holding_the_lost_files_is_recommended_not_the_newest_before_the_estimate() {
    if !privileged() {
        return;
    }
    let fs = a_rm_b_new_file();
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = json(state.path(), args!["snapshots", fs.path("data/run/ckpt")]);
    assert_eq!(code, 0, "{err}");
    let chosen = recommended(&doc);
    assert_eq!(chosen.len(), 1, "{doc}");
    assert_eq!(chosen[0].0, "snaps/A", "{doc}");
    assert!(
        chosen[0].1.contains("holds 2 of the lost entries"),
        "{}",
        chosen[0].1
    );
    let b = doc["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"] == "snaps/B")
        .unwrap();
    assert_eq!(b["lost_entries"], 0, "{doc}");
    assert_eq!(doc["recommend_reason"], chosen[0].1.as_str());
    let human = snaprescue(state.path(), args!["snapshots", fs.path("data/run/ckpt")]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("* = recommended: holds 2 of the lost entries"),
        "{text}"
    );
}

#[test]
fn with_path_a_parent_of_what_was_deleted_a_snapshot_is_still_recommended() {
    if !privileged() {
        return;
    }
    let fs = a_rm_b_new_file();
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = json(state.path(), args!["snapshots", fs.path("data/run")]);
    assert_eq!(code, 0, "{err}");
    let estimate =
        chrono::DateTime::parse_from_rfc3339(doc["deleted_at"].as_str().unwrap()).unwrap();
    for s in doc["snapshots"].as_array().unwrap() {
        let created = chrono::DateTime::parse_from_rfc3339(s["created"].as_str().unwrap());
        assert!(
            estimate < created.unwrap(),
            "the estimate is before every snapshot: {doc}"
        );
    }
    let chosen = recommended(&doc);
    assert_eq!(chosen.len(), 1, "{doc}");
    assert_eq!(chosen[0].0, "snaps/A", "{doc}");
    assert!(chosen[0].1.contains("deletion estimate"), "{}", chosen[0].1);
}
