//! The Tencent Cloud lab: the CBS/CVM stand-in (tests/servers/tencent_cbs.py, signatures
//! checked by the official signer) with the disk harness presenting attached disks as loop
//! devices by virtio serial; an instance whose elastic data disk `DISK` is a real ext4
//! filesystem mounted by the test; its snapshot `SNAPSHOT` holds checkpoints the live disk
//! has since lost; and the binary run against it.

use super::Unmount;
use super::disk_harness::DiskHarness;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const SECRET_ID: &str = "AKIDsnaprescueTestKey0001";
pub const SECRET_KEY: &str = "cbs-test-secret-Gu5t9x";
pub const INSTANCE: &str = "ins-gpu00001";
pub const DISK: &str = "disk-data0001";
pub const SYSTEM_DISK: &str = "disk-sys00001";
pub const SNAPSHOT: &str = "snap-data0001";
pub const SYSTEM_SNAPSHOT: &str = "snap-sys00001";
pub const ZONE: &str = "ap-guangzhou-3";

pub struct Cbs {
    child: Child,
    pub url: String,
    pub state: PathBuf,
    pub harness: DiskHarness,
    pub home: tempfile::TempDir,
    /// The live data disk, mounted here by the test (unmounted on drop).
    pub live: PathBuf,
    _live_mount: Unmount,
    _dir: tempfile::TempDir,
    /// The checkpoint the snapshot holds and the live disk lost.
    pub checkpoint: Vec<u8>,
}

impl Drop for Cbs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn snapshot(id: &str, disk: &str, usage: &str, created: &str, deadline: Option<&str>) -> Value {
    json!({"SnapshotId": id, "SnapshotName": format!("nightly {id}"), "SnapshotState": "NORMAL", "Percent": 100,
           "DiskId": disk, "DiskSize": 50, "DiskUsage": usage, "Encrypt": false, "CreateTime": created,
           "DeadlineTime": deadline, "IsPermanent": deadline.is_none(), "Tags": [{"Key": "team", "Value": "vision"}]})
}

