//! The Alibaba Cloud rescue and rollback through the real binary against the ECS stand-in
//! (tests/servers/aliyun_ecs.py: signatures checked, disks and instances walking through
//! Creating/Available/In_use and Running/Stopping/Stopped), with the disk harness presenting
//! attached disks as loop devices by virtio serial.

mod common;

use common::disk_harness::DiskHarness;
use common::ecs_stand_in::EcsStandIn;
use common::{LoopFs, privileged};
use serde_json::{Value, json};
use std::path::PathBuf;

const AK: &str = "LTAI5tRescueKey";
const SECRET: &str = "rescue-secret-8Jd";
const DISK: &str = "d-bp1datadisk0001";
const INSTANCE: &str = "i-bp1gpu";
const SNAPSHOT: &str = "s-bp1snap0001";

struct Ecs {
    server: EcsStandIn,
    harness: DiskHarness,
    home: tempfile::TempDir,
}

fn start(fail: Value) -> Option<Ecs> {
    start_with(fail, json!({}))
}

fn start_with(fail: Value, fail_after: Value) -> Option<Ecs> {
    let harness = DiskHarness::new();
    let initial = json!({
        "access_key_id": AK,
        "secret": SECRET,
        "fail": fail,
        "fail_after": fail_after,
        "disks": [
            {"DiskId": "d-bp1systemdisk01", "Size": 40, "ZoneId": "cn-hangzhou-i", "Status": "In_use", "Type": "system", "InstanceId": INSTANCE},
            {"DiskId": DISK, "Size": 100, "ZoneId": "cn-hangzhou-i", "Status": "In_use", "Type": "data", "InstanceId": INSTANCE},
        ],
        "instances": [{"InstanceId": INSTANCE, "Status": "Running", "ZoneId": "cn-hangzhou-i"}],
        "snapshots": [{
            "SnapshotId": SNAPSHOT, "SnapshotName": "nightly", "Description": "", "Status": "accomplished",
            "Progress": "100%", "CreationTime": "2026-11-27T02:00:00Z", "SourceDiskId": DISK,
            "SourceDiskSize": 100, "SourceDiskType": "data", "Encrypted": false, "Tags": {"Tag": []},
        }],
        "metadata": {"meta-data/instance-id": INSTANCE, "meta-data/region-id": "cn-hangzhou"},
    });
    Some(Ecs {
        server: EcsStandIn::start(&initial, Some(harness.path()))?,
        harness,
        home: tempfile::tempdir().unwrap(),
    })
}

impl Ecs {
    /// `restore PATH --snapshot SNAPSHOT --json` with the cloud flags and `extra`.
    fn restore(
        &self,
        path: &std::path::Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (Option<i32>, Value, String) {
        let mut args = vec![
            "restore",
            path.to_str().unwrap(),
            "--snapshot",
            SNAPSHOT,
            "--json",
        ];
        args.extend(extra);
        args.extend(cloud_args());
        self.run(&args, env)
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Value, String) {
        let mut cmd = common::isolated(self.home.path());
        cmd.args(args)
            .env("SNAPRESCUE_ALIYUN_ECS_ENDPOINT", &self.server.url)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
            .env("SNAPRESCUE_BY_ID_DIR", self.harness.by_id());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The actions the server received, in order.
    fn actions(&self) -> Vec<String> {
        self.server
            .requests()
            .iter()
            .map(|r| r["action"].as_str().unwrap().to_string())
            .collect()
    }

    /// Disks tagged by a snaprescue run, in the server's own state.
    fn rescue_disks(&self) -> Vec<String> {
        self.server.state()["disks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["Tags"].to_string().contains("snaprescue-run"))
            .map(|d| d["DiskId"].as_str().unwrap().to_string())
            .collect()
    }

    fn assert_nothing_left(&self, context: &str) {
        assert_eq!(
            self.rescue_disks(),
            Vec::<String>::new(),
            "{context}: disks left"
        );
        assert_eq!(
            self.harness.mounts(),
            Vec::<PathBuf>::new(),
            "{context}: mounts left"
        );
        assert_eq!(
            self.harness.lingering_loop_devices(),
            Vec::<String>::new(),
            "{context}: devices left"
        );
    }
}

fn cloud_args() -> Vec<&'static str> {
    vec![
        "--source",
        "aliyun",
        "--region",
        "cn-hangzhou",
        "--instance",
        INSTANCE,
        "--disk",
        DISK,
        "--attach-to",
        INSTANCE,
    ]
}

fn checkpoints(ecs: &Ecs) -> (LoopFs, Vec<u8>) {
    let live = LoopFs::new("ext4", 32);
    std::fs::create_dir(live.path("ckpt")).unwrap();
    let data: Vec<u8> = (0..2_500_000).map(|_| fastrand::u8(..)).collect();
    std::fs::write(live.path("ckpt/model.safetensors"), &data).unwrap();
    nix::unistd::sync();
    ecs.harness.add_snapshot_image(SNAPSHOT, &live.image);
    std::fs::remove_dir_all(live.path("ckpt")).unwrap();
    (live, data)
}

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
