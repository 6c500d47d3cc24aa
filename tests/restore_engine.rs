//! The restore engine on plain directories: cancel leaves no partial file, a source that
//! vanishes mid-restore fails alone, a disk that fills up mid-restore fails that file alone,
//! conflicts are never overwritten.

mod common;

use common::Unmount;
use snaprescue::engine::restore::execute;
use snaprescue::engine::restore_plan::{ConflictPolicy, plan};
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

fn tree() -> (tempfile::TempDir, tempfile::TempDir) {
    let snap = tempfile::tempdir().unwrap();
    let live = tempfile::tempdir().unwrap();
    fs::create_dir(snap.path().join("ckpt")).unwrap();
    fs::write(snap.path().join("ckpt/big.pth"), vec![3u8; 8 << 20]).unwrap();
    fs::write(snap.path().join("ckpt/small.txt"), "small").unwrap();
    (snap, live)
}

#[test]
fn cancel_mid_file_leaves_no_partial_file() {
    let (snap, live) = tree();
    let planned = plan(
        snap.path(),
        live.path(),
        &[PathBuf::from("ckpt/big.pth")],
        ConflictPolicy::Skip,
        "t",
    )
    .unwrap();
    let cancel = AtomicBool::new(false);
    let report = execute(&planned, &cancel, &mut |p| {
        if p.bytes_done >= 2 << 20 {
            cancel.store(true, Ordering::Relaxed);
        }
    });
    assert!(report.cancelled);
    assert!(
        report
            .restored
            .iter()
            .all(|r| r.path != std::path::Path::new("ckpt/big.pth"))
    );
    assert_eq!(
        common::snapshot_lab::all_names(live.path()),
        ["ckpt"],
        "only the directory, no partial or temporary file"
    );
}

#[test]
fn a_source_that_vanishes_fails_alone() {
    let (snap, live) = tree();
    let planned = plan(
        snap.path(),
        live.path(),
        &[PathBuf::from("ckpt")],
        ConflictPolicy::Skip,
        "t",
    )
    .unwrap();
    fs::remove_file(snap.path().join("ckpt/big.pth")).unwrap();
    let report = execute(&planned, &AtomicBool::new(false), &mut |_| {});
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].path, PathBuf::from("ckpt/big.pth"));
    assert!(
        report.failed[0].reason.contains("No such file"),
        "{}",
        report.failed[0].reason
    );
    assert_eq!(
        fs::read_to_string(live.path().join("ckpt/small.txt")).unwrap(),
        "small"
    );
}

#[test]
fn a_file_that_appears_after_planning_is_not_overwritten() {
    let (snap, live) = tree();
    let planned = plan(
        snap.path(),
        live.path(),
        &[PathBuf::from("ckpt")],
        ConflictPolicy::Skip,
        "t",
    )
    .unwrap();
    fs::create_dir(live.path().join("ckpt")).unwrap();
    fs::write(live.path().join("ckpt/small.txt"), "written meanwhile").unwrap();
    let report = execute(&planned, &AtomicBool::new(false), &mut |_| {});
    assert_eq!(
        fs::read_to_string(live.path().join("ckpt/small.txt")).unwrap(),
        "written meanwhile"
    );
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    assert!(
        report.failed[0].reason.contains("nothing was overwritten"),
        "{:?}",
        report.failed
    );
    assert_eq!(
        fs::read(live.path().join("ckpt/big.pth")).unwrap().len(),
        8 << 20
    );
}

#[test]
fn selecting_a_missing_entry_is_a_clear_error() {
    let (snap, live) = tree();
    let err = plan(
        snap.path(),
        live.path(),
        &[PathBuf::from("nope")],
        ConflictPolicy::Skip,
        "t",
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("nope is not in the snapshot"),
        "{err}"
    );
}

/// Space checked when planning can be gone when copying (another writer): the file that no
/// longer fits fails with the kernel's reason, leaves nothing behind, and the rest goes on.
#[test]
fn a_disk_that_fills_up_mid_restore_fails_that_file_alone() {
    if !common::privileged() {
        return;
    }
    let (snap, _) = tree();
    let dest = tempfile::tempdir().unwrap();
    let mounted = nix::mount::mount(
        Some("tmpfs"),
        dest.path(),
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=12m"),
    );
    assert!(mounted.is_ok(), "{mounted:?}");
    let _unmount = Unmount(dest.path().to_path_buf());
    let planned = plan(
        snap.path(),
        dest.path(),
        &[PathBuf::from("ckpt")],
        ConflictPolicy::Skip,
        "t",
    )
    .expect("8 MiB fits in 12 MiB when planned");
    // Someone else takes 6 MiB before the copy starts.
    fs::write(dest.path().join("other-writer.bin"), vec![1u8; 6 << 20]).unwrap();
    let report = execute(&planned, &AtomicBool::new(false), &mut |_| {});
    let failed: Vec<_> = report.failed.iter().map(|f| f.path.clone()).collect();
    assert_eq!(failed, [PathBuf::from("ckpt/big.pth")], "{report:?}");
    assert!(
        report.failed[0].reason.contains("No space left on device"),
        "{}",
        report.failed[0].reason
    );
    assert_eq!(
        fs::read(dest.path().join("ckpt/small.txt")).unwrap(),
        b"small"
    );
    let mut left = common::snapshot_lab::all_names(dest.path());
    left.sort();
    assert_eq!(
        left,
        ["ckpt", "ckpt/small.txt", "other-writer.bin"],
        "no partial or temporary file"
    );
}
