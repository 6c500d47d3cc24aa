//! Where a restore creates its entries: the destination's directories opened by descriptor
//! (below the anchor, never through a link, never across a mount), and the directories and
//! symbolic links made in them; the file copies themselves are [`super::copy`]'s.

use super::beneath::{BeneathError, Mounts, open_dir};
use super::copy::{CopiedFile, CopyMethod, rename_free, temp_name};
use super::restore::RestoredItem;
use super::restore_plan::PlannedItem;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Directories of the destination opened by descriptor, a few at a time.
pub(super) struct Dirs {
    pub(super) anchor: OwnedFd,
    pub(super) anchor_path: PathBuf,
    pub(super) open: HashMap<PathBuf, Arc<OwnedFd>>,
}

impl Dirs {
    fn shown(&self, target: &Path) -> PathBuf {
        self.anchor_path.join(target)
    }

    const KEEP: usize = 64;

    pub(super) fn get(&mut self, rel: &Path) -> Result<Arc<OwnedFd>, BeneathError> {
        if let Some(fd) = self.open.get(rel) {
            return Ok(fd.clone());
        }
        let fd = Arc::new(open_dir(self.anchor.as_fd(), rel, Mounts::Stay)?);
        if self.open.len() >= Self::KEEP {
            self.open.clear();
        }
        self.open.insert(rel.to_path_buf(), fd.clone());
        Ok(fd)
    }
}

pub(super) fn name_of(target: &Path) -> &OsStr {
    target.file_name().unwrap_or_default()
}

pub(super) fn parent_of(target: &Path) -> &Path {
    target.parent().unwrap_or(Path::new(""))
}

/// Creates the directory `target`; Ok(true) if made, Ok(false) if a real directory was
/// already there (made meanwhile: merged into, its metadata left alone) — unless `fresh`
/// (a keep-both name), where anything there is a conflict.
pub(super) fn make_dir(
    dirs: &mut Dirs,
    target: &Path,
    mode: u32,
    fresh: bool,
) -> Result<bool, String> {
    let parent = dirs.get(parent_of(target)).map_err(|e| e.to_string())?;
    match nix::sys::stat::mkdirat(
        parent.as_fd(),
        name_of(target),
        Mode::from_bits_truncate(mode),
    ) {
        Ok(()) => Ok(true),
        Err(nix::errno::Errno::EEXIST) if fresh => Err(format!(
            "{} appeared in the live tree meanwhile; nothing was merged into it",
            super::shown(&dirs.shown(target))
        )),
        Err(nix::errno::Errno::EEXIST) => match dirs.get(target) {
            Ok(_) => Ok(false),
            Err(e) => Err(format!("appeared in the live tree meanwhile: {e}")),
        },
        Err(e) => Err(format!("cannot create the directory: {e}")),
    }
}

pub(super) fn restore_symlink(
    dirs: &mut Dirs,
    item: &PlannedItem,
    alternatives: usize,
) -> Result<CopiedFile, String> {
    let link =
        std::fs::read_link(&item.source).map_err(|e| format!("cannot read the link: {e}"))?;
    let meta = std::fs::symlink_metadata(&item.source).map_err(|e| e.to_string())?;
    let parent = dirs
        .get(parent_of(&item.target))
        .map_err(|e| e.to_string())?;
    let temp = temp_name();
    nix::unistd::symlinkat(&link, parent.as_fd(), temp.as_os_str())
        .map_err(|e| format!("cannot create the link: {e}"))?;
    let placed = super::attrs::apply_to_link(parent.as_fd(), &temp, &meta)
        .map_err(|e| format!("cannot set the link's owner or times: {e}"))
        .and_then(|_| {
            rename_free(parent.as_fd(), &temp, name_of(&item.target), alternatives)
                .map_err(|e| e.to_string())
        });
    if placed.is_err() {
        let _ = nix::unistd::unlinkat(
            parent.as_fd(),
            temp.as_os_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
    }
    placed.map(|name| CopiedFile {
        method: CopyMethod::Copy,
        hash: None,
        name,
    })
}

pub(super) fn open_source(path: &Path) -> Result<File, String> {
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(File::from)
    .map_err(|e| {
        format!(
            "cannot read {}: {}",
            super::shown(path),
            std::io::Error::from(e)
        )
    })
}

/// Raises the open-file limit to its hard maximum: a batch keeps one directory open per
/// file it holds.
pub(super) fn raise_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// fsync each parent directory once so the renames are durable.
pub(super) fn sync_parents(dirs: &mut Dirs, restored: &[RestoredItem], anchor: &Path) {
    let parents: BTreeSet<PathBuf> = restored
        .iter()
        .filter_map(|r| r.target.strip_prefix(anchor).ok())
        .map(|t| parent_of(t).to_path_buf())
        .collect();
    for parent in parents {
        if let Ok(fd) = dirs.get(&parent) {
            let _ = nix::unistd::fsync(fd.as_fd());
        }
    }
}
