//! From a mounted filesystem to the whole disks under it, through sysfs: partitions go to
//! their disk, device-mapper and md devices to their slaves; each disk's serial and model
//! say which cloud disk it is. The sysfs root is a parameter so tests use fixture trees.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// Kernel name (`nvme1n1`, `vdb`).
    pub name: String,
    pub serial: Option<String>,
    pub model: Option<String>,
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The sysfs directory of a block device: by `major:minor` when it is a real device
/// (major != 0), else by the kernel name of the mount source (`/dev/vdb1` → `vdb1`).
pub fn device_dir(sys: &Path, majmin: &str, source: &str) -> Option<PathBuf> {
    if !majmin.starts_with("0:")
        && let Ok(dir) = std::fs::canonicalize(sys.join("dev/block").join(majmin))
    {
        return Some(dir);
    }
    let real = std::fs::canonicalize(source).unwrap_or_else(|_| PathBuf::from(source));
    let name = real.file_name()?.to_string_lossy().into_owned();
    std::fs::canonicalize(sys.join("class/block").join(name)).ok()
}

/// The whole disks under the filesystem that holds `path` (sysfs at `sys`).
pub fn disks_of_path(path: &Path, sys: &Path) -> Vec<Disk> {
    let found = || {
        let (mount, _) = crate::ports::mounts::mount_of(path).ok()?;
        Some(disks_under(&device_dir(sys, &mount.majmin, &mount.source)?))
    };
    found().unwrap_or_default()
}

/// The whole disks under the device at `dir`.
pub fn disks_under(dir: &Path) -> Vec<Disk> {
    let mut out = Vec::new();
    walk(dir, &mut out, 0);
    out
}

fn walk(dir: &Path, out: &mut Vec<Disk>, depth: u32) {
    if depth > 8 {
        return;
    }
    if dir.join("partition").exists() {
        if let Some(parent) = dir.parent() {
            walk(parent, out, depth + 1);
        }
        return;
    }
    let slaves: Vec<PathBuf> = std::fs::read_dir(dir.join("slaves"))
        .map(|r| {
            r.flatten()
                .filter_map(|e| std::fs::canonicalize(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    if !slaves.is_empty() {
        for s in slaves {
            walk(&s, out, depth + 1);
        }
        return;
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if out.iter().any(|d| d.name == name) {
        return;
    }
    out.push(Disk {
        serial: read(&dir.join("serial")).or_else(|| read(&dir.join("device/serial"))),
        model: read(&dir.join("device/model")),
        name,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A sysfs tree: an NVMe EBS disk with a partition, a virtio disk, and an LVM volume on
    /// the partition of a second NVMe disk.
    fn sysfs() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let sys = root.path();
        let dev = |p: &str| sys.join("devices/pci0000:00").join(p);
        let mk = |p: PathBuf, files: &[(&str, &str)]| {
            std::fs::create_dir_all(&p).unwrap();
            for (f, v) in files {
                std::fs::create_dir_all(p.join(f).parent().unwrap()).unwrap();
                std::fs::write(p.join(f), format!("{v}\n")).unwrap();
            }
        };
        mk(dev("nvme/nvme0/nvme0n1"), &[]);
        mk(
            dev("nvme/nvme0"),
            &[
                ("serial", "vol0123456789abcdef0"),
                ("model", "Amazon Elastic Block Store              "),
            ],
        );
        symlink(dev("nvme/nvme0"), dev("nvme/nvme0/nvme0n1/device")).unwrap();
        mk(dev("nvme/nvme0/nvme0n1/nvme0n1p1"), &[("partition", "1")]);
        mk(
            dev("virtio3/block/vdb"),
            &[("serial", "bp1abcdefghijklmnop")],
        );
        mk(dev("nvme/nvme1/nvme1n1/nvme1n1p2"), &[("partition", "2")]);
        mk(
            dev("nvme/nvme1"),
            &[
                ("serial", "2zeabcdefghij123"),
                ("model", "Alibaba Cloud Elastic Block Storage"),
            ],
        );
        symlink(dev("nvme/nvme1"), dev("nvme/nvme1/nvme1n1/device")).unwrap();
        mk(sys.join("devices/virtual/block/dm-0/slaves"), &[]);
        symlink(
            dev("nvme/nvme1/nvme1n1/nvme1n1p2"),
            sys.join("devices/virtual/block/dm-0/slaves/nvme1n1p2"),
        )
        .unwrap();
        std::fs::create_dir_all(sys.join("class/block")).unwrap();
        std::fs::create_dir_all(sys.join("dev/block")).unwrap();
        for (name, target) in [
            ("nvme0n1p1", dev("nvme/nvme0/nvme0n1/nvme0n1p1")),
            ("vdb", dev("virtio3/block/vdb")),
            ("dm-0", sys.join("devices/virtual/block/dm-0")),
        ] {
            symlink(&target, sys.join("class/block").join(name)).unwrap();
        }
        symlink(
            dev("nvme/nvme0/nvme0n1/nvme0n1p1"),
            sys.join("dev/block/259:1"),
        )
        .unwrap();
        root
    }

    #[test]
    fn partition_virtio_and_device_mapper_lead_to_serials() {
        let root = sysfs();
        let sys = root.path();
        let nvme = disks_under(&device_dir(sys, "259:1", "/dev/nvme0n1p1").unwrap());
        assert_eq!(nvme[0].name, "nvme0n1");
        assert_eq!(nvme[0].serial.as_deref(), Some("vol0123456789abcdef0"));
        assert_eq!(nvme[0].model.as_deref(), Some("Amazon Elastic Block Store"));
        let virtio = disks_under(&device_dir(sys, "0:0", "/dev/vdb").unwrap());
        assert_eq!(virtio[0].serial.as_deref(), Some("bp1abcdefghijklmnop"));
        let lvm = disks_under(&device_dir(sys, "0:0", "/dev/dm-0").unwrap());
        assert_eq!(lvm.len(), 1);
        assert_eq!(lvm[0].serial.as_deref(), Some("2zeabcdefghij123"));
        assert!(
            device_dir(sys, "0:0", "/dev/unknown9").is_none(),
            "an unknown device maps to nothing"
        );
    }
}
