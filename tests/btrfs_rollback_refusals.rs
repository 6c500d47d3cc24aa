//! Rollback refusals are complete and early, and the dry run gives the real run's verdict:
//! PATH inside a snapshot is refused (it would make the snapshot writable with another
//! snapshot's content), a busy subvolume is refused by the dry run too, the dry run names
//! what would be set aside, and the printed undo command works as printed.

mod common;
use common::rollback_lab::volume;
use common::*;
use std::fs;

#[test]
fn path_inside_a_snapshot_is_refused_and_the_snapshot_stays_read_only() {
    if !privileged() {
        return;
    }
    let (fs, _) = volume();
    let state = tempfile::tempdir().unwrap();
    let inside = fs.path("data/.snapshots/1/snapshot/run");
    // A snapshot of the snapshot, so that PATH inside the snapshot has one to go back to.
    snapshot(
        &fs.path("data/.snapshots/1/snapshot"),
        &fs.path("data/.snapshots/2/snapshot"),
    );
    let (_, doc, err) = json(state.path(), args!["snapshots", inside]);
    let id = doc["snapshots"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{err}"))
        .to_string();
    for extra in [
        &["--dry-run"][..],
        &["--confirm", "data/.snapshots/1/snapshot"][..],
    ] {
        let mut all = args!["rollback", inside, "--snapshot", id].to_vec();
        all.extend(extra.iter().map(std::ffi::OsStr::new));
        let (code, _, err) = json(state.path(), &all);
        assert_eq!(code, 1, "{extra:?}: {err}");
        assert!(err.contains("read-only subvolume"), "{err}");
    }
    let snap = fs.path("data/.snapshots/1/snapshot");
    assert_eq!(
        btrfs(&["property", "get", "-ts", snap.to_str().unwrap(), "ro"]).trim(),
        "ro=true"
    );
    assert_eq!(
        fs::read_to_string(inside.join("a.txt")).unwrap(),
        "version 1"
    );
}

#[test]
fn the_dry_run_refuses_what_the_rollback_refuses_and_names_what_would_be_set_aside() {
    if !privileged() {
        return;
    }
    let (fs, id) = volume();
    let state = tempfile::tempdir().unwrap();
    let run = fs.path("data/run");
    // Copied in with its old mtime kept (`cp -a`, a restore): still written since.
    fs::write(run.join("copied.txt"), "old content").unwrap();
    fs::File::options()
        .write(true)
        .open(run.join("copied.txt"))
        .unwrap()
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_577_836_800))
        .unwrap();
    let (code, doc, err) = json(
        state.path(),
        args!["rollback", run, "--snapshot", id, "--dry-run"],
    );
    assert_eq!(code, 0, "{err}");
    let steps = doc["steps"].to_string();
    assert!(steps.contains("set aside 3 files"), "{steps}");
    assert!(steps.contains("new.txt"), "names the newest: {steps}");
    let job = Children(vec![training_job(&run)]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (dry, _, dry_err) = json(
        state.path(),
        args!["rollback", run, "--snapshot", id, "--dry-run"],
    );
    let (real, _, real_err) = json(
        state.path(),
        args!["rollback", run, "--snapshot", id, "--confirm", "data"],
    );
    drop(job);
    assert_eq!((dry, real), (1, 1), "{dry_err}\n{real_err}");
    for err in [&dry_err, &real_err] {
        assert!(err.contains("processes still use"), "{err}");
    }
    assert_eq!(
        fs::read_to_string(run.join("a.txt")).unwrap(),
        "version 2",
        "nothing changed"
    );
}

/// Rolls `run`'s subvolume back to `id`, then runs the printed undo command as a user would
/// paste it, and checks the state before the rollback is back.
fn roll_back_and_undo(state: &std::path::Path, run: &std::path::Path, id: &str) {
    let (code, doc, err) = json(
        state,
        args!["rollback", run, "--snapshot", id, "--confirm", "data"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(fs::read_to_string(run.join("a.txt")).unwrap(), "version 1");
    let undo = doc["undo"].as_str().unwrap();
    let out = std::process::Command::new("sh")
        .args(["-c", undo])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{undo}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fs::read_to_string(run.join("a.txt")).unwrap(), "version 2");
    assert_eq!(
        fs::read_to_string(run.join("new.txt")).unwrap(),
        "written after"
    );
}

#[test]
fn the_printed_undo_command_works_as_printed() {
    if !privileged() {
        return;
    }
    let (fs, id) = volume();
    let state = tempfile::tempdir().unwrap();
    let run = fs.path("data/run");
    roll_back_and_undo(state.path(), &run, &id);
    assert!(
        fs::write(run.join("writable"), "yes").is_ok(),
        "the restored state is writable"
    );
}

/// A subvolume mounted directly (`subvol=data`): the undo goes through the top level and
/// mounts the old subvolume again with the mount's options, without needing an fstab line.
#[test]
fn the_printed_undo_of_a_directly_mounted_subvolume_works_as_printed() {
    if !privileged() {
        return;
    }
    let (mut fs, id) = volume();
    fs.unmount();
    fs.mount_with("subvol=data,noatime");
    let state = tempfile::tempdir().unwrap();
    let run = fs.path("run");
    roll_back_and_undo(state.path(), &run, &id);
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = mountinfo
        .lines()
        .find(|l| l.contains(&format!(" {} ", fs.mount.display())))
        .unwrap();
    assert!(
        line.contains("noatime") && line.contains("subvol=/data"),
        "{line}"
    );
    assert!(!mountinfo.contains("/run/snaprescue/undo"), "{mountinfo}");
}
