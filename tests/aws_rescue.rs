//! The AWS rescue path end to end, through the real binary: moto (signatures checked) for
//! the control plane, and for the data plane the disk harness presenting each attached
//! volume as a loop device holding a real filesystem image, found by NVMe serial. Deleted
//! files come back byte-identical from ext4 (dirty journal), XFS (same UUID as a mounted XFS)
//! and btrfs (a subvolume, same fsid as a mounted btrfs); the rescue volume is gone after,
//! and nothing was written to it.

mod common;

use common::aws_cloud::{Cloud, volume_ids};
use common::moto::python;
use common::{LoopFs, privileged};
use serde_json::Value;

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
    let args = cloud.args("deleted", &path, &snapshot, &volume, &[]);
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
    // What the read-only mount could not replay is said beside what it found.
    let caveat = doc["rescue"]["unreplayed_writes"].as_str().unwrap_or("");
    match fs {
        "ext4" => assert!(caveat.contains("journal was not replayed"), "{doc}"),
        "xfs" => assert!(caveat.contains("norecovery"), "{doc}"),
        _ => {}
    }

    let args = cloud.args("restore", &path, &snapshot, &volume, &[]);
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
    let args = cloud.args("restore", &live.path("ckpt"), &snapshot, &volume, &[]);
    let (code, doc, _) = cloud.snaprescue(&args, &[("SNAPRESCUE_DEVICE_WAIT_SECS", "2")]);
    assert_eq!(code, Some(1));
    let message = doc["error"].as_str().unwrap();
    assert!(
        message.contains("to appear as a block device") && message.contains("--attach-to"),
        "{message}"
    );
    cloud.assert_nothing_left("device never appeared");
}

/// Ctrl-C while waiting: the rescue stops, and the volume is still removed before exit.
#[test]
fn an_interrupt_cancels_the_wait_and_removes_the_volume() {
    if !privileged() {
        return;
    }
    let Some(python) = python() else { return };
    let cloud = Cloud::start(&python);
    let live = LoopFs::new("ext4", 32);
    files(&live, "ckpt");
    let (volume, snapshot) = cloud.volume_with_snapshot(&live);
    std::fs::write(cloud.harness.path().join("no-device"), "").unwrap();
    let args = cloud.args("restore", &live.path("ckpt"), &snapshot, &volume, &[]);
    let mut cmd = cloud.command(&args, &[("SNAPRESCUE_DEVICE_WAIT_SECS", "60")]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Wait until it is waiting for the device, then interrupt it as Ctrl-C would.
    let started = std::time::Instant::now();
    while !cloud
        .harness
        .events()
        .iter()
        .any(|e| e["event"] == "attached-without-device")
    {
        assert!(started.elapsed().as_secs() < 30, "never attached");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        doc["error"].as_str().unwrap().contains("cancelled"),
        "{doc}"
    );
    assert!(
        started.elapsed().as_secs() < 30,
        "the 60 s wait was cut short"
    );
    cloud.assert_nothing_left("interrupted");
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

    for point in common::RESCUE_JOURNAL_POINTS {
        let to = tempfile::tempdir().unwrap();
        let args = cloud.args(
            "restore",
            &path,
            &snapshot,
            &volume,
            &["--to", to.path().to_str().unwrap()],
        );
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
