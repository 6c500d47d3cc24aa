//! The torch check for a training job that runs in a container: its interpreter path is
//! only valid inside the container's mounts, so the check runs there (nsenter into its
//! mount and PID namespaces) with the job's environment, and loads only the checkpoints the
//! container sees at the same path. The "container" is a real mount and PID namespace made
//! with `unshare`, holding a venv (with a stand-in torch) that does not exist outside it.

mod common;
use common::*;
use snaprescue::engine::torch_check::{JobPython, torch_check, torch_check_job};
use snaprescue::ports::processes::{filesystem_devices, processes_using};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// PID 1 of the container: hides `private` under a tmpfs, makes a venv there with the
/// stand-in torch (tests/fixtures/stand-in-torch), starts the job from it in `mount` with
/// its own environment, says ready.
const CONTAINER: &str = r#"
import os, shutil, subprocess, sys, time
private, mount, stand_in = sys.argv[1:4]
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", private], check=True)
venv = os.path.join(private, "venv")
subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
python = os.path.join(venv, "bin", "python")
site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                      capture_output=True, text=True, check=True).stdout.strip()
os.makedirs(os.path.join(site, "torch"))
shutil.copy(stand_in, os.path.join(site, "torch", "__init__.py"))
env = {"PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": "3"}
job = subprocess.Popen([python, "-c", "import time; time.sleep(300)"], cwd=mount, env=env)
print("ready", flush=True)
job.wait()
"#;

#[test]
fn a_containerised_jobs_torch_check_runs_in_its_container_with_its_environment() {
    if !privileged() {
        return;
    }
    let fs = LoopFs::new("ext4", 32);
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/checkpoints/good/epoch_10.pth");
    let shared = fs.path("epoch_10.pth");
    std::fs::copy(&fixture, &shared).unwrap();
    let private = tempfile::tempdir().unwrap();
    let hidden = private.path().join("epoch_10.pth");
    std::fs::copy(&fixture, &hidden).unwrap();

    let mut container = Command::new("unshare")
        .args(["--mount", "--pid", "--fork", "--mount-proc", "--kill-child"])
        .args(["python3", "-c", CONTAINER])
        .arg(private.path())
        .arg(&fs.mount)
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/stand-in-torch/torch/__init__.py"),
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufReader::new(container.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let _container = Children(vec![container]);
    assert_eq!(ready.trim(), "ready");

    let (processes, _) = processes_using(&filesystem_devices(&fs.mount).unwrap());
    let job = processes
        .iter()
        .find(|p| p.python.is_some() && p.command.contains("sleep(300)"))
        .unwrap_or_else(|| panic!("the job is not listed: {processes:?}"));
    assert!(job.other_root, "{job:?}");
    let python = job.python.clone().unwrap();
    assert_eq!(python, private.path().join("venv/bin/python"));
    assert!(
        !python.exists(),
        "the venv exists only inside the container"
    );

    // From here that interpreter cannot even be run.
    let here = torch_check(&python, &[], Duration::from_secs(30));
    assert!(here.diagnosis.unwrap().contains("cannot run"));

    let report = torch_check_job(
        &JobPython {
            path: python.clone(),
            container: Some((job.pid, job.start_time)),
        },
        &[shared.clone(), hidden.clone()],
        Duration::from_secs(60),
    );
    assert_eq!(report.diagnosis, None, "{report:?}");
    assert_eq!(report.container_of, Some(job.pid));
    assert_eq!(report.facts.torch.as_deref(), Some("2.5.0+stand-in"));
    // The job's own environment: its CUDA_VISIBLE_DEVICES, not ours.
    assert_eq!(report.facts.names, vec!["stand-in GPU 3".to_string()]);
    let loaded: Vec<(PathBuf, bool)> = report
        .facts
        .loads
        .iter()
        .map(|l| (l.path.clone(), l.ok))
        .collect();
    assert_eq!(loaded, vec![(shared.clone(), true)]);
    assert_eq!(report.not_loaded, vec![hidden]);

    // The same through the command: `verify --job PID`.
    let state = tempfile::tempdir().unwrap();
    let pid = job.pid.to_string();
    let (code, doc, err) = json(
        state.path(),
        args!["verify", &shared, "--torch", "--job", &pid],
    );
    assert_eq!(code, 0, "{err} {doc}");
    assert_eq!(doc["torch"]["container_of"], job.pid, "{doc}");
    assert_eq!(doc["torch"]["facts"]["names"][0], "stand-in GPU 3", "{doc}");
    assert_eq!(doc["torch"]["facts"]["loads"][0]["ok"], true, "{doc}");
    let me = std::process::id().to_string();
    let (code, doc, _) = json(state.path(), args!["verify", &shared, "--job", &me]);
    assert_eq!(code, 1);
    assert!(
        doc["error"].as_str().unwrap().contains("not Python"),
        "{doc}"
    );
    let (code, doc, _) = json(state.path(), args!["verify", &shared, "--job", "4194304"]);
    assert_eq!(code, 1);
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("no process 4194304"),
        "{doc}"
    );

    // A job that has gone is named, not checked with whatever lives at that path here.
    let gone = torch_check_job(
        &JobPython {
            path: python,
            container: Some((job.pid, job.start_time + 1)),
        },
        &[],
        Duration::from_secs(5),
    );
    assert!(
        gone.diagnosis.unwrap().contains("has exited"),
        "{:?}",
        gone.facts
    );
}
