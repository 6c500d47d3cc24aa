//! `snaprescue drill`: a real practice lab. A sparse image formatted btrfs and loop-mounted,
//! a fake training run with snapper-style snapshots, a writer process that keeps a
//! checkpoint open, then the deletion — and the wizard on it. `--clean` tears it all down,
//! also after a crash, touching only what the drill made.

use crate::drill_fixtures::{write_pth, write_safetensors};
use crate::ports::command::run;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An earlier run whose whole folder the drill's accident removes.
const OLD_RUN: &str = "data/experiments/checkpoints/run-20250405";
const RUN: &str = "data/experiments/resnet50-finetune";

/// Where the lab lives (`SNAPRESCUE_DRILL_DIR`, default `/var/tmp/snaprescue-drill`).
pub fn lab_dir() -> PathBuf {
    std::env::var_os("SNAPRESCUE_DRILL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/snaprescue-drill"))
}

#[derive(Debug, Serialize, Deserialize, Default)]
struct LabState {
    image: PathBuf,
    mount: PathBuf,
    loop_device: Option<String>,
    writer: Option<(i32, u64)>,
}

fn state_path() -> PathBuf {
    lab_dir().join("state.json")
}

fn save(state: &LabState) -> anyhow::Result<()> {
    std::fs::write(state_path(), serde_json::to_vec_pretty(state)?)?;
    Ok(())
}

fn snapper_snapshot(mount: &Path, number: u32, description: &str) -> anyhow::Result<()> {
    let dir = mount.join("data/.snapshots").join(number.to_string());
    std::fs::create_dir_all(&dir)?;
    run(
        "btrfs",
        &[
            Path::new("subvolume"),
            Path::new("snapshot"),
            Path::new("-r"),
            &mount.join("data"),
            &dir.join("snapshot"),
        ],
    )?;
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S");
    std::fs::write(
        dir.join("info.xml"),
        format!(
            "<?xml version=\"1.0\"?>\n<snapshot>\n  <type>single</type>\n  <num>{number}</num>\n  \
             <date>{date}</date>\n  <description>{description}</description>\n  <cleanup>timeline</cleanup>\n</snapshot>\n"
        ),
    )?;
    Ok(())
}

fn epoch(run_dir: &Path, n: u32) -> anyhow::Result<()> {
    let ckpt = run_dir.join("checkpoints");
    write_pth(&ckpt.join(format!("epoch_{n}.pth")), n, 256 * 1024)?;
    write_safetensors(
        &ckpt.join(format!("epoch_{n}.safetensors")),
        n + 1000,
        128 * 1024,
    )?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(run_dir.join("logs/train.log"))?;
    writeln!(
        log,
        "epoch {n}: loss {:.4} saved checkpoints/epoch_{n}.pth",
        2.0 / n as f64
    )?;
    Ok(())
}

