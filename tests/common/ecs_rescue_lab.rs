//! The Alibaba Cloud rescue lab: the ECS stand-in with the disk harness presenting attached
//! disks as loop devices, the binary run against it, and what the server saw and kept.

use super::LoopFs;
use super::disk_harness::DiskHarness;
use super::ecs_stand_in::EcsStandIn;
use serde_json::{Value, json};
use std::path::PathBuf;

pub const AK: &str = "LTAI5tRescueKey";
pub const SECRET: &str = "rescue-secret-8Jd";
pub const DISK: &str = "d-bp1datadisk0001";
pub const INSTANCE: &str = "i-bp1gpu";
pub const SNAPSHOT: &str = "s-bp1snap0001";

pub struct Ecs {
    pub server: EcsStandIn,
    pub harness: DiskHarness,
    pub home: tempfile::TempDir,
}

pub fn start(fail: Value) -> Option<Ecs> {
    start_with(fail, json!({}))
}

pub fn start_with(fail: Value, fail_after: Value) -> Option<Ecs> {
    start_with_faults(fail, fail_after, json!({}))
}

/// The stand-in with `fail` (every call fails), `fail_after` (every call is done, then
/// answered with an error) and `fail_once_after` (the first call is done, then answered with
/// an error; later calls are answered normally).
pub fn start_with_faults(fail: Value, fail_after: Value, fail_once_after: Value) -> Option<Ecs> {
    let harness = DiskHarness::new();
    let initial = json!({
        "access_key_id": AK,
        "secret": SECRET,
        "fail": fail,
        "fail_after": fail_after,
        "fail_once_after": fail_once_after,
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
    pub fn restore(
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

    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Value, String) {
        self.server.run_binary(
            self.home.path(),
            (AK, SECRET),
            &self.harness.by_id(),
            std::path::Path::new("/"),
            args,
            env,
        )
    }

    /// The actions the server received, in order.
    pub fn actions(&self) -> Vec<String> {
        self.server
            .requests()
            .iter()
            .map(|r| r["action"].as_str().unwrap().to_string())
            .collect()
    }

    /// Disks tagged by a snaprescue run, in the server's own state.
    pub fn rescue_disks(&self) -> Vec<String> {
        self.server.state()["disks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["Tags"].to_string().contains("snaprescue-run"))
            .map(|d| d["DiskId"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn assert_nothing_left(&self, context: &str) {
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

pub fn cloud_args() -> Vec<&'static str> {
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

pub fn checkpoints(ecs: &Ecs) -> (LoopFs, Vec<u8>) {
    let live = LoopFs::new("ext4", 32);
    std::fs::create_dir(live.path("ckpt")).unwrap();
    let data: Vec<u8> = (0..2_500_000).map(|_| fastrand::u8(..)).collect();
    std::fs::write(live.path("ckpt/model.safetensors"), &data).unwrap();
    nix::unistd::sync();
    ecs.harness.add_snapshot_image(SNAPSHOT, &live.image);
    std::fs::remove_dir_all(live.path("ckpt")).unwrap();
    (live, data)
}
