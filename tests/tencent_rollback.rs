//! Tencent Cloud rollbacks through the real binary against the CBS stand-in, with real loop
//! devices: an elastic data disk rolled back online from the instance itself (unmount, guard
//! snapshot, detach, ApplySnapshot, attach, remount where it was), its refusals decided before
//! anything changes (a container holding it: `tencent_rollback_container.rs`), every crash
//! point finished forward by `cleanup`; the system disk reset with AutoStop/AutoStart from
//! another machine, refused on the instance itself.

mod common;

use common::cbs_lab::*;
use common::{Children, privileged};
use serde_json::json;

fn rollback_args(cbs: &Cbs) -> Vec<String> {
    let mut args: Vec<String> = [
        "rollback",
        cbs.live.to_str().unwrap(),
        "--snapshot",
        SNAPSHOT,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(["--confirm", DISK, "--json"].map(String::from));
    args.extend(cloud_args().into_iter().map(String::from));
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The live disk holds the snapshot's state again, mounted where it was.
fn assert_rolled_back(cbs: &Cbs) {
    assert!(
        mounted(&cbs.live),
        "mounted again on {}",
        cbs.live.display()
    );
    assert_eq!(
        std::fs::read_to_string(cbs.path("note.txt")).unwrap(),
        "before"
    );
    assert_eq!(
        std::fs::read(cbs.path("ckpt/model.safetensors")).unwrap(),
        cbs.checkpoint
    );
}

fn assert_untouched(cbs: &Cbs, context: &str) {
    assert!(mounted(&cbs.live), "{context}: still mounted");
    assert_eq!(
        std::fs::read_to_string(cbs.path("note.txt")).unwrap(),
        "after",
        "{context}"
    );
    assert!(
        !cbs.actions().contains(&"DetachDisks".to_string()),
        "{context}"
    );
}

#[test]
fn an_elastic_data_disk_is_rolled_back_online_and_remounted_where_it_was() {
    if !privileged() {
        return;
    }
    let Some(cbs) = start(json!({})) else { return };
    let fstab = cbs.home.path().join("fstab");
    std::fs::write(
        &fstab,
        format!(
            "/dev/disk/by-id/virtio-{DISK} {} ext4 defaults 0 2\n",
            cbs.live.display()
        ),
    )
    .unwrap();
    let args = rollback_args(&cbs);
    let fstab_env = [("SNAPRESCUE_FSTAB", fstab.to_str().unwrap())];
    // Without --confirm: the plan, and nothing changes.
    let (code, plan, stderr) = cbs.run_here(
        &strs(&args[..4])
            .iter()
            .chain(&["--json", "--dry-run"])
            .chain(&cloud_args())
            .copied()
            .collect::<Vec<_>>(),
        &fstab_env,
    );
    assert_eq!(code, Some(0), "{plan} {stderr}");
    let steps = plan["steps"].to_string();
    assert!(
        steps.contains("unmount") && steps.contains("detach") && steps.contains("nofail"),
        "{plan}"
    );
    assert!(
        !cbs.actions()
            .iter()
            .any(|a| a == "DetachDisks" || a == "CreateSnapshot")
    );
    let (code, doc, stderr) = cbs.run_here(&strs(&args), &fstab_env);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    assert_rolled_back(&cbs);
    let guard = doc["guard"].as_str().unwrap().to_string();
    assert!(guard.starts_with("snap-grd"), "{doc}");
    assert!(doc["notes"].to_string().contains("nofail"), "{doc}");
    let state = cbs.server_state();
    let kept = state["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["SnapshotId"] == guard.as_str())
        .unwrap();
    assert!(
        kept["Tags"].to_string().contains("snaprescue-guard"),
        "{kept}"
    );
    // Kept from every policy: asked for without a Deadline, so permanent.
    assert_eq!(kept["IsPermanent"], true, "{kept}");
    assert!(
        cbs.calls("CreateSnapshot")
            .iter()
            .all(|c| c.get("Deadline").is_none()),
        "a guard never gets a deadline"
    );
    // The guard holds the disk as it was (taken while unmounted, still attached).
    let guard_events = cbs.harness.events();
    assert!(
        guard_events
            .iter()
            .any(|e| e["event"] == "snapshotted" && e["snapshot"] == guard.as_str()),
        "{guard_events:?}"
    );
    let actions = cbs.actions();
    let position = |a: &str| actions.iter().position(|x| x == a).unwrap();
    assert!(position("CreateSnapshot") < position("DetachDisks"));
    assert!(position("DetachDisks") < position("ApplySnapshot"));
    assert!(position("ApplySnapshot") < position("AttachDisks"));
    assert!(!actions.contains(&"StopInstances".to_string()));
    assert_eq!(cbs.calls("AttachDisks")[0]["InstanceId"], INSTANCE);
}

#[test]
fn the_online_rollback_refuses_before_anything_changes() {
    if !privileged() {
        return;
    }
    let Some(cbs) = start(json!({})) else { return };
    let args = rollback_args(&cbs);
    // From another machine: the disk's filesystem is not here to unmount.
    let (code, doc, _) = cbs.run(&strs(&args), &[]);
    assert_eq!(code, Some(1));
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("runs on the instance"),
        "{doc}"
    );
    assert_untouched(&cbs, "elsewhere");
    // The state dir (the journal) on the disk itself.
    let on_disk = cbs.path("state");
    let (code, doc, _) = cbs.run_here(
        &strs(&args),
        &[("SNAPRESCUE_STATE_DIR", on_disk.to_str().unwrap())],
    );
    assert_eq!(code, Some(1));
    assert!(
        doc["error"].as_str().unwrap().contains("state directory"),
        "{doc}"
    );
    assert_untouched(&cbs, "state dir");
    // snaprescue started from inside it.
    let metadata = [("SNAPRESCUE_TENCENT_METADATA_ENDPOINT", cbs.url.as_str())];
    let (code, doc, _) = cbs.run_in(&cbs.live, &strs(&args), &metadata);
    assert_eq!(code, Some(1));
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("working directory of snaprescue"),
        "{doc}"
    );
    assert_untouched(&cbs, "cwd");
    // A process working on it.
    let writer = Children(vec![
        std::process::Command::new("sleep")
            .arg("60")
            .current_dir(&cbs.live)
            .spawn()
            .unwrap(),
    ]);
    let (code, doc, _) = cbs.run_here(&strs(&args), &[]);
    assert_eq!(code, Some(1));
    let error = doc["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("pid {}", writer.0[0].id())),
        "{error}"
    );
    assert_untouched(&cbs, "writer");
    drop(writer);
}

#[test]
fn every_crash_point_of_an_online_rollback_is_finished_forward_by_cleanup() {
    if !privileged() {
        return;
    }
    let points = [
        ("unmount:done", false),
        ("guard:done", false),
        ("detach:done", false),
        ("reset:start", false),
        ("reset:done", true),
        ("attach:start", true),
    ];
    for (point, reset) in points {
        let Some(cbs) = start(json!({})) else { return };
        let args = rollback_args(&cbs);
        let (code, _, stderr) = cbs.run_here(&strs(&args), &[("SNAPRESCUE_CRASH_AT", point)]);
        assert_eq!(code, None, "{point}: killed. {stderr}");
        let (code, doc, stderr) = cbs.run(&["cleanup", "--json"], &[]);
        assert_eq!(code, Some(0), "{point}: {doc} {stderr}");
        let state = doc["runs"][0]["state"].as_str().unwrap();
        assert!(mounted(&cbs.live), "{point}: mounted again ({state})");
        if reset {
            assert!(state.contains("was reset to"), "{point}: {state}");
            assert_rolled_back(&cbs);
        } else {
            assert!(
                state.contains("not") && state.contains("reset"),
                "{point}: {state}"
            );
            assert_eq!(
                std::fs::read_to_string(cbs.path("note.txt")).unwrap(),
                "after"
            );
        }
        let (_, again, _) = cbs.run(&["cleanup", "--json"], &[]);
        assert_eq!(again["runs"], json!([]), "{point}: nothing left to finish");
    }
}

#[test]
fn the_system_disk_is_reset_with_auto_stop_from_another_machine_only() {
    if !privileged() {
        return;
    }
    let Some(cbs) = start(json!({})) else { return };
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "rollback",
        dir.path().to_str().unwrap(),
        "--snapshot",
        SYSTEM_SNAPSHOT,
        "--confirm",
        SYSTEM_DISK,
        "--json",
        "--source",
        "tencent",
        "--region",
        "ap-guangzhou",
        "--disk",
        SYSTEM_DISK,
        "--instance",
        INSTANCE,
    ];
    let (code, doc, _) = cbs.run_here(&args, &[]);
    assert_eq!(code, Some(1));
    let error = doc["error"].as_str().unwrap();
    assert!(
        error.contains("the machine snaprescue runs on")
            && error.contains(&format!("--instance {INSTANCE} --disk {SYSTEM_DISK}")),
        "{error}"
    );
    assert!(!cbs.actions().contains(&"ApplySnapshot".to_string()));
    let (code, doc, stderr) = cbs.run(&args, &[]);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    assert!(
        doc["guard"].as_str().unwrap().starts_with("snap-grd"),
        "{doc}"
    );
    let apply = &cbs.calls("ApplySnapshot")[0];
    assert_eq!(apply["AutoStopInstance"], true);
    assert_eq!(apply["AutoStartInstance"], true);
    assert_eq!(
        cbs.server_state()["instances"][0]["InstanceState"],
        "RUNNING"
    );
    // Interrupted after the request: cleanup waits for the reset and the instance.
    let (code, _, _) = cbs.run(&args, &[("SNAPRESCUE_CRASH_AT", "apply:done")]);
    assert_eq!(code, None);
    let (code, doc, stderr) = cbs.run(&["cleanup", "--json"], &[]);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    let state = doc["runs"][0]["state"].as_str().unwrap();
    assert!(
        state.contains("was reset") && state.contains("is running"),
        "{state}"
    );
}
