//! Read-only browse mounts never outlive their run (issue: a SIGKILL left
//! `/tmp/snaprescue-mnt-*` in the host's mount table and `cleanup` knew nothing of it).
//! Mount points live under `/run/snaprescue` (gone at reboot, with the mounts), and before
//! a mount is made its point is recorded in the state directory with the pid and start time
//! of the process making it; the record goes when the mount does. A record whose process is
//! gone is finished by the next run and by `cleanup`: the mount is detached and its empty
//! directory removed.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where temporary mount points are made: `SNAPRESCUE_RUN_DIR`, else `/run/snaprescue`.
pub fn run_dir() -> PathBuf {
    std::env::var_os("SNAPRESCUE_RUN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/snaprescue"))
}

fn records_dir() -> PathBuf {
    crate::runtime::state::state_dir().join("mounts")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    mount_point: PathBuf,
    pid: u32,
    pid_start: u64,
}

/// A recorded mount point; dropping it removes the record (after the unmount).
#[derive(Debug)]
pub struct Recorded {
    path: PathBuf,
}

impl Drop for Recorded {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Records `mount_point` durably before anything is mounted on it.
pub fn record(mount_point: &Path) -> std::io::Result<Recorded> {
    let dir = records_dir();
    std::fs::create_dir_all(&dir)?;
    let pid = std::process::id();
    let record = Record {
        mount_point: mount_point.into(),
        pid,
        pid_start: crate::ports::processes::start_time(pid as i32).unwrap_or(0),
    };
    let name = mount_point
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    let path = dir.join(format!("{name}.json"));
    let mut file = std::fs::File::create(&path)?;
    file.write_all(&serde_json::to_vec(&record).unwrap_or_default())?;
    file.sync_all()?;
    Ok(Recorded { path })
}

/// Detaches the mounts of runs that are gone; returns their mount points.
pub fn sweep() -> Vec<PathBuf> {
    let mut cleaned = Vec::new();
    let Ok(entries) = std::fs::read_dir(records_dir()) else {
        return cleaned;
    };
    for entry in entries.flatten() {
        let Some(record) = std::fs::read(entry.path())
            .ok()
            .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
        else {
            continue;
        };
        if crate::ports::processes::alive(record.pid as i32, record.pid_start) {
            continue;
        }
        // Only what snaprescue made: a point directly under the run directory.
        if record.mount_point.parent() != Some(run_dir().as_path()) {
            let _ = std::fs::remove_file(entry.path());
            continue;
        }
        let mounted = super::mounts::MountTable::read().is_ok_and(|t| {
            t.entries
                .iter()
                .any(|e| e.mount_point == record.mount_point)
        });
        if mounted {
            if let Err(e) =
                nix::mount::umount2(&record.mount_point, nix::mount::MntFlags::MNT_DETACH)
            {
                tracing::warn!(error = %e, "stale mount not detached");
                continue;
            }
            cleaned.push(record.mount_point.clone());
        }
        let _ = std::fs::remove_dir(&record.mount_point);
        let _ = std::fs::remove_file(entry.path());
    }
    cleaned
}
