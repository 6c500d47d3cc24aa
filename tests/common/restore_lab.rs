//! A btrfs volume with a project, a snapshot of it, and then the accident: files of every
//! kind (sparse, symlinks and their loops, a non-UTF-8 name, modes, xattrs, times) deleted
//! or changed after the snapshot. The restore tests work on it.

use super::*;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub struct Lab {
    pub fs: LoopFs,
    pub snap_id: String,
}

impl Lab {
    pub fn live(&self) -> PathBuf {
        self.fs.path("data/proj")
    }
    pub fn snap(&self) -> PathBuf {
        self.fs.path("snaps/s1/proj")
    }

    /// `restore LIVE --snapshot S1 EXTRA… --json` with a state directory of its own.
    pub fn restore(&self, extra: &[&std::ffi::OsStr]) -> (i32, serde_json::Value, String) {
        let state = tempfile::tempdir().unwrap();
        let live = self.live();
        let mut all: Vec<&OsStr> = vec![
            "restore".as_ref(),
            live.as_os_str(),
            "--snapshot".as_ref(),
            self.snap_id.as_ref(),
        ];
        all.extend_from_slice(extra);
        json(state.path(), &all)
    }
}

/// A name that is not UTF-8 (and holds a control character).
pub fn odd_name() -> &'static OsStr {
    OsStr::from_bytes(b"caf\xe9-\x01.bin")
}

/// Builds the lab; the snapshot is `snaps/s1`, the live tree `data/proj`.
pub fn lab() -> Lab {
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

/// Same bytes (for files), mode, mtime and owner.
pub fn assert_same_file(a: &Path, b: &Path) {
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

/// No temporary file of a restore is left under `root`.
pub fn no_temp_files(root: &Path) {
    for e in walkdir::WalkDir::new(root) {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.contains(".snaprescue-"),
            "temporary file left: {name}"
        );
    }
}
