//! Shared test fixtures: loop-mounted filesystems the test creates (and always removes),
//! the binary under test, and the rule that privileged tests may not skip in CI.
#![allow(dead_code)]

pub mod aws_cloud;
pub mod cbs_lab;
pub mod disk_harness;
pub mod ecs_rescue_lab;
pub mod ecs_rollback_lab;
pub mod ecs_stand_in;
pub mod gpu_stand_ins;
pub mod moto;
pub mod screen_models;
pub mod screen_states;
pub mod svg;
pub mod wizard;
pub mod zfs_lab;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Children of a test, killed by PID on drop, also when an assertion fails (SIGKILL ends
/// frozen ones too).
pub struct Children(pub Vec<std::process::Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A mount the test made, detached (lazily) on drop, also when an assertion fails.
pub struct Unmount(pub PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// The process `pid` in the JSON of `writers`, if it is listed.
pub fn process_in(doc: &serde_json::Value, pid: u32) -> Option<&serde_json::Value> {
    doc["processes"]
        .as_array()?
        .iter()
        .find(|p| p["pid"] == pid)
}

/// A training job's stand-in: appends 64 KiB to `dir/train.log` every 50 ms.
pub fn training_job(dir: &Path) -> std::process::Child {
    Command::new("sh")
        .args([
            "-c",
            "exec 4>>train.log; while true; do head -c 65536 /dev/zero >&4; sleep 0.05; done",
        ])
        .current_dir(dir)
        .spawn()
        .unwrap()
}

/// Whether this machine has a real NVIDIA driver (then NVML loads for real and the GPU
/// stand-ins are not used; scripts/gpu-check covers that machine).
pub fn nvidia_driver_here() -> bool {
    Path::new("/dev/nvidiactl").exists()
}

/// The port a test server we started announces on its first line of stdout. The server
/// binds port 0 itself: a port chosen here and bound there later could be taken meanwhile
/// by another test's server. The rest of its stdout is drained.
pub fn announced_port(child: &mut std::process::Child, what: &str) -> u16 {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("the server's stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let line = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} did not start within 60 s"));
    line.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{what} did not start (its first line: {line:?}; see its log)"))
}

/// True when the test may touch loop devices. Without root it skips, unless
/// `SNAPRESCUE_REQUIRE_PRIVILEGED` is set (scripts/test sets it when run as root), where a
/// skip would hide a failure.
pub fn privileged() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var_os("SNAPRESCUE_REQUIRE_PRIVILEGED").is_some() {
        panic!("privileged test cannot run: not root, but SNAPRESCUE_REQUIRE_PRIVILEGED is set");
    }
    eprintln!("skipped: needs root for loop devices");
    false
}

pub fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A filesystem on a loop device backed by a sparse image in a private temp dir.
pub struct LoopFs {
    pub dir: tempfile::TempDir,
    pub image: PathBuf,
    pub device: String,
    pub mount: PathBuf,
    mounted: bool,
}

impl LoopFs {
    pub fn new(fs_type: &str, size_mib: u64) -> Self {
        Self::with_options(fs_type, size_mib, "")
    }

    pub fn with_options(fs_type: &str, size_mib: u64, options: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("snaprescue-test-")
            .tempdir()
            .unwrap();
        let image = dir.path().join("fs.img");
        std::fs::File::create(&image)
            .unwrap()
            .set_len(size_mib << 20)
            .unwrap();
        let mkfs = format!("mkfs.{fs_type}");
        let quiet: &[&str] = match fs_type {
            "ext4" => &["-q", "-F"],
            "xfs" => &["-q", "-f"],
            _ => &["-q"],
        };
        let mut args: Vec<&str> = quiet.to_vec();
        let image_str = image.to_str().unwrap().to_string();
        args.push(&image_str);
        sh(&mkfs, &args);
        let device = sh("losetup", &["--find", "--show", &image_str])
            .trim()
            .to_string();
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).unwrap();
        let mut fs = LoopFs {
            dir,
            image,
            device,
            mount,
            mounted: false,
        };
        fs.mount_with(options);
        fs
    }

    pub fn mount_with(&mut self, options: &str) {
        let mut args = vec![self.device.as_str(), self.mount.to_str().unwrap()];
        if !options.is_empty() {
            args.splice(0..0, ["-o", options]);
        }
        sh("mount", &args);
        self.mounted = true;
    }

    pub fn unmount(&mut self) {
        if self.mounted {
            let _ = nix::mount::umount2(&self.mount, nix::mount::MntFlags::empty())
                .or_else(|_| nix::mount::umount2(&self.mount, nix::mount::MntFlags::MNT_DETACH));
            self.mounted = false;
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.mount.join(rel)
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        self.unmount();
        // Detach by image, not by the device name: a test that stood the device in for a
        // cloud volume may have seen it detached, and the name reused by another test's
        // device meanwhile (detaching that one by name broke a parallel test with EIO).
        let image = self.image.to_str().unwrap();
        let ours = Command::new("losetup")
            .args(["--noheadings", "--output", "NAME", "--associated", image])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for device in ours.split_whitespace() {
            let _ = Command::new("losetup").args(["-d", device]).output();
        }
    }
}

pub fn btrfs(args: &[&str]) -> String {
    sh("btrfs", args)
}

/// A btrfs test volume with subvolume `data` and snapper's `data/.snapshots` nested in it.
pub fn btrfs_with_data_subvolume() -> LoopFs {
    let fs = LoopFs::new("btrfs", 300);
    btrfs(&["subvolume", "create", fs.path("data").to_str().unwrap()]);
    btrfs(&[
        "subvolume",
        "create",
        fs.path("data/.snapshots").to_str().unwrap(),
    ]);
    fs
}

/// A read-only snapshot of `subvol` at `dest` (parents created).
pub fn snapshot(subvol: &Path, dest: &Path) {
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    btrfs(&[
        "subvolume",
        "snapshot",
        "-r",
        subvol.to_str().unwrap(),
        dest.to_str().unwrap(),
    ]);
}

/// Waits past the one-second resolution of btrfs snapshot times.
pub fn next_second() {
    std::thread::sleep(std::time::Duration::from_millis(1100));
}

/// The binary under test, with its state (log, reports) in `state`.
pub fn snaprescue(state: &Path, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snaprescue"))
        .args(args)
        .env("SNAPRESCUE_STATE_DIR", state)
        .output()
        .unwrap()
}

/// Runs with `--json` appended and parses stdout; returns (exit code, document, stderr).
pub fn json(state: &Path, args: &[&std::ffi::OsStr]) -> (i32, serde_json::Value, String) {
    let mut all = args.to_vec();
    all.push("--json".as_ref());
    let out = snaprescue(state, &all);
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (
        out.status.code().unwrap_or(-1),
        doc,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[macro_export]
macro_rules! args {
    ($($a:expr),* $(,)?) => { &[$(::std::convert::AsRef::<::std::ffi::OsStr>::as_ref(&$a)),*] };
}

/// Every point a rescue run writes to its journal: the crash tests kill the binary at each.
pub const RESCUE_JOURNAL_POINTS: [&str; 13] = [
    "create:start",
    "create:done",
    "attach:start",
    "attach:done",
    "device:done",
    "mount:start",
    "mount:done",
    "unmount:start",
    "unmount:done",
    "detach:start",
    "detach:done",
    "delete:start",
    "delete:done",
];

/// The binary with a clean environment: PATH, HOME and the state directory in `home`, and a
/// DMI directory that names no cloud, so no real metadata service is ever asked.
pub fn isolated(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_snaprescue"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SNAPRESCUE_DMI_DIR", "/nonexistent-dmi")
        .env("HOME", home)
        .env("SNAPRESCUE_STATE_DIR", home)
        .env("SNAPRESCUE_FAST_RETRIES", "1");
    cmd
}

// After `args!`, which it uses (macros are in scope from their definition on).
pub mod restore_lab;
pub mod rollback_lab;
pub mod snapshot_lab;
pub mod tmux;

/// The check `id` of a `protect --json` document (panics naming the document without it).
pub fn check<'a>(doc: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {doc}"))
}
