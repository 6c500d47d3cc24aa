//! The Python a training job runs, as the job itself names it: the final `torch.cuda` check
//! must run in the job's own environment. `/proc/PID/exe` is not enough: a virtualenv's
//! `bin/python` is a symlink, so exe names the base interpreter, which lacks the venv's
//! packages (torch among them). Python finds its environment from how it was invoked
//! (`sys.executable`: argv[0], searched in PATH when it is a bare name), and so do we.

use super::fs_meta::{same_file, under_root};
use super::job_container::{as_seen_from, chroot_of, mount_namespace, other_root};
use super::processes::ProcessUse;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// What is known of a process, with paths as the process sees them (its own root).
pub struct Invocation<'a> {
    pub argv0: &'a str,
    pub cwd: Option<&'a Path>,
    /// The process's PATH variable.
    pub path_var: Option<&'a OsStr>,
    /// Where the process's paths are seen from here: `/proc/PID/root`, or `/` in tests.
    pub root: &'a Path,
    /// `/proc/PID/exe`: what any candidate must be the same file as.
    pub exe: &'a Path,
}

/// Whether an executable's file name says it is a Python interpreter.
fn is_python(exe: &Path) -> bool {
    exe.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("python"))
}

/// The interpreter as the job invoked it, when that names the same file as its exe; else
/// None (then exe is the best there is).
pub fn invoked_interpreter(job: &Invocation) -> Option<PathBuf> {
    let is_exe = |candidate: &Path| same_file(&under_root(job.root, candidate), job.exe);
    let argv0 = Path::new(job.argv0);
    if job.argv0.contains('/') {
        let absolute = if argv0.is_absolute() {
            argv0.to_path_buf()
        } else {
            job.cwd?.join(argv0)
        };
        return is_exe(&absolute).then_some(absolute);
    }
    std::env::split_paths(job.path_var?)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(argv0))
        .find(|candidate| is_exe(candidate))
}

/// A Python process's interpreter as it invoked it, else its exe; None for other programs.
pub fn interpreter_of(
    process: &procfs::process::Process,
    exe: &Path,
    argv: &[String],
    environ: &HashMap<OsString, OsString>,
) -> Option<PathBuf> {
    if !is_python(exe) {
        return None;
    }
    let base = PathBuf::from(format!("/proc/{}", process.pid));
    // In a chroot, /proc names the cwd and exe from our root: name them from the job's.
    let chroot = chroot_of(process.pid);
    let inside = |path: PathBuf| {
        chroot
            .as_deref()
            .and_then(|root| as_seen_from(root, &path))
            .unwrap_or(path)
    };
    let cwd = process.cwd().ok().map(inside);
    let job = Invocation {
        argv0: argv.first().map(String::as_str).unwrap_or_default(),
        cwd: cwd.as_deref(),
        path_var: environ.get(OsStr::new("PATH")).map(OsString::as_os_str),
        root: &base.join("root"),
        exe: &base.join("exe"),
    };
    Some(invoked_interpreter(&job).unwrap_or_else(|| inside(exe.to_path_buf())))
}

/// The training job's interpreter, as the job names it, and where to run it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPython {
    pub path: PathBuf,
    /// The job (pid, start time) when it sees another root than ours (a container, a
    /// chroot): the check then runs in its namespaces and root with its environment.
    pub container: Option<(i32, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("no process {0} (it may have exited): give the PID of the running training job")]
    Missing(i32),
    #[error("process {0} cannot be inspected ({1}): run as root")]
    Unreadable(i32, String),
    #[error("process {pid} runs {exe}, not Python: give the training job's PID, or --python")]
    NotPython { pid: i32, exe: String },
}

impl JobPython {
    /// An interpreter of ours (`--python`), or `python3` from PATH.
    pub fn here(python: Option<&Path>) -> Self {
        JobPython {
            path: python.map_or_else(|| PathBuf::from("python3"), Path::to_path_buf),
            container: None,
        }
    }

    /// The interpreter of a Python process step 1 listed, if it is one.
    pub fn of(p: &ProcessUse) -> Option<Self> {
        Some(JobPython {
            path: p.python.clone()?,
            container: p.other_root.then_some((p.pid, p.start_time)),
        })
    }

    /// The interpreter of the running process `pid` (`verify --job`), which must be a
    /// Python.
    pub fn running(pid: i32) -> Result<Self, JobError> {
        use procfs::ProcError;
        let failed = |e: ProcError| match e {
            ProcError::NotFound(_) => JobError::Missing(pid),
            other => JobError::Unreadable(pid, other.to_string()),
        };
        let process = procfs::process::Process::new(pid).map_err(failed)?;
        let stat = process.stat().map_err(failed)?;
        let exe = process.exe().map_err(failed)?;
        let argv = process.cmdline().map_err(failed)?;
        let environ = process.environ().map_err(failed)?;
        let path =
            interpreter_of(&process, &exe, &argv, &environ).ok_or_else(|| JobError::NotPython {
                pid,
                exe: exe.display().to_string(),
            })?;
        let ours = mount_namespace("self");
        Ok(JobPython {
            path,
            container: other_root(pid, ours.as_deref()).then_some((pid, stat.starttime)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A venv as `python -m venv` makes it: bin/python a symlink to the base interpreter.
    fn venv(dir: &Path, base: &Path) -> PathBuf {
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        symlink(base, dir.join("bin/python")).unwrap();
        dir.join("bin/python")
    }

    #[test]
    fn without_a_job_the_flag_is_used_and_python3_is_the_last_resort() {
        let given = JobPython::here(Some(Path::new("/env/bin/python")));
        assert_eq!(given.path, PathBuf::from("/env/bin/python"));
        assert_eq!(given.container, None);
        assert_eq!(JobPython::here(None).path, PathBuf::from("python3"));
    }

    #[test]
    fn a_venv_python_is_named_by_its_venv_path_not_its_base_interpreter() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("usr/bin/python3.11");
        std::fs::create_dir_all(base.parent().unwrap()).unwrap();
        std::fs::write(&base, "").unwrap();
        let python = venv(&tmp.path().join("venv"), &base);
        let job = |argv0: &'static str, path_var: Option<&'static str>| Invocation {
            argv0,
            cwd: Some(Path::new("/venv")),
            path_var: path_var.map(OsStr::new),
            root: tmp.path(),
            exe: &base,
        };
        let in_root = Path::new("/venv/bin/python");
        assert!(python.exists());
        // Activated venv, started as `python train.py`.
        assert_eq!(
            invoked_interpreter(&job("python", Some("/nowhere:/venv/bin:/usr/bin"))).as_deref(),
            Some(in_root)
        );
        // Started by path, absolute or relative to its working directory.
        assert_eq!(
            invoked_interpreter(&job("/venv/bin/python", None)).as_deref(),
            Some(in_root)
        );
        assert_eq!(
            invoked_interpreter(&job("bin/python", None)).as_deref(),
            Some(Path::new("/venv/bin/python"))
        );
        // argv[0] rewritten by the program, or a PATH that does not lead to the exe.
        assert_eq!(invoked_interpreter(&job("trainer: epoch 3", None)), None);
        assert_eq!(invoked_interpreter(&job("python", Some("/nowhere"))), None);
        assert_eq!(invoked_interpreter(&job("python", None)), None);
    }
}
