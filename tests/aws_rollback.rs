//! EBS rollback through the real binary against moto and the disk harness: a data volume is
//! swapped for one made from the snapshot (old volume kept and tagged, filesystem mounted
//! again where it was), with --dry-run and a typed confirmation; an interrupted swap is
//! finished or undone by `snaprescue cleanup`; a root volume goes through
//! CreateReplaceRootVolumeTask (added to moto by tests/servers/moto_ec2.py).

mod common;

use common::aws_cloud::{Cloud, volume_ids};
use common::moto::python;
use common::{LoopFs, privileged};

/// A live ext4 presented as the instance's data volume, with a snapshot holding `a.pt`,
/// then changed: `a.pt` deleted and `new.pt` written.
fn changed_volume(cloud: &Cloud) -> (LoopFs, String, String, Vec<u8>) {
    changed(cloud, LoopFs::new("ext4", 32))
}

fn changed(cloud: &Cloud, live: LoopFs) -> (LoopFs, String, String, Vec<u8>) {
    std::fs::create_dir(live.path("ckpt")).unwrap();
    let original: Vec<u8> = (0..1_000_003).map(|_| fastrand::u8(..)).collect();
    std::fs::write(live.path("ckpt/a.pt"), &original).unwrap();
    let (volume, snapshot) = cloud.volume_with_snapshot(&live);
    cloud.harness.present(
        &volume,
        &live.device,
        &format!(
            "nvme-Amazon_Elastic_Block_Store_{}",
            volume.replace("vol-", "vol")
        ),
    );
    std::fs::remove_file(live.path("ckpt/a.pt")).unwrap();
    std::fs::write(live.path("ckpt/new.pt"), b"written after the snapshot").unwrap();
    (live, volume, snapshot, original)
}

fn tags_of(cloud: &Cloud, volume: &str) -> String {
    cloud.ec2(&[("Action", "DescribeVolumes"), ("VolumeId.1", volume)])
}

#[test]
fn a_data_volume_is_swapped_for_one_from_the_snapshot_and_the_old_one_kept() {
    if !privileged() {
        return;
    }
    let Some(python) = python() else { return };
    let cloud = Cloud::start(&python);
    let (live, volume, snapshot, original) = changed_volume(&cloud);
    let path = live.path("ckpt");
    let rollback = |extra: &[&str]| cloud.args("rollback", &path, &snapshot, &volume, extra);

    let (code, doc, stderr) = cloud.snaprescue(&rollback(&["--dry-run"]), &[]);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    let steps = doc["steps"].to_string();
    assert!(
        steps.contains("unmount")
            && steps.contains("/dev/sdf")
            && steps.contains("as before (ext4 "),
        "{steps}"
    );
    assert!(
        live.path("ckpt/new.pt").exists(),
        "a dry run changes nothing"
    );
    assert_eq!(cloud.tagged_volumes(), Vec::<String>::new());

    let (code, doc, _) = cloud.snaprescue(&rollback(&["--confirm", "vol-wrong"]), &[]);
    assert_eq!(code, Some(1));
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains(&format!("--confirm {volume}")),
        "{doc}"
    );

    let (code, doc, stderr) = cloud.snaprescue(&rollback(&["--confirm", &volume]), &[]);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    assert_eq!(
        std::fs::read(live.path("ckpt/a.pt")).unwrap(),
        original,
        "the snapshot's file is back"
    );
    assert!(
        !live.path("ckpt/new.pt").exists(),
        "later writes are gone with the rollback"
    );
    assert_eq!(doc["guard"], volume.as_str());
    let old = tags_of(&cloud, &volume);
    assert!(
        old.contains("<status>available</status>"),
        "old volume detached: {old}"
    );
    assert!(
        old.contains("snaprescue-kept"),
        "old volume tagged as kept: {old}"
    );
    let attached = cloud.ec2(&[
        ("Action", "DescribeVolumes"),
        ("Filter.1.Name", "attachment.device"),
        ("Filter.1.Value.1", "/dev/sdf"),
    ]);
    let new = volume_ids(&attached);
    assert_eq!(new.len(), 1);
    assert_ne!(new[0], volume, "a new volume is at /dev/sdf");
    assert!(
        attached.contains(&snapshot),
        "made from the snapshot: {attached}"
    );
}

