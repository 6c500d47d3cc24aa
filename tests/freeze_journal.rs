//! Frozen processes are remembered (DESIGN rule 6), with real processes on a loop-mounted
//! ext4: `writers --freeze` journals each freeze before SIGSTOP and exits leaving them
//! frozen, as a killed run would; later commands name them with how to thaw them;
//! `writers --thaw` thaws only what snaprescue froze (`--all` also the others); a journal
//! line whose pid now belongs to another process (another start time) names nothing.

mod common;
use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::path::Path;
use std::process::Command;

/// Field 3 of /proc/PID/stat: R, S, T, …
fn state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.chars().next().unwrap()
}

/// Field 22 of /proc/PID/stat: the start time in clock ticks since boot.
fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').nth(19).unwrap().parse().unwrap()
}

fn sleeper(dir: &Path) -> std::process::Child {
    Command::new("sleep")
        .arg("120")
        .current_dir(dir)
        .spawn()
        .unwrap()
}

fn left_frozen(doc: &serde_json::Value) -> Vec<u64> {
    doc["left_frozen"]
        .as_array()
        .unwrap_or_else(|| panic!("no left_frozen: {doc}"))
        .iter()
        .map(|f| f["pid"].as_u64().unwrap())
        .collect()
}

/// A loop ext4 with a `sleep` whose working directory is on it (so `writers` lists it); the
/// volume and the child live as long as the returned guards.
fn sleeping_job() -> (LoopFs, std::path::PathBuf, Children, u32) {
    let fs = LoopFs::new("ext4", 64);
    let dir = fs.path("run");
    std::fs::create_dir(&dir).unwrap();
    let kids = Children(vec![sleeper(&dir)]);
    let pid = kids.0[0].id();
    (fs, dir, kids, pid)
}

