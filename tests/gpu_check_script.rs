//! scripts/gpu-check is what runs on a machine with an NVIDIA GPU, and only there: a mistake
//! in it (a renamed JSON field, a check that cannot fail, a wrong exit status) would show
//! first on that machine. Here it runs against the driver stand-ins instead: the NVML
//! library and `nvidia-smi` of tests/fixtures/fake-nvml, a device node like /dev/nvidia0,
//! and the stand-in torch, whose first "CUDA" allocation holds the node and registers the
//! process with the stand-in driver, as a CUDA context does.

mod common;
use common::gpu_stand_ins::{nvidia_node, nvidia_smi_dir, stand_in_library};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const MIB: u64 = 1 << 20;

/// A machine with the stand-in driver: the library, and a directory holding the device node
/// and, once a job allocates on the GPU, its pid.
struct StandInDriver {
    library: tempfile::TempDir,
    driver: tempfile::TempDir,
    node: PathBuf,
}

impl StandInDriver {
    fn new() -> Self {
        let driver = tempfile::tempdir().unwrap();
        let node = nvidia_node(driver.path(), "nvidia0", 0);
        StandInDriver {
            library: stand_in_library(),
            driver,
            node,
        }
    }

    /// The pid the job registered with the driver, if one did.
    fn registered(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.driver.path().join("pid")).ok()?;
        text.trim().parse().ok()
    }

    /// Runs scripts/gpu-check; its exit status and stdout + stderr.
    fn gpu_check(&self, env: &[(&str, &str)]) -> (Option<i32>, String) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let state = tempfile::tempdir().unwrap();
        let path = format!(
            "{}:{}",
            nvidia_smi_dir().display(),
            std::env::var("PATH").unwrap()
        );
        let out = Command::new("bash")
            .arg(root.join("scripts/gpu-check"))
            .env("SNAPRESCUE_BIN", env!("CARGO_BIN_EXE_snaprescue"))
            .env("SNAPRESCUE_STATE_DIR", state.path())
            .env("PYTHON", "python3")
            .env("PYTHONPATH", root.join("tests/fixtures/stand-in-torch"))
            .env("LD_LIBRARY_PATH", self.library.path())
            .env("PATH", path)
            .env("STAND_IN_TORCH_DRIVER", self.driver.path())
            .env("FAKE_NVML_PID_FILE", self.driver.path().join("pid"))
            .env("GPU_CHECK_CUDA_START_S", "1")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    }
}

/// The line gpu-check prints about the CUDA job.
fn job_line(out: &str) -> &str {
    out.lines()
        .find(|l| l.starts_with("job "))
        .unwrap_or_else(|| panic!("no line about the CUDA job:\n{out}"))
}

#[test]
fn gpu_check_passes_on_a_machine_whose_driver_sees_the_job() {
    if !privileged() || nvidia_driver_here() {
        return;
    }
    let machine = StandInDriver::new();
    let (code, out) = machine.gpu_check(&[]);
    assert_eq!(code, Some(0), "{out}");
    // The lost GPU is reported, and not counted against nvidia-smi, which cannot read it.
    assert!(out.contains("NVML: GPU 1: "), "{out}");
    assert!(
        out.contains("NVML devices: 1 readable of 2, nvidia-smi devices: 1"),
        "{out}"
    );
    let job = machine.registered().expect("the CUDA job registered");
    let line = job_line(&out);
    assert!(line.starts_with(&format!("job {job}: ")), "{line}");
    let memory = if snaprescue::ports::processes::in_host_pid_namespace() {
        (39012 * MIB).to_string()
    } else {
        "None".to_string() // the driver's PIDs are the host's: not joined
    };
    assert!(line.contains(&format!("gpu_memory={memory} ")), "{line}");
    assert!(
        line.contains(&format!("gpu_files=['{}']", machine.node.display())),
        "{line}"
    );
    assert!(!line.contains("write_rate=0"), "{line}");
    // Both torch checks ran, the first in the job's own environment.
    assert!(out.contains("verify --job"), "{out}");
    assert_eq!(
        out.matches("stand-in GPU").count(),
        2,
        "two torch checks saw the GPU:\n{out}"
    );
    // The stand-in has no safetensors: those files are said to be unloaded, not broken,
    // and the legacy and zip checkpoints load.
    assert!(
        out.contains("not loaded by torch (safetensors is not installed for this interpreter)"),
        "{out}"
    );
    assert!(!out.contains("FAIL"), "{out}");
    // The job was ended.
    assert!(!Path::new(&format!("/proc/{job}/fd")).exists(), "{out}");
}

#[test]
fn gpu_check_fails_when_the_job_is_not_seen_on_the_gpu() {
    if !privileged() || nvidia_driver_here() {
        return;
    }
    let machine = StandInDriver::new();
    // A torch whose allocations never reach the driver: no device file, no NVML entry.
    let (code, out) = machine.gpu_check(&[("STAND_IN_TORCH_DRIVER", "")]);
    assert_eq!(code, Some(1), "{out}");
    let line = job_line(&out);
    assert!(line.contains("gpu_memory=None gpu_files=[]"), "{line}");
    assert!(!out.contains("verify --job"), "stopped at the join:\n{out}");
}

#[test]
fn gpu_check_fails_when_nvml_and_nvidia_smi_disagree() {
    if !privileged() || nvidia_driver_here() {
        return;
    }
    let machine = StandInDriver::new();
    let (code, out) = machine.gpu_check(&[("FAKE_SMI_GPUS", "2")]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("NVML devices: 1 readable of 2, nvidia-smi devices: 2"),
        "{out}"
    );
    assert!(!out.contains("a CUDA job"), "stopped at the count:\n{out}");
}
