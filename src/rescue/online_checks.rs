//! What the online data-disk rollback must find out and refuse before anything changes: the
//! disk's device here (by serial) and the one mount of it to take down and bring back, any
//! other mount namespace that still names the device (a container's bind mount keeps it
//! alive and a detach would yank it from under that container), the journal or state dir on
//! that disk, processes still using it, and an `/etc/fstab` line without `nofail` (a reboot
//! while the disk is detached would hang in emergency mode).

use super::RescueError;
use crate::ports::disk_by_serial::DiskLocator;
use crate::ports::mounts::{MountEntry, MountTable};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The disk as this machine sees it: its block devices and the mount of its filesystem.
#[derive(Debug, Clone)]
pub struct DiskHere {
    /// The whole disk and its partitions, with their `major:minor`.
    pub devices: Vec<(PathBuf, String)>,
    /// The mount of the filesystem on it (the one to unmount and bring back).
    pub mount: MountEntry,
    /// The partition holding that filesystem, when the disk is partitioned.
    pub partition: Option<u32>,
}

fn majmin(device: &Path) -> Option<String> {
    let rdev = std::fs::metadata(device).ok()?.rdev();
    Some(format!("{}:{}", libc::major(rdev), libc::minor(rdev)))
}

impl DiskHere {
    /// Finds `serials`' device and the single mount of it in this mount namespace, which must
    /// be the one holding `path`.
    pub fn find(serials: &[String], disk: &str, path: &Path) -> Result<Self, RescueError> {
        let locator = DiskLocator::system();
        let device = locator.find(serials).ok_or_else(|| {
            RescueError::Refused(format!(
                "disk {disk} is not attached to this machine (no block device with serial {}): \
                 the online rollback runs on the instance that uses the disk",
                serials.join(" or ")
            ))
        })?;
        let mut numbered = vec![(None, device.clone())];
        numbered.extend(
            locator
                .partitions(&device)
                .into_iter()
                .map(|(n, p)| (Some(n), p)),
        );
        let devices: Vec<(Option<u32>, PathBuf, String)> = numbered
            .into_iter()
            .filter_map(|(n, p)| majmin(&p).map(|m| (n, p, m)))
            .collect();
        let table = MountTable::read()?;
        let names = |e: &MountEntry| {
            devices
                .iter()
                .find(|(_, p, m)| source_names(&e.source, p) || e.majmin == *m)
                .map(|(n, _, _)| *n)
        };
        let mounts: Vec<(Option<u32>, &MountEntry)> = table
            .entries
            .iter()
            .filter_map(|e| names(e).map(|n| (n, e)))
            .collect();
        let (mount, _) = crate::ports::mounts::mount_of(path)?;
        let Some((partition, _)) = mounts
            .iter()
            .find(|(_, e)| e.mount_point == mount.mount_point)
        else {
            return Err(RescueError::Refused(format!(
                "{} is not on disk {disk} ({}): nothing to roll back there",
                path.display(),
                device.display()
            )));
        };
        if mounts.len() > 1 {
            return Err(RescueError::Refused(format!(
                "disk {disk} is mounted {} times here ({}): unmount all but {} first, so that \
                 one unmount frees it",
                mounts.len(),
                mounts
                    .iter()
                    .map(|(_, e)| e.mount_point.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                mount.mount_point.display()
            )));
        }
        Ok(Self {
            partition: *partition,
            devices: devices.into_iter().map(|(_, p, m)| (p, m)).collect(),
            mount,
        })
    }
}

/// Whether a mountinfo source (`/dev/vdb1`) is `device`, links followed.
fn source_names(source: &str, device: &Path) -> bool {
    source.starts_with('/') && std::fs::canonicalize(source).is_ok_and(|s| s == device)
}

/// One mount namespace still holding the disk: a process in it and where it is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: i32,
    pub mount_point: String,
}

