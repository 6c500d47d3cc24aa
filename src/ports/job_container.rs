//! Reaching into a training job's container. A job in a container sees its own mounts: its
//! interpreter path (say `/opt/conda/bin/python`) is not ours, and the same path here may be
//! another Python altogether. The torch check then runs inside the job's mount and PID
//! namespaces (`nsenter`, argv only), with the job's own environment (CUDA_VISIBLE_DEVICES,
//! LD_LIBRARY_PATH), on the checkpoints the container sees at the same paths.

use crate::ports::fs_meta::{same_file, under_root};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running job whose mounts are not ours.
#[derive(Debug)]
pub struct JobContainer {
    pid: i32,
    nsenter: PathBuf,
}

/// Why the check cannot be run in the job's container.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error(
        "the training job (pid {0}) has exited and its Python lives in its container: run `snaprescue verify --torch` inside the container"
    )]
    Gone(i32),
    #[error(
        "the training job runs in a container and `nsenter` (util-linux) is not installed: install util-linux, or run `snaprescue verify --torch` inside the container"
    )]
    NoNsenter,
}

impl JobContainer {
    /// The container of `pid`, if it is still the process step 1 saw (same start time).
    pub fn of(pid: i32, start_time: u64) -> Result<Self, ContainerError> {
        let alive = procfs::process::Process::new(pid)
            .and_then(|p| p.stat())
            .is_ok_and(|s| s.starttime == start_time);
        if !alive {
            return Err(ContainerError::Gone(pid));
        }
        let nsenter = crate::ports::command::locate("nsenter").ok_or(ContainerError::NoNsenter)?;
        Ok(JobContainer { pid, nsenter })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Whether the container sees this very file (same device and inode) at the same path.
    pub fn sees_same_file(&self, path: &Path) -> bool {
        let root = PathBuf::from(format!("/proc/{}/root", self.pid));
        same_file(path, &under_root(&root, path))
    }

    /// A command running `program` (a path as the job sees it) in the job's mount and PID
    /// namespaces, with the job's environment instead of ours.
    pub fn command(&self, program: &Path) -> Command {
        let environment = procfs::process::Process::new(self.pid)
            .and_then(|p| p.environ())
            .unwrap_or_default();
        let mut command = Command::new(&self.nsenter);
        command
            .arg(format!("--target={}", self.pid))
            .args(["--mount", "--pid", "--"])
            .arg(program)
            .env_clear()
            .envs(environment);
        command
    }
}

/// The mount namespace of `pid` (`self` for this process), as /proc names it.
pub fn mount_namespace(pid: &str) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok()
}

/// Whether `pid` lives in another mount namespace than `ours` (this process's, read once
/// by the caller); unknown counts as the same.
pub fn separate_mounts(pid: i32, ours: Option<&Path>) -> bool {
    match (ours, mount_namespace(&pid.to_string())) {
        (Some(ours), Some(theirs)) => ours != theirs,
        _ => false,
    }
}
