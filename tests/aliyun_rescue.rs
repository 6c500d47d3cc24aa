//! The Alibaba Cloud rescue and rollback through the real binary against the ECS stand-in
//! (tests/servers/aliyun_ecs.py: signatures checked, disks and instances walking through
//! Creating/Available/In_use and Running/Stopping/Stopped), with the disk harness presenting
//! attached disks as loop devices by virtio serial.

mod common;

use common::ecs_rescue_lab::*;
use common::privileged;
use serde_json::json;

#[test]
fn restores_from_an_ecs_snapshot_through_a_rescue_disk_and_deletes_it() {
    if !privileged() {
        return;
    }
    let Some(ecs) = start(json!({})) else { return };
    let (live, data) = checkpoints(&ecs);
    let path = live.path("ckpt");
    let (code, doc, stderr) = ecs.restore(&path, &[], &[]);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    assert_eq!(
        std::fs::read(live.path("ckpt/model.safetensors")).unwrap(),
        data
    );
    assert_eq!(doc["rescue"]["removed"], true);
    assert!(
        stderr.contains("waiting for ECS disk"),
        "the disk went through Creating: {stderr}"
    );
    let actions = ecs.actions();
    let order: Vec<&str> = actions
        .iter()
        .map(String::as_str)
        .filter(|a| ["CreateDisk", "AttachDisk", "DetachDisk", "DeleteDisk"].contains(a))
        .collect();
    assert_eq!(
        order,
        ["CreateDisk", "AttachDisk", "DetachDisk", "DeleteDisk"]
    );
    ecs.assert_nothing_left("restore");
}

#[test]
fn an_api_error_midway_still_deletes_the_rescue_disk() {
    if !privileged() {
        return;
    }
    let Some(ecs) = start(json!({"AttachDisk": [403, "InstanceDiskLimitExceeded"]})) else {
        return;
    };
    let (live, _) = checkpoints(&ecs);
    let path = live.path("ckpt");
    let (code, doc, _) = ecs.restore(&path, &[], &[]);
    assert_eq!(code, Some(1));
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("InstanceDiskLimitExceeded"),
        "{doc}"
    );
    assert!(ecs.actions().contains(&"DeleteDisk".to_string()));
    ecs.assert_nothing_left("attach failed");
}

#[test]
fn a_disk_created_but_whose_answer_was_lost_is_found_by_its_tag_and_deleted() {
    if !privileged() {
        return;
    }
    let Some(ecs) = start_with(json!({}), json!({"CreateDisk": [400, "InvalidParameter"]})) else {
        return;
    };
    let (live, _) = checkpoints(&ecs);
    let path = live.path("ckpt");
    let (code, doc, _) = ecs.restore(&path, &[], &[]);
    assert_eq!(code, Some(1), "{doc}");
    assert!(
        doc["error"].as_str().unwrap().contains("InvalidParameter"),
        "{doc}"
    );
    assert!(
        ecs.actions().contains(&"DeleteDisk".to_string()),
        "{:?}",
        ecs.actions()
    );
    ecs.assert_nothing_left("lost answer");
}

/// AttachDisk done, its answer lost (a 500), the retry refused with IncorrectDiskStatus: the
/// disk is attaching to this instance, so the attach is done and the restore goes on.
#[test]
fn an_attach_whose_answer_was_lost_is_done_when_the_disk_is_attaching_here() {
    if !privileged() {
        return;
    }
    let Some(ecs) = start_with_faults(
        json!({}),
        json!({}),
        json!({"AttachDisk": [500, "InternalError"]}),
    ) else {
        return;
    };
    let (live, data) = checkpoints(&ecs);
    let path = live.path("ckpt");
    let (code, doc, stderr) = ecs.restore(&path, &[], &[]);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    assert_eq!(
        std::fs::read(live.path("ckpt/model.safetensors")).unwrap(),
        data
    );
    let attaches = ecs.actions().iter().filter(|a| *a == "AttachDisk").count();
    assert!(attaches >= 2, "the lost answer was retried: {attaches}");
    ecs.assert_nothing_left("lost attach answer");
}

/// A 503 on every try is "unavailable", not throttling, and the failure says that the disk
/// the run made was removed.
#[test]
fn an_unavailable_api_is_named_so_and_the_failure_says_the_disk_was_removed() {
    if !privileged() {
        return;
    }
    let Some(ecs) = start(json!({"AttachDisk": [503, "ServiceUnavailable"]})) else {
        return;
    };
    let (live, _) = checkpoints(&ecs);
    let (code, doc, stderr) = ecs.restore(&live.path("ckpt"), &[], &[]);
    assert_eq!(code, Some(1), "{doc} {stderr}");
    let error = doc["error"].as_str().unwrap();
    assert!(error.contains("unavailable"), "{error}");
    assert!(!error.contains("throttling"), "{error}");
    assert!(error.contains("was removed"), "{error}");
    assert!(error.contains("d-bp1rescue"), "names the disk: {error}");
    ecs.assert_nothing_left("503");
}

