//! Which processes use a filesystem (as `fuser -m` sees it), and what each does with it:
//! writes, deleted-but-open files, GPU device files, its Python and its root.

use super::job_python;
use serde::Serialize;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// How a process uses the filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Usage {
    Cwd,
    Root,
    Exe,
    Open { path: PathBuf, writing: bool },
    Mapped { path: PathBuf },
}

/// A file that was deleted while the process still holds it open: it can still be saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletedOpen {
    pub path: PathBuf,
    /// `/proc/PID/fd/N` or `/proc/PID/map_files/…` through which the data is readable.
    pub handle: PathBuf,
    pub size: u64,
}

/// One process touching the filesystem.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProcessUse {
    pub pid: i32,
    /// Start time in clock ticks since boot: identifies the process across PID reuse.
    pub start_time: u64,
    pub uid: u32,
    pub command: String,
    pub state: char,
    pub exe: Option<PathBuf>,
    pub usages: Vec<Usage>,
    pub deleted_open: Vec<DeletedOpen>,
    /// Cumulative bytes written to storage (`/proc/PID/io`), when readable.
    pub write_bytes: Option<u64>,
    pub ppid: i32,
    /// The cgroup path (cgroup v2, or the first v1 hierarchy).
    pub cgroup: Option<String>,
    /// Container runtime named by the cgroup (docker, containerd, kubepods, podman…).
    pub container: Option<String>,
    /// CONDA_PREFIX / VIRTUAL_ENV from the environment: where the job's Python lives.
    pub python_env: Vec<(String, String)>,
    /// For a Python process, its interpreter as it invoked it (its `sys.executable`, a
    /// venv's `bin/python` rather than the base interpreter exe points to), as the process
    /// sees its paths.
    pub python: Option<PathBuf>,
    /// It started snaprescue (an ancestor: a notebook kernel, a Python REPL). Listed only
    /// for the deleted-but-open files it holds, to harvest them; never signalled.
    pub launcher: bool,
    /// It sees the filesystem from another root than ours (a container's mounts, a chroot):
    /// its paths, `python` among them, are not ours.
    pub other_root: bool,
    /// NVIDIA GPU device files it holds open (`/dev/nvidia0`…): a GPU job, known without
    /// the driver's help, and inside a container where the driver's PIDs are the host's.
    pub gpu_files: Vec<PathBuf>,
}

impl ProcessUse {
    pub fn writes(&self) -> bool {
        self.usages
            .iter()
            .any(|u| matches!(u, Usage::Open { writing: true, .. }))
    }

    pub fn uses_gpu(&self) -> bool {
        !self.gpu_files.is_empty()
    }
}

/// Whether this process sees the host's PIDs: the initial PID namespace has a fixed inode
/// number (the kernel's PROC_PID_INIT_INO); a container's has another.
pub fn in_host_pid_namespace() -> bool {
    const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;
    std::fs::metadata("/proc/self/ns/pid").map_or(true, |m| m.ino() == PROC_PID_INIT_INO)
}

/// Whether an open file is an NVIDIA GPU: character major 195, minor 0–253 (254 and 255
/// are nvidia-modeset and nvidiactl, which monitors like nvidia-smi hold too).
fn is_gpu_file(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    const NVIDIA_MAJOR: u32 = 195;
    meta.file_type().is_char_device()
        && libc::major(meta.rdev()) == NVIDIA_MAJOR
        && libc::minor(meta.rdev()) < 254
}

/// Every process (other than this one and the other commands of its pipeline) with a cwd,
/// root, exe, open file or mapping on a device in `devices`. A process that started this
/// one (its shell, `sudo`, a notebook kernel) is listed only when it holds deleted-but-open
/// files there, marked `launcher`. Processes that vanish mid-scan are skipped; unreadable
/// ones are counted in the second value.
pub fn processes_using(devices: &HashSet<u64>) -> (Vec<ProcessUse>, usize) {
    let me = std::process::id() as i32;
    let own_mounts = super::job_container::mount_namespace("self");
    let ancestors = super::invocation::ancestors();
    let pipes = super::invocation::own_pipes();
    let mut found = Vec::new();
    let mut denied = 0;
    let Ok(all) = procfs::process::all_processes() else {
        return (found, denied);
    };
    for process in all.flatten() {
        if process.pid == me {
            continue;
        }
        let launcher = ancestors.contains(&process.pid);
        match inspect(&process, devices, own_mounts.as_deref()) {
            Ok(Some(usage)) if launcher => {
                if !usage.deleted_open.is_empty() {
                    found.push(ProcessUse { launcher, ..usage })
                }
            }
            Ok(Some(usage)) if !super::invocation::at_other_end(usage.pid, &pipes) => {
                found.push(usage)
            }
            Ok(_) => {}
            Err(procfs::ProcError::PermissionDenied(_)) => denied += 1,
            Err(_) => {}
        }
    }
    found.sort_by_key(|p| p.pid);
    (found, denied)
}

