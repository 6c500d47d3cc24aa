//! The block device of a cloud disk, found by its serial: the udev by-id links first
//! (`virtio-<serial>`, `nvme-Amazon_Elastic_Block_Store_<serial>`,
//! `nvme-Alibaba_Cloud_Elastic_Block_Storage_<serial>`), then the serials in sysfs. The
//! device name a cloud API reports is never trusted. Both roots can be moved
//! (`SNAPRESCUE_BY_ID_DIR`, `SNAPRESCUE_SYS_DIR`) so tests present loop devices by serial.

use std::path::{Path, PathBuf};

pub struct DiskLocator {
    pub by_id: PathBuf,
    pub sys: PathBuf,
}

impl DiskLocator {
    /// `/dev/disk/by-id` and `/sys`, or the directories the environment names.
    pub fn system() -> Self {
        let dir = |var: &str, default: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(default))
        };
        Self {
            by_id: dir("SNAPRESCUE_BY_ID_DIR", "/dev/disk/by-id"),
            sys: dir("SNAPRESCUE_SYS_DIR", "/sys"),
        }
    }

    /// The whole-disk device whose serial is one of `serials`, if it is present now.
    pub fn find(&self, serials: &[String]) -> Option<PathBuf> {
        self.by_link(serials).or_else(|| self.by_sysfs(serials))
    }

    fn by_link(&self, serials: &[String]) -> Option<PathBuf> {
        let entries = std::fs::read_dir(&self.by_id).ok()?;
        entries.flatten().find_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains("-part") {
                return None;
            }
            let matches = serials.iter().any(|s| {
                name.strip_suffix(s.as_str())
                    .is_some_and(|p| p.ends_with('-') || p.ends_with('_'))
            });
            matches
                .then(|| std::fs::canonicalize(e.path()).ok())
                .flatten()
        })
    }

    fn by_sysfs(&self, serials: &[String]) -> Option<PathBuf> {
        let entries = std::fs::read_dir(self.sys.join("block")).ok()?;
        entries.flatten().find_map(|e| {
            let dir = e.path();
            let serial = ["serial", "device/serial"].iter().find_map(|f| {
                std::fs::read_to_string(dir.join(f))
                    .ok()
                    .map(|s| s.trim().to_string())
            })?;
            serials
                .contains(&serial)
                .then(|| Path::new("/dev").join(e.file_name()))
        })
    }

    /// The partitions of the disk at `device` (`/dev/vdb` → `/dev/vdb1`, …), by number.
    pub fn partitions(&self, device: &Path) -> Vec<(u32, PathBuf)> {
        let Some(name) = device.file_name() else {
            return vec![];
        };
        let mut found: Vec<(u32, PathBuf)> =
            std::fs::read_dir(self.sys.join("class/block").join(name))
                .map(|r| {
                    r.flatten()
                        .filter_map(|e| {
                            let n = std::fs::read_to_string(e.path().join("partition")).ok()?;
                            Some((
                                n.trim().parse().ok()?,
                                Path::new("/dev").join(e.file_name()),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
        found.sort();
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_then_sysfs_serials() {
        let root = tempfile::tempdir().unwrap();
        let by_id = root.path().join("by-id");
        let sys = root.path().join("sys");
        std::fs::create_dir_all(&by_id).unwrap();
        let dev = root.path().join("nvme1n1");
        std::fs::write(&dev, "").unwrap();
        symlink(&dev, by_id.join("nvme-Amazon_Elastic_Block_Store_vol0abc")).unwrap();
        symlink(
            &dev,
            by_id.join("nvme-Amazon_Elastic_Block_Store_vol0abc-part1"),
        )
        .unwrap();
        std::fs::create_dir_all(sys.join("block/vdc")).unwrap();
        std::fs::write(sys.join("block/vdc/serial"), "bp1rescue\n").unwrap();
        let locator = DiskLocator { by_id, sys };
        assert_eq!(
            locator.find(&["vol0abc".into()]),
            Some(dev.canonicalize().unwrap())
        );
        assert_eq!(
            locator.find(&["bp1rescue".into()]),
            Some(PathBuf::from("/dev/vdc"))
        );
        assert_eq!(
            locator.find(&["0abc".into()]),
            None,
            "a serial is matched whole"
        );
        assert_eq!(locator.find(&["missing".into()]), None);
    }
}
