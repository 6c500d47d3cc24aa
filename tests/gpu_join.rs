//! Step 2 through the real binary where NVML cannot load (this machine has no driver) but
//! an `nvidia-smi` exists: a stand-in that answers like the real one
//! (tests/fixtures/fake-nvml/nvidia-smi: units unless told `nounits`, refusing unknown
//! queries) reports a real child process as a GPU job, and both `gpu` and `writers` show it,
//! the latter beside the job's writes to the disk.

mod common;
use common::*;
use std::process::Command;
use std::time::Duration;

/// Runs the binary with the stand-in first on PATH; its calls are logged to `state/smi.log`.
fn run(state: &std::path::Path, gpu_pid: u32, args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let smi = gpu_stand_ins::nvidia_smi_dir();
    let path = format!("{}:{}", smi.display(), std::env::var("PATH").unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_snaprescue"))
        .args(args)
        .arg("--json")
        .env("PATH", path)
        .env("SNAPRESCUE_STATE_DIR", state)
        .env("FAKE_NVML_PID", gpu_pid.to_string())
        .env("FAKE_SMI_LOG", state.join("smi.log"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_gpu_job_shows_its_gpu_memory_beside_its_writes_when_only_nvidia_smi_works() {
    if !privileged() || nvidia_driver_here() {
        return;
    }
    let fs = LoopFs::new("ext4", 32);
    let job = training_job(&fs.mount);
    let idle = Command::new("sleep")
        .arg("60")
        .current_dir(&fs.mount)
        .spawn()
        .unwrap();
    let (job_pid, idle_pid) = (job.id(), idle.id());
    let _children = Children(vec![job, idle]);
    std::thread::sleep(Duration::from_millis(300));
    let state = tempfile::tempdir().unwrap();

    let gpu = run(state.path(), job_pid, args!["gpu"]);
    assert_eq!(gpu["state"], "available", "{gpu}");
    assert!(
        gpu["via"]
            .as_str()
            .unwrap()
            .starts_with("nvidia-smi (NVML did not load"),
        "{gpu}"
    );
    let device = &gpu["devices"][0];
    assert_eq!(device["name"], "NVIDIA H200");
    assert_eq!(device["memory_total"], 143771u64 << 20);
    assert_eq!(device["processes"][0]["pid"], job_pid);

    let doc = run(
        state.path(),
        job_pid,
        args!["writers", &fs.mount, "--interval", "0.5"],
    );
    let listed =
        |pid: u32| process_in(&doc, pid).unwrap_or_else(|| panic!("{pid} not listed: {doc}"));
    let training = listed(job_pid);
    assert_eq!(training["gpu_memory"], 39012u64 << 20, "{training}");
    assert!(training["write_rate"].as_f64().unwrap() > 0.0, "{training}");
    assert_eq!(listed(idle_pid)["gpu_memory"], serde_json::Value::Null);
    assert_eq!(doc["gpu"]["state"], "available");
    let calls = std::fs::read_to_string(state.path().join("smi.log")).unwrap();
    assert!(
        calls
            .lines()
            .all(|l| l.contains("--format=csv,noheader,nounits")),
        "{calls}"
    );
}
