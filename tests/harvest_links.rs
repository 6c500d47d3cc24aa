//! Harvest as an attacker meets it (snaprescue runs as root; the default harvest folder
//! lives in world-writable /dev/shm): a folder others may write or another user owns is
//! refused, a link planted inside is never followed, and copying back refuses a copy that
//! was swapped for a link or changed since it was saved.

mod common;
use common::*;
use snaprescue::engine::harvest::{CopyBackError, HarvestError, HarvestTarget, copy_back, harvest};
use snaprescue::ports::processes::DeletedOpen;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A child holding `dir/name` open after deleting it, and the target that harvests it.
fn holder(dir: &Path, name: &str, bytes: &[u8]) -> (Children, HarvestTarget) {
    std::fs::write(dir.join(name), bytes).unwrap();
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("exec 3<{name}; rm {name}; exec sleep 60"))
        .current_dir(dir)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id() as i32;
    let target = HarvestTarget {
        pid,
        start_time: 0,
        command: "sleep 60".into(),
        file: DeletedOpen {
            path: dir.join(name),
            handle: format!("/proc/{pid}/fd/3").into(),
            size: bytes.len() as u64,
        },
    };
    (Children(vec![child]), target)
}

fn shm() -> tempfile::TempDir {
    tempfile::tempdir_in("/dev/shm").unwrap()
}

#[test]
fn a_harvest_folder_others_may_write_or_own_is_refused_before_anything_is_saved() {
    if !privileged() {
        return; // chown to another user needs root
    }
    let live = tempfile::tempdir().unwrap();
    let (_kids, target) = holder(live.path(), "epoch_30.pth", b"weights");
    let shm = shm();
    let open = shm.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = harvest(std::slice::from_ref(&target), &open, live.path(), false).unwrap_err();
    assert!(matches!(err, HarvestError::Unsafe { .. }), "{err}");
    assert!(err.to_string().contains("others may write"), "{err}");
    assert_eq!(std::fs::read_dir(&open).unwrap().count(), 0);

    let theirs = shm.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = harvest(std::slice::from_ref(&target), &theirs, live.path(), false).unwrap_err();
    assert!(err.to_string().contains("belongs to user 65534"), "{err}");

    // The folder name itself planted as a link to somewhere else.
    let elsewhere = shm.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let link = shm.path().join("link");
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    let err = harvest(std::slice::from_ref(&target), &link, live.path(), false).unwrap_err();
    assert!(err.to_string().contains("is a link"), "{err}");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn a_link_planted_in_the_harvest_folder_is_not_followed() {
    let live = tempfile::tempdir().unwrap();
    let (_kids, target) = holder(live.path(), "victim", b"attacker-chosen bytes");
    let shm = shm();
    let folder = shm.path().join("h");
    let evil = shm.path().join("evil");
    std::fs::create_dir(&folder).unwrap();
    std::fs::create_dir(&evil).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&evil, folder.join(format!("pid-{}", target.pid))).unwrap();
    let report = harvest(std::slice::from_ref(&target), &folder, live.path(), false).unwrap();
    assert!(report.saved.is_empty(), "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(
        std::fs::read_dir(&evil).unwrap().count(),
        0,
        "nothing written through the link"
    );
}

#[test]
fn copy_back_refuses_a_copy_swapped_for_a_link_or_changed_since_it_was_saved() {
    let live = tempfile::tempdir().unwrap();
    let (_kids, target) = holder(live.path(), "epoch_30.pth", b"the real checkpoint");
    let shm = shm();
    let folder = shm.path().join("h");
    let report = harvest(std::slice::from_ref(&target), &folder, live.path(), false).unwrap();
    let saved = report.saved[0].clone();
    let original = live.path().join("epoch_30.pth");

    // Swapped for a link to a secret: refused, nothing created.
    let secret = shm.path().join("secret");
    std::fs::write(&secret, b"SECRET-SHADOW").unwrap();
    let kept = shm.path().join("kept");
    std::fs::rename(&saved.saved_to, &kept).unwrap();
    std::os::unix::fs::symlink(&secret, &saved.saved_to).unwrap();
    let err = copy_back(&saved).unwrap_err();
    assert!(matches!(err, CopyBackError::Untrusted(_)), "{err}");
    assert!(err.to_string().contains("link"), "{err}");
    assert!(!original.exists());

    // The same name with other bytes: refused by its hash.
    std::fs::remove_file(&saved.saved_to).unwrap();
    std::fs::write(&saved.saved_to, b"the real checkpoinT").unwrap();
    let err = copy_back(&saved).unwrap_err();
    assert!(matches!(err, CopyBackError::Untrusted(_)), "{err}");
    assert!(
        err.to_string().contains("changed since it was saved"),
        "{err}"
    );
    assert!(!original.exists());

    // The copy as it was saved: back in place, byte for byte.
    std::fs::rename(&kept, &saved.saved_to).unwrap();
    copy_back(&saved).unwrap();
    assert_eq!(std::fs::read(&original).unwrap(), b"the real checkpoint");
}

