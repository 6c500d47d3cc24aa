//! snaprescue checks itself: its state directory and the pip and cargo caches it was
//! installed through are named when they lie on the filesystem being rescued (a loop ext4
//! made here), and not when the rescued path is on another filesystem; step 1 shows it.

mod common;
use common::*;
use snaprescue::runtime::self_check;

#[test]
fn what_of_snaprescue_lies_on_the_rescued_disk_is_named() {
    if !privileged() {
        return;
    }
    let disk = LoopFs::new("ext4", 64);
    for dir in ["data", "state", "pip-cache", "cargo"] {
        std::fs::create_dir(disk.path(dir)).unwrap();
    }
    // The only test in this binary: the environment is ours to set.
    unsafe {
        std::env::set_var("SNAPRESCUE_STATE_DIR", disk.path("state"));
        std::env::set_var("PIP_CACHE_DIR", disk.path("pip-cache"));
        std::env::set_var("CARGO_HOME", disk.path("cargo"));
    }
    let found: Vec<&str> = self_check::on_rescued_filesystem(&disk.path("data"))
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(
        found,
        ["its state directory", "pip's cache", "cargo's home"],
        "the test binary itself runs from another disk"
    );
    let line = self_check::notice(&disk.path("data")).unwrap();
    assert!(
        line.contains("pip's cache") && line.contains("from RAM"),
        "{line}"
    );
    assert!(line.contains("SNAPRESCUE_STATE_DIR"), "{line}");
    // Rescuing a path elsewhere: none of them is on that disk.
    let elsewhere = tempfile::tempdir().unwrap();
    let found = self_check::on_rescued_filesystem(elsewhere.path());
    assert!(found.iter().all(|f| f.0 == "its program"), "{found:?}");
}
