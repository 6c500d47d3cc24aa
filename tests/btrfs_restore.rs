//! `restore` on real btrfs snapshots: byte-identical files with their metadata, symlinks as
//! symlinks, sparse files sparse, reflinks within the filesystem, conflicts never
//! overwritten.

mod common;
use common::restore_lab::*;
use common::*;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

#[test]
fn only_deleted_restores_byte_identical_and_leaves_newer_files_alone() {
    if !privileged() {
        return;
    }
    let lab = lab();
    let state = tempfile::tempdir().unwrap();
    let (code, deleted, err) = json(
        state.path(),
        args!["deleted", lab.live(), "--snapshot", lab.snap_id],
    );
    assert_eq!(code, 0, "{err}");
    let changed: Vec<&str> = deleted["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(changed, ["changed.txt"]);
    let odd = deleted["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"].is_object())
        .expect("non-UTF-8 entry");
    assert_eq!(odd["path"]["hex"], "636166e92d012e62696e");

    let (code, report, err) = lab.restore(args!["--only-deleted"]);
    assert_eq!(code, 0, "{err} {report}");
    assert!(report["failed"].as_array().unwrap().is_empty(), "{report}");
    for f in [
        "mode.txt",
        "ckpt/e1.pth",
        "ckpt/nested/deep/x.bin",
        "sparse.img",
    ] {
        assert_same_file(&lab.snap().join(f), &lab.live().join(f));
    }
    assert_same_file(&lab.snap().join(odd_name()), &lab.live().join(odd_name()));
    assert_same_file(
        &lab.snap().join("ckpt/nested"),
        &lab.live().join("ckpt/nested"),
    );
    assert_eq!(
        xattr::get(lab.live().join("mode.txt"), "user.origin")
            .unwrap()
            .as_deref(),
        Some(&b"test"[..])
    );
    for (link, target) in [
        ("link_rel", "keep.txt"),
        ("link_out", "/etc/passwd"),
        ("loop_a", "loop_b"),
        ("loop_b", "loop_a"),
    ] {
        let path = lab.live().join(link);
        let meta = fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{link}: {e}; {report}"));
        assert!(meta.file_type().is_symlink(), "{link} is not a symlink");
        assert_eq!(fs::read_link(&path).unwrap(), PathBuf::from(target));
    }
    let sparse = fs::metadata(lab.live().join("sparse.img")).unwrap();
    assert_eq!(sparse.len(), 64 << 20);
    assert!(
        sparse.blocks() * 512 < 1 << 20,
        "sparse file became dense: {} bytes",
        sparse.blocks() * 512
    );
    let e1 = report["restored"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "ckpt/e1.pth")
        .unwrap();
    assert_eq!(
        e1["method"], "reflink",
        "same btrfs filesystem: reflink expected"
    );
    assert_eq!(
        e1["verified_by"], "shared_extents",
        "a reflink is proven by its extents, not re-read"
    );
    assert!(e1["hash"].is_null());
    let independent = lab.live().join("independent.pth");
    fs::write(
        &independent,
        fs::read(lab.snap().join("ckpt/e1.pth")).unwrap(),
    )
    .unwrap();
    let open = |p: PathBuf| fs::File::open(p).unwrap();
    use snaprescue::engine::extents::shares_all_extents;
    assert!(shares_all_extents(
        &open(lab.snap().join("ckpt/e1.pth")),
        &open(lab.live().join("ckpt/e1.pth"))
    ));
    assert!(
        !shares_all_extents(
            &open(lab.snap().join("ckpt/e1.pth")),
            &open(independent.clone())
        ),
        "same bytes, other blocks"
    );
    fs::remove_file(independent).unwrap();
    let small = report["restored"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "mode.txt")
        .unwrap();
    assert_eq!(
        small["verified_by"], "blake3",
        "inline extents prove nothing: hashed instead"
    );
    assert_eq!(
        fs::read_to_string(lab.live().join("changed.txt")).unwrap(),
        "new version written after the snapshot"
    );
    assert_eq!(
        fs::read_to_string(lab.live().join("new.txt")).unwrap(),
        "created after"
    );
    no_temp_files(&lab.live());
}

#[test]
fn restore_elsewhere_copies_verifies_and_keeps_both_on_conflict() {
    if !privileged() {
        return;
    }
    let lab = lab();
    let ext4 = LoopFs::new("ext4", 200);
    let dest = ext4.path("rescued");
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("keep.txt"), "someone else's file").unwrap();
    let (code, report, err) = lab.restore(args!["--to", dest, "--conflict", "keep-both"]);
    assert_eq!(code, 0, "{err} {report}");
    assert_eq!(
        fs::read_to_string(dest.join("keep.txt")).unwrap(),
        "someone else's file"
    );
    let kept: Vec<String> = fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("keep.txt.restored-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(fs::read_to_string(dest.join(&kept[0])).unwrap(), "keep");
    assert_same_file(&lab.snap().join("ckpt/e1.pth"), &dest.join("ckpt/e1.pth"));
    let e1 = report["restored"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "ckpt/e1.pth")
        .unwrap();
    assert_eq!(e1["method"], "copy");
    let expected = blake3::hash(&fs::read(lab.snap().join("ckpt/e1.pth")).unwrap())
        .to_hex()
        .to_string();
    assert_eq!(e1["hash"], expected);
    assert_eq!(e1["verified_by"], "blake3");
    let sparse = fs::metadata(dest.join("sparse.img")).unwrap();
    assert!(
        sparse.blocks() * 512 < 1 << 20,
        "sparse file became dense across filesystems"
    );

    // Skip is the default: a second run restores nothing over what is there.
    let (code, again, _) = lab.restore(args!["--to", dest]);
    assert_eq!(code, 0);
    assert!(
        again["restored"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["kind"] == "dir"),
        "{again}"
    );
    assert!(
        again["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["path"] == "ckpt/e1.pth")
    );
    no_temp_files(&dest);
}
