//! Harvests files that are deleted but still open in a process: their data is copied out of
//! `/proc/PID/fd/N` (or `/proc/PID/map_files/…`) to a directory on *another* filesystem,
//! verified by hash, under the original name, with a manifest naming the source pid and fd.

use super::copy::CopyError;
use crate::ports::processes::DeletedOpen;
use serde::{Deserialize, Serialize};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarvestTarget {
    pub pid: i32,
    /// The process's start time (clock ticks since boot): with the pid, which process.
    pub start_time: u64,
    pub command: String,
    pub file: DeletedOpen,
}

impl HarvestTarget {
    /// Every deleted-but-open file the `processes` hold.
    pub fn held_by(processes: &[crate::ports::processes::ProcessUse]) -> Vec<Self> {
        processes
            .iter()
            .flat_map(|p| {
                p.deleted_open.iter().map(|f| Self {
                    pid: p.pid,
                    start_time: p.start_time,
                    command: p.command.clone(),
                    file: f.clone(),
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HarvestedFile {
    pub pid: i32,
    /// With the pid, which process held it (0 in manifests of older versions: never
    /// matched to a running process).
    #[serde(default)]
    pub start_time: u64,
    pub command: String,
    /// Where the data was read from (`/proc/PID/fd/N`).
    pub handle: PathBuf,
    /// The deleted file's path.
    pub original: PathBuf,
    pub saved_to: PathBuf,
    pub size: u64,
    pub blake3: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HarvestFailure {
    pub pid: i32,
    pub original: PathBuf,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HarvestReport {
    pub saved: Vec<HarvestedFile>,
    pub failed: Vec<HarvestFailure>,
    pub manifest: Option<PathBuf>,
}

/// Why a harvested copy was not copied back.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CopyBackError {
    /// The copy can no longer be trusted (swapped for a link, or changed since it was
    /// saved): it does not count as saved any more.
    #[error("{0}")]
    Untrusted(String),
    /// Not done here (something is in the way), the copy still good.
    #[error("{0}")]
    Refused(String),
}

#[derive(Debug, Error)]
pub enum HarvestError {
    #[error(
        "{dir} is on the same filesystem as {path}: writing there may overwrite the deleted \
         data. Choose a directory on another disk (for example under /dev/shm, or a USB or \
         network disk), or force it"
    )]
    SameFilesystem { dir: PathBuf, path: PathBuf },
    #[error("cannot use {dir} for harvested files: {reason}")]
    Unsafe { dir: PathBuf, reason: String },
}

/// Copies each target into `dir`. Refuses a `dir` on the filesystem of `protected` (PATH)
/// unless `force`, before creating anything.
pub fn harvest(
    targets: &[HarvestTarget],
    dir: &Path,
    protected: &Path,
    force: bool,
) -> Result<HarvestReport, HarvestError> {
    // Decided before anything is created: `dir` may not exist yet, so its filesystem is
    // that of its nearest existing ancestor (a refusal must not leave `dir` behind on the
    // very filesystem it protects).
    if !force && crate::ports::fs_meta::same_filesystem(dir, protected) {
        return Err(HarvestError::SameFilesystem {
            dir: dir.into(),
            path: protected.into(),
        });
    }
    let root = super::harvest_dir::open(dir).map_err(|reason| HarvestError::Unsafe {
        dir: dir.into(),
        reason,
    })?;
    let mut report = HarvestReport::default();
    for t in targets {
        match save_one(&root, dir, t) {
            Ok(saved) => report.saved.push(saved),
            Err(reason) => report.failed.push(HarvestFailure {
                pid: t.pid,
                original: t.file.path.clone(),
                reason: if reason.contains("No such file") {
                    format!("the process closed it or exited before it could be read ({reason})")
                } else {
                    reason
                },
            }),
        }
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let name = format!("harvest-{stamp}.json");
    let bytes = serde_json::to_vec_pretty(&report).unwrap_or_default();
    if super::harvest_dir::write_new(root.as_fd(), &name, &bytes).is_ok() {
        report.manifest = Some(dir.join(name));
    }
    Ok(report)
}

/// Saves one target as `dir/pid-PID/NAME`, created relative to the folder's descriptor
/// (no link followed), verified by BLAKE3 and fsynced before its name appears.
fn save_one(root: &OwnedFd, dir: &Path, t: &HarvestTarget) -> Result<HarvestedFile, String> {
    let sub = format!("pid-{}", t.pid);
    let pid_dir = super::harvest_dir::subdir(root.as_fd(), &sub)?;
    let wanted = t
        .file
        .path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "deleted-file".into());
    let name = super::harvest_dir::free_name(pid_dir.as_fd(), &wanted);
    let input = std::fs::File::open(&t.file.handle).map_err(|e| e.to_string())?;
    let place = super::copy::Place {
        dir: std::sync::Arc::new(pid_dir),
        name,
    };
    let staged = super::copy::stage_file(input, place, false, &AtomicBool::new(false), &mut |_| {})
        .map_err(|e: CopyError| e.to_string())?;
    let size = staged.file().metadata().map(|m| m.len()).unwrap_or(0);
    staged.file().sync_all().map_err(|e| e.to_string())?;
    let copied = staged.commit(0).map_err(|e| e.to_string())?;
    Ok(HarvestedFile {
        pid: t.pid,
        start_time: t.start_time,
        command: t.command.clone(),
        handle: t.file.handle.clone(),
        original: t.file.path.clone(),
        saved_to: dir.join(sub).join(&copied.name),
        size,
        blake3: copied.hash.unwrap_or_default(),
    })
}

/// What earlier runs saved into the harvest folder `dir` (their manifests), when the folder
/// is safe to trust (ours, not writable by others: see `harvest_dir`) and each copy is still
/// there; so a restarted wizard knows those files are saved.
pub fn earlier(dir: &Path) -> Vec<HarvestedFile> {
    let Some(root) = super::harvest_dir::open_existing(dir) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let text = name.to_string_lossy();
        if !(text.starts_with("harvest-") && text.ends_with(".json")) {
            continue;
        }
        let Some(bytes) = super::harvest_dir::read(root.as_fd(), &name) else {
            continue;
        };
        let Ok(report) = serde_json::from_slice::<HarvestReport>(&bytes) else {
            continue;
        };
        // Only copies still whole where a harvest puts them (`pid-N/NAME`, no link, ours,
        // the recorded size); copy-back checks their BLAKE3 again before using one.
        for s in report.saved {
            let known = found.iter().any(|f: &HarvestedFile| f.handle == s.handle);
            if !known && super::harvest_dir::holds_copy(root.as_fd(), dir, &s.saved_to, s.size) {
                found.push(s);
            }
        }
    }
    found
}

/// Removes the harvested copies under `dir` whose deleted original lay under `root` (the
/// drill's lab), and the manifests left naming nothing; returns the copies removed. Only
/// files a manifest of ours names are touched.
pub fn remove_harvested_from(dir: &Path, root: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let manifest = entry.path();
        let is_manifest = manifest
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("harvest-") && n.ends_with(".json"));
        let Some(mut report) = is_manifest
            .then(|| std::fs::read(&manifest).ok())
            .flatten()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        else {
            continue;
        };
        let Some(saved) = report["saved"].as_array_mut() else {
            continue;
        };
        saved.retain(|s| {
            let (Some(original), Some(copy)) = (s["original"].as_str(), s["saved_to"].as_str())
            else {
                return true;
            };
            let copy = Path::new(copy);
            if !Path::new(original).starts_with(root) || !copy.starts_with(dir) {
                return true;
            }
            if std::fs::remove_file(copy).is_ok() {
                removed.push(copy.to_path_buf());
                if let Some(parent) = copy.parent() {
                    let _ = std::fs::remove_dir(parent); // only when empty
                }
            }
            false
        });
        let _ = if saved.is_empty() && report["failed"].as_array().is_none_or(|f| f.is_empty()) {
            std::fs::remove_file(&manifest)
        } else {
            std::fs::write(
                &manifest,
                serde_json::to_vec_pretty(&report).unwrap_or_default(),
            )
        };
    }
    removed
}

/// Copies a harvested file back to where it was deleted from, never over an existing
/// entry, opening neither the copy nor the folder through a link, and only when its content
/// is still what was saved (`blake3` from the manifest): a copy changed or swapped since is
/// refused, not restored.
pub fn copy_back(saved: &HarvestedFile) -> Result<(), CopyBackError> {
    copy_back_checked(saved).map_err(|(untrusted, reason)| {
        if untrusted {
            CopyBackError::Untrusted(reason)
        } else {
            CopyBackError::Refused(reason)
        }
    })
}

/// Why a copy-back did not happen: (the copy itself can no longer be trusted, reason).
fn copy_back_checked(saved: &HarvestedFile) -> Result<(), (bool, String)> {
    let refused = |e: String| (false, e);
    let (original, copy) = (&saved.original, &saved.saved_to);
    let (Some(parent), Some(name)) = (original.parent(), original.file_name()) else {
        return Err(refused("no place to copy it back to".into()));
    };
    let (Some(copy_dir), Some(copy_name)) = (copy.parent(), copy.file_name()) else {
        return Err((true, "no harvested copy named".into()));
    };
    if std::fs::symlink_metadata(original).is_ok() {
        return Err(refused("something is there again; kept as is".into()));
    }
    let dir = super::beneath::open_resolved(parent).map_err(|e| refused(e.to_string()))?;
    let from = super::beneath::open_resolved(copy_dir).map_err(|e| (true, e.to_string()))?;
    let input = nix::fcntl::openat(
        from.as_fd(),
        copy_name,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| {
        (
            true,
            format!("cannot read the copy without following a link: {e}"),
        )
    })?;
    let place = super::copy::Place {
        dir: std::sync::Arc::new(dir),
        name: name.to_os_string(),
    };
    let staged = super::copy::stage_file(
        std::fs::File::from(input),
        place.clone(),
        false,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .map_err(|e| refused(e.to_string()))?;
    if staged.copied.hash.as_deref() != Some(saved.blake3.as_str()) {
        return Err((
            true,
            "the harvested copy changed since it was saved (its BLAKE3 is not the manifest's): \
             not copied back"
                .into(),
        ));
    }
    staged
        .file()
        .sync_all()
        .map_err(|e| refused(e.to_string()))?;
    staged.commit(0).map_err(|e| refused(e.to_string()))?;
    let _ = nix::unistd::fsync(place.dir.as_fd());
    Ok(())
}