/// The mount points in one mountinfo text that name one of `devices` (by `major:minor` of
/// the superblock, or by source path).
pub fn mounts_naming(mountinfo: &str, devices: &[(PathBuf, String)]) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let dash = fields.iter().position(|f| *f == "-")?;
            let majmin = fields.get(2)?;
            let mount_point = fields.get(4)?;
            let source = fields.get(dash + 2)?;
            devices
                .iter()
                .any(|(path, m)| m == majmin || source_names(source, path))
                .then(|| mount_point.replace("\\040", " "))
        })
        .collect()
}

/// Every mount namespace (one process each) whose `/proc/PID/mountinfo` still names one of
/// `devices`; `skip_own` leaves out this process's namespace.
pub fn holders(devices: &[(PathBuf, String)], skip_own: bool) -> Vec<Holder> {
    let own = crate::ports::job_container::mount_namespace("self");
    let mut seen: BTreeMap<PathBuf, Holder> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Some(namespace) = crate::ports::job_container::mount_namespace(&pid.to_string()) else {
            continue;
        };
        if seen.contains_key(&namespace) || (skip_own && Some(&namespace) == own.as_ref()) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path().join("mountinfo")) else {
            continue;
        };
        if let Some(mount_point) = mounts_naming(&text, devices).into_iter().next() {
            seen.insert(namespace, Holder { pid, mount_point });
        }
    }
    seen.into_values().collect()
}

