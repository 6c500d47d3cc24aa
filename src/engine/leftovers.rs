//! The record that makes a killed restore's temporary files findable (safety rule 5: no temp
//! file is left). Before a restore creates its first temporary file, it writes (and fsyncs)
//! a record naming its destination, the directories it will write in, its random tag (every
//! temporary name starts with `.snaprescue-TAG-`) and its pid and start time. A finished run
//! removes its record; a record whose process is gone is swept: its tagged names in its
//! directories are unlinked, by descriptor and without following links. The next restore
//! does this before it plans (so leftovers never count against free space), and so does
//! `snaprescue cleanup`. Nothing is removed because of a name alone: only names carrying a
//! tag recorded before they were made.

use super::beneath::{Mounts, open_dir, open_resolved};
use nix::fcntl::AtFlags;
use nix::unistd::{UnlinkatFlags, unlinkat};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub tag: String,
    pub anchor: PathBuf,
    /// Directories (relative to `anchor`) where temporary files may be made.
    pub dirs: Vec<PathBuf>,
    pub pid: u32,
    pub pid_start: u64,
}

/// Where records live: `<state dir>/restores/TAG.json`.
pub fn records_dir() -> PathBuf {
    crate::runtime::state::state_dir().join("restores")
}

/// A written record; dropping it removes the record (the run ended and cleaned up after
/// itself: its temporary files were removed or renamed into place).
pub struct Written {
    path: PathBuf,
}

impl Drop for Written {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Record {
    pub fn new(tag: &str, anchor: &Path, dirs: Vec<PathBuf>) -> Self {
        let pid = std::process::id();
        Self {
            tag: tag.into(),
            anchor: anchor.into(),
            dirs,
            pid,
            pid_start: crate::ports::processes::start_time(pid as i32).unwrap_or(0),
        }
    }

    /// Writes the record durably. A run of the same tag (one process) replaces it.
    pub fn write(&self) -> std::io::Result<Written> {
        let dir = records_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}-{}.json", self.tag, fastrand::u32(..)));
        let mut file = std::fs::File::create(&path)?;
        file.write_all(&serde_json::to_vec(self).unwrap_or_default())?;
        file.sync_all()?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(Written { path })
    }

    fn alive(&self) -> bool {
        crate::ports::processes::alive(self.pid as i32, self.pid_start)
    }
}

/// What a sweep removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    /// Temporary files removed (absolute paths).
    pub removed: Vec<PathBuf>,
    /// Records of killed runs that were finished.
    pub runs: usize,
}

/// Removes the temporary files of every restore whose process is gone.
pub fn sweep() -> Swept {
    let mut swept = Swept::default();
    let Ok(entries) = std::fs::read_dir(records_dir()) else {
        return swept;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(record) = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
        else {
            continue;
        };
        if record.alive() {
            continue;
        }
        swept.removed.extend(remove_tagged(&record));
        swept.runs += 1;
        let _ = std::fs::remove_file(&path);
    }
    swept
}

/// Unlinks the regular files and links named `.snaprescue-TAG-*.tmp` in the record's
/// directories (which are opened below its anchor without following links).
fn remove_tagged(record: &Record) -> Vec<PathBuf> {
    let prefix = super::copy::temp_prefix(&record.tag);
    let mut removed = Vec::new();
    // Opened as the restore opened it: from `/`, no link followed (one swapped in since is
    // refused, never followed).
    let Ok(anchor) = open_resolved(&record.anchor) else {
        return removed;
    };
    for rel in &record.dirs {
        let Ok(dir) = open_dir(anchor.as_fd(), rel, Mounts::Stay) else {
            continue;
        };
        let Ok(mut listing) = nix::dir::Dir::from_fd(dir) else {
            continue;
        };
        let names: Vec<std::ffi::CString> = listing
            .iter()
            .flatten()
            .map(|e| e.file_name().to_owned())
            .filter(|n| {
                let b = n.as_bytes();
                b.starts_with(prefix.as_bytes()) && b.ends_with(b".tmp")
            })
            .collect();
        for name in names {
            let kind =
                nix::sys::stat::fstatat(&listing, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map(|st| st.st_mode & libc::S_IFMT);
            if !matches!(kind, Ok(libc::S_IFREG) | Ok(libc::S_IFLNK)) {
                continue;
            }
            if unlinkat(&listing, name.as_c_str(), UnlinkatFlags::NoRemoveDir).is_ok() {
                let shown = std::ffi::OsStr::from_bytes(name.as_bytes());
                removed.push(record.anchor.join(rel).join(shown));
            }
        }
    }
    removed
}