/// The stand-in with `extra` merged into its state (faults, fail, lose_once), and the
/// instance's data disk mounted at `live`.
pub fn start(extra: Value) -> Option<Cbs> {
    let harness = DiskHarness::new();
    // The snapshot: checkpoints and a note; the live disk since: checkpoints deleted, the note
    // rewritten. Both made by mkfs.ext4 -d, never mounted here: a mount another test's mount
    // namespace copied could keep the filesystem alive past our unmount, half written.
    let checkpoint: Vec<u8> = (0..2_500_000).map(|_| fastrand::u8(..)).collect();
    let stage = tempfile::tempdir().unwrap();
    let snapshot_image = harness
        .path()
        .join("images")
        .join(format!("{SNAPSHOT}.img"));
    ext4_image(
        stage.path(),
        &snapshot_image,
        &[
            ("ckpt/model.safetensors", &checkpoint),
            ("note.txt", b"before"),
        ],
    );
    let volume = harness.path().join("volumes").join(format!("{DISK}.img"));
    std::fs::create_dir_all(volume.parent().unwrap()).unwrap();
    ext4_image(
        &stage.path().join("live"),
        &volume,
        &[("note.txt", b"after")],
    );
    let disk = |id: &str, usage: &str, portable: bool| {
        json!({"DiskId": id, "DiskState": "ATTACHED", "Attached": true, "InstanceId": INSTANCE, "DiskUsage": usage,
               "DiskType": "CLOUD_PREMIUM", "DiskSize": 50, "Portable": portable, "Rollbacking": false,
               "Placement": {"Zone": ZONE}, "Tags": []})
    };
    let mut initial = json!({
        "secret_id": SECRET_ID,
        "secret_key": SECRET_KEY,
        "disks": [disk(SYSTEM_DISK, "SYSTEM_DISK", false), disk(DISK, "DATA_DISK", true)],
        "instances": [{"InstanceId": INSTANCE, "InstanceState": "RUNNING"}],
        "snapshots": [
            snapshot(SNAPSHOT, DISK, "DATA_DISK", "2026-11-27 10:00:00", Some("2026-12-27 10:00:00")),
            snapshot("snap-data0002", DISK, "DATA_DISK", "2026-11-26 10:00:00", None),
            snapshot("snap-data0003", DISK, "DATA_DISK", "2026-11-25 10:00:00", None),
            snapshot("snap-data0004", DISK, "DATA_DISK", "2026-11-24 10:00:00", None),
            snapshot(SYSTEM_SNAPSHOT, SYSTEM_DISK, "SYSTEM_DISK", "2026-11-27 09:00:00", None),
        ],
        "metadata": {"meta-data/instance-id": INSTANCE, "meta-data/placement/region": "ap-guangzhou",
                     "meta-data/placement/zone": ZONE},
    });
    if let (Some(state), Some(extra)) = (initial.as_object_mut(), extra.as_object()) {
        state.extend(extra.clone());
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    std::fs::write(&state, initial.to_string()).unwrap();
    let python = super::moto::python()?;
    let mut child = Command::new(python)
        .env("SNAPRESCUE_HARNESS_DIR", harness.path())
        .env(
            "PYTHONPATH",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/servers"),
        )
        .stderr(std::fs::File::create(harness.path().join("server.log")).unwrap())
        .stdout(Stdio::piped())
        .args([
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/servers/tencent_cbs.py"),
            state.to_str().unwrap(),
        ])
        .spawn()
        .ok()?;
    let port = super::announced_port(&mut child, "the CBS stand-in");
    let live = dir.path().join("live");
    std::fs::create_dir(&live).unwrap();
    let device = std::fs::canonicalize(harness.by_id().join(format!("virtio-{DISK}"))).unwrap();
    super::sh("mount", &[device.to_str().unwrap(), live.to_str().unwrap()]);
    Some(Cbs {
        child,
        url: format!("http://127.0.0.1:{port}"),
        state,
        harness,
        home: tempfile::tempdir().unwrap(),
        _live_mount: Unmount(live.clone()),
        live,
        _dir: dir,
        checkpoint,
    })
}

impl Cbs {
    /// The binary with the stand-in's endpoints and keys, and `env`.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Value, String) {
        self.run_in(Path::new("/"), args, env)
    }

    /// The same, started in `dir`.
    pub fn run_in(
        &self,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (Option<i32>, Value, String) {
        let mut cmd = super::isolated(self.home.path());
        cmd.current_dir(dir);
        cmd.args(args)
            .env("SNAPRESCUE_TENCENT_CBS_ENDPOINT", &self.url)
            .env("SNAPRESCUE_TENCENT_CVM_ENDPOINT", &self.url)
            .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
            .env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
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

    /// The same, on the instance itself: its metadata service answers.
    pub fn run_here(&self, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Value, String) {
        let mut all = vec![("SNAPRESCUE_TENCENT_METADATA_ENDPOINT", self.url.as_str())];
        all.extend_from_slice(env);
        self.run(args, &all)
    }

    pub fn server_state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&self.state).unwrap()).unwrap()
    }

    /// The actions the server received, in order.
    pub fn actions(&self) -> Vec<String> {
        std::fs::read_to_string(self.state.with_extension("json.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["action"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    /// The parameters of every call of `action`.
    pub fn calls(&self, action: &str) -> Vec<Value> {
        std::fs::read_to_string(self.state.with_extension("json.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["action"] == action)
            .map(|r| r["params"].clone())
            .collect()
    }

    /// Rescue disks (tagged by a run) the server still has.
    pub fn rescue_disks(&self) -> Vec<String> {
        self.server_state()["disks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["Tags"].to_string().contains("snaprescue-run"))
            .map(|d| d["DiskId"].as_str().unwrap().to_string())
            .collect()
    }

    /// Nothing of a rescue is left: no tagged disk, and only the live disk's device and mount.
    pub fn assert_only_the_live_disk_left(&self, context: &str) {
        assert_eq!(
            self.rescue_disks(),
            Vec::<String>::new(),
            "{context}: disks left"
        );
        assert_eq!(
            self.harness.mounts(),
            vec![self.live.clone()],
            "{context}: mounts"
        );
        assert_eq!(
            self.harness.loop_devices().len(),
            1,
            "{context}: devices left"
        );
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.live.join(rel)
    }
}

/// A 32 MiB ext4 image at `image` holding `files`, staged under `stage` (made with
/// `mkfs.ext4 -d`, no mount).
pub fn ext4_image(stage: &Path, image: &Path, files: &[(&str, &[u8])]) {
    let root = stage.join("root");
    for (rel, data) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    std::fs::File::create(image)
        .unwrap()
        .set_len(32 << 20)
        .unwrap();
    super::sh(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-d",
            root.to_str().unwrap(),
            image.to_str().unwrap(),
        ],
    );
}

/// Whether `dir` is a mount point now.
pub fn mounted(dir: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .lines()
        .any(|l| l.split_whitespace().nth(1) == dir.to_str())
}

/// The cloud flags for the data disk.
pub fn cloud_args() -> Vec<&'static str> {
    vec![
        "--source",
        "tencent",
        "--region",
        "ap-guangzhou",
        "--disk",
        DISK,
    ]
}
