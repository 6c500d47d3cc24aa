//! `restore` on real btrfs snapshots: byte-identical files with their metadata, symlinks as
//! symlinks, sparse files sparse, reflinks within the filesystem, conflicts never
//! overwritten, and the refusals (no space, read-only, failures listed).

mod common;
use common::*;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

struct Lab {
    fs: LoopFs,
    snap_id: String,
}

impl Lab {
    fn live(&self) -> PathBuf {
        self.fs.path("data/proj")
    }
    fn snap(&self) -> PathBuf {
        self.fs.path("snaps/s1/proj")
    }
}

fn odd_name() -> &'static OsStr {
    OsStr::from_bytes(b"caf\xe9-\x01.bin")
}

fn lab() -> Lab {
    let fs = LoopFs::new("btrfs", 400);
    let data = fs.path("data");
    btrfs(&["subvolume", "create", data.to_str().unwrap()]);
    let p = data.join("proj");
    fs::create_dir_all(p.join("ckpt/nested/deep")).unwrap();
    fs::write(p.join("keep.txt"), "keep").unwrap();
    fs::write(p.join("changed.txt"), "old version").unwrap();
    let weights: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(p.join("ckpt/e1.pth"), &weights).unwrap();
    fs::write(p.join("ckpt/nested/deep/x.bin"), b"deep").unwrap();
    fs::write(p.join("mode.txt"), "mode").unwrap();
    fs::set_permissions(p.join("mode.txt"), fs::Permissions::from_mode(0o640)).unwrap();
    xattr::set(p.join("mode.txt"), "user.origin", b"test").unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_577_836_800);
    fs::File::options()
        .write(true)
        .open(p.join("mode.txt"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    std::os::unix::fs::symlink("keep.txt", p.join("link_rel")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", p.join("link_out")).unwrap();
    std::os::unix::fs::symlink("loop_b", p.join("loop_a")).unwrap();
    std::os::unix::fs::symlink("loop_a", p.join("loop_b")).unwrap();
    fs::write(p.join(odd_name()), b"odd bytes").unwrap();
    let sparse = fs::File::create(p.join("sparse.img")).unwrap();
    sparse.set_len(64 << 20).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&sparse, &[0xAB; 4096], 32 << 20).unwrap();
    drop(sparse);
    snapshot(&data, &fs.path("snaps/s1"));
    next_second();
    for f in [
        "mode.txt",
        "link_rel",
        "link_out",
        "loop_a",
        "loop_b",
        "sparse.img",
    ] {
        fs::remove_file(p.join(f)).unwrap();
    }
    fs::remove_file(p.join(odd_name())).unwrap();
    fs::remove_dir_all(p.join("ckpt")).unwrap();
    fs::write(
        p.join("changed.txt"),
        "new version written after the snapshot",
    )
    .unwrap();
    fs::write(p.join("new.txt"), "created after").unwrap();
    let state = tempfile::tempdir().unwrap();
    let (_, doc, err) = json(state.path(), args!["snapshots", p]);
    let snap_id = doc["snapshots"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{err}"))
        .to_string();
    Lab { fs, snap_id }
}

fn assert_same_file(a: &Path, b: &Path) {
    let (ma, mb) = (
        fs::symlink_metadata(a).unwrap(),
        fs::symlink_metadata(b).unwrap(),
    );
    if ma.is_file() {
        assert_eq!(
            fs::read(a).unwrap(),
            fs::read(b).unwrap(),
            "{} differs",
            b.display()
        );
    }
    assert_eq!(ma.mode(), mb.mode(), "mode of {}", b.display());
    assert_eq!(
        (ma.mtime(), ma.mtime_nsec()),
        (mb.mtime(), mb.mtime_nsec()),
        "mtime of {}",
        b.display()
    );
    assert_eq!((ma.uid(), ma.gid()), (mb.uid(), mb.gid()));
}

fn no_temp_files(root: &Path) {
    for e in walkdir::WalkDir::new(root) {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.contains(".snaprescue-"),
            "temporary file left: {name}"
        );
    }
}

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

    let (code, report, err) = json(
        state.path(),
        args![
            "restore",
            lab.live(),
            "--snapshot",
            lab.snap_id,
            "--only-deleted"
        ],
    );
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
    let state = tempfile::tempdir().unwrap();
    let (code, report, err) = json(
        state.path(),
        args![
            "restore",
            lab.live(),
            "--snapshot",
            lab.snap_id,
            "--to",
            dest,
            "--conflict",
            "keep-both"
        ],
    );
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
    let (code, again, _) = json(
        state.path(),
        args![
            "restore",
            lab.live(),
            "--snapshot",
            lab.snap_id,
            "--to",
            dest
        ],
    );
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

#[test]
fn a_full_destination_is_refused_before_anything_is_copied() {
    if !privileged() {
        return;
    }
    let lab = lab();
    fs::write(lab.live().join("big.bin"), vec![0x5A; 40 << 20]).unwrap();
    let data = lab.fs.path("data");
    snapshot(&data, &lab.fs.path("snaps/s2"));
    let state = tempfile::tempdir().unwrap();
    let (_, doc, _) = json(state.path(), args!["snapshots", lab.live()]);
    let s2 = doc["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"] == "snaps/s2")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let small = LoopFs::new("ext4", 16);
    let dest = small.path("out");
    let (code, doc, _) = json(
        state.path(),
        args!["restore", lab.live(), "--snapshot", s2, "--to", dest],
    );
    assert_eq!(code, 1);
    let message = doc["error"].as_str().unwrap();
    assert!(
        message.contains("not enough space") && message.contains("nothing was copied"),
        "{message}"
    );
    assert!(
        !dest.exists() || fs::read_dir(&dest).unwrap().next().is_none(),
        "something was written"
    );
}

#[test]
fn a_read_only_destination_is_refused() {
    if !privileged() {
        return;
    }
    let lab = lab();
    let mut ro = LoopFs::new("ext4", 32);
    fs::create_dir(ro.path("out")).unwrap();
    ro.unmount();
    ro.mount_with("ro");
    let state = tempfile::tempdir().unwrap();
    let (code, doc, _) = json(
        state.path(),
        args![
            "restore",
            lab.live(),
            "--snapshot",
            lab.snap_id,
            "--to",
            ro.path("out")
        ],
    );
    assert_eq!(code, 1);
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("read-only filesystem"),
        "{doc}"
    );
}

#[test]
fn failures_are_listed_and_the_rest_goes_on() {
    if !privileged() {
        return;
    }
    let lab = lab();
    let ext4 = LoopFs::new("ext4", 200);
    let dest = ext4.path("out");
    fs::create_dir_all(dest.join("ckpt")).unwrap();
    sh("chattr", &["+i", dest.join("ckpt").to_str().unwrap()]);
    let state = tempfile::tempdir().unwrap();
    let (code, report, _) = json(
        state.path(),
        args![
            "restore",
            lab.live(),
            "--snapshot",
            lab.snap_id,
            "--to",
            dest
        ],
    );
    sh("chattr", &["-i", dest.join("ckpt").to_str().unwrap()]);
    assert_eq!(code, 1, "failures make the exit status 1");
    let failed: Vec<&str> = report["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(failed.contains(&"ckpt/e1.pth"), "{report}");
    assert!(
        report["failed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("Operation not permitted"),
        "{report}"
    );
    assert_same_file(&lab.snap().join("mode.txt"), &dest.join("mode.txt"));
    no_temp_files(&dest);
}