/// Sets the lab up; returns the path the user lost (the checkpoints directory).
pub fn setup() -> anyhow::Result<PathBuf> {
    crate::drill_prereqs::ensure()?;
    if state_path().exists() {
        clean().context("cleaning the previous drill")?;
    }
    let lab = lab_dir();
    std::fs::create_dir_all(lab.join("mnt"))?;
    let mut state = LabState {
        image: lab.join("lab.img"),
        mount: lab.join("mnt"),
        ..Default::default()
    };
    save(&state)?;
    // The pane would be blank for seconds otherwise: say what is being made.
    eprintln!("drill: making a 512 MiB btrfs volume on a loop device…");
    std::fs::File::create(&state.image)?.set_len(512 << 20)?;
    run(
        "mkfs.btrfs",
        &[
            Path::new("-q"),
            Path::new("-L"),
            Path::new("snaprescue-drill"),
            &state.image,
        ],
    )?;
    let device = run(
        "losetup",
        &[Path::new("--find"), Path::new("--show"), &state.image],
    )?
    .trim()
    .to_string();
    state.loop_device = Some(device.clone());
    save(&state)?;
    nix::mount::mount(
        Some(device.as_str()),
        &state.mount,
        Some("btrfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .with_context(|| format!("mounting {device} on {}", state.mount.display()))?;
    let m = state.mount.clone();
    run(
        "btrfs",
        &[Path::new("subvolume"), Path::new("create"), &m.join("data")],
    )?;
    run(
        "btrfs",
        &[
            Path::new("subvolume"),
            Path::new("create"),
            &m.join("data/.snapshots"),
        ],
    )?;
    let run_dir = m.join(RUN);
    for sub in ["logs", "checkpoints"] {
        std::fs::create_dir_all(run_dir.join(sub))?;
    }
    std::fs::write(
        run_dir.join("train.py"),
        "import torch\n# fine-tune resnet50, save every 10 epochs\n",
    )?;
    eprintln!("drill: writing a training run and taking two snapper snapshots…");
    epoch(&run_dir, 10)?;
    // An earlier run, whose whole folder the accident below removes with rm -rf.
    let old_run = m.join(OLD_RUN);
    std::fs::create_dir_all(old_run.join("ckpt"))?;
    std::fs::copy(
        run_dir.join("checkpoints/epoch_10.pth"),
        old_run.join("ckpt/epoch_10.pth"),
    )?;
    std::fs::write(old_run.join("config.yaml"), "lr: 0.1\nepochs: 10\n")?;
    snapper_snapshot(&m, 1, "timeline: after epoch 10")?;
    std::thread::sleep(Duration::from_millis(1100));
    epoch(&run_dir, 20)?;
    snapper_snapshot(&m, 2, "daily-backup")?;
    std::thread::sleep(Duration::from_millis(1100));
    epoch(&run_dir, 30)?;
    eprintln!("drill: starting a writer, then the accident (find -delete, rm -rf)…");
    let exe = std::env::current_exe()?;
    let mut writer = std::process::Command::new(exe);
    writer
        .arg("drill-writer")
        .arg(&run_dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // Its own session: a process group of ours would be orphaned when the wizard exits, and
    // the kernel sends SIGHUP (then SIGCONT) to an orphaned group with a stopped member: the
    // frozen writer would die with the wizard.
    // SAFETY: the closure only calls setsid, which is async-signal-safe.
    unsafe {
        writer.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = writer.spawn()?;
    let pid = child.id() as i32;
    std::thread::sleep(Duration::from_millis(300));
    let start = procfs::process::Process::new(pid)?.stat()?.starttime;
    state.writer = Some((pid, start));
    save(&state)?;
    // The accident: find checkpoints -name "*.pth" -delete (and the safetensors too), and
    // rm -rf of a whole earlier run folder (the commonest case; its parent survives).
    for entry in std::fs::read_dir(run_dir.join("checkpoints"))? {
        std::fs::remove_file(entry?.path())?;
    }
    std::fs::remove_dir_all(&old_run)?;
    Ok(run_dir.join("checkpoints"))
}

/// Sets the lab up and, with `wizard`, opens the wizard on the deleted checkpoints.
pub fn run_drill(wizard: bool) -> anyhow::Result<()> {
    let lost = setup()?;
    eprintln!(
        "drill ready: btrfs lab at {}\n  two snapper snapshots; a writer process appends to logs and holds epoch_30.pth open;\n  the checkpoints in {} were just deleted,\n  and the whole folder {} was removed with rm -rf (try: snaprescue {} afterwards).\n  tear down with: snaprescue drill --clean",
        lab_dir().display(),
        lost.display(),
        lab_dir().join("mnt").join(OLD_RUN).display(),
        lab_dir().join("mnt").join(OLD_RUN).display()
    );
    if wizard {
        crate::runtime::run_wizard(&lost, None, None, Default::default())?;
    } else {
        // A reader that went away (`| head`) is not a failure of the drill.
        let _ = writeln!(std::io::stdout(), "{}", lost.display());
    }
    Ok(())
}

/// The writer: holds the newest checkpoint open and appends to the log every second.
pub fn writer(run_dir: &Path) -> anyhow::Result<()> {
    let _held = std::fs::File::open(run_dir.join("checkpoints/epoch_30.pth"))?;
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(run_dir.join("logs/train.log"))?;
    for step in 0u64.. {
        writeln!(log, "step {step}: loss {:.4}", 1.0 / (step + 2) as f64)?;
        log.sync_data()?;
        std::thread::sleep(Duration::from_secs(1));
    }
    Ok(())
}

/// Tears the lab down: writer ended (only the one we started), unmounted, loop detached,
/// image removed. Safe to run twice and after a crash.
pub fn clean() -> anyhow::Result<()> {
    let lab = lab_dir();
    let state: LabState = std::fs::read(state_path())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(LabState {
            image: lab.join("lab.img"),
            mount: lab.join("mnt"),
            ..Default::default()
        });
    if let Some((pid, start)) = state.writer {
        use crate::ports::signals::signal;
        use nix::sys::signal::Signal;
        let _ = signal(pid, start, Signal::SIGCONT);
        if signal(pid, start, Signal::SIGKILL).is_ok() {
            for _ in 0..50 {
                if crate::ports::processes::state_of(pid).is_none_or(|s| s == 'Z') {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    let mounted = |p: &Path| {
        crate::ports::mounts::MountTable::read()
            .map(|t| t.entries.iter().any(|e| e.mount_point == p))
            .unwrap_or(false)
    };
    let mount = std::fs::canonicalize(&state.mount).unwrap_or(state.mount.clone());
    // Copies the drill's runs harvested (its writer holds a deleted checkpoint) go too.
    let harvest_dir = Path::new(crate::wizard::DEFAULT_HARVEST_DIR);
    let harvested = crate::engine::harvest::remove_harvested_from(harvest_dir, &mount);
    if !harvested.is_empty() {
        let _ = std::fs::remove_dir(harvest_dir); // only when nothing else is in it
        eprintln!(
            "removed {} harvested cop{} of the drill's files from {}",
            harvested.len(),
            if harvested.len() == 1 { "y" } else { "ies" },
            harvest_dir.display()
        );
    }
    // The drill's pins go with its snapshots: nothing is left for `cleanup` to name.
    let pins = crate::engine::pin_journal::retire_under(&mount);
    if pins > 0 {
        eprintln!("forgot {pins} pin(s) of the drill's snapshots");
    }
    while mounted(&mount) {
        nix::mount::umount2(&mount, nix::mount::MntFlags::empty())
            .with_context(|| format!("unmounting {}", mount.display()))?;
    }
    if state.image.exists() {
        let attached = run("losetup", &[Path::new("-j"), &state.image]).unwrap_or_default();
        for line in attached.lines() {
            if let Some((device, _)) = line.split_once(':') {
                run("losetup", &["-d", device])?;
            }
        }
        std::fs::remove_file(&state.image)?;
    }
    let _ = std::fs::remove_dir(&state.mount);
    let _ = std::fs::remove_file(state_path());
    let _ = std::fs::remove_dir(&lab);
    eprintln!("drill cleaned up");
    Ok(())
}