fn on_devices(path: &std::path::Path, devices: &HashSet<u64>) -> bool {
    std::fs::metadata(path)
        .map(|m| devices.contains(&m.dev()))
        .unwrap_or(false)
}

fn inspect(
    process: &procfs::process::Process,
    devices: &HashSet<u64>,
    own_mounts: Option<&Path>,
) -> procfs::ProcResult<Option<ProcessUse>> {
    // Kernel threads (PF_KTHREAD) have / as cwd and root but hold no user files, and
    // ignore SIGSTOP: listing them would bury the real writers of a root filesystem.
    if process.stat()?.flags & 0x0020_0000 != 0 {
        return Ok(None);
    }
    let base = PathBuf::from(format!("/proc/{}", process.pid));
    let mut usages = Vec::new();
    let mut deleted_open = Vec::new();
    let mut gpu_files = Vec::new();
    for (link, usage) in [
        ("cwd", Usage::Cwd),
        ("root", Usage::Root),
        ("exe", Usage::Exe),
    ] {
        if on_devices(&base.join(link), devices) {
            usages.push(usage);
        }
    }
    for fd in process.fd()?.flatten() {
        let procfs::process::FDTarget::Path(target) = &fd.target else {
            continue;
        };
        let handle = base.join("fd").join(fd.fd.to_string());
        let Ok(meta) = std::fs::metadata(&handle) else {
            continue;
        };
        if is_gpu_file(&meta) && !gpu_files.contains(target) {
            gpu_files.push(target.clone());
        }
        if !devices.contains(&meta.dev()) {
            continue;
        }
        let writing = fd_writing(process.pid, fd.fd);
        let text = target.to_string_lossy();
        if let Some(original) = text.strip_suffix(" (deleted)") {
            deleted_open.push(DeletedOpen {
                path: PathBuf::from(original),
                handle,
                size: meta.len(),
            });
        }
        usages.push(Usage::Open {
            path: target.clone(),
            writing,
        });
    }
    if let Ok(maps) = process.maps() {
        for map in maps {
            let procfs::process::MMapPath::Path(path) = &map.pathname else {
                continue;
            };
            let dev = libc::makedev(map.dev.0 as u32, map.dev.1 as u32);
            if !devices.contains(&dev)
                || usages
                    .iter()
                    .any(|u| matches!(u, Usage::Mapped { path: p } if p == path))
            {
                continue;
            }
            let text = path.to_string_lossy();
            if let Some(original) = text.strip_suffix(" (deleted)") {
                let handle = base
                    .join("map_files")
                    .join(format!("{:x}-{:x}", map.address.0, map.address.1));
                if !deleted_open.iter().any(|d| d.path == Path::new(original)) {
                    let size = std::fs::metadata(&handle).map(|m| m.len()).unwrap_or(0);
                    deleted_open.push(DeletedOpen {
                        path: PathBuf::from(original),
                        handle,
                        size,
                    });
                }
            }
            usages.push(Usage::Mapped { path: path.clone() });
        }
    }
    if usages.is_empty() {
        return Ok(None);
    }
    let stat = process.stat()?;
    let argv = process.cmdline().unwrap_or_default();
    let command = Some(argv.join(" "))
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| format!("[{}]", stat.comm));
    let cgroup = process
        .cgroups()
        .ok()
        .and_then(|c| c.0.into_iter().next())
        .map(|c| c.pathname);
    let environ = process.environ().unwrap_or_default();
    let python_env = ["CONDA_PREFIX", "VIRTUAL_ENV"]
        .iter()
        .filter_map(|k| {
            environ
                .get(std::ffi::OsStr::new(k))
                .map(|v| (k.to_string(), v.to_string_lossy().into_owned()))
        })
        .collect();
    let exe = process.exe().ok();
    let python = exe
        .as_deref()
        .and_then(|e| job_python::interpreter_of(process, e, &argv, &environ));
    Ok(Some(ProcessUse {
        ppid: stat.ppid,
        container: cgroup.as_deref().and_then(container_of),
        cgroup,
        python_env,
        python,
        other_root: super::job_container::other_root(process.pid, own_mounts),
        launcher: false,
        gpu_files,
        pid: process.pid,
        start_time: stat.starttime,
        uid: process.uid().unwrap_or(u32::MAX),
        command,
        state: stat.state,
        exe,
        usages,
        deleted_open,
        write_bytes: process.io().ok().map(|io| io.write_bytes),
    }))
}

