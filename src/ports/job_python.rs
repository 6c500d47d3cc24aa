//! The Python a training job runs, as the job itself names it: the final `torch.cuda` check
//! must run in the job's own environment. `/proc/PID/exe` is not enough: a virtualenv's
//! `bin/python` is a symlink, so exe names the base interpreter, which lacks the venv's
//! packages (torch among them). Python finds its environment from how it was invoked
//! (`sys.executable`: argv[0], searched in PATH when it is a bare name), and so do we.

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
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
pub fn is_python(exe: &Path) -> bool {
    exe.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("python"))
}

/// The interpreter as the job invoked it, when that names the same file as its exe; else
/// None (then exe is the best there is).
pub fn invoked_interpreter(job: &Invocation) -> Option<PathBuf> {
    let same_file = |candidate: &Path| -> bool {
        let seen = job
            .root
            .join(candidate.strip_prefix("/").unwrap_or(candidate));
        match (std::fs::metadata(seen), std::fs::metadata(job.exe)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    };
    let argv0 = Path::new(job.argv0);
    if job.argv0.contains('/') {
        let absolute = if argv0.is_absolute() {
            argv0.to_path_buf()
        } else {
            job.cwd?.join(argv0)
        };
        return same_file(&absolute).then_some(absolute);
    }
    std::env::split_paths(job.path_var?)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(argv0))
        .find(|candidate| same_file(candidate))
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
