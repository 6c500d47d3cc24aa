//! The torch check for a training job in a chroot (same mount namespace, another root): its
//! paths are names inside the chroot, so the check runs in there (nsenter --root) with the
//! job's environment, and loads the checkpoints the job sees under the names it knows them
//! by. The chroot is real: /usr and /etc bound read-only into a directory on a loop-mounted
//! ext4, with a stand-in torch and a checkpoint that exist only inside it.

mod common;
use common::*;
use snaprescue::engine::torch_check::{JobPython, torch_check, torch_check_job};
use snaprescue::ports::processes::{filesystem_devices, processes_using};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// A directory to chroot into: the system's /usr and /etc bound read-only, the usual links,
/// and the stand-in torch in /opt/site. The mounts go when the guards drop.
fn jail(root: &Path) -> Vec<Unmount> {
    let mut guards = Vec::new();
    for dir in ["usr", "etc"] {
        let inside = root.join(dir);
        std::fs::create_dir_all(&inside).unwrap();
        sh(
            "mount",
            &["--bind", &format!("/{dir}"), inside.to_str().unwrap()],
        );
        guards.push(Unmount(inside.clone()));
        sh(
            "mount",
            &["-o", "remount,bind,ro", inside.to_str().unwrap()],
        );
    }
    for link in ["bin", "lib", "lib64", "sbin"] {
        if let Ok(target) = std::fs::read_link(Path::new("/").join(link)) {
            std::os::unix::fs::symlink(target, root.join(link)).unwrap();
        }
    }
    let torch = root.join("opt/site/torch");
    std::fs::create_dir_all(&torch).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/stand-in-torch/torch/__init__.py"),
        torch.join("__init__.py"),
    )
    .unwrap();
    guards
}

#[test]
fn a_chrooted_jobs_torch_check_runs_in_its_root_with_its_environment() {
    if !privileged() || !Path::new(SYSTEM_PYTHON).exists() {
        return;
    }
    let fs = LoopFs::new("ext4", 64);
    let root = fs.path("jail");
    let _mounts = jail(&root);
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/checkpoints/good/epoch_10.pth");
    std::fs::create_dir(root.join("data")).unwrap();
    let inside = root.join("data/epoch_10.pth");
    std::fs::copy(&fixture, &inside).unwrap();
    let outside = fs.path("outside.pth");
    std::fs::copy(&fixture, &outside).unwrap();
    let kids = Children(vec![
        Command::new("chroot")
            .arg(&root)
            .args([SYSTEM_PYTHON, "-c", "import time; time.sleep(300)"])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("PYTHONPATH", "/opt/site")
            .env("CUDA_VISIBLE_DEVICES", "5")
            .spawn()
            .unwrap(),
    ]);
    let pid = kids.0[0].id() as i32;
    std::thread::sleep(Duration::from_millis(500));

    let (listed, _) = processes_using(&filesystem_devices(&fs.mount).unwrap());
    let job = listed
        .iter()
        .find(|p| p.pid == pid)
        .unwrap_or_else(|| panic!("the chrooted job is not listed: {listed:?}"));
    assert!(job.other_root, "{job:?}");
    assert_eq!(job.python.as_deref(), Some(Path::new(SYSTEM_PYTHON)));
    let python = JobPython::of(job).unwrap();
    assert_eq!(python.container, Some((pid, job.start_time)));

    let report = torch_check_job(
        &python,
        &[inside.clone(), outside.clone()],
        Duration::from_secs(60),
    );
    assert_eq!(report.diagnosis, None, "{report:?}");
    assert_eq!(report.facts.torch.as_deref(), Some("2.5.0+stand-in"));
    assert_eq!(
        report.facts.names,
        ["stand-in GPU 5"],
        "the job's environment"
    );
    let loads: Vec<(PathBuf, bool)> = report
        .facts
        .loads
        .iter()
        .map(|l| (l.path.clone(), l.ok))
        .collect();
    assert_eq!(loads, [(inside.clone(), true)], "named by our path");
    assert_eq!(report.not_loaded, [outside], "outside the chroot");
    assert_eq!(report.container_of, Some(pid));

    // The same interpreter path from our root is another Python, without that torch.
    let ours = torch_check(Path::new(SYSTEM_PYTHON), &[], Duration::from_secs(60));
    assert_ne!(ours.facts.torch.as_deref(), Some("2.5.0+stand-in"));

    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = json(
        state.path(),
        args!["verify", inside, "--torch", "--job", pid.to_string()],
    );
    assert_eq!(code, 0, "{err} {doc}");
    assert_eq!(doc["torch"]["container_of"], pid, "{doc}");
}
