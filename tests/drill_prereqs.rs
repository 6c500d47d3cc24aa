//! `sudo snaprescue drill` on a machine without btrfs-progs: with a terminal it asks once
//! and installs it through apt (a stand-in `apt-get` first on PATH, which records what it
//! was asked and "installs" by linking the real tools in); without one it names the command.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A PATH like the machine's with btrfs-progs taken out, and a stand-in apt-get in front.
struct NoBtrfs {
    dir: tempfile::TempDir,
}

impl NoBtrfs {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let tools = dir.path().join("tools");
        let front = dir.path().join("front");
        std::fs::create_dir_all(&tools).unwrap();
        std::fs::create_dir_all(&front).unwrap();
        for system in ["/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
            for entry in std::fs::read_dir(system).into_iter().flatten().flatten() {
                let name = entry.file_name();
                let text = name.to_string_lossy();
                if text.starts_with("btrfs") || text.starts_with("mkfs.btrfs") || text == "apt-get"
                {
                    continue;
                }
                let _ = std::os::unix::fs::symlink(entry.path(), tools.join(&name));
            }
        }
        let which = |p: &str| {
            ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
                .iter()
                .map(|d| Path::new(d).join(p))
                .find(|c| c.exists())
                .unwrap()
        };
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> {log}\ncase \"$1\" in install)\n  ln -sf {mkfs} {front}/mkfs.btrfs\n  ln -sf {btrfs} {front}/btrfs;;\nesac\n",
            log = dir.path().join("apt.log").display(),
            mkfs = which("mkfs.btrfs").display(),
            btrfs = which("btrfs").display(),
            front = front.display(),
        );
        let apt = front.join("apt-get");
        std::fs::write(&apt, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&apt, std::fs::Permissions::from_mode(0o755)).unwrap();
        NoBtrfs { dir }
    }

    fn path_var(&self) -> String {
        format!(
            "{}:{}",
            self.dir.path().join("front").display(),
            self.dir.path().join("tools").display()
        )
    }

    fn apt_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("apt.log")).unwrap_or_default()
    }

    fn lab(&self) -> PathBuf {
        self.dir.path().join("lab")
    }
}

#[test]
fn without_a_terminal_the_drill_names_the_one_command_and_installs_nothing() {
    if !privileged() {
        return;
    }
    let env = NoBtrfs::new();
    // With or without the wizard: the command is said before the wizard's terminal.
    for args in [&["drill", "--no-wizard"][..], &["drill"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_snaprescue"))
            .args(args)
            .env("PATH", env.path_var())
            .env("SNAPRESCUE_DRILL_DIR", env.lab())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("sudo apt-get install -y btrfs-progs"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(env.apt_log(), "", "nothing installed without asking");
}

#[test]
fn with_a_terminal_it_asks_once_and_installs_btrfs_progs() {
    if !privileged() {
        return;
    }
    let env = NoBtrfs::new();
    let _clean = common::tmux::CleanOnDrop(env.lab());
    let socket = format!("snaprescue-prereq-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &socket])
            .args(args)
            .output()
            .unwrap()
    };
    let started = Command::new("tmux")
        .args([
            "-L",
            &socket,
            "new-session",
            "-d",
            "-s",
            "p",
            "-x",
            "100",
            "-y",
            "30",
        ])
        .args(["--", "env"])
        .arg(format!("PATH={}", env.path_var()))
        .arg(format!("SNAPRESCUE_DRILL_DIR={}", env.lab().display()))
        .args([env!("CARGO_BIN_EXE_snaprescue"), "drill", "--no-wizard"])
        .status()
        .unwrap();
    assert!(started.success());
    tmux(&["set-option", "-t", "p", "remain-on-exit", "on"]);
    let screen =
        || String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", "p"]).stdout).into_owned();
    let wait = |text: &str| {
        let start = Instant::now();
        loop {
            let s = screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "waited for {text:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let asked = wait("[y/N]");
    assert!(asked.contains("apt-get install -y btrfs-progs"), "{asked}");
    tmux(&["send-keys", "-t", "p", "y", "Enter"]);
    let done = wait("drill ready");
    tmux(&["kill-server"]);
    assert_eq!(env.apt_log(), "install -y btrfs-progs\n", "{done}");
    assert_eq!(done.matches("[y/N]").count(), 1, "asked once: {done}");
}
