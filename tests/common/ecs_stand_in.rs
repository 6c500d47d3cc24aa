//! The Alibaba Cloud ECS stand-in (tests/servers/aliyun_ecs.py) on 127.0.0.1 for the tests:
//! started with an initial state file, killed (by PID) on drop. With a harness directory,
//! attached disks are presented as loop devices (tests/servers/disk_harness.py).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct EcsStandIn {
    child: Child,
    pub url: String,
    /// The server's state file; the server rewrites it after each call, and appends every
    /// request to `<state>.log`.
    pub state: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for EcsStandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl EcsStandIn {
    /// `None` when no Python can start it.
    pub fn start(initial: &Value, harness: Option<&Path>) -> Option<Self> {
        let python = std::env::var("SNAPRESCUE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        std::fs::write(&state, initial.to_string()).unwrap();
        let mut command = Command::new(python);
        if let Some(harness) = harness {
            command
                .env("SNAPRESCUE_HARNESS_DIR", harness)
                .stderr(std::fs::File::create(harness.join("server.log")).unwrap());
        }
        let mut child = command
            .args([
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/servers/aliyun_ecs.py"),
                state.to_str().unwrap(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let port = super::announced_port(&mut child, "the ECS stand-in");
        Some(Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            state,
            _dir: dir,
        })
    }

    /// The binary against this stand-in: its endpoint, the keys `(id, secret)`, disks found
    /// through `by_id`, started in `dir` with `env` added.
    pub fn run_binary(
        &self,
        home: &Path,
        (id, secret): (&str, &str),
        by_id: &Path,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (Option<i32>, Value, String) {
        let mut cmd = super::isolated(home);
        cmd.current_dir(dir)
            .args(args)
            .env("SNAPRESCUE_ALIYUN_ECS_ENDPOINT", &self.url)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", id)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
            .env("SNAPRESCUE_BY_ID_DIR", by_id);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The server's state as it stands.
    pub fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&self.state).unwrap()).unwrap()
    }

    /// The requests it received, in order (JSON lines: action and parameters).
    pub fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(self.state.with_extension("json.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}
