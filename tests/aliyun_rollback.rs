//! Alibaba Cloud data-disk rollbacks through the real binary against the ECS stand-in, with
//! real loop devices: a detachable data disk rolled back from the instance itself without a
//! stop (unmount, guard snapshot, DetachDisk, ResetDisk on the Available disk, AttachDisk
//! retried while the reset settles, remount where it was), checked by the bytes at the mount
//! point; the refusals decided before anything changes; every journal point of the run
//! killed and finished forward by `cleanup`.

mod common;

use common::ecs_rollback_lab::*;
use common::{Children, privileged};
use serde_json::json;

#[test]
fn a_data_disk_is_rolled_back_from_its_instance_without_a_stop() {
    if !privileged() {
        return;
    }
    let Some(ecs) = start(true, json!({})) else {
        return;
    };
    let fstab = ecs.home.path().join("fstab");
    std::fs::write(
        &fstab,
        format!(
            "UUID=0b1c /dev/null ext4 defaults 0 2\n/dev/vdb {} ext4 defaults 0 2\n",
            ecs.live.display()
        ),
    )
    .unwrap();
    let fstab_env = [("SNAPRESCUE_FSTAB", fstab.to_str().unwrap())];
    // The dry run: the online plan and its warning, nothing changed.
    let (code, plan, stderr) = ecs.run_here(
        &strs(&ecs.rollback_args(SNAPSHOT, &["--dry-run"])),
        &fstab_env,
    );
    assert_eq!(code, Some(0), "{plan} {stderr}");
    let steps = plan["steps"].to_string();
    for word in [
        "unmount",
        "detach",
        "reset",
        "attach",
        "mount it on",
        "nofail",
    ] {
        assert!(steps.contains(word), "{word}: {plan}");
    }
    assert!(!steps.contains("stop instance"), "{plan}");
    let said = plan["what_happens"].as_str().unwrap();
    assert!(
        said.contains("unmounted") && said.contains("nothing reboots"),
        "the words step 4 shows: {said}"
    );
    let (_, plan, _) = ecs.run_here(
        &strs(&ecs.rollback_args(SNAPSHOT, &["--dry-run", "--no-guard"])),
        &fstab_env,
    );
    let said = plan["what_happens"].as_str().unwrap();
    assert!(
        said.contains("not kept") && !said.contains("guard snapshot"),
        "--no-guard is said as such: {said}"
    );
    ecs.assert_untouched("dry run");

    let args = ecs.rollback_args(SNAPSHOT, &["--confirm", DISK]);
    let (code, doc, stderr) = ecs.run_here(&strs(&args), &fstab_env);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    ecs.assert_rolled_back("after the rollback");
    let guard = doc["guard"].as_str().unwrap().to_string();
    assert!(guard.starts_with("s-bp1guard"), "{doc}");
    assert!(doc["notes"].to_string().contains("nofail"), "{doc}");
    assert!(doc["undo"].as_str().unwrap().contains(&guard), "{doc}");
    // The guard holds the disk as it was: taken while unmounted and still attached.
    let events = ecs.harness.events();
    let at = |event: &str| {
        events
            .iter()
            .position(|e| e["event"] == event)
            .unwrap_or_else(|| panic!("{event}: {events:?}"))
    };
    assert!(at("snapshotted") < at("detached") && at("detached") < at("reset"));
    let actions = ecs.actions();
    let position = |a: &str| actions.iter().position(|x| x == a).unwrap();
    assert!(position("CreateSnapshot") < position("DetachDisk"));
    assert!(position("DetachDisk") < position("ResetDisk"));
    assert!(position("ResetDisk") < position("AttachDisk"));
    assert!(
        !actions
            .iter()
            .any(|a| a == "StopInstance" || a == "StartInstance")
    );
    assert_eq!(
        actions.iter().filter(|a| *a == "AttachDisk").count(),
        2,
        "the attach refused while the reset settles is asked again"
    );
    let state = ecs.server.state();
    let disk = state["disks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["DiskId"] == DISK)
        .unwrap();
    assert_eq!(disk["Status"], "In_use");
    assert_eq!(disk["InstanceId"], INSTANCE);
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
}

#[test]
fn the_online_rollback_refuses_before_anything_changes() {
    if !privileged() {
        return;
    }
    let Some(ecs) = start(true, json!({})) else {
        return;
    };
    let args = ecs.rollback_args(SNAPSHOT, &["--confirm", DISK]);
    // The state dir (the journal) on the disk itself.
    let on_disk = ecs.path("state");
    let (code, doc, _) = ecs.run_here(
        &strs(&args),
        &[("SNAPRESCUE_STATE_DIR", on_disk.to_str().unwrap())],
    );
    assert_eq!(code, Some(1));
    assert!(
        doc["error"].as_str().unwrap().contains("state directory"),
        "{doc}"
    );
    ecs.assert_untouched("state dir");
    // snaprescue started from inside it.
    let metadata = [(
        "SNAPRESCUE_ALIYUN_METADATA_ENDPOINT",
        ecs.server.url.as_str(),
    )];
    let (code, doc, _) = ecs.run_in(&ecs.live, &strs(&args), &metadata);
    assert_eq!(code, Some(1));
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("working directory of snaprescue"),
        "{doc}"
    );
    ecs.assert_untouched("cwd");
    // A process working on it: refused by the dry run too, with its pid.
    let writer = Children(vec![
        std::process::Command::new("sleep")
            .arg("60")
            .current_dir(&ecs.live)
            .spawn()
            .unwrap(),
    ]);
    for extra in [&["--dry-run"][..], &["--confirm", DISK]] {
        let (code, doc, _) = ecs.run_here(&strs(&ecs.rollback_args(SNAPSHOT, extra)), &[]);
        assert_eq!(code, Some(1), "{extra:?}");
        let error = doc["error"].as_str().unwrap();
        assert!(
            error.contains(&format!("pid {}", writer.0[0].id())),
            "{extra:?}: {error}"
        );
    }
    drop(writer);
    ecs.assert_untouched("writer");
    // A snapshot of another disk is not one of this disk's: refused before any call.
    let (code, doc, _) = ecs.run_here(
        &strs(&ecs.rollback_args(OTHER_DISK_SNAPSHOT, &["--confirm", DISK])),
        &[],
    );
    assert_eq!(code, Some(1), "{doc}");
    let error = doc["error"].as_str().unwrap();
    assert!(
        error.contains("unknown snapshot id") && error.contains(SNAPSHOT),
        "{error}"
    );
    ecs.assert_untouched("another disk's snapshot");
}

