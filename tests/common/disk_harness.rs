//! The Rust side of tests/servers/disk_harness.py: a private directory where the test puts
//! snapshot images (real filesystems made on loop devices) and the test servers present
//! attached disks as loop devices linked by serial. On drop everything it made is unmounted,
//! detached and deleted, also when the test failed.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct DiskHarness {
    pub dir: tempfile::TempDir,
}

impl DiskHarness {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("snaprescue-harness-")
            .tempdir()
            .unwrap();
        for sub in ["images", "volumes", "attached", "by-id"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn by_id(&self) -> PathBuf {
        self.path().join("by-id")
    }

    /// Records `image` as what disks made from `snapshot` hold (a sparse copy).
    pub fn add_snapshot_image(&self, snapshot: &str, image: &Path) {
        let target = self.path().join("images").join(format!("{snapshot}.img"));
        super::sh(
            "cp",
            &[
                "--sparse=always",
                image.to_str().unwrap(),
                target.to_str().unwrap(),
            ],
        );
    }

    /// Presents an existing loop device as the attached disk `disk` (an instance's own volume).
    pub fn present(&self, disk: &str, device: &str, link_name: &str) {
        std::fs::write(self.path().join("attached").join(disk), device).unwrap();
        std::os::unix::fs::symlink(device, self.by_id().join(link_name)).unwrap();
    }

    /// The events the servers logged (created, attached, detached, deleted), as JSON.
    pub fn events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.path().join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Loop devices backed by a file of this harness.
    pub fn loop_devices(&self) -> Vec<String> {
        let out = Command::new("losetup")
            .args(["--list", "--noheadings", "--output", "NAME,BACK-FILE"])
            .output()
            .unwrap();
        let root = self.path().canonicalize().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut parts = l.split_whitespace();
                let name = parts.next()?;
                let file = parts.next()?;
                Path::new(file).starts_with(&root).then(|| name.to_string())
            })
            .collect()
    }

    /// Loop devices of this harness still there after up to 5 s: the kernel frees a detached
    /// loop device only when its last opener (udev, a probe) closes it.
    pub fn lingering_loop_devices(&self) -> Vec<String> {
        let started = std::time::Instant::now();
        loop {
            let left = self.loop_devices();
            if left.is_empty() || started.elapsed() > std::time::Duration::from_secs(5) {
                return left;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Mount points whose device is one of this harness's loop devices.
    pub fn mounts(&self) -> Vec<PathBuf> {
        let loops = self.loop_devices();
        std::fs::read_to_string("/proc/self/mounts")
            .unwrap()
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let dev = f.next()?;
                let at = f.next()?;
                loops.iter().any(|d| d == dev).then(|| PathBuf::from(at))
            })
            .collect()
    }
}

impl Drop for DiskHarness {
    fn drop(&mut self) {
        for mount in self.mounts() {
            let _ = nix::mount::umount2(&mount, nix::mount::MntFlags::MNT_DETACH);
        }
        for device in self.loop_devices() {
            let _ = Command::new("losetup").args(["-d", &device]).output();
        }
    }
}