/// A restarted wizard learns from the manifests what earlier runs saved, only from a
/// folder it can trust.
#[test]
fn earlier_harvests_are_read_back_only_from_a_folder_others_cannot_write() {
    let live = tempfile::tempdir().unwrap();
    let (_kids, mut target) = holder(live.path(), "epoch_30.pth", b"weights");
    target.start_time = 1234;
    let shm = shm();
    let folder = shm.path().join("h");
    harvest(std::slice::from_ref(&target), &folder, live.path(), false).unwrap();
    let found = snaprescue::engine::harvest::earlier(&folder);
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].pid, found[0].start_time), (target.pid, 1234));
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(snaprescue::engine::harvest::earlier(&folder).is_empty());
}

/// What a restarted wizard reads back is checked: a copy emptied since, a `saved_to` that
/// leaves the folder, a manifest others may write, and a fifo named like a manifest (which
/// must not hang the start) are all passed over.
#[test]
fn earlier_harvests_that_cannot_be_trusted_are_passed_over() {
    let live = tempfile::tempdir().unwrap();
    let (_kids, target) = holder(live.path(), "epoch_30.pth", b"weights");
    let shm = shm();
    let folder = shm.path().join("h");
    let report = harvest(std::slice::from_ref(&target), &folder, live.path(), false).unwrap();
    let manifest = report.manifest.clone().unwrap();
    let good = std::fs::read_to_string(&manifest).unwrap();
    assert_eq!(snaprescue::engine::harvest::earlier(&folder).len(), 1);

    // A fifo named like a manifest: skipped at once.
    nix::unistd::mkfifo(
        &folder.join("harvest-20990101T000000.000Z.json"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    assert_eq!(snaprescue::engine::harvest::earlier(&folder).len(), 1);

    // The copy emptied: not counted as saved.
    let copy = &report.saved[0].saved_to;
    let bytes = std::fs::read(copy).unwrap();
    std::fs::write(copy, b"").unwrap();
    assert!(snaprescue::engine::harvest::earlier(&folder).is_empty());
    std::fs::write(copy, &bytes).unwrap();

    // A manifest whose saved_to climbs out of the folder.
    let outside = shm.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("epoch_30.pth"), &bytes).unwrap();
    let forged = good.replace(
        copy.to_str().unwrap(),
        &format!("{}/../outside/epoch_30.pth", folder.display()),
    );
    std::fs::write(&manifest, forged).unwrap();
    assert!(snaprescue::engine::harvest::earlier(&folder).is_empty());

    // The good manifest again, but writable by others.
    std::fs::write(&manifest, &good).unwrap();
    std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert!(snaprescue::engine::harvest::earlier(&folder).is_empty());
}

/// A `pid-N` folder planted by someone else (writable by all) is not saved into.
#[test]
fn a_planted_pid_folder_is_not_saved_into() {
    let live = tempfile::tempdir().unwrap();
    let (_kids, target) = holder(live.path(), "victim", b"data");
    let shm = shm();
    let folder = shm.path().join("h");
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    let planted = folder.join(format!("pid-{}", target.pid));
    std::fs::create_dir(&planted).unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o777)).unwrap();
    let report = harvest(std::slice::from_ref(&target), &folder, live.path(), false).unwrap();
    assert!(report.saved.is_empty(), "{report:?}");
    assert!(
        report.failed[0].reason.contains("others may write"),
        "{report:?}"
    );
    assert_eq!(std::fs::read_dir(&planted).unwrap().count(), 0);
}
