//! Reaching into a training job's container. A job in a container sees its own mounts (and
//! one in a chroot its own root): its interpreter path (say `/opt/conda/bin/python`) is not
//! ours, and the same path here may be another Python altogether. The torch check then runs
//! inside the job's mount and PID namespaces and root (`nsenter`, argv only), with the job's
//! own environment (CUDA_VISIBLE_DEVICES, LD_LIBRARY_PATH), on the checkpoints the container
//! sees at the same paths.

use crate::ports::fs_meta::{same_file, under_root};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running job whose root is not ours: its container's mounts, or a chroot.
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
        "the training job runs in a container (or chroot) and `nsenter` (util-linux) is not installed: install util-linux, or run `snaprescue verify --torch` inside it"
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

    /// Where the job sees this very file (same device and inode): at the same path (a
    /// container's bind mount), or, in a chroot below this root, at the path inside it.
    pub fn path_seen(&self, ours: &Path) -> Option<PathBuf> {
        let root = PathBuf::from(format!("/proc/{}/root", self.pid));
        let chroot_path = chroot_of(self.pid).and_then(|chroot| as_seen_from(&chroot, ours));
        [Some(ours.to_path_buf()), chroot_path]
            .into_iter()
            .flatten()
            .find(|theirs| same_file(ours, &under_root(&root, theirs)))
    }

    /// A command running `program` (a path as the job sees it) in the job's mount and PID
    /// namespaces, root and working directory (a chroot's too), with the job's environment
    /// instead of ours.
    pub fn command(&self, program: &Path) -> Command {
        let environment = procfs::process::Process::new(self.pid)
            .and_then(|p| p.environ())
            .unwrap_or_default();
        let mut command = Command::new(&self.nsenter);
        command
            .arg(format!("--target={}", self.pid))
            .args(["--mount", "--pid", "--root", "--wd", "--"])
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

/// Whether `pid` sees the filesystem from another root than ours: another mount namespace
/// than `ours` (this process's, read once by the caller: a container), or a chroot.
/// Unknown counts as ours.
pub fn other_root(pid: i32, ours: Option<&Path>) -> bool {
    let other_mounts = match (ours, mount_namespace(&pid.to_string())) {
        (Some(ours), Some(theirs)) => ours != theirs,
        _ => false,
    };
    other_mounts || chroot_of(pid).is_some()
}

/// The root directory of `pid` as we name it, when it is not ours (a chroot).
pub fn chroot_of(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/root"))
        .ok()
        .filter(|root| root != Path::new("/"))
}

/// `path` (ours) as a process whose root is `root` (ours too: its chroot) names it, when it
/// lies below that root.
pub fn as_seen_from(root: &Path, path: &Path) -> Option<PathBuf> {
    if root == Path::new("/") {
        return None;
    }
    Some(Path::new("/").join(path.strip_prefix(root).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_below_a_chroot_is_named_from_inside_it() {
        let root = Path::new("/srv/jail");
        let seen = |p: &str| as_seen_from(root, Path::new(p));
        assert_eq!(
            seen("/srv/jail/data/a.pth"),
            Some(PathBuf::from("/data/a.pth"))
        );
        assert_eq!(seen("/srv/jail"), Some(PathBuf::from("/")));
        assert_eq!(
            seen("/srv/jailbreak/a.pth"),
            None,
            "components, not characters"
        );
        assert_eq!(seen("/data/a.pth"), None);
        assert_eq!(as_seen_from(Path::new("/"), Path::new("/data")), None);
    }
}