/// The refusal for mount namespaces that still hold the disk, if any.
pub fn held_elsewhere(disk: &str, holders: &[Holder]) -> Option<String> {
    (!holders.is_empty()).then(|| {
        format!(
            "disk {disk} is still mounted in another mount namespace ({}): a container's bind \
             mount keeps it in use, and detaching it would pull it from under that container. \
             Stop those containers (or unmount it inside them) and run again",
            holders
                .iter()
                .map(|h| format!("pid {} at {}", h.pid, h.mount_point))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The refusal when this process does not see the host's mounts: its unmount and remount
/// would happen in its own mount namespace only. `ours` and `init` are the mount
/// namespaces of this process and of PID 1; unknown (unreadable) is not refused.
pub fn outside_host_namespace(ours: Option<&Path>, init: Option<&Path>) -> Option<String> {
    match (ours, init) {
        (Some(ours), Some(init)) if ours != init => Some(
            "snaprescue runs in another mount namespace than the host's (a container): the \
             unmount and remount must happen in the host's. Run it on the host, or as \
             `nsenter -t 1 -m -- snaprescue …`"
                .into(),
        ),
        _ => None,
    }
}

/// [`outside_host_namespace`] for this process.
pub fn outside_host_namespace_here() -> Option<String> {
    use crate::ports::job_container::mount_namespace;
    outside_host_namespace(
        mount_namespace("self").as_deref(),
        mount_namespace("1").as_deref(),
    )
}

/// The refusal when the journal or state dir lies on the disk about to be detached.
pub fn state_dir_on_disk(mount_point: &Path) -> Option<String> {
    let dir = crate::runtime::state::state_dir();
    crate::ports::fs_meta::same_filesystem(&dir, mount_point).then(|| {
        format!(
            "the state directory {} (the rollback's journal) is on the disk being rolled back: \
             it would vanish while the disk is detached, and a crash could not be finished. Set \
             SNAPRESCUE_STATE_DIR to a directory on another disk (not /tmp: it must survive a \
             reboot) and run again",
            dir.display()
        )
    })
}

/// The warning for an fstab line of `mount_point` without `nofail`, given the fstab text.
pub fn fstab_warning_in(fstab: &str, mount_point: &Path) -> Option<String> {
    let line = fstab.lines().map(str::trim).find(|l| {
        !l.starts_with('#')
            && l.split_whitespace()
                .nth(1)
                .is_some_and(|m| crate::ports::fstab::path_field(m) == mount_point)
    })?;
    let options = line.split_whitespace().nth(3).unwrap_or("defaults");
    (!options.split(',').any(|o| o == "nofail")).then(|| {
        format!(
            "warning: the /etc/fstab line of {} lacks `nofail`: if the machine reboots while the \
             disk is detached, boot stops in emergency mode. Add nofail to its options",
            mount_point.display()
        )
    })
}

/// The fstab warning for `mount_point` on this machine.
pub fn fstab_warning(mount_point: &Path) -> Option<String> {
    fstab_warning_in(&crate::ports::fstab::text(), mount_point)
}

/// The refusal while processes still use the filesystem at `mount_point` (an unmount would
/// fail or, lazily, leave their writes to the old disk): snaprescue itself or the shell that
/// started it sitting in it, or any other process using it.
pub fn writers_refusal(mount_point: &Path, path: &Path) -> Option<String> {
    let devices = crate::ports::processes::filesystem_devices(mount_point).ok()?;
    let me = std::process::id() as i32;
    let sitting = std::iter::once(me)
        .chain(crate::ports::invocation::ancestors())
        .find(|pid| {
            std::fs::metadata(format!("/proc/{pid}/cwd")).is_ok_and(|m| devices.contains(&m.dev()))
        });
    if let Some(pid) = sitting {
        return Some(format!(
            "{} is the working directory of {} (pid {pid}): the disk cannot be unmounted \
             while it is. cd elsewhere (for example `cd /`) and run again",
            mount_point.display(),
            if pid == me {
                "snaprescue"
            } else {
                "the shell that started snaprescue"
            }
        ));
    }
    let (users, _) = crate::ports::processes::processes_using(&devices);
    (!users.is_empty()).then(|| {
        format!(
            "{} is still used by {}: stop them first (snaprescue writers {} shows them; a \
             frozen process still holds its files, so end or move it), then run again",
            mount_point.display(),
            users
                .iter()
                .map(|u| format!("pid {} ({})", u.pid, u.command))
                .collect::<Vec<_>>()
                .join(", "),
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fstab_without_nofail_is_warned_about_and_with_it_is_not() {
        let fstab = "# comment /data\nUUID=1 / ext4 defaults 0 1\n\
                     /dev/disk/by-id/virtio-disk-1 /data ext4 defaults,noatime 0 2\n\
                     LABEL=x /mnt/with\\040space xfs nofail 0 0\n";
        let warning = fstab_warning_in(fstab, Path::new("/data")).unwrap();
        assert!(
            warning.contains("/data") && warning.contains("nofail"),
            "{warning}"
        );
        assert_eq!(fstab_warning_in(fstab, Path::new("/mnt/with space")), None);
        assert_eq!(fstab_warning_in(fstab, Path::new("/elsewhere")), None);
    }

    #[test]
    fn mountinfo_lines_are_matched_by_device_number_or_source() {
        let text = "36 35 253:17 / /data rw,noatime shared:1 - ext4 /dev/vdb1 rw\n\
                    40 35 0:50 /ckpt /var/lib/c1/ckpt rw - xfs /nonexistent/dev rw\n\
                    41 35 8:1 / / rw - ext4 /dev/sda1 rw\n\
                    42 35 253:17 /run /srv/my\\040data rw - ext4 /dev/vdb1 rw\n";
        let devices = vec![(PathBuf::from("/dev/vdb1"), "253:17".to_string())];
        assert_eq!(mounts_naming(text, &devices), ["/data", "/srv/my data"]);
        assert!(mounts_naming(text, &[(PathBuf::from("/dev/vdz"), "9:9".into())]).is_empty());
    }

    #[test]
    fn a_process_outside_the_host_mount_namespace_is_refused_and_unknown_is_not() {
        let (a, b) = (Path::new("mnt:[1]"), Path::new("mnt:[2]"));
        assert!(
            outside_host_namespace(Some(a), Some(b))
                .unwrap()
                .contains("nsenter")
        );
        assert_eq!(outside_host_namespace(Some(a), Some(a)), None);
        assert_eq!(outside_host_namespace(Some(a), None), None);
    }

    #[test]
    fn holders_are_named_with_their_pid_and_mount_point() {
        let refusal = held_elsewhere(
            "disk-1",
            &[Holder {
                pid: 42,
                mount_point: "/ckpt".into(),
            }],
        )
        .unwrap();
        assert!(refusal.contains("pid 42 at /ckpt"), "{refusal}");
        assert_eq!(held_elsewhere("disk-1", &[]), None);
    }
}
