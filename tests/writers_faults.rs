//! Step 1 where the machine is not tidy: a process that exits between the scan and the
//! freeze (a zombie until its parent reaps it), a process reaching the filesystem only
//! through a bind mount, snaprescue run without root, which cannot read other users' /proc
//! entries and must say so rather than show a short list as if it were whole, the shells
//! that started snaprescue, and an SSH daemon on the filesystem, which "freeze all" spares.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn start_time(pid: u32) -> u64 {
    procfs::process::Process::new(pid as i32)
        .unwrap()
        .stat()
        .unwrap()
        .starttime
}

#[test]
fn a_process_that_became_a_zombie_since_the_scan_is_reported_gone_not_frozen() {
    use nix::sys::signal::Signal;
    use snaprescue::ports::signals::{ProcessError, signal};
    let mut child = Command::new("sleep").arg("0.2").spawn().unwrap();
    let pid = child.id();
    let start = start_time(pid); // the scan saw it running
    let deadline = Instant::now() + Duration::from_secs(10);
    while snaprescue::ports::processes::state_of(pid as i32) != Some('Z') {
        assert!(Instant::now() < deadline, "sleep 0.2 did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Not reaped yet: the PID and its start time still match the scan.
    let frozen = signal(pid as i32, start, Signal::SIGSTOP);
    assert!(
        matches!(frozen, Err(ProcessError::Gone { .. })),
        "{frozen:?}"
    );
    assert!(frozen.unwrap_err().to_string().contains("has exited"));
    child.wait().unwrap();
}

#[test]
fn a_process_inside_a_bind_mount_of_the_filesystem_is_listed() {
    if !privileged() {
        return;
    }
    let fs = LoopFs::new("ext4", 32);
    std::fs::create_dir(fs.path("run")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    sh(
        "mount",
        &[
            "--bind",
            fs.path("run").to_str().unwrap(),
            elsewhere.path().to_str().unwrap(),
        ],
    );
    let _unmount = Unmount(elsewhere.path().to_path_buf());
    let kids = Children(vec![
        Command::new("sleep")
            .arg("60")
            .current_dir(elsewhere.path())
            .spawn()
            .unwrap(),
    ]);
    let pid = kids.0[0].id();
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = json(state.path(), args!["writers", fs.mount, "--interval", "0"]);
    assert_eq!(code, 0, "{err}");
    let p = process_in(&doc, pid).unwrap_or_else(|| panic!("bind-mount user not listed: {doc}"));
    assert_eq!(p["usages"][0]["kind"], "cwd", "{p}");
}

/// A copy of the binary that an unprivileged user can run, in a directory it can reach.
fn binary_for_everyone(dir: &Path) -> PathBuf {
    let bin = dir.join("snaprescue");
    std::fs::copy(env!("CARGO_BIN_EXE_snaprescue"), &bin).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

const NOBODY: [&str; 3] = ["--reuid=65534", "--regid=65534", "--clear-groups"];

#[test]
fn without_root_the_unreadable_processes_are_counted_and_root_is_suggested() {
    if !privileged() {
        return;
    }
    let fs = LoopFs::new("ext4", 32);
    let shared = fs.path("shared");
    std::fs::create_dir(&shared).unwrap();
    for dir in [fs.dir.path(), &fs.mount, &shared] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let kids = Children(vec![
        Command::new("sleep")
            .arg("60")
            .current_dir(&shared)
            .spawn()
            .unwrap(),
        Command::new("setpriv")
            .args(NOBODY)
            .args(["sleep", "60"])
            .current_dir(&shared)
            .spawn()
            .unwrap(),
    ]);
    let (root_job, own_job) = (kids.0[0].id(), kids.0[1].id());
    let place = tempfile::tempdir().unwrap();
    let bin = binary_for_everyone(place.path());
    let state = fs.path("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let run = |extra: &[&str]| {
        let out = Command::new("setpriv")
            .args(NOBODY)
            .arg(&bin)
            .arg("writers")
            .arg(&shared)
            .args(["--interval", "0"])
            .args(extra)
            .env("SNAPRESCUE_STATE_DIR", &state)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let doc: serde_json::Value = serde_json::from_str(&run(&["--json"])).unwrap();
    assert!(doc["unreadable"].as_u64().unwrap() >= 1, "{doc}");
    assert!(
        process_in(&doc, own_job).is_some(),
        "its own process: {doc}"
    );
    assert!(
        process_in(&doc, root_job).is_none(),
        "root's process cannot be seen: {doc}"
    );
    let human = run(&[]);
    assert!(
        human.contains("could not be inspected (permission denied): run as root"),
        "{human}"
    );
}

/// `sudo snaprescue` from a shell in the directory: the shell is the grandparent. Neither it
/// nor `sudo` may be listed (and so frozen): it would hang the user's own session.
#[test]
fn the_shells_that_started_snaprescue_are_never_listed() {
    if !privileged() {
        return;
    }
    let (fs, dir, idle) = idle_in_a_run_directory();
    // `; true` keeps each shell from exec-ing its last command.
    let doc = json_through_shell(
        &fs,
        r#"echo $$ > outer.pid; sh -c 'echo $$ > inner.pid; "$0" writers "$1" --interval 0 --json; true' "$0" "$1"; true"#,
    );
    assert!(process_in(&doc, idle.0[0].id()).is_some(), "{doc}");
    for shell in ["outer.pid", "inner.pid"] {
        let pid = pid_written(&dir, shell);
        assert!(process_in(&doc, pid).is_none(), "{shell} {pid}: {doc}");
    }
}

/// A notebook kernel that ran `!snaprescue writers … --freeze --rescue-open DIR` while it
/// holds a deleted checkpoint: it started snaprescue, so it is never frozen (that would hang
/// the notebook), but its deleted file is listed and saved.
#[test]
fn a_launcher_holding_a_deleted_file_is_listed_for_harvest_and_never_frozen() {
    if !privileged() {
        return;
    }
    let (fs, dir, _idle) = idle_in_a_run_directory();
    let held: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("held.pth"), &held).unwrap();
    let saved = tempfile::tempdir_in("/dev/shm").unwrap();
    let script = format!(
        // fd 3 is closed for snaprescue (`3<&-`): only the launcher holds the file.
        r#"exec 3<held.pth; rm held.pth; echo $$ > launcher.pid; "$0" writers "$1" --freeze --rescue-open {} --interval 0 --json 3<&-; true"#,
        saved.path().display()
    );
    let doc = json_through_shell(&fs, &script);
    let launcher = pid_written(&dir, "launcher.pid");
    let listed = process_in(&doc, launcher).unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(listed["launcher"], true, "{listed}");
    assert_ne!(listed["state"], "T", "{listed}");
    let action = doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["pid"] == launcher)
        .unwrap_or_else(|| panic!("{doc}"));
    assert!(
        action["skipped"]
            .as_str()
            .unwrap()
            .contains("started snaprescue"),
        "{action}"
    );
    let file = &doc["harvest"]["saved"][0];
    assert_eq!(file["pid"], launcher, "{doc}");
    assert_eq!(
        std::fs::read(file["saved_to"].as_str().unwrap()).unwrap(),
        held
    );
}

/// `writers --freeze` on a filesystem the SSH daemon uses (every root filesystem): the
/// daemon is left running and the answer says why; the job beside it is frozen.
#[test]
fn freeze_all_leaves_an_ssh_daemon_running_and_says_why() {
    if !privileged() {
        return;
    }
    let fs = LoopFs::new("ext4", 32);
    let dir = fs.path("run");
    std::fs::create_dir(&dir).unwrap();
    let bin = tempfile::tempdir().unwrap();
    let sshd = bin.path().join("sshd");
    std::fs::copy(sh("sh", &["-c", "command -v sleep"]).trim(), &sshd).unwrap();
    let kids = Children(vec![
        Command::new(&sshd)
            .arg("60")
            .current_dir(&dir)
            .spawn()
            .unwrap(),
        Command::new("sleep")
            .arg("60")
            .current_dir(&dir)
            .spawn()
            .unwrap(),
    ]);
    let (daemon, job) = (kids.0[0].id(), kids.0[1].id());
    std::thread::sleep(Duration::from_millis(100));
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = json(
        state.path(),
        args!["writers", dir, "--freeze", "--interval", "0"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(process_in(&doc, job).unwrap()["state"], "T", "{doc}");
    assert_ne!(process_in(&doc, daemon).unwrap()["state"], "T", "{doc}");
    let skipped = doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["pid"] == daemon)
        .unwrap();
    assert!(
        skipped["skipped"].as_str().unwrap().contains("SSH"),
        "{skipped}"
    );
    let out = snaprescue(
        state.path(),
        args!["writers", dir, "--thaw", "--interval", "0"],
    );
    assert!(out.status.success());
    let human = snaprescue(
        state.path(),
        args!["writers", dir, "--freeze", "--interval", "0"],
    );
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains(&format!("left running: {daemon} ")), "{text}");
}

/// `snaprescue writers . --freeze --json | jq` typed in the directory: jq is part of the
/// user's own command. Frozen, it would never read the answer and the command would hang.
#[test]
fn the_other_commands_of_its_pipeline_are_never_listed() {
    if !privileged() {
        return;
    }
    let (fs, dir, idle) = idle_in_a_run_directory();
    let doc = json_through_shell(
        &fs,
        concat!(
            // A job started beside it writes to the same pipe: it is not part of the
            // pipeline's other end, and stays listed.
            r#"(sleep 60 & echo $! > job.pid; "$0" writers "$1" --interval 0.3 --json; kill $!)"#,
            r#" | sh -c 'echo $$ > reader.pid; exec cat'"#
        ),
    );
    assert!(process_in(&doc, idle.0[0].id()).is_some(), "{doc}");
    let reader = pid_written(&dir, "reader.pid");
    assert!(process_in(&doc, reader).is_none(), "reader {reader}: {doc}");
    let job = pid_written(&dir, "job.pid");
    assert!(process_in(&doc, job).is_some(), "job {job}: {doc}");
}

/// A loop-mounted ext4 with a directory `run` and a process idle in it.
fn idle_in_a_run_directory() -> (LoopFs, PathBuf, Children) {
    let fs = LoopFs::new("ext4", 32);
    let dir = fs.path("run");
    std::fs::create_dir(&dir).unwrap();
    let idle = Command::new("sleep")
        .arg("60")
        .current_dir(&dir)
        .spawn()
        .unwrap();
    (fs, dir, Children(vec![idle]))
}

/// Runs `script` with sh in `fs`'s `run` directory ($0: the binary, $1: that directory)
/// and parses the JSON it prints.
fn json_through_shell(fs: &LoopFs, script: &str) -> serde_json::Value {
    let dir = fs.path("run");
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_snaprescue"))
        .arg(&dir)
        .current_dir(&dir)
        .env("SNAPRESCUE_STATE_DIR", fs.dir.path())
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)))
}

/// The pid a shell wrote to `dir/name`.
fn pid_written(dir: &Path, name: &str) -> u32 {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    text.trim().parse().unwrap()
}
