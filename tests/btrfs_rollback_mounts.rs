//! `rollback` of a btrfs subvolume that is itself mounted (`subvol=data`): the swap and the
//! remount with the same options, a subvolume also mounted elsewhere, and what is refused
//! or undone (fstab by id, mounts inside, a busy mount, the starting shell's directory).

mod common;
use common::rollback_lab::volume;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

/// The lab volume with `data` mounted directly with `options` (the top level nowhere).
fn data_mounted_directly(options: &str) -> (LoopFs, String) {
    let (mut fs, id) = volume();
    fs.unmount();
    fs.mount_with(options);
    (fs, id)
}

/// `rollback PATH --snapshot ID --confirm data --json`.
fn roll_back(state: &Path, path: PathBuf, id: &str) -> (i32, serde_json::Value, String) {
    json(
        state,
        args!["rollback", path, "--snapshot", id, "--confirm", "data"],
    )
}

/// Another mount of the test volume, unmounted at the end even when the test fails.
struct ExtraMount(tempfile::TempDir);

impl ExtraMount {
    fn new(device: &str, options: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        sh(
            "mount",
            &["-o", options, device, dir.path().to_str().unwrap()],
        );
        ExtraMount(dir)
    }
}

impl Drop for ExtraMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.0.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// The options a mount point shows in /proc/self/mountinfo (per-mount and superblock).
fn mount_options(point: &std::path::Path) -> String {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = text
        .lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some(point.to_str().unwrap()))
        .unwrap_or_else(|| panic!("{} is not mounted", point.display()));
    let fields: Vec<&str> = line.split(' ').collect();
    format!("{} {}", fields[5], fields.last().unwrap())
}

#[test]
fn a_subvolume_mounted_directly_is_swapped_and_mounted_again_as_before() {
    if !privileged() {
        return;
    }
    let (fs, id) = data_mounted_directly("subvol=data,noatime,nodev");
    let state = tempfile::tempdir().unwrap();
    let (code, plan, err) = json(
        state.path(),
        args!["rollback", fs.path("run"), "--snapshot", id, "--dry-run"],
    );
    assert_eq!(code, 0, "{err}");
    let unmount = format!("unmount {} and mount the new subvolume", fs.mount.display());
    assert!(plan["steps"].to_string().contains(&unmount), "{plan}");
    let (code, doc, err) = roll_back(state.path(), fs.path("run"), &id);
    assert_eq!(code, 0, "{err} {doc}");
    assert_eq!(
        fs::read_to_string(fs.path("run/a.txt")).unwrap(),
        "version 1"
    );
    assert!(!fs.path("run/new.txt").exists());
    let options = mount_options(&fs.mount);
    for wanted in ["noatime", "nodev", "subvol=/data"] {
        assert!(options.contains(wanted), "{wanted} missing: {options}");
    }
    assert!(fs.path(".snapshots/1/snapshot/run/a.txt").exists());
    // Ours only: another run on this machine may hold a view of its own meanwhile.
    let ours: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains("/run/snaprescue/mnt-") && l.contains(&fs.device))
        .map(String::from)
        .collect();
    assert!(
        ours.is_empty(),
        "the private top-level mount is gone: {ours:?}"
    );
    // The guard lives in the top level, named as `btrfs subvolume list` names it.
    let guard = doc["guard"].as_str().unwrap();
    assert!(guard.starts_with("data.pre-rollback-"), "{doc}");
    let top = ExtraMount::new(&fs.device, "subvolid=5,ro");
    let kept = top.0.path().join(guard);
    assert_eq!(
        fs::read_to_string(kept.join("run/a.txt")).unwrap(),
        "version 2"
    );
    assert_eq!(
        btrfs(&["property", "get", "-ts", kept.to_str().unwrap(), "ro"]).trim(),
        "ro=true"
    );
    assert!(
        doc["undo"].as_str().unwrap().contains("subvolid=5"),
        "{doc}"
    );
}

/// A mount shows a subvolume, not a name: renaming alone would leave a direct mount of it
/// showing the old state while the rollback reports success.
#[test]
fn a_subvolume_also_mounted_elsewhere_shows_the_rollback_there_too() {
    if !privileged() {
        return;
    }
    let (fs, id) = volume();
    let direct = ExtraMount::new(&fs.device, "subvol=data");
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = roll_back(state.path(), fs.path("data/run"), &id);
    assert_eq!(code, 0, "{err} {doc}");
    for seen in [fs.path("data/run/a.txt"), direct.0.path().join("run/a.txt")] {
        assert_eq!(
            fs::read_to_string(&seen).unwrap(),
            "version 1",
            "{}",
            seen.display()
        );
    }
    assert_eq!(doc["replaced"], direct.0.path().to_str().unwrap());
}

