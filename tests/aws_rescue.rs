//! The AWS rescue path end to end, through the real binary: moto (signatures checked) for
//! the control plane, and for the data plane the disk harness presenting each attached
//! volume as a loop device holding a real filesystem image, found by NVMe serial. Deleted
//! files come back byte-identical from ext4 (dirty journal), XFS (same UUID as a mounted XFS)
//! and btrfs (a subvolume, same fsid as a mounted btrfs); the rescue volume is gone after,
//! and nothing was written to it.

mod common;

use common::disk_harness::DiskHarness;
use common::moto::{Moto, access_key, between, call, python, start_moto_with};
use common::{LoopFs, privileged};
use serde_json::Value;
use snaprescue::cloud::aws::creds::AwsCredentials;

pub struct Cloud {
    pub harness: DiskHarness,
    pub moto: Moto,
    pub key: AwsCredentials,
    pub instance: String,
    pub home: tempfile::TempDir,
}

impl Cloud {
    pub fn start(python: &str) -> Self {
        let harness = DiskHarness::new();
        let moto = start_moto_with(python, Some(harness.path()));
        let key = access_key(&moto);
        let mut cloud = Self {
            harness,
            moto,
            key,
            instance: String::new(),
            home: tempfile::tempdir().unwrap(),
        };
        let run = cloud.ec2(&[
            ("Action", "RunInstances"),
            ("ImageId", "ami-760aaa0f"),
            ("MinCount", "1"),
            ("MaxCount", "1"),
            ("Placement.AvailabilityZone", "us-east-1a"),
        ]);
        cloud.instance = between(&run, "instanceId").to_string();
        cloud
    }

    pub fn ec2(&self, params: &[(&str, &str)]) -> String {
        let mut all = params.to_vec();
        all.push(("Version", "2016-11-15"));
        let (status, body) = call(&self.moto, &self.key, "ec2", &all);
        assert_eq!(status, 200, "{:?}: {body}", params[0]);
        body
    }

    /// A data volume attached at /dev/sdf, and a snapshot of it whose image is `live`'s.
    pub fn volume_with_snapshot(&self, live: &LoopFs) -> (String, String) {
        let volume = self.ec2(&[
            ("Action", "CreateVolume"),
            ("AvailabilityZone", "us-east-1a"),
            ("Size", "1"),
        ]);
        let volume = between(&volume, "volumeId").to_string();
        self.ec2(&[
            ("Action", "AttachVolume"),
            ("VolumeId", &volume),
            ("InstanceId", &self.instance),
            ("Device", "/dev/sdf"),
        ]);
        let snapshot = self.ec2(&[
            ("Action", "CreateSnapshot"),
            ("VolumeId", &volume),
            ("Description", "nightly"),
        ]);
        let snapshot = between(&snapshot, "snapshotId").to_string();
        nix::unistd::sync();
        // XFS is frozen for its snapshot (as AWS advises): mounted norecovery, a dirty log's
        // last writes would not be visible. ext4 and btrfs are copied live (crash-consistent).
        let frozen = live_fs_type(live) == "xfs";
        if frozen {
            common::sh("fsfreeze", &["-f", live.mount.to_str().unwrap()]);
        }
        self.harness.add_snapshot_image(&snapshot, &live.image);
        if frozen {
            common::sh("fsfreeze", &["-u", live.mount.to_str().unwrap()]);
        }
        (volume, snapshot)
    }

