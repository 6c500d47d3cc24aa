//! A cancelled restore is never success, and a killed one leaves nothing that outlives it:
//! SIGINT and SIGHUP during a 2 GiB cross-filesystem restore (btrfs snapshot → ext4) exit 1,
//! say "cancelled", and leave no temporary file; after SIGKILL the temporary file is found
//! through the restore record and removed by the next run (before it checks free space,
//! where the leftover would have made it refuse) and by `cleanup`.

mod common;

use common::snapshot_lab::*;
use common::*;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIG: u64 = 2 << 30;

/// The temporary file of a running restore under `dir`, once it holds `at_least` bytes.
fn temp_file(dir: &Path, at_least: u64) -> Option<PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
            let name = e.file_name().to_string_lossy();
            if name.starts_with(".snaprescue-") && e.metadata().is_ok_and(|m| m.len() >= at_least) {
                return Some(e.path().to_path_buf());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// `len` bytes of a non-repeating-by-block pattern (nothing a filesystem could dedupe or
/// leave sparse), synced.
fn write_big(path: &Path, len: u64) {
    let mut big = fs::File::create(path).unwrap();
    let chunk: Vec<u8> = (0..(8u32 << 20)).map(|i| (i % 253) as u8).collect();
    for _ in 0..(len / chunk.len() as u64) {
        big.write_all(&chunk).unwrap();
    }
    big.sync_all().unwrap();
}

fn start(state: &Path, live: &Path, id: &str, to: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_snaprescue"))
        .args([
            "restore".as_ref(),
            live.as_os_str(),
            "--snapshot".as_ref(),
            id.as_ref(),
        ])
        .args(["--to".as_ref(), to.as_os_str(), "--json".as_ref()])
        .env("SNAPRESCUE_STATE_DIR", state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn cancel_is_never_success_and_a_kill_leaves_nothing_behind_for_long() {
    if !privileged() {
        return;
    }
    let (vol, id) = volume_of(2600, |data| {
        fs::create_dir(data.join("ckpt")).unwrap();
        write_big(&data.join("ckpt/model.pth"), BIG);
    });
    let data = vol.path("data");
    let state = tempfile::tempdir().unwrap();
    // 2 GiB plus a little: the file fits, the file and a 1 GiB leftover do not.
    let ext4 = LoopFs::new("ext4", 2700);
    let to = ext4.path("restored");

    for signal in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGHUP,
    ] {
        let child = start(state.path(), &data, &id, &to);
        let temp = temp_file(ext4.mount.as_path(), 1);
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(temp.is_some(), "the copy was never seen running");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{signal}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["cancelled"], true, "{doc}");
        assert!(
            doc["restored"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["kind"] != "file"),
            "a cancelled file is not restored: {doc}"
        );
        restore_lab::no_temp_files(&ext4.mount);
        assert!(!to.join("ckpt/model.pth").exists());
    }

    // The destination renamed mid-restore, then a cancel: the temporary file is removed by
    // descriptor, where it is now.
    let child = start(state.path(), &data, &id, &ext4.path("moving"));
    temp_file(&ext4.mount, 1).expect("the copy was never seen running");
    fs::rename(ext4.path("moving"), ext4.path("moved")).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    restore_lab::no_temp_files(&ext4.mount);
    fs::remove_dir_all(ext4.path("moved")).unwrap();

    // SIGKILL with 1 GiB written: the leftover stays until the next run removes it.
    let mut child = start(state.path(), &data, &id, &to);
    let temp = temp_file(ext4.mount.as_path(), 1 << 30).expect("the copy was never seen at 1 GiB");
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        temp.exists(),
        "SIGKILL cannot clean up: the leftover is there"
    );
    let (code, doc, err) = json(
        state.path(),
        args!["restore", data, "--snapshot", id, "--to", to],
    );
    assert_eq!(
        code, 0,
        "the leftover was counted against free space: {err} {doc}"
    );
    assert_eq!(doc["swept"].as_array().unwrap().len(), 1, "{doc}");
    assert!(!temp.exists());
    assert_eq!(fs::metadata(to.join("ckpt/model.pth")).unwrap().len(), BIG);
    restore_lab::no_temp_files(&ext4.mount);

    // Again, and this time `cleanup` removes it.
    fs::remove_dir_all(&to).unwrap();
    let mut child = start(state.path(), &data, &id, &to);
    let temp = temp_file(ext4.mount.as_path(), 1).expect("the copy was never seen running");
    child.kill().unwrap();
    let _ = child.wait();
    assert!(temp.exists());
    let (code, doc, err) = json(state.path(), args!["cleanup"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        doc["restore_temp_files_removed"].as_array().unwrap().len(),
        1,
        "{doc}"
    );
    assert!(!temp.exists());
    // A file named like a temporary file but not recorded is never touched.
    fs::write(ext4.path(".snaprescue-0123456789abcdef-0.tmp"), "not ours").unwrap();
    let (_, doc, _) = json(state.path(), args!["cleanup"]);
    assert_eq!(
        doc["restore_temp_files_removed"].as_array().unwrap().len(),
        0
    );
    assert!(ext4.path(".snaprescue-0123456789abcdef-0.tmp").exists());
}

/// With the top level not mounted, the snapshot is read through a private read-only mount
/// under /run/snaprescue. A SIGKILL mid-restore cannot unmount it; `cleanup` does, from the
/// record made before the mount.
#[test]
fn a_killed_restore_leaves_no_mount_after_cleanup() {
    if !privileged() {
        return;
    }
    let (mut vol, id) = volume_of(1400, |data| write_big(&data.join("model.pth"), 1 << 30));
    vol.unmount();
    vol.mount_with("subvol=data");
    let state = tempfile::tempdir().unwrap();
    let ext4 = LoopFs::new("ext4", 1400);
    let ours = |table: &str| {
        table
            .lines()
            .filter(|l| l.contains("/run/snaprescue/mnt-") && l.contains(&vol.device))
            .count()
    };
    let mountinfo = || fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut child = start(state.path(), &vol.mount, &id, &ext4.path("out"));
    temp_file(&ext4.mount, 1).expect("the copy was never seen running");
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(
        ours(&mountinfo()),
        1,
        "SIGKILL leaves the mount: {}",
        mountinfo()
    );
    let (code, doc, err) = json(state.path(), args!["cleanup"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(doc["mounts_removed"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(ours(&mountinfo()), 0, "{}", mountinfo());
    assert_eq!(
        doc["restore_temp_files_removed"].as_array().unwrap().len(),
        1,
        "{doc}"
    );
    // Again; this time the next command on PATH detaches it before anything else.
    let _ = fs::remove_dir_all(ext4.path("out"));
    let mut child = start(state.path(), &vol.mount, &id, &ext4.path("out"));
    temp_file(&ext4.mount, 1).expect("the copy was never seen running");
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(ours(&mountinfo()), 1);
    let (code, _, err) = json(state.path(), args!["snapshots", vol.mount]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(ours(&mountinfo()), 0, "{}", mountinfo());
}