fn wait_for_state(pid: u32, wanted: impl Fn(char) -> bool) -> char {
    for _ in 0..100 {
        let s = state(pid);
        if wanted(s) {
            return s;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    state(pid)
}

#[test]
fn a_freeze_is_journaled_named_by_later_commands_and_thawed() {
    if !privileged() {
        return;
    }
    let (_fs, dir, _kids, pid) = sleeping_job();
    let state_dir = tempfile::tempdir().unwrap();
    let s = state_dir.path();
    let (code, doc, _) = json(s, args!["writers", dir, "--freeze", "--interval", "0"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(wait_for_state(pid, |c| c == 'T'), 'T');
    let journal = std::fs::read_to_string(s.join("freezes.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    assert_eq!(line["event"], "freeze");
    assert_eq!(line["pid"], pid);
    assert_eq!(line["start_time"], start_time(pid));

    // The run that froze it has ended: each later command names it and how to thaw it.
    let (_, listed, _) = json(s, args!["writers", dir, "--interval", "0"]);
    assert_eq!(left_frozen(&listed), [pid as u64], "{listed}");
    let human = snaprescue(s, args!["writers", dir, "--interval", "0"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains(&format!("process {pid} (sleep 120) is still frozen")),
        "{text}"
    );
    assert!(text.contains("--thaw` thaws them"), "{text}");
    assert!(text.contains(&format!("kill -CONT {pid}")), "{text}");
    let (_, cleanup, _) = json(s, args!["cleanup"]);
    assert_eq!(left_frozen(&cleanup), [pid as u64], "{cleanup}");
    assert_eq!(state(pid), 'T', "cleanup must not thaw it");
    let (_, _, stderr) = json(s, args!["verify", "/nonexistent.pth", "--timeout", "5"]);
    assert!(
        stderr.contains(&format!("process {pid} (sleep 120) is still frozen")),
        "{stderr}"
    );

    let (code, thawed, _) = json(s, args!["writers", dir, "--thaw", "--interval", "0"]);
    assert_eq!(code, 0, "{thawed}");
    assert_ne!(wait_for_state(pid, |c| c != 'T'), 'T');
    let (_, after, _) = json(s, args!["writers", dir, "--interval", "0"]);
    assert!(left_frozen(&after).is_empty(), "{after}");
}

#[test]
fn a_process_stopped_by_someone_else_is_thawed_only_with_all() {
    if !privileged() {
        return;
    }
    let fs = LoopFs::new("ext4", 64);
    let dir = fs.path("run");
    std::fs::create_dir(&dir).unwrap();
    let kids = Children(vec![sleeper(&dir), sleeper(&dir)]);
    let (theirs, ours) = (kids.0[0].id(), kids.0[1].id());
    kill(Pid::from_raw(theirs as i32), Signal::SIGSTOP).unwrap();
    assert_eq!(wait_for_state(theirs, |c| c == 'T'), 'T');
    let state_dir = tempfile::tempdir().unwrap();
    let s = state_dir.path();
    let (code, frozen, _) = json(s, args!["writers", dir, "--freeze", "--interval", "0"]);
    assert_eq!(code, 0, "{frozen}");
    assert_eq!(wait_for_state(ours, |c| c == 'T'), 'T');
    // Stopped by someone else: not taken for ours, not named as left frozen.
    let (_, listed, _) = json(s, args!["writers", dir, "--interval", "0"]);
    assert_eq!(left_frozen(&listed), [ours as u64], "{listed}");

    let (code, thawed, _) = json(s, args!["writers", dir, "--thaw", "--interval", "0"]);
    assert_eq!(code, 0, "{thawed}");
    assert_ne!(wait_for_state(ours, |c| c != 'T'), 'T');
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        state(theirs),
        'T',
        "thawed a process snaprescue did not freeze: {thawed}"
    );
    let skipped = thawed["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["pid"] == theirs)
        .unwrap_or_else(|| panic!("no action for {theirs}: {thawed}"));
    assert!(
        skipped["skipped"].as_str().unwrap().contains("--all"),
        "{thawed}"
    );

    let (code, all, _) = json(
        s,
        args!["writers", dir, "--thaw", "--all", "--interval", "0"],
    );
    assert_eq!(code, 0, "{all}");
    assert_ne!(wait_for_state(theirs, |c| c != 'T'), 'T');
}

#[test]
fn a_journaled_pid_now_held_by_another_process_is_not_named_or_thawed() {
    if !privileged() {
        return;
    }
    let (_fs, dir, _kids, pid) = sleeping_job();
    kill(Pid::from_raw(pid as i32), Signal::SIGSTOP).unwrap();
    assert_eq!(wait_for_state(pid, |c| c == 'T'), 'T');
    let state_dir = tempfile::tempdir().unwrap();
    let s = state_dir.path();
    // An earlier run froze a process that had this pid and has exited since: the pid now
    // belongs to this one, which started later.
    let line = serde_json::json!({
        "event": "freeze", "pid": pid, "start_time": start_time(pid) - 1,
        "command": "python train.py", "path": dir, "at": "2025-04-05T02:00:00Z",
        "by_pid": 1, "by_start": 0,
    });
    std::fs::write(s.join("freezes.jsonl"), format!("{line}\n")).unwrap();
    let (_, listed, _) = json(s, args!["writers", dir, "--interval", "0"]);
    assert!(left_frozen(&listed).is_empty(), "{listed}");
    let (_, _, _) = json(s, args!["writers", dir, "--thaw", "--interval", "0"]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(state(pid), 'T', "thawed a process whose pid was reused");
}

/// A freeze that cannot be recorded is not made: the process keeps running and the error
/// says why and how to freeze it by hand.
#[test]
fn a_freeze_that_cannot_be_journaled_is_not_made() {
    if !privileged() {
        return;
    }
    let (_fs, dir, _kids, pid) = sleeping_job();
    let elsewhere = tempfile::tempdir().unwrap();
    // The state directory cannot be created: a file stands where it should be.
    let blocked = elsewhere.path().join("state");
    std::fs::write(&blocked, "").unwrap();
    let (code, doc, _) = json(
        &blocked.join("snaprescue"),
        args!["writers", dir, "--freeze", "--interval", "0"],
    );
    assert_eq!(code, 1, "{doc}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_ne!(state(pid), 'T', "frozen without a record: {doc}");
    let action = doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["pid"] == pid)
        .unwrap_or_else(|| panic!("no action for {pid}: {doc}"));
    let error = action["error"].as_str().unwrap();
    assert!(error.contains("could not be recorded"), "{error}");
    assert!(error.contains(&format!("kill -STOP {pid}")), "{error}");
}

#[test]
fn the_wizard_adopts_what_an_earlier_run_left_frozen_and_names_it() {
    use snaprescue::engine::freeze_journal::FrozenBySnaprescue;
    use snaprescue::wizard::Model;
    let mut model = Model::new("/data/run".into());
    let left = FrozenBySnaprescue {
        pid: 4242,
        start_time: 99,
        command: "python train.py".into(),
        path: "/data/run".into(),
        frozen_at: "2025-04-05T02:00:00Z".into(),
        by_pid: 17,
        by_running_run: false,
    };
    snaprescue::wizard::update_writers::adopt_still_frozen(&mut model, &[left]);
    assert!(model.writers.froze(4242, 99));
    let notice = model.notice.clone().unwrap();
    assert!(notice.contains("4242 (python train.py)"), "{notice}");
    let note = snaprescue::wizard::update_writers::left_frozen(&model).unwrap();
    assert!(note.contains("kill -CONT 4242"), "{note}");
}

/// `writers --freeze` and `--thaw` say what they did, naming the program (not its path).
#[test]
fn freeze_and_thaw_say_what_they_did_by_program_name() {
    if !privileged() {
        return;
    }
    let (_fs, dir, _kids, pid) = sleeping_job();
    let state_dir = tempfile::tempdir().unwrap();
    for (flag, said) in [("--freeze", "froze"), ("--thaw", "thawed")] {
        let out = snaprescue(
            state_dir.path(),
            args!["writers", dir, flag, "--interval", "0"],
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        assert!(text.contains(&format!("{said} {pid} sleep 120")), "{text}");
        assert!(
            !text.contains("/usr/bin/sleep"),
            "program name, not its path: {text}"
        );
    }
}