#[test]
fn a_reset_refused_midway_brings_the_disk_back_attached_and_mounted_as_it_was() {
    if !privileged() {
        return;
    }
    let refused = json!({"fail": {"ResetDisk": [403, "InvalidParameter.Mismatch"]}});
    let Some(ecs) = start(true, refused) else {
        return;
    };
    let args = ecs.rollback_args(SNAPSHOT, &["--confirm", DISK, "--no-guard"]);
    let (code, doc, stderr) = ecs.run_here(&strs(&args), &[]);
    assert_eq!(code, Some(1), "{doc} {stderr}");
    assert!(
        doc["error"]
            .to_string()
            .contains("InvalidParameter.Mismatch"),
        "the cloud's refusal is named: {doc}"
    );
    assert!(common::cbs_lab::mounted(&ecs.live), "mounted again");
    assert_eq!(
        std::fs::read_to_string(ecs.path("note.txt")).unwrap(),
        "after",
        "the live data is as it was"
    );
    let actions = ecs.actions();
    assert!(actions.iter().any(|a| a == "AttachDisk"), "{actions:?}");
    let (_, again, _) = ecs.run(&["cleanup", "--json"], &[]);
    assert_eq!(again["runs"], json!([]), "nothing left to finish");
}

#[test]
fn a_disk_that_cannot_be_detached_is_refused_here_with_the_command_for_elsewhere() {
    if !privileged() {
        return;
    }
    let Some(ecs) = start(false, json!({})) else {
        return;
    };
    let args = ecs.rollback_args(SNAPSHOT, &["--confirm", DISK]);
    let (code, doc, _) = ecs.run_here(&strs(&args), &[]);
    assert_eq!(code, Some(1));
    let error = doc["error"].as_str().unwrap();
    assert!(
        error.contains("Portable=false")
            && error.contains("the machine snaprescue runs on")
            && error.contains(&format!("--instance {INSTANCE} --disk {DISK}"))
            && error.contains("snaprescue restore"),
        "{error}"
    );
    ecs.assert_untouched("not detachable");
    // From another machine the same disk takes the stop-and-reset flow.
    let (code, plan, stderr) = ecs.run(&strs(&ecs.rollback_args(SNAPSHOT, &["--dry-run"])), &[]);
    assert_eq!(code, Some(0), "{plan} {stderr}");
    assert!(
        plan["steps"].to_string().contains("stop instance"),
        "{plan}"
    );
    assert!(
        plan["what_happens"].as_str().unwrap().contains("stopped"),
        "{plan}"
    );
}

#[test]
fn every_journal_point_of_an_online_rollback_is_finished_forward_by_cleanup() {
    if !privileged() {
        return;
    }
    // (point, whether ResetDisk was answered)
    let points = [
        ("target:done", false),
        ("unmount:start", false),
        ("unmount:done", false),
        ("guard:start", false),
        ("guard:created", false),
        ("guard:done", false),
        ("detach:start", false),
        ("detach:done", false),
        ("reset:start", false),
        ("reset:done", true),
        ("reset_finished:done", true),
        ("attach:start", true),
        ("attach:done", true),
        ("mount:start", true),
    ];
    for (point, reset) in points {
        let Some(ecs) = start(true, json!({})) else {
            return;
        };
        let args = ecs.rollback_args(SNAPSHOT, &["--confirm", DISK]);
        let (code, _, stderr) = ecs.run_here(&strs(&args), &[("SNAPRESCUE_CRASH_AT", point)]);
        assert_eq!(code, None, "{point}: killed. {stderr}");
        let (code, doc, stderr) = ecs.run(&["cleanup", "--json"], &[]);
        assert_eq!(code, Some(0), "{point}: {doc} {stderr}");
        let state = doc["runs"][0]["state"].as_str().unwrap();
        assert!(
            state.contains(&format!("mounted on {}", ecs.live.display())),
            "{point}: {state}"
        );
        if reset {
            assert!(state.contains("was reset to"), "{point}: {state}");
            ecs.assert_rolled_back(point);
        } else {
            assert!(!state.contains("was reset to"), "{point}: {state}");
            assert!(common::cbs_lab::mounted(&ecs.live), "{point}");
            assert_eq!(
                std::fs::read_to_string(ecs.path("note.txt")).unwrap(),
                "after",
                "{point}"
            );
        }
        if point.starts_with("guard:created") || point.starts_with("guard:done") || point > "guard"
        {
            // A guard requested before the crash is kept and named.
        }
        let (_, again, _) = ecs.run(&["cleanup", "--json"], &[]);
        assert_eq!(again["runs"], json!([]), "{point}: nothing left to finish");
        assert!(
            !ecs.actions().iter().any(|a| a == "StopInstance"),
            "{point}: the instance never stopped"
        );
    }
}