/// The container runtime a cgroup path belongs to, if any.
pub fn container_of(cgroup: &str) -> Option<String> {
    ["docker", "containerd", "kubepods", "libpod", "lxc", "crio"]
        .iter()
        .find(|k| cgroup.contains(*k))
        .map(|k| k.to_string())
}

/// Whether fd was opened for writing (O_WRONLY or O_RDWR in fdinfo's octal flags).
pub(crate) fn fd_writing(pid: i32, fd: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        })
        .is_some_and(|flags| flags & 0o3 != 0)
}

/// Current state letter of a process (`T` when stopped), if it still exists.
/// When `pid` started (clock ticks since boot, `/proc/PID/stat` field 22): with the pid, it
/// names one process, so a pid reused since is never taken for it.
pub fn start_time(pid: i32) -> Option<u64> {
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .ok()
        .map(|s| s.starttime)
}

/// The process `pid` that started at `start` still exists.
pub fn alive(pid: i32, start: u64) -> bool {
    start_time(pid) == Some(start)
}

/// The process `pid` that started at `start` still exists and is stopped (state T).
pub fn stopped(pid: i32, start: u64) -> bool {
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .is_ok_and(|s| s.starttime == start && s.state == 'T')
}

pub fn state_of(pid: i32) -> Option<char> {
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .ok()
        .map(|s| s.state)
}

/// Device numbers that belong to the filesystem holding `path`: the path's own `st_dev`
/// (per subvolume on btrfs) and that of every mount of the same filesystem.
pub fn filesystem_devices(path: &std::path::Path) -> std::io::Result<HashSet<u64>> {
    let (anchor, _) = crate::ports::fs_meta::surviving_ancestor(path)?;
    let mut devices = HashSet::from([std::fs::metadata(&anchor)?.dev()]);
    if let Ok(table) = crate::ports::mounts::MountTable::read()
        && let Ok(mount) = table.holding(&anchor)
    {
        let majmin = mount.majmin.clone();
        for m in table.of_filesystem(&majmin) {
            if let Ok(meta) = std::fs::metadata(&m.mount_point) {
                devices.insert(meta.dev());
            }
        }
        // Containers: an overlay whose writable layer lives on this filesystem writes here.
        for overlay in table.entries.iter().filter(|e| e.fs_type == "overlay") {
            let on_this = overlay
                .upper_dir
                .as_ref()
                .and_then(|u| table.holding(u).ok())
                .is_some_and(|m| m.majmin == majmin);
            if on_this && let Ok(meta) = std::fs::metadata(&overlay.mount_point) {
                devices.insert(meta.dev());
            }
        }
        if let Some((major, minor)) = majmin.split_once(':')
            && let (Ok(a), Ok(b)) = (major.parse(), minor.parse())
        {
            devices.insert(libc::makedev(a, b));
        }
    }
    Ok(devices)
}

/// A command line for people: argv[0] without its directory (`/opt/conda/bin/python3
/// train.py` → `python3 train.py`), control characters escaped.
pub fn program_name(command: &str) -> String {
    let (program, rest) = command.split_once(' ').unwrap_or((command, ""));
    let base = program.rsplit('/').next().unwrap_or(program);
    let line = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base} {rest}")
    };
    crate::engine::shown(std::path::Path::new(&line))
}

#[cfg(test)]
mod program_name_tests {
    #[test]
    fn the_directory_of_the_program_is_dropped() {
        assert_eq!(
            super::program_name("/opt/conda/bin/python3 train.py --lr 0.1"),
            "python3 train.py --lr 0.1"
        );
        assert_eq!(super::program_name("sleep"), "sleep");
        assert_eq!(
            super::program_name("/x/snaprescue drill-writer /tmp/a/b"),
            "snaprescue drill-writer /tmp/a/b"
        );
    }
}