/// Refusals that change nothing: an fstab line that mounts the subvolume by id (the next
/// boot would bring the old state back), a filesystem mounted inside it, and a bind mount of
/// a directory in it (it would keep showing the old subvolume).
#[test]
fn what_a_remount_cannot_carry_over_is_refused_and_nothing_changes() {
    if !privileged() {
        return;
    }
    let (fs, id) = data_mounted_directly("subvol=data");
    let state = tempfile::tempdir().unwrap();
    let fstab = state.path().join("fstab");
    fs::write(
        &fstab,
        format!(
            "# data\nUUID=1234 {} btrfs subvolid=256,noatime 0 0\n",
            fs.mount.display()
        ),
    )
    .unwrap();
    let rollback = |fstab: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_snaprescue"))
            .args([
                "rollback",
                fs.path("run").to_str().unwrap(),
                "--snapshot",
                &id,
            ])
            .args(["--confirm", "data", "--json"])
            .env("SNAPRESCUE_STATE_DIR", state.path())
            .env("SNAPRESCUE_FSTAB", fstab)
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            out.status.code(),
            doc["error"].as_str().unwrap_or("").to_string(),
        )
    };
    let (code, error) = rollback(&fstab);
    assert_eq!(code, Some(1));
    assert!(
        error.contains("by subvolume id (subvolid=256,noatime)"),
        "{error}"
    );
    assert!(error.contains("subvol=/data"), "{error}");
    fs::write(&fstab, "").unwrap();
    let inside = fs.path("run/scratch");
    fs::create_dir(&inside).unwrap();
    sh(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            "size=1m",
            "tmpfs",
            inside.to_str().unwrap(),
        ],
    );
    let (code, error) = rollback(&fstab);
    let _ = nix::mount::umount2(&inside, nix::mount::MntFlags::MNT_DETACH);
    assert_eq!(code, Some(1));
    assert!(error.contains("mounted inside"), "{error}");
    let bound = ExtraMount::new(fs.path("run").to_str().unwrap(), "bind");
    let (code, error) = rollback(&fstab);
    assert_eq!(code, Some(1));
    assert!(error.contains("shows a part of the subvolume"), "{error}");
    assert!(error.contains(bound.0.path().to_str().unwrap()), "{error}");
    assert_eq!(
        fs::read_to_string(fs.path("run/a.txt")).unwrap(),
        "version 2"
    );
}

/// A loop device attached to a file on a mount keeps it busy, and no process holds it.
struct LoopOnFile(String);

impl Drop for LoopOnFile {
    fn drop(&mut self) {
        let _ = std::process::Command::new("losetup")
            .args(["-d", &self.0])
            .status();
    }
}

/// What nothing can see in advance keeps the mount busy (a loop device on a file in it,
/// like a swap file would): the remount fails after the swap, which is then undone.
#[test]
fn a_mount_that_cannot_be_unmounted_undoes_the_swap() {
    if !privileged() {
        return;
    }
    let (fs, id) = data_mounted_directly("subvol=data");
    let backing = fs.path("run/disk.img");
    fs::write(&backing, vec![0u8; 1 << 20]).unwrap();
    let _busy = LoopOnFile(
        sh("losetup", &["--find", "--show", backing.to_str().unwrap()])
            .trim()
            .to_string(),
    );
    let state = tempfile::tempdir().unwrap();
    let (code, doc, _) = roll_back(state.path(), fs.path("run"), &id);
    assert_eq!(code, 1, "{doc}");
    let error = doc["error"].as_str().unwrap();
    assert!(error.contains("unmounting"), "{error}");
    assert!(error.contains("nothing was changed"), "{error}");
    assert_eq!(
        fs::read_to_string(fs.path("run/a.txt")).unwrap(),
        "version 2"
    );
    assert!(fs.path(".snapshots/1/snapshot/run/a.txt").exists());
    let listing = btrfs(&["subvolume", "list", "-a", fs.mount.to_str().unwrap()]);
    assert!(!listing.contains("pre-rollback"), "{listing}");
    assert_eq!(
        listing.lines().count(),
        3,
        "data, .snapshots, one snapshot: {listing}"
    );
    // Still writable, as it was mounted.
    fs::write(fs.path("run/after.txt"), "ok").unwrap();
}

/// The shell that started snaprescue is never listed as a user, but its working directory
/// inside the mount would keep it busy: refused before anything changes, saying `cd /`.
#[test]
fn the_starting_shells_working_directory_inside_the_mount_is_refused_up_front() {
    if !privileged() {
        return;
    }
    let (fs, id) = data_mounted_directly("subvol=data");
    let state = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("sh")
        .current_dir(fs.path("run"))
        .args([
            "-c",
            // snaprescue itself runs from /; its parent, this shell, stays inside.
            "(cd / && exec \"$0\" rollback \"$1\" --snapshot \"$2\" --confirm data --json); true",
            env!("CARGO_BIN_EXE_snaprescue"),
            fs.path("run").to_str().unwrap(),
            &id,
        ])
        .env("SNAPRESCUE_STATE_DIR", state.path())
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = doc["error"].as_str().unwrap_or_else(|| panic!("{doc}"));
    assert!(
        error.contains("the shell that started snaprescue"),
        "{error}"
    );
    assert!(error.contains("`cd /`"), "{error}");
    let listing = btrfs(&["subvolume", "list", "-a", fs.mount.to_str().unwrap()]);
    assert!(!listing.contains("pre-rollback"), "{listing}");
}
