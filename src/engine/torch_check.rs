//! The `torch.cuda` check, run with the training job's own interpreter (inside its
//! container when it runs in one), with a timeout; torch_probe says what is asked and what
//! the answers mean.

pub use super::torch_probe::{CheckpointLoad, TorchFacts};
use super::torch_probe::{SCRIPT, diagnose};
use crate::ports::job_container::JobContainer;
pub use crate::ports::job_python::JobPython;
use serde::Serialize;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TorchReport {
    pub interpreter: PathBuf,
    /// The job whose container the check ran in, when it runs in one.
    pub container_of: Option<i32>,
    /// Checkpoints torch did not load: the job's container does not see them at that path.
    pub not_loaded: Vec<PathBuf>,
    pub facts: TorchFacts,
    /// None when torch works with CUDA; else what is wrong and what to do.
    pub diagnosis: Option<String>,
    pub elapsed_ms: u128,
}

impl TorchReport {
    /// The interpreter, and the container it ran in when it did.
    pub fn place(&self) -> String {
        match self.container_of {
            Some(pid) => format!(
                "{} in the container of pid {pid}",
                self.interpreter.display()
            ),
            None => self.interpreter.display().to_string(),
        }
    }

    pub fn gpu_ok(&self) -> bool {
        self.diagnosis.is_none()
    }
}

/// Runs the check with `python`, loading `checkpoints` too; gives up after `timeout`.
pub fn torch_check(python: &Path, checkpoints: &[PathBuf], timeout: Duration) -> TorchReport {
    run_check(Command::new(python), python, checkpoints, timeout)
}

/// Runs the check with the job's interpreter: inside its container (or chroot) when it runs
/// in one, loading the checkpoints the job sees, under the paths it knows them by; the
/// report names them by ours.
pub fn torch_check_job(job: &JobPython, checkpoints: &[PathBuf], timeout: Duration) -> TorchReport {
    let Some((pid, start_time)) = job.container else {
        return torch_check(&job.path, checkpoints, timeout);
    };
    let container = match JobContainer::of(pid, start_time) {
        Ok(c) => c,
        Err(e) => {
            return TorchReport {
                interpreter: job.path.clone(),
                container_of: Some(pid),
                not_loaded: checkpoints.to_vec(),
                facts: TorchFacts::default(),
                diagnosis: Some(e.to_string()),
                elapsed_ms: 0,
            };
        }
    };
    // (ours, as the job names it) for each checkpoint the job sees.
    let mut seen: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut not_loaded = Vec::new();
    for ours in checkpoints {
        match container.path_seen(ours) {
            Some(theirs) => seen.push((ours.clone(), theirs)),
            None => not_loaded.push(ours.clone()),
        }
    }
    let theirs: Vec<PathBuf> = seen.iter().map(|(_, t)| t.clone()).collect();
    let mut report = run_check(container.command(&job.path), &job.path, &theirs, timeout);
    for load in &mut report.facts.loads {
        if let Some((ours, _)) = seen.iter().find(|(_, t)| *t == load.path) {
            load.path = ours.clone();
        }
    }
    report.container_of = Some(container.pid());
    report.not_loaded = not_loaded;
    report
}

/// Runs `command` (an interpreter, maybe behind nsenter) on the check script.
fn run_check(
    mut command: Command,
    python: &Path,
    checkpoints: &[PathBuf],
    timeout: Duration,
) -> TorchReport {
    let started = Instant::now();
    let report = |facts: TorchFacts, diagnosis: Option<String>| TorchReport {
        interpreter: python.to_path_buf(),
        container_of: None,
        not_loaded: Vec::new(),
        facts,
        diagnosis,
        elapsed_ms: started.elapsed().as_millis(),
    };
    command
        .arg("-c")
        .arg(SCRIPT)
        .args(checkpoints)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a timeout ends nsenter's child too.
        .process_group(0);
    let mut spawn = || command.spawn();
    // ETXTBSY: the interpreter file is still open for writing somewhere (a script just
    // written while another thread forked); it clears in moments.
    let mut child = spawn();
    for _ in 0..20 {
        match &child {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(Duration::from_millis(50));
                child = spawn();
            }
            _ => break,
        }
    }
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return report(
                TorchFacts::default(),
                Some(format!(
                    "cannot run {} ({e}): check with the training job's own interpreter",
                    python.display()
                )),
            );
        }
    };
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let (mut out, mut err) = (String::new(), String::new());
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_string(&mut out);
        }
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_string(&mut err);
        }
        (out, err)
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(50))
            }
            _ => {
                let group = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                break None;
            }
        }
    };
    let (out, err) = reader.join().unwrap_or_default();
    if status.is_none() {
        return report(
            TorchFacts::default(),
            Some(format!(
                "{} did not answer within {} s: CUDA initialisation may be hanging; check `nvidia-smi` and `dmesg` for GPU errors (Xid)",
                python.display(),
                timeout.as_secs()
            )),
        );
    }
    match out
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<TorchFacts>(l).ok())
    {
        Some(facts) => {
            let diagnosis = diagnose(python, &facts);
            report(facts, diagnosis)
        }
        None => {
            let tail: String = err
                .lines()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join(" | ");
            report(
                TorchFacts::default(),
                Some(format!(
                    "{} failed without an answer: {tail}",
                    python.display()
                )),
            )
        }
    }
}
