//! The real NVML path (nvml-wrapper loading `libnvidia-ml.so.1`, our reading of its answers)
//! through the real binary, on a machine without a driver: tests/fixtures/fake-nvml is a
//! stand-in library, built here with `cc`, that answers like NVML on an H200 machine whose
//! second GPU fell off the bus, and can hang like a wedged driver. A real GPU machine runs
//! the same paths against the real library with scripts/gpu-check.

mod common;
use common::gpu_stand_ins::{nvidia_node, stand_in_library};
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

/// Runs the binary with the stand-in library on the loader's path.
fn run(
    library: &Path,
    env: &[(&str, &str)],
    args: &[&std::ffi::OsStr],
) -> (Option<i32>, String, String) {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_snaprescue"))
        .args(args)
        .env("LD_LIBRARY_PATH", library)
        .env("SNAPRESCUE_STATE_DIR", state.path())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn nvml_devices_processes_and_a_lost_gpu_are_read_through_the_library() {
    if nvidia_driver_here() {
        return; // the real library would be found first
    }
    let library = stand_in_library();
    let (code, out, err) = run(
        library.path(),
        &[("FAKE_NVML_PID", "4242")],
        args!["gpu", "--json"],
    );
    assert_eq!(code, Some(0), "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["state"], "available", "{doc}");
    assert_eq!(doc["via"], "NVML");
    assert_eq!(doc["driver"], "550.54.15");
    let gpu = &doc["devices"][0];
    assert_eq!(gpu["name"], "NVIDIA H200");
    assert_eq!(gpu["uuid"], "GPU-5f3a1c2e-0000-1111-2222-333344445555");
    assert_eq!(gpu["memory_total"], 143771 * MIB);
    assert_eq!(gpu["memory_used"], 40321 * MIB);
    assert_eq!(gpu["utilization_percent"], 97);
    assert_eq!(gpu["temperature_c"], 61);
    assert_eq!(gpu["power_watts"], 512.34);
    assert_eq!(gpu["processes"][0]["pid"], 4242);
    assert_eq!(gpu["processes"][0]["used_memory"], 39012 * MIB);
    assert_eq!(gpu["processes"][0]["kind"], "compute");
    assert_eq!(gpu["error"], Value::Null);
    // The lost GPU is one line beside the working one, not a failure of the whole step.
    let lost = &doc["devices"][1];
    assert!(
        lost["error"].as_str().unwrap().contains("fell off the bus"),
        "{doc}"
    );
    let (code, human, _) = run(library.path(), &[], args!["gpu"]);
    assert_eq!(code, Some(0));
    assert!(human.contains("GPU 0 NVIDIA H200"), "{human}");
    assert!(human.contains("GPU 1: device 1 unreadable"), "{human}");
}

#[test]
fn writers_shows_a_training_job_with_its_nvml_gpu_memory_and_its_writes() {
    if !privileged() || nvidia_driver_here() {
        return;
    }
    let library = stand_in_library();
    let fs = LoopFs::new("ext4", 32);
    let job = training_job(&fs.mount);
    let pid = job.id();
    let _children = Children(vec![job]);
    std::thread::sleep(Duration::from_millis(300));
    let (code, out, err) = run(
        library.path(),
        &[("FAKE_NVML_PID", &pid.to_string())],
        args!["writers", &fs.mount, "--interval", "0.5", "--json"],
    );
    assert_eq!(code, Some(0), "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let training = process_in(&doc, pid).unwrap_or_else(|| panic!("job {pid} not listed: {doc}"));
    assert_eq!(training["gpu_memory"], 39012 * MIB, "{training}");
    assert!(training["write_rate"].as_f64().unwrap() > 0.0, "{training}");
    assert_eq!(doc["gpu"]["via"], "NVML");
    assert_eq!(doc["gpu"]["pids"], "ours", "the host's PID namespace");
}

#[test]
fn a_wedged_driver_is_a_one_line_reason_not_a_hang() {
    if nvidia_driver_here() {
        return;
    }
    let library = stand_in_library();
    let started = Instant::now();
    let (code, out, err) = run(
        library.path(),
        &[("FAKE_NVML_HANG", "1")],
        args!["gpu", "--json"],
    );
    assert_eq!(code, Some(0), "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["state"], "unavailable");
    assert!(
        doc["reason"]
            .as_str()
            .unwrap()
            .contains("did not answer within 10 s"),
        "{doc}"
    );
    assert!(started.elapsed() < Duration::from_secs(60), "it gave up");
}

/// A job that holds GPU device files (O_PATH: there is no driver to open them for real) and
/// appends to `train.log` in its working directory, as a CUDA training job does.
const GPU_JOB: &str = r#"
import os, sys, time
held = [os.open(node, os.O_PATH) for node in sys.argv[1:]]
with open("train.log", "ab") as log:
    while True:
        log.write(b"x" * 65536); log.flush(); time.sleep(0.05)
"#;

#[test]
fn a_process_holding_a_gpu_device_file_is_a_gpu_job_even_without_a_driver() {
    if !privileged() || nvidia_driver_here() {
        return;
    }
    let fs = LoopFs::new("ext4", 32);
    let nodes = tempfile::tempdir().unwrap();
    let gpu = nvidia_node(nodes.path(), "nvidia3", 3);
    let control = nvidia_node(nodes.path(), "nvidiactl", 255);
    let job = Command::new("python3")
        .args(["-c", GPU_JOB])
        .args([&gpu, &control])
        .current_dir(&fs.mount)
        .spawn()
        .unwrap();
    let pid = job.id();
    let _children = Children(vec![job]);
    std::thread::sleep(Duration::from_millis(500));
    let no_library = tempfile::tempdir().unwrap();
    let (code, out, err) = run(
        no_library.path(),
        &[],
        args!["writers", &fs.mount, "--interval", "0.3", "--json"],
    );
    assert_eq!(code, Some(0), "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["gpu"]["state"], "unavailable", "{doc}");
    let p = process_in(&doc, pid).unwrap_or_else(|| panic!("job {pid} not listed: {doc}"));
    // The GPU, not the control file every NVML client (nvidia-smi too) holds.
    assert_eq!(p["gpu_files"], serde_json::json!([gpu]), "{p}");
    assert_eq!(p["gpu_memory"], Value::Null);
    let (_, human, _) = run(no_library.path(), &[], args!["writers", &fs.mount]);
    let line = human
        .lines()
        .find(|l| l.trim_start().starts_with(&pid.to_string()))
        .unwrap_or_else(|| panic!("{human}"));
    assert!(line.contains("GPU in use"), "{line}");
}

/// In a container (its own PID namespace) the driver still reports host PIDs. Here the
/// driver's PID equals the job's PID inside the namespace, as a host PID may by chance:
/// joining by PID would give the job another process's GPU memory. It is known as a GPU
/// job by its device file instead, and both commands say why memory is not shown.
#[test]
fn in_a_container_the_drivers_host_pids_are_not_joined_by_number() {
    if !privileged() || nvidia_driver_here() {
        return;
    }
    let library = stand_in_library();
    let fs = LoopFs::new("ext4", 32);
    let nodes = tempfile::tempdir().unwrap();
    let gpu = nvidia_node(nodes.path(), "nvidia0", 0);
    // PID 1 of the new namespace starts the job, then asks snaprescue with the driver
    // reporting the job's (namespace) PID; its exit ends every process in the namespace.
    let container = r#"
import os, subprocess, sys, time
gpu_job, node, mount, binary = sys.argv[1:5]
job = subprocess.Popen([sys.executable, "-c", gpu_job, node], cwd=mount)
time.sleep(0.5)
env = dict(os.environ, FAKE_NVML_PID=str(job.pid))
print(job.pid)
for args in (["writers", mount, "--interval", "0.3", "--json"], ["gpu"]):
    print(subprocess.run([binary, *args], env=env, capture_output=True, text=True).stdout)
    print("--")
job.kill()
"#;
    let state = tempfile::tempdir().unwrap();
    let out = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "python3",
            "-c",
            container,
            GPU_JOB,
        ])
        .arg(&gpu)
        .arg(&fs.mount)
        .arg(env!("CARGO_BIN_EXE_snaprescue"))
        .env("LD_LIBRARY_PATH", library.path())
        .env("SNAPRESCUE_STATE_DIR", state.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut parts = text.split("\n--\n");
    let (pid, writers) = parts.next().unwrap().split_once('\n').unwrap();
    let doc: Value = serde_json::from_str(writers).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(doc["gpu"]["via"], "NVML", "{doc}");
    assert_eq!(doc["gpu"]["pids"], "host", "{doc}");
    let p = process_in(&doc, pid.trim().parse().unwrap()).unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(
        p["gpu_memory"],
        Value::Null,
        "joined a host PID by number: {p}"
    );
    assert_eq!(p["gpu_files"], serde_json::json!([gpu]), "{p}");
    assert!(p["write_rate"].as_f64().unwrap() > 0.0, "{p}");
    let gpu_text = parts.next().unwrap();
    assert!(
        gpu_text.contains("the driver reports host PIDs"),
        "{gpu_text}"
    );
}

/// On a GPU split into MIG instances the parent handle lists a process without its
/// memory; the instance it runs on knows it. The memory shown is the instance's.
#[test]
fn on_a_mig_gpu_memory_comes_from_the_instance_the_process_runs_on() {
    if nvidia_driver_here() {
        return;
    }
    let library = stand_in_library();
    let (code, out, err) = run(
        library.path(),
        &[("FAKE_NVML_MIG", "1"), ("FAKE_NVML_PID", "4242")],
        args!["gpu", "--json"],
    );
    assert_eq!(code, Some(0), "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        doc["devices"][0]["processes"],
        serde_json::json!([{
            "pid": 4242,
            "used_memory": 9000 * MIB,
            "kind": "compute",
            "mig_instance": 2
        }]),
        "{doc}"
    );
}
