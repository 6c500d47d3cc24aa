//! The Alibaba Cloud rollback lab: the ECS stand-in (tests/servers/aliyun_ecs.py, signatures
//! checked) with the disk harness presenting attached disks as loop devices by virtio serial;
//! an instance whose detachable data disk `DISK` is a real ext4 filesystem mounted by the
//! test; its snapshot `SNAPSHOT` holds a checkpoint the live disk has since lost; and the
//! binary run against it, on the instance (its metadata answers) or from elsewhere.

use super::Unmount;
use super::cbs_lab::ext4_image;
use super::disk_harness::DiskHarness;
use super::ecs_stand_in::EcsStandIn;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

pub const AK: &str = "LTAI5tRollbackKey";
pub const SECRET: &str = "rollback-secret-4Qz";
pub const INSTANCE: &str = "i-bp1gpu0001";
pub const DISK: &str = "d-bp1data00001";
pub const SYSTEM_DISK: &str = "d-bp1sys000001";
pub const SNAPSHOT: &str = "s-bp1data0001";
pub const OTHER_DISK_SNAPSHOT: &str = "s-bp1sys00001";
const ZONE: &str = "cn-hangzhou-i";

pub struct EcsLab {
    pub server: EcsStandIn,
    pub harness: DiskHarness,
    pub home: tempfile::TempDir,
    /// The live data disk, mounted here by the test (unmounted on drop).
    pub live: PathBuf,
    _live_mount: Unmount,
    _dir: tempfile::TempDir,
    /// The checkpoint the snapshot holds and the live disk lost.
    pub checkpoint: Vec<u8>,
}

fn snapshot(id: &str, disk: &str, kind: &str, created: &str) -> Value {
    json!({"SnapshotId": id, "SnapshotName": format!("auto {id}"), "Description": "", "Status": "accomplished",
           "Progress": "100%", "CreationTime": created, "SourceDiskId": disk, "SourceDiskSize": 40,
           "SourceDiskType": kind, "Encrypted": false, "Tags": {"Tag": []}})
}

/// The stand-in with `extra` merged into its state, the data disk `portable` or not, and
/// mounted at `live`. `None` when no Python can start the stand-in.
pub fn start(portable: bool, extra: Value) -> Option<EcsLab> {
    let harness = DiskHarness::new();
    // Both images made by mkfs.ext4 -d, never mounted here (see cbs_lab).
    let checkpoint: Vec<u8> = (0..2_500_000).map(|_| fastrand::u8(..)).collect();
    let stage = tempfile::tempdir().unwrap();
    ext4_image(
        stage.path(),
        &harness
            .path()
            .join("images")
            .join(format!("{SNAPSHOT}.img")),
        &[
            ("ckpt/model.safetensors", &checkpoint),
            ("note.txt", b"before"),
        ],
    );
    ext4_image(
        &stage.path().join("live"),
        &harness.path().join("volumes").join(format!("{DISK}.img")),
        &[("note.txt", b"after")],
    );
    let disk = |id: &str, kind: &str, portable: bool| {
        json!({"DiskId": id, "Size": 40, "ZoneId": ZONE, "Status": "In_use", "Type": kind, "InstanceId": INSTANCE,
               "Portable": portable, "OperationLocks": {"OperationLock": []}, "Tags": {"Tag": []}})
    };
    let mut initial = json!({
        "access_key_id": AK,
        "secret": SECRET,
        "disks": [disk(SYSTEM_DISK, "system", false), disk(DISK, "data", portable)],
        "instances": [{"InstanceId": INSTANCE, "Status": "Running", "ZoneId": ZONE}],
        "snapshots": [
            snapshot(SNAPSHOT, DISK, "data", "2026-11-27T02:00:00Z"),
            snapshot("s-bp1data0002", DISK, "data", "2026-11-26T14:00:00Z"),
            snapshot(OTHER_DISK_SNAPSHOT, SYSTEM_DISK, "system", "2026-11-27T01:00:00Z"),
        ],
        "metadata": {"meta-data/instance-id": INSTANCE, "meta-data/region-id": "cn-hangzhou"},
    });
    if let (Some(state), Some(extra)) = (initial.as_object_mut(), extra.as_object()) {
        state.extend(extra.clone());
    }
    let server = EcsStandIn::start(&initial, Some(harness.path()))?;
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("data");
    std::fs::create_dir(&live).unwrap();
    let link = harness.by_id().join(format!("virtio-{}", &DISK[2..]));
    let device = std::fs::canonicalize(&link).unwrap();
    super::sh("mount", &[device.to_str().unwrap(), live.to_str().unwrap()]);
    Some(EcsLab {
        server,
        harness,
        home: tempfile::tempdir().unwrap(),
        _live_mount: Unmount(live.clone()),
        live,
        _dir: dir,
        checkpoint,
    })
}

impl EcsLab {
    /// The binary with the stand-in's endpoint and keys, and `env`, started in `dir`.
    pub fn run_in(
        &self,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (Option<i32>, Value, String) {
        self.server.run_binary(
            self.home.path(),
            (AK, SECRET),
            &self.harness.by_id(),
            dir,
            args,
            env,
        )
    }

    /// From another machine: no metadata service answers.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Value, String) {
        self.run_in(Path::new("/"), args, env)
    }

    /// On the instance itself: its metadata service answers.
    pub fn run_here(&self, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Value, String) {
        let mut all = vec![(
            "SNAPRESCUE_ALIYUN_METADATA_ENDPOINT",
            self.server.url.as_str(),
        )];
        all.extend_from_slice(env);
        self.run(args, &all)
    }

    /// The actions the server received, in order.
    pub fn actions(&self) -> Vec<String> {
        self.server
            .requests()
            .iter()
            .map(|r| r["action"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.live.join(rel)
    }

    /// `rollback` of the live disk to `snapshot` with the cloud flags, `--json` and `extra`.
    pub fn rollback_args(&self, snapshot: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = ["rollback", self.live.to_str().unwrap(), "--snapshot"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(snapshot.into());
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(
            [
                "--json",
                "--source",
                "aliyun",
                "--region",
                "cn-hangzhou",
                "--disk",
                DISK,
            ]
            .map(String::from),
        );
        args
    }

    /// The live disk holds the snapshot's state again, mounted where it was.
    pub fn assert_rolled_back(&self, context: &str) {
        assert!(super::cbs_lab::mounted(&self.live), "{context}: mounted");
        assert_eq!(
            std::fs::read_to_string(self.path("note.txt")).unwrap(),
            "before",
            "{context}"
        );
        assert_eq!(
            std::fs::read(self.path("ckpt/model.safetensors")).unwrap(),
            self.checkpoint,
            "{context}: the checkpoint's bytes"
        );
    }

    /// Nothing changed: still mounted with the live state, never detached nor stopped.
    pub fn assert_untouched(&self, context: &str) {
        assert!(super::cbs_lab::mounted(&self.live), "{context}: mounted");
        assert_eq!(
            std::fs::read_to_string(self.path("note.txt")).unwrap(),
            "after",
            "{context}"
        );
        let actions = self.actions();
        for changing in ["DetachDisk", "ResetDisk", "StopInstance", "CreateSnapshot"] {
            assert!(
                !actions.iter().any(|a| a == changing),
                "{context}: {changing} was called"
            );
        }
    }
}

pub fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}
