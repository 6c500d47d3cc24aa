//! Step 1 on real processes over a loop-mounted ext4: who is listed and how, write rates,
//! freeze and thaw (state T), harvest of a deleted-but-open file onto another filesystem,
//! and terminate through a pidfd.

mod common;
use common::*;
use std::fs;
use std::process::{Child, Command};
use std::time::Duration;

fn spawn_sh(dir: &std::path::Path, script: &str) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .spawn()
        .unwrap()
}

fn kinds(p: &serde_json::Value) -> Vec<String> {
    p["usages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn lists_writers_freezes_thaws_and_harvests() {
    if !privileged() {
        return;
    }
    let fs = LoopFs::new("ext4", 64);
    let dir = fs.path("run");
    fs::create_dir(&dir).unwrap();
    let held: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    fs::write(dir.join("held.bin"), &held).unwrap();
    let mut kids = Children(vec![]);
    kids.0.push(spawn_sh(
        &dir,
        "exec 4>>w.log; while true; do head -c 65536 /dev/zero >&4; sync w.log; sleep 0.05; done",
    ));
    kids.0.push(spawn_sh(
        &dir,
        "exec 3<held.bin; rm held.bin; exec sleep 60",
    ));
    kids.0.push(
        Command::new("sleep")
            .arg("60")
            .current_dir(&dir)
            .spawn()
            .unwrap(),
    );
    kids.0.push(
        Command::new("sleep")
            .arg("60")
            .current_dir("/")
            .spawn()
            .unwrap(),
    );
    let pids: Vec<u32> = kids.0.iter().map(|c| c.id()).collect();
    std::thread::sleep(Duration::from_millis(300));

    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = json(state.path(), args!["writers", dir, "--interval", "1"]);
    assert_eq!(code, 0, "{err}");
    let writer = process_in(&doc, pids[0]).expect("writer listed");
    assert!(kinds(writer).contains(&"cwd".to_string()));
    assert!(
        writer["usages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["kind"] == "open" && u["writing"] == true),
        "{writer}"
    );
    assert!(writer["write_rate"].as_f64().unwrap() > 0.0, "{writer}");
    let holder = process_in(&doc, pids[1]).expect("holder listed");
    let deleted = &holder["deleted_open"][0];
    assert!(
        deleted["path"].as_str().unwrap().ends_with("run/held.bin"),
        "{holder}"
    );
    assert_eq!(deleted["size"], held.len());
    let idle = process_in(&doc, pids[2]).expect("cwd-only process listed");
    assert_eq!(kinds(idle), ["cwd"]);
    assert!(
        process_in(&doc, pids[3]).is_none(),
        "a process on another filesystem is not listed"
    );
    assert!(
        process_in(&doc, std::process::id()).is_none(),
        "never ourselves"
    );

    let (_, frozen, _) = json(
        state.path(),
        args!["writers", dir, "--freeze", "--interval", "0"],
    );
    for pid in &pids[..3] {
        assert_eq!(process_in(&frozen, *pid).unwrap()["state"], "T", "{frozen}");
    }
    assert_ne!(
        fs::read_to_string(format!("/proc/{}/stat", pids[3]))
            .unwrap()
            .split(' ')
            .nth(2),
        Some("T")
    );

    // Harvest: refused on the same filesystem, done onto another one, byte-identical.
    let (code, refused, _) = json(
        state.path(),
        args![
            "writers",
            dir,
            "--rescue-open",
            fs.path("saved"),
            "--interval",
            "0"
        ],
    );
    assert_eq!(code, 1);
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("same filesystem"),
        "{refused}"
    );
    let other = tempfile::tempdir_in("/dev/shm").unwrap();
    let (code, saved, err) = json(
        state.path(),
        args![
            "writers",
            dir,
            "--rescue-open",
            other.path(),
            "--interval",
            "0"
        ],
    );
    assert_eq!(code, 0, "{err} {saved}");
    let file = &saved["harvest"]["saved"][0];
    assert_eq!(file["pid"], pids[1]);
    assert!(
        file["handle"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/proc/{}/fd/", pids[1]))
    );
    let saved_to = file["saved_to"].as_str().unwrap();
    assert!(
        saved_to.ends_with(&format!("pid-{}/held.bin", pids[1])),
        "{saved_to}"
    );
    assert_eq!(fs::read(saved_to).unwrap(), held);
    assert!(saved["harvest"]["manifest"].as_str().is_some());

    let (_, thawed, _) = json(
        state.path(),
        args!["writers", dir, "--thaw", "--interval", "0"],
    );
    for pid in &pids[..3] {
        assert_ne!(process_in(&thawed, *pid).unwrap()["state"], "T", "{thawed}");
    }
}

#[test]
fn a_path_that_no_longer_exists_uses_its_surviving_ancestor() {
    if !privileged() {
        return;
    }
    let fs = LoopFs::new("ext4", 32);
    let mut kids = Children(vec![
        Command::new("sleep")
            .arg("60")
            .current_dir(&fs.mount)
            .spawn()
            .unwrap(),
    ]);
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = json(
        state.path(),
        args!["writers", fs.path("gone/deeper"), "--interval", "0"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(process_in(&doc, kids.0[0].id()).is_some());
    kids.0[0].kill().unwrap();
}

#[test]
fn terminate_escalates_to_sigkill_and_never_hits_a_recycled_pid() {
    use snaprescue::ports::signals::{ProcessError, terminate};
    let mut kids = Children(vec![
        Command::new("sh")
            .arg("-c")
            .arg("trap '' TERM; while true; do sleep 0.1; done")
            .spawn()
            .unwrap(),
    ]);
    let pid = kids.0[0].id() as i32;
    std::thread::sleep(Duration::from_millis(100));
    let start = procfs::process::Process::new(pid)
        .unwrap()
        .stat()
        .unwrap()
        .starttime;
    let wrong = terminate(pid, start + 1, Duration::from_millis(100)).unwrap_err();
    assert!(matches!(wrong, ProcessError::Recycled { .. }), "{wrong}");
    assert!(
        kids.0[0].try_wait().unwrap().is_none(),
        "the mismatched process was left alone"
    );
    terminate(pid, start, Duration::from_millis(300)).unwrap();
    let status = kids.0[0].wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "SIGTERM was ignored, so SIGKILL ended it"
    );
}

#[test]
fn a_container_writing_through_an_overlay_on_this_filesystem_is_listed() {
    if !privileged() {
        return;
    }
    let fs = LoopFs::new("ext4", 32);
    for d in ["upper", "work"] {
        fs::create_dir(fs.path(d)).unwrap();
    }
    let lower = tempfile::tempdir().unwrap();
    let merged = tempfile::tempdir().unwrap();
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.path().display(),
        fs.path("upper").display(),
        fs.path("work").display()
    );
    sh(
        "mount",
        &[
            "-t",
            "overlay",
            "overlay",
            "-o",
            &options,
            merged.path().to_str().unwrap(),
        ],
    );
    let _unmount = Unmount(merged.path().to_path_buf());
    let kids = Children(vec![
        Command::new("sleep")
            .arg("60")
            .current_dir(merged.path())
            .spawn()
            .unwrap(),
    ]);
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = json(state.path(), args!["writers", fs.mount, "--interval", "0"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        process_in(&doc, kids.0[0].id()).is_some(),
        "overlay user not listed: {doc}"
    );
}

#[test]
fn remount_read_only_is_refused_while_a_file_is_open_for_writing() {
    if !privileged() {
        return;
    }
    let fs = LoopFs::new("ext4", 32);
    let dir = fs.mount.clone();
    let mut kids = Children(vec![spawn_sh(
        &dir,
        "exec 4>>open.log; rm open.log; exec sleep 60",
    )]);
    std::thread::sleep(Duration::from_millis(200));
    let state = tempfile::tempdir().unwrap();
    let (code, doc, _) = json(
        state.path(),
        args!["writers", dir, "--remount-ro", "--interval", "0"],
    );
    assert_eq!(code, 1);
    assert!(
        doc["error"].as_str().unwrap().contains("open for writing"),
        "{doc}"
    );
    kids.0[0].kill().unwrap();
    kids.0[0].wait().unwrap();
    let (code, doc, err) = json(
        state.path(),
        args!["writers", dir, "--remount-ro", "--interval", "0"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(doc["remounted_read_only"], dir.to_str().unwrap());
    assert!(
        fs::write(dir.join("x"), "x").is_err(),
        "the filesystem is read-only now"
    );
}

#[test]
fn kernel_threads_are_never_listed_even_on_the_root_filesystem() {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/").unwrap().dev();
    let (found, _) =
        snaprescue::ports::processes::processes_using(&std::collections::HashSet::from([root]));
    // kthreadd (pid 2) has / as cwd and root, like every kernel thread.
    assert!(found.iter().all(|p| p.pid != 2), "kthreadd listed");
}

/// The torch check must run in the job's own environment. A venv's `bin/python` is a
/// symlink, so `/proc/PID/exe` names the base interpreter, which lacks the venv's packages;
/// the job's interpreter is recorded as Python itself names it (`sys.executable`), both for
/// an activated venv (`python` found through the job's PATH) and one started by its path.
#[test]
fn a_venv_job_is_recorded_with_its_venv_python_not_the_base_interpreter() {
    if !privileged() {
        return;
    }
    let fs = LoopFs::new("ext4", 32);
    let venv = tempfile::tempdir().unwrap();
    let made = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(venv.path())
        .status()
        .unwrap();
    assert!(made.success());
    let bin = venv.path().join("bin");
    let job = "import sys, time\nopen(sys.argv[1], 'w').write(sys.executable)\ntime.sleep(60)";
    let activated = Command::new("python")
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .args(["-c", job, "activated.txt"])
        .current_dir(&fs.mount)
        .spawn()
        .unwrap();
    let by_path = Command::new(bin.join("python3"))
        .args(["-c", job, "by-path.txt"])
        .current_dir(&fs.mount)
        .spawn()
        .unwrap();
    let pids = [activated.id(), by_path.id()];
    let _kids = Children(vec![activated, by_path]);
    let written = |name: &str| fs::read_to_string(fs.path(name)).unwrap_or_default();
    for _ in 0..100 {
        if !written("activated.txt").is_empty() && !written("by-path.txt").is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = json(
        state.path(),
        args!["writers", &fs.mount, "--interval", "0.1"],
    );
    assert_eq!(code, 0, "{err}");
    for (pid, file) in pids.into_iter().zip(["activated.txt", "by-path.txt"]) {
        let p = process_in(&doc, pid).unwrap_or_else(|| panic!("{pid} not listed: {doc}"));
        assert_eq!(p["python"], written(file), "{p}");
        assert!(
            p["python"]
                .as_str()
                .unwrap()
                .starts_with(&*bin.to_string_lossy())
        );
        assert_ne!(p["python"], p["exe"], "exe is the base interpreter: {p}");
    }
}
