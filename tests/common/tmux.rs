//! The real binary in tmux at 80x24 for the end-to-end tests: a server of the test's own
//! (private socket), keys sent, the screen read back; the drill torn down on drop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    pub socket: String,
    pub lab: PathBuf,
    pub state: PathBuf,
}

impl Tmux {
    /// A tmux server of our own (socket named by `tag` and our pid) running, at 80x24,
    /// `snaprescue ARGS` with the lab and state directories in `dir`; `drill` when ARGS is
    /// `["drill"]`, the wizard on a path otherwise.
    pub fn start(tag: &str, dir: &Path, args: &[&std::ffi::OsStr]) -> Self {
        let t = Tmux {
            socket: format!("snaprescue-e2e-{tag}-{}", std::process::id()),
            lab: dir.join("lab"),
            state: dir.join("state"),
        };
        let status = Command::new("tmux")
            .args(["-L", &t.socket, "new-session", "-d", "-s", "e2e"])
            .args(["-x", "80", "-y", "24", "--", "env"])
            .arg(format!("SNAPRESCUE_DRILL_DIR={}", t.lab.display()))
            .arg(format!("SNAPRESCUE_STATE_DIR={}", t.state.display()))
            .arg(env!("CARGO_BIN_EXE_snaprescue"))
            .args(args)
            .status()
            .unwrap();
        assert!(status.success());
        t
    }

    pub fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "e2e"]).stdout)
            .into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "e2e", k]);
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "waited for {text:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The drill's first steps without saving: step 1 (its writer holds a deleted file:
    /// asked, `y`), step 2, to the snapshots (once the ★ shows).
    pub fn drill_to_snapshots(&self) {
        self.wait_for("1 (1.00 MiB)");
        self.keys(&["Enter"]);
        self.wait_for("Not saved yet");
        self.keys(&["y"]);
        self.wait_for("GPU and processes");
        self.keys(&["Enter"]);
        self.wait_for("★");
    }

    /// From step 3: the chosen snapshot, Rescue, every deleted entry selected (once `shown`
    /// is listed), the restore confirmed at its `question`.
    pub fn rescue_all_deleted(&self, shown: &str, question: &str) {
        self.keys(&["Enter"]);
        self.wait_for("Rescue: open a read-only copy");
        self.keys(&["Enter"]);
        self.wait_for(shown);
        self.keys(&["a", "Enter"]);
        self.wait_for(question);
        self.keys(&["Enter"]);
    }

    pub fn pane_dead(&self) -> bool {
        String::from_utf8_lossy(
            &self
                .tmux(&["display", "-p", "-t", "e2e", "#{pane_dead}"])
                .stdout,
        )
        .trim()
            == "1"
    }

    pub fn alive(&self) -> bool {
        self.tmux(&["has-session", "-t", "e2e"]).status.success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
        let out = Command::new(env!("CARGO_BIN_EXE_snaprescue"))
            .args(["drill", "--clean"])
            .env("SNAPRESCUE_DRILL_DIR", &self.lab)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "drill --clean failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Tears the drill down even when an assertion fails.
pub struct CleanOnDrop(pub PathBuf);

impl Drop for CleanOnDrop {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_snaprescue"))
            .args(["drill", "--clean"])
            .env("SNAPRESCUE_DRILL_DIR", &self.0)
            .output();
    }
}

pub fn checkpoints(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}