    /// The binary with moto's endpoint, the key, and the harness's by-id directory.
    pub fn snaprescue(&self, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Value, String) {
        let mut cmd = common::isolated(self.home.path());
        cmd.args(args)
            .env("AWS_ENDPOINT_URL", &self.moto.url)
            .env("AWS_ACCESS_KEY_ID", &self.key.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", self.key.secret_access_key.expose())
            .env("SNAPRESCUE_BY_ID_DIR", self.harness.by_id());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (
            out.status.code(),
            doc,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn cloud_args<'a>(&'a self, volume: &'a str) -> Vec<&'a str> {
        vec![
            "--source",
            "aws",
            "--region",
            "us-east-1",
            "--instance",
            &self.instance,
            "--disk",
            volume,
            "--attach-to",
            &self.instance,
        ]
    }

    /// Volumes carrying snaprescue's run tag (rescue volumes left behind).
    pub fn tagged_volumes(&self) -> Vec<String> {
        let body = self.ec2(&[
            ("Action", "DescribeVolumes"),
            ("Filter.1.Name", "tag-key"),
            ("Filter.1.Value.1", "snaprescue-run"),
        ]);
        volume_ids(&body)
    }

    /// Nothing the tool made is left: no tagged volume, no harness mount or loop device.
    pub fn assert_nothing_left(&self, context: &str) {
        assert_eq!(
            self.tagged_volumes(),
            Vec::<String>::new(),
            "{context}: volumes left"
        );
        assert_eq!(
            self.harness.mounts(),
            Vec::<std::path::PathBuf>::new(),
            "{context}: mounts left"
        );
        assert_eq!(
            self.harness.loop_devices(),
            Vec::<String>::new(),
            "{context}: devices left"
        );
    }
}

fn live_fs_type(live: &LoopFs) -> String {
    common::sh(
        "findmnt",
        &["-n", "-o", "FSTYPE", live.mount.to_str().unwrap()],
    )
    .trim()
    .to_string()
}

/// The distinct volume ids in a DescribeVolumes answer.
pub fn volume_ids(body: &str) -> Vec<String> {
    body.split("<volumeId>")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn files(fs: &LoopFs, dir: &str) -> Vec<(String, Vec<u8>)> {
    std::fs::create_dir_all(fs.path(dir)).unwrap();
    let mut out = Vec::new();
    for (i, size) in [(1, 3 << 20), (2, 700_001), (3, 0)] {
        let name = format!("{dir}/epoch_{i}.pt");
        let data: Vec<u8> = (0..size).map(|_| fastrand::u8(..)).collect();
        std::fs::write(fs.path(&name), &data).unwrap();
        out.push((name, data));
    }
    out
}

/// Makes `live` with checkpoints, snapshots it, deletes them, restores through a rescue
/// volume, and checks bytes, cleanup and that the rescue disk was never written.
fn rescue_round_trip(live: &LoopFs, dir: &str, fs: &str) {
    let Some(python) = python() else { return };
    let cloud = Cloud::start(&python);
    let originals = files(live, dir);
    let (volume, snapshot) = cloud.volume_with_snapshot(live);
    std::fs::remove_dir_all(live.path(dir)).unwrap();
    if fs == "ext4" {
        // Copied while mounted, the image keeps needs_recovery: a crash-consistent snapshot
        // whose journal would be replayed (a write) without noload.
        let image = cloud
            .harness
            .path()
            .join("images")
            .join(format!("{snapshot}.img"));
        assert_eq!(
            snaprescue::ports::superblock::probe(&image).unwrap(),
            Some(snaprescue::ports::superblock::FsKind::Ext {
                needs_recovery: true
            })
        );
    }

    let path = live.path(dir);
    let mut args = vec![
        "deleted",
        path.to_str().unwrap(),
        "--snapshot",
        &snapshot,
        "--json",
    ];
    args.extend(cloud.cloud_args(&volume));
    let (code, doc, stderr) = cloud.snaprescue(&args, &[]);
    assert_eq!(code, Some(0), "{fs}: {doc} {stderr}");
    let deleted: Vec<&str> = doc["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(
        deleted.contains(&"epoch_1.pt") && deleted.contains(&"epoch_3.pt"),
        "{fs}: {deleted:?}"
    );
    assert_eq!(doc["rescue"]["removed"], true, "{doc}");

    let mut args = vec![
        "restore",
        path.to_str().unwrap(),
        "--snapshot",
        &snapshot,
        "--json",
    ];
    args.extend(cloud.cloud_args(&volume));
    let (code, doc, stderr) = cloud.snaprescue(&args, &[]);
    assert_eq!(code, Some(0), "{fs}: {doc} {stderr}");
    assert!(
        stderr.contains("creating a rescue EBS volume"),
        "progress on stderr: {stderr}"
    );
    for (name, data) in &originals {
        assert_eq!(
            &std::fs::read(live.path(name)).unwrap(),
            data,
            "{fs}: {name}"
        );
    }
    assert_eq!(doc["rescue"]["removed"], true, "{doc}");
    cloud.assert_nothing_left(fs);
    // The rescue volume was never written: the same bytes at detach as at attach.
    let events = cloud.harness.events();
    let attached: Vec<&Value> = events.iter().filter(|e| e["event"] == "attached").collect();
    assert_eq!(attached.len(), 2, "{events:?}");
    for a in attached {
        let detached = events
            .iter()
            .find(|e| e["event"] == "detached" && e["disk"] == a["disk"])
            .unwrap_or_else(|| panic!("{fs}: {} never detached", a["disk"]));
        assert_eq!(
            a["sha256"], detached["sha256"],
            "{fs}: the rescue disk was written to"
        );
        assert!(
            events
                .iter()
                .any(|e| e["event"] == "deleted" && e["disk"] == a["disk"])
        );
    }
    // The journal says which options were used, and the run is filed as finished.
    let done = std::fs::read_dir(cloud.home.path().join("journal/done"))
        .unwrap()
        .count();
    assert_eq!(done, 2);
}

#[test]
fn ext4_with_a_dirty_journal_is_mounted_noload_and_restored() {
    if !privileged() {
        return;
    }
    let live = LoopFs::new("ext4", 64);
    std::fs::write(live.path("keep.txt"), b"survivor").unwrap();
    rescue_round_trip(&live, "run/ckpt", "ext4");
}

#[test]
fn xfs_with_the_uuid_of_a_mounted_xfs_is_mounted_nouuid_and_restored() {
    if !privileged() {
        return;
    }
    let live = LoopFs::new("xfs", 300);
    rescue_round_trip(&live, "ckpt", "xfs");
}

#[test]
fn btrfs_subvolume_clone_of_a_mounted_btrfs_is_restored_at_the_same_position() {
    if !privileged() {
        return;
    }
    let mut live = LoopFs::new("btrfs", 128);
    common::btrfs(&["subvolume", "create", live.path("data").to_str().unwrap()]);
    live.unmount();
    live.mount_with("subvol=data");
    // The rescue disk has the same fsid: the kernel's temp-fsid mounts it (6.7+), else it is
    // refused (unit-tested in ports::superblock).
    rescue_round_trip(&live, "run7", "btrfs");
}

#[test]
fn a_device_that_never_appears_times_out_clearly_and_the_volume_is_removed() {
    if !privileged() {
        return;
    }
    let Some(python) = python() else { return };
    let cloud = Cloud::start(&python);
    let live = LoopFs::new("ext4", 32);
    files(&live, "ckpt");
    let (volume, snapshot) = cloud.volume_with_snapshot(&live);
    std::fs::write(cloud.harness.path().join("no-device"), "").unwrap();
    let path = live.path("ckpt");
    let mut args = vec![
        "restore",
        path.to_str().unwrap(),
        "--snapshot",
        &snapshot,
        "--json",
    ];
    args.extend(cloud.cloud_args(&volume));
    let (code, doc, _) = cloud.snaprescue(&args, &[("SNAPRESCUE_DEVICE_WAIT_SECS", "2")]);
    assert_eq!(code, Some(1));
    let message = doc["error"].as_str().unwrap();
    assert!(
        message.contains("to appear as a block device") && message.contains("--attach-to"),
        "{message}"
    );
    cloud.assert_nothing_left("device never appeared");
}

/// Every journal point of a rescue: the process is SIGKILLed right after it, and
/// `snaprescue cleanup` leaves no volume, attachment or mount behind.
#[test]
fn every_crash_point_is_cleaned_up() {
    if !privileged() {
        return;
    }
    let Some(python) = python() else { return };
    let cloud = Cloud::start(&python);
    let live = LoopFs::new("ext4", 32);
    files(&live, "ckpt");
    let (volume, snapshot) = cloud.volume_with_snapshot(&live);
    std::fs::remove_dir_all(live.path("ckpt")).unwrap();
    let path = live.path("ckpt");
    let points = [
        "create:start",
        "create:done",
        "attach:start",
        "attach:done",
        "device:done",
        "mount:start",
        "mount:done",
        "unmount:start",
        "unmount:done",
        "detach:start",
        "detach:done",
        "delete:start",
        "delete:done",
    ];
    for point in points {
        let mut args = vec![
            "restore",
            path.to_str().unwrap(),
            "--snapshot",
            &snapshot,
            "--json",
            "--to",
        ];
        let to = tempfile::tempdir().unwrap();
        args.push(to.path().to_str().unwrap());
        args.extend(cloud.cloud_args(&volume));
        let (code, _, stderr) = cloud.snaprescue(&args, &[("SNAPRESCUE_CRASH_AT", point)]);
        assert_eq!(
            code, None,
            "{point}: killed by SIGKILL, not an exit ({stderr})"
        );
        let (code, doc, stderr) = cloud.snaprescue(&["cleanup", "--json"], &[]);
        assert_eq!(code, Some(0), "{point}: {doc} {stderr}");
        assert_eq!(doc["runs"].as_array().unwrap().len(), 1, "{point}: {doc}");
        assert_eq!(doc["runs"][0]["ok"], true, "{point}: {doc}");
        cloud.assert_nothing_left(point);
        let attached = cloud.ec2(&[
            ("Action", "DescribeVolumes"),
            ("Filter.1.Name", "attachment.instance-id"),
            ("Filter.1.Value.1", &cloud.instance),
        ]);
        assert_eq!(
            volume_ids(&attached).len(),
            2,
            "{point}: only root + data remain: {attached}"
        );
        let (_, again, _) = cloud.snaprescue(&["cleanup", "--json"], &[]);
        assert_eq!(
            again["runs"],
            serde_json::json!([]),
            "{point}: cleanup is idempotent"
        );
    }
    let journal = cloud.home.path().join("journal");
    let left: Vec<_> = std::fs::read_dir(&journal)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .collect();
    assert!(left.is_empty(), "every journal filed as done: {left:?}");
}