#[test]
fn crash_points_of_an_ecs_rescue_are_cleaned_up() {
    if !privileged() {
        return;
    }
    let Some(ecs) = start(json!({})) else { return };
    let (live, _) = checkpoints(&ecs);
    let path = live.path("ckpt");
    for point in common::RESCUE_JOURNAL_POINTS {
        let to = tempfile::tempdir().unwrap();
        let (code, _, stderr) = ecs.restore(
            &path,
            &["--to", to.path().to_str().unwrap()],
            &[("SNAPRESCUE_CRASH_AT", point)],
        );
        assert_eq!(code, None, "{point}: killed ({stderr})");
        let (code, doc, stderr) = ecs.run(&["cleanup", "--json"], &[]);
        assert_eq!(code, Some(0), "{point}: {doc} {stderr}");
        assert_eq!(doc["runs"][0]["ok"], true, "{point}: {doc}");
        ecs.assert_nothing_left(point);
    }
}

#[test]
fn rollback_takes_a_guard_stops_resets_and_starts_again() {
    let Some(ecs) = start(json!({})) else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let base = ["rollback", path, "--snapshot", SNAPSHOT, "--json"];
    let mut args = base.to_vec();
    args.extend(["--dry-run"]);
    args.extend(cloud_args());
    let (code, doc, _) = ecs.run(&args, &[]);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(doc["steps"].as_array().unwrap().len(), 4, "{doc}");
    assert!(
        !ecs.actions().contains(&"StopInstance".to_string()),
        "a dry run stops nothing"
    );

    let mut args = base.to_vec();
    args.extend(["--confirm", DISK]);
    args.extend(cloud_args());
    let (code, doc, stderr) = ecs.run(&args, &[]);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    let guard = doc["guard"].as_str().unwrap().to_string();
    assert!(guard.starts_with("s-bp1guard"), "{doc}");
    let actions = ecs.actions();
    let order: Vec<&str> = actions
        .iter()
        .map(String::as_str)
        .filter(|a| {
            [
                "CreateSnapshot",
                "StopInstance",
                "ResetDisk",
                "StartInstance",
            ]
            .contains(a)
        })
        .collect();
    assert_eq!(
        order,
        [
            "CreateSnapshot",
            "StopInstance",
            "ResetDisk",
            "StartInstance",
            "StartInstance"
        ],
        "the first start after the reset is refused and retried"
    );
    let snapshots = ecs
        .run(
            &["snapshots", "/", "--json"]
                .iter()
                .copied()
                .chain(cloud_args())
                .collect::<Vec<_>>(),
            &[],
        )
        .1;
    let kept = snapshots["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == guard.as_str())
        .unwrap()
        .clone();
    assert!(
        kept["tags"].to_string().contains("snaprescue-guard"),
        "{kept}"
    );
    assert_eq!(kept["status"], "completed");
}

#[test]
fn rollback_refuses_to_stop_the_instance_it_runs_on() {
    let Some(ecs) = start(json!({})) else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "rollback",
        dir.path().to_str().unwrap(),
        "--snapshot",
        SNAPSHOT,
        "--confirm",
        DISK,
        "--json",
    ];
    args.extend(cloud_args());
    let (code, doc, _) = ecs.run(
        &args,
        &[("SNAPRESCUE_ALIYUN_METADATA_ENDPOINT", &ecs.server.url)],
    );
    assert_eq!(code, Some(1));
    let message = doc["error"].as_str().unwrap();
    assert!(
        message.contains("the machine snaprescue runs on")
            && message.contains("snaprescue restore"),
        "{message}"
    );
    assert!(
        message.contains(&format!("--instance {INSTANCE} --disk {DISK}")),
        "the command for another machine: {message}"
    );
    assert!(!ecs.actions().contains(&"StopInstance".to_string()));
}

#[test]
fn an_interrupted_rollback_starts_the_instance_again_on_cleanup() {
    let Some(ecs) = start(json!({})) else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "rollback",
        dir.path().to_str().unwrap(),
        "--snapshot",
        SNAPSHOT,
        "--confirm",
        DISK,
        "--no-guard",
    ];
    args.extend(cloud_args());
    let (code, _, _) = ecs.run(&args, &[("SNAPRESCUE_CRASH_AT", "stop:done")]);
    assert_eq!(code, None);
    let (code, doc, stderr) = ecs.run(&["cleanup", "--json"], &[]);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    let state = doc["runs"][0]["state"].as_str().unwrap();
    assert!(
        state.contains("was not reset") && state.contains("is running"),
        "{state}"
    );
    let actions = ecs.actions();
    assert_eq!(actions.iter().filter(|a| *a == "StartInstance").count(), 1);
    assert!(!actions.contains(&"ResetDisk".to_string()));
}
