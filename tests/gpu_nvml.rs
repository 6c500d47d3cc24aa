//! The real NVML path (nvml-wrapper loading `libnvidia-ml.so.1`, our reading of its answers)
//! through the real binary, on a machine without a driver: tests/fixtures/fake-nvml is a
//! stand-in library, built here with `cc`, that answers like NVML on an H200 machine whose
//! second GPU fell off the bus, and can hang like a wedged driver. A real GPU machine runs
//! the same paths against the real library with scripts/gpu-check.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

/// A directory holding the stand-in `libnvidia-ml.so.1`, compiled from its source.
fn stand_in_library() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-nvml/fake_nvml.c");
    let built = Command::new("cc")
        .args(["-Wall", "-Werror", "-shared", "-fPIC", "-o"])
        .arg(dir.path().join("libnvidia-ml.so.1"))
        .arg(source)
        .status()
        .expect("cc (the C compiler Rust links with) builds the NVML stand-in");
    assert!(built.success());
    dir
}

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
