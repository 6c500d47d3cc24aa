//! The Alibaba Cloud ECS stand-in (tests/servers/aliyun_ecs.py) on 127.0.0.1 for the tests:
//! started with an initial state file, killed (by PID) on drop. With a harness directory,
//! attached disks are presented as loop devices (tests/servers/disk_harness.py).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(python);
        if let Some(harness) = harness {
            command
                .env("SNAPRESCUE_HARNESS_DIR", harness)
                .stderr(std::fs::File::create(harness.join("server.log")).unwrap());
        }
        let child = command
            .args([
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/servers/aliyun_ecs.py"),
                &port.to_string(),
                state.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .spawn()
            .ok()?;
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            state,
            _dir: dir,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the ECS stand-in did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
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
