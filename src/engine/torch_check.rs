//! The `torch.cuda` check, run with the training job's own interpreter: torch version, CUDA
//! build, whether the GPU is usable, and optionally loading each restored checkpoint with
//! `weights_only=True`. Each way it can fail gets its own plain diagnosis.

use crate::ports::job_container::JobContainer;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = r#"
import json, sys
out = {"python": sys.version.split()[0]}
try:
    import torch
except Exception as e:
    out["import_error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out)); sys.exit(0)
out["torch"] = torch.__version__
out["cuda_build"] = torch.version.cuda
try:
    out["available"] = bool(torch.cuda.is_available())
    out["count"] = torch.cuda.device_count() if out["available"] else 0
    out["names"] = [torch.cuda.get_device_name(i) for i in range(out["count"])]
    if not out["available"] and torch.version.cuda:
        try:
            torch.cuda.init()
        except Exception as e:
            out["cuda_error"] = str(e)
except Exception as e:
    out["cuda_error"] = str(e)
loads = []
for p in sys.argv[1:]:
    try:
        if p.endswith(".safetensors"):
            from safetensors.torch import load_file
            load_file(p, device="cpu")
        else:
            torch.load(p, map_location="cpu", weights_only=True)
        loads.append({"path": p, "ok": True})
    except Exception as e:
        loads.append({"path": p, "ok": False, "error": f"{type(e).__name__}: {e}"[:300]})
out["loads"] = loads
print(json.dumps(out))
"#;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckpointLoad {
    pub path: PathBuf,
    pub ok: bool,
    #[serde(default)]
    pub error: Option<String>,
}

/// What the interpreter said, as it printed it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TorchFacts {
    #[serde(default)]
    pub python: Option<String>,
    #[serde(default)]
    pub import_error: Option<String>,
    #[serde(default)]
    pub torch: Option<String>,
    #[serde(default)]
    pub cuda_build: Option<String>,
    #[serde(default)]
    pub available: Option<bool>,
    #[serde(default)]
    pub count: u32,
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub cuda_error: Option<String>,
    #[serde(default)]
    pub loads: Vec<CheckpointLoad>,
}

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
    pub fn gpu_ok(&self) -> bool {
        self.diagnosis.is_none()
    }
}

/// The training job's interpreter, as the job names it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPython {
    pub path: PathBuf,
    /// The job (pid, start time) when it sees other mounts than ours (a container): the
    /// check then runs in its namespaces with its environment.
    pub container: Option<(i32, u64)>,
}

/// The job's interpreter when step 1 found one, else `--python`, else `python3`.
pub fn choose_python(flag: Option<&Path>, job: Option<&Path>) -> PathBuf {
    flag.or(job)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

fn diagnose(python: &Path, facts: &TorchFacts) -> Option<String> {
    let exe = python.display();
    if let Some(e) = &facts.import_error {
        return Some(format!(
            "torch is not installed for {exe} ({e}); run the check with the training job's own interpreter (--python) or install torch there"
        ));
    }
    let version = facts.torch.as_deref().unwrap_or("?");
    let Some(cuda) = &facts.cuda_build else {
        return Some(format!(
            "torch {version} is a CPU-only build: install a CUDA build of torch to train on the GPU"
        ));
    };
    if facts.available != Some(true) {
        let why = facts
            .cuda_error
            .clone()
            .unwrap_or_else(|| "no usable NVIDIA driver or device".into());
        return Some(format!(
            "torch {version} is built for CUDA {cuda} but cannot use the GPU ({why}); check that `nvidia-smi` works and that the driver supports CUDA {cuda}"
        ));
    }
    None
}

/// Runs the check with `python`, loading `checkpoints` too; gives up after `timeout`.
pub fn torch_check(python: &Path, checkpoints: &[PathBuf], timeout: Duration) -> TorchReport {
    run_check(Command::new(python), python, checkpoints, timeout)
}

/// Runs the check with the job's interpreter: inside its container when it runs in one,
/// loading the checkpoints that the container sees at the same paths.
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
    let (seen, not_loaded): (Vec<PathBuf>, Vec<PathBuf>) = checkpoints
        .iter()
        .cloned()
        .partition(|c| container.sees_same_file(c));
    let mut report = run_check(container.command(&job.path), &job.path, &seen, timeout);
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
                    "cannot run {} ({e}): pass --python with the training job's interpreter",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_own_diagnosis() {
        let py = Path::new("/env/bin/python");
        let cpu = TorchFacts {
            torch: Some("2.5.0+cpu".into()),
            available: Some(false),
            ..Default::default()
        };
        assert!(diagnose(py, &cpu).unwrap().contains("CPU-only build"));
        let mismatch = TorchFacts {
            torch: Some("2.5.0".into()),
            cuda_build: Some("12.4".into()),
            available: Some(false),
            cuda_error: Some(
                "The NVIDIA driver on your system is too old (found version 11040)".into(),
            ),
            ..Default::default()
        };
        let d = diagnose(py, &mismatch).unwrap();
        assert!(d.contains("CUDA 12.4") && d.contains("too old"), "{d}");
        let ok = TorchFacts {
            torch: Some("2.5.0".into()),
            cuda_build: Some("12.4".into()),
            available: Some(true),
            count: 1,
            ..Default::default()
        };
        assert_eq!(diagnose(py, &ok), None);
        assert_eq!(
            choose_python(None, Some(Path::new("/job/python"))),
            PathBuf::from("/job/python")
        );
        assert_eq!(
            choose_python(Some(Path::new("/flag")), Some(Path::new("/job"))),
            PathBuf::from("/flag")
        );
    }
}