/// A btrfs data volume mounted as a subvolume with its own options comes back the same way:
/// the top level mounted instead would not even hold PATH.
#[test]
fn a_btrfs_subvolume_comes_back_as_the_same_subvolume_with_its_options() {
    if !privileged() {
        return;
    }
    let Some(python) = python() else { return };
    let cloud = Cloud::start(&python);
    let mut live = LoopFs::new("btrfs", 128);
    common::btrfs(&["subvolume", "create", live.path("data").to_str().unwrap()]);
    live.unmount();
    live.mount_with("subvol=data,noatime,nodev");
    let (live, volume, snapshot, original) = changed(&cloud, live);
    let confirm = ["--confirm", volume.as_str()];
    let args = cloud.args("rollback", &live.path("ckpt"), &snapshot, &volume, &confirm);
    let (code, doc, stderr) = cloud.snaprescue(&args, &[]);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    assert_eq!(std::fs::read(live.path("ckpt/a.pt")).unwrap(), original);
    assert!(!live.path("ckpt/new.pt").exists());
    let table = snaprescue::ports::mounts::MountTable::read().unwrap();
    let mount = table
        .entries
        .iter()
        .rev()
        .find(|e| e.mount_point == live.mount)
        .expect("mounted again");
    assert_eq!(mount.spec().subvol.as_deref(), Some("/data"), "{mount:?}");
    for option in ["noatime", "nodev", "rw"] {
        assert!(
            mount.spec().options.iter().any(|o| o == option),
            "{option}: {mount:?}"
        );
    }
}

/// Killed after the old volume was detached, the swap is completed by cleanup; killed after
/// the unmount only, it is undone (the old volume mounted again, the new one deleted).
#[test]
fn an_interrupted_swap_is_finished_or_undone_by_cleanup() {
    if !privileged() {
        return;
    }
    let Some(python) = python() else { return };
    for (point, rolled_back) in [("detach:done", true), ("unmount:done", false)] {
        let cloud = Cloud::start(&python);
        let (live, volume, snapshot, original) = changed_volume(&cloud);
        let confirm = ["--confirm", volume.as_str()];
        let args = cloud.args("rollback", &live.path("ckpt"), &snapshot, &volume, &confirm);
        let (code, _, stderr) = cloud.snaprescue(&args, &[("SNAPRESCUE_CRASH_AT", point)]);
        assert_eq!(code, None, "{point}: killed ({stderr})");
        let (code, doc, stderr) = cloud.snaprescue(&["cleanup", "--json"], &[]);
        assert_eq!(code, Some(0), "{point}: {doc} {stderr}");
        let state = doc["runs"][0]["state"].as_str().unwrap();
        if rolled_back {
            assert!(state.starts_with("rolled back"), "{state}");
            assert_eq!(std::fs::read(live.path("ckpt/a.pt")).unwrap(), original);
            assert!(tags_of(&cloud, &volume).contains("snaprescue-kept"));
        } else {
            assert!(state.starts_with("not rolled back"), "{state}");
            assert!(
                live.path("ckpt/new.pt").exists(),
                "{point}: the live data is mounted again"
            );
            assert_eq!(
                cloud.tagged_volumes(),
                Vec::<String>::new(),
                "new volume deleted"
            );
        }
    }
}

#[test]
fn a_root_volume_is_replaced_by_a_task_keeping_the_old_root() {
    let Some(python) = python() else { return };
    if !privileged() {
        return;
    }
    let cloud = Cloud::start(&python);
    let volumes = cloud.ec2(&[
        ("Action", "DescribeVolumes"),
        ("Filter.1.Name", "attachment.instance-id"),
        ("Filter.1.Value.1", &cloud.instance),
    ]);
    let root = volume_ids(&volumes).remove(0);
    let snapshot = cloud.ec2(&[("Action", "CreateSnapshot"), ("VolumeId", &root)]);
    let snapshot = common::moto::between(&snapshot, "snapshotId").to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let mut args = vec![
        "rollback",
        path,
        "--snapshot",
        &snapshot,
        "--dry-run",
        "--json",
    ];
    args.extend(cloud.cloud_args(&root));
    let (code, doc, _) = cloud.snaprescue(&args, &[]);
    assert_eq!(code, Some(0), "{doc}");
    assert!(
        doc["steps"]
            .to_string()
            .contains("CreateReplaceRootVolumeTask"),
        "{doc}"
    );

    let mut args = vec![
        "rollback",
        path,
        "--snapshot",
        &snapshot,
        "--confirm",
        &root,
        "--json",
    ];
    args.extend(cloud.cloud_args(&root));
    let (code, doc, stderr) = cloud.snaprescue(&args, &[]);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    assert!(
        doc["undo"].as_str().unwrap().contains("replacevol-"),
        "{doc}"
    );
    let now = cloud.ec2(&[
        ("Action", "DescribeVolumes"),
        ("Filter.1.Name", "attachment.instance-id"),
        ("Filter.1.Value.1", &cloud.instance),
    ]);
    assert!(
        !volume_ids(&now).contains(&root),
        "the old root is no longer attached"
    );
    assert!(
        now.contains(&snapshot),
        "the new root is made from the snapshot: {now}"
    );
    assert!(
        tags_of(&cloud, &root).contains("<status>available</status>"),
        "the old root is kept"
    );
}
