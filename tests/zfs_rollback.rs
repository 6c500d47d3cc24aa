//! ZFS rollback as a roll-forward on a real pool (zfs-fuse): the live content becomes the
//! snapshot's, while the dataset, its properties, its child dataset, every later snapshot
//! and the held guard stay; the undo; the dry run; refusals; crash points finished by
//! `cleanup`.

mod common;
use common::zfs_lab::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// What [`manifest`] says of a tree.
type Manifest = BTreeMap<PathBuf, String>;

fn run(state: &Path, args: &[&str], crash: Option<&str>) -> (i32, serde_json::Value, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_snaprescue"));
    cmd.args(args).env("SNAPRESCUE_STATE_DIR", state);
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

/// A lab whose dataset has local properties, a child with a file, snapshot `s1` of the
/// project, then changes of every kind and a later snapshot `s2`, then more changes.
/// Returns the manifest at `s1` and the one now.
fn changed_lab() -> Option<(ZfsLab, Manifest, Manifest)> {
    let lab = ZfsLab::new()?;
    let ds = lab.dataset();
    lab.zfs(&["set", "com.sun:auto-snapshot=true", &ds]);
    lab.zfs(&["set", "quota=200M", &ds]);
    fs::write(lab.path("child/kid.txt"), "child data").unwrap();
    fill_project(&lab.data);
    let at_s1 = manifest(&lab.data);
    lab.snapshot("s1");
    fs::remove_dir_all(lab.path("proj/ckpt")).unwrap();
    fs::write(lab.path("proj/keep.txt"), "changed after s1").unwrap();
    fs::create_dir_all(lab.path("proj/new dir/deeper")).unwrap();
    fs::write(lab.path("proj/new dir/deeper/new.bin"), "new").unwrap();
    lab.snapshot("s2");
    fs::remove_file(lab.path("proj/outside")).unwrap();
    fs::write(lab.path("proj/outside"), "a file where a link was").unwrap();
    fs::write(lab.path("newest.txt"), "written last").unwrap();
    // Only the mode and owner changed: the content and times are the snapshot's.
    let mode = lab.path("proj/mode.txt");
    std::os::unix::fs::chown(&mode, Some(0), Some(0)).unwrap();
    fs::set_permissions(&mode, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    fs::write(lab.path("child/kid2.txt"), "child, later").unwrap();
    let now = manifest(&lab.data);
    Some((lab, at_s1, now))
}

fn rollback(
    lab: &ZfsLab,
    state: &Path,
    snapshot: &str,
    crash: Option<&str>,
) -> (i32, serde_json::Value, String) {
    let ds = lab.dataset();
    let live = lab.path("proj");
    run(
        state,
        &[
            "rollback",
            live.to_str().unwrap(),
            "--snapshot",
            snapshot,
            "--confirm",
            &ds,
            "--json",
        ],
        crash,
    )
}

fn snapshots(lab: &ZfsLab) -> Vec<String> {
    lab.zfs(&[
        "list",
        "-H",
        "-t",
        "snapshot",
        "-o",
        "name",
        "-d",
        "1",
        &lab.dataset(),
    ])
    .lines()
    .map(|l| l.split_once('@').unwrap().1.to_string())
    .collect()
}

#[test]
fn a_roll_forward_brings_the_snapshot_back_and_keeps_the_dataset_its_properties_children_and_every_snapshot()
 {
    let Some((lab, at_s1, before)) = changed_lab() else {
        return;
    };
    let ds = lab.dataset();
    let child_before = manifest(&lab.path("child"));
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = rollback(&lab, state.path(), "s1", None);
    assert_eq!(code, 0, "{err}\n{doc}");
    // The content is the snapshot's; the child dataset's content was left alone.
    let mut expected = at_s1.clone();
    expected.insert("child".into(), "another filesystem".into());
    assert_eq!(manifest(&lab.data), expected);
    assert_eq!(manifest(&lab.path("child")), child_before);
    // Later snapshots and the guard, held, are there; the guard holds what was removed.
    let guard = doc["guard"].as_str().unwrap().to_string();
    let guard_short = guard.split_once('@').unwrap().1.to_string();
    assert!(guard_short.starts_with("snaprescue-guard-"), "{guard}");
    let listed = snapshots(&lab);
    for name in ["s1", "s2", guard_short.as_str()] {
        assert!(listed.iter().any(|s| s == name), "{name} in {listed:?}");
    }
    assert_eq!(lab.get(&guard, "userrefs"), "1");
    assert_eq!(lab.get(&ds, "com.sun:auto-snapshot"), "true");
    assert_eq!(lab.get(&ds, "quota"), "200M");
    assert_eq!(lab.get(&ds, "origin"), "-", "the dataset is not a clone");
    // The undo: the same roll-forward to the guard brings the newer state back.
    let undo = doc["undo"].as_str().unwrap();
    assert!(undo.contains(&guard_short), "{undo}");
    let (code, _, err) = rollback(&lab, state.path(), &guard_short, None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(manifest(&lab.data), before);
}

#[test]
fn the_dry_run_names_what_goes_and_comes_and_changes_nothing() {
    let Some((lab, _, before)) = changed_lab() else {
        return;
    };
    let names_before = lab.names();
    let state = tempfile::tempdir().unwrap();
    let live = lab.path("proj");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snaprescue"))
        .args([
            "rollback",
            live.to_str().unwrap(),
            "--snapshot",
            "s1",
            "--dry-run",
        ])
        .env("SNAPRESCUE_STATE_DIR", state.path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("remove 2 entries"), "{text}");
    assert!(
        text.contains("newest.txt") && text.contains("new dir"),
        "{text}"
    );
    assert!(
        text.contains("restore 1 entry") && text.contains("ckpt"),
        "{text}"
    );
    assert!(
        text.contains("child datasets") && text.contains("child"),
        "{text}"
    );
    assert!(text.contains("zfs rollback -r"), "{text}");
    assert_eq!(manifest(&lab.data), before);
    assert_eq!(lab.names(), names_before);
}

#[test]
fn refusals_change_nothing() {
    let Some((lab, _, before)) = changed_lab() else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let live = lab.path("proj");
    // The wrong confirmation.
    let (code, _, err) = run(
        state.path(),
        &[
            "rollback",
            live.to_str().unwrap(),
            "--snapshot",
            "s1",
            "--confirm",
            &lab.pool,
            "--json",
        ],
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("does not name the dataset"), "{err}");
    // A process using the dataset.
    let mut user = common::Children(vec![
        std::process::Command::new("sleep")
            .arg("600")
            .current_dir(lab.path("proj"))
            .spawn()
            .unwrap(),
    ]);
    let (code, _, err) = rollback(&lab, state.path(), "s1", None);
    assert_ne!(code, 0);
    assert!(err.contains("processes still use"), "{err}");
    assert!(err.contains(&user.0[0].id().to_string()), "{err}");
    let _ = user.0[0].kill();
    drop(user);
    // A snapshot of another dataset (the child's), named as this one's.
    lab.zfs(&["snapshot", &format!("{}/child@elsewhere", lab.dataset())]);
    let names_before = lab.names();
    let (code, _, err) = rollback(&lab, state.path(), "elsewhere", None);
    assert_ne!(code, 0);
    assert!(err.contains("unknown snapshot id"), "{err}");
    assert_eq!(manifest(&lab.data), before);
    assert_eq!(lab.names(), names_before, "no guard was taken");
}

#[test]
fn every_crash_point_of_a_roll_forward_is_finished_by_cleanup() {
    for point in ["guard:start", "guard:done", "roll-forward:start"] {
        let Some((lab, at_s1, before)) = changed_lab() else {
            return;
        };
        let state = tempfile::tempdir().unwrap();
        let (code, _, err) = rollback(&lab, state.path(), "s1", Some(point));
        assert_ne!(code, 0, "{point}: the run must have been killed: {err}");
        let (code, doc, err) = run(state.path(), &["cleanup", "--json"], None);
        assert_eq!(code, 0, "{point}: {err}\n{doc}");
        let runs = doc["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1, "{point}: {doc}");
        assert_eq!(runs[0]["kind"], "rollback-zfs");
        let now = manifest(&lab.data);
        if point == "guard:start" {
            assert_eq!(now, before, "{point}: nothing was changed");
        } else {
            let mut expected = at_s1.clone();
            expected.insert("child".into(), "another filesystem".into());
            assert_eq!(now, expected, "{point}: finished forward");
        }
        // The guard, when taken, is held; the later snapshot is still there.
        let listed = snapshots(&lab);
        assert!(listed.iter().any(|s| s == "s2"), "{listed:?}");
        for guard in listed.iter().filter(|s| s.starts_with("snaprescue-guard-")) {
            let full = format!("{}@{guard}", lab.dataset());
            assert_eq!(lab.get(&full, "userrefs"), "1", "{point}");
        }
        let (_, again, _) = run(state.path(), &["cleanup", "--json"], None);
        assert!(
            again["runs"].as_array().unwrap().is_empty(),
            "{point}: {again}"
        );
    }
}
