//! The walk behind [`super::diff`]: both trees read directory by directory, each directory
//! listed once (getdents, names and types), each entry stated relative to its directory's
//! descriptor (no path lookups from the root), live names matched by a sorted merge instead
//! of a map of directory entries. Subdirectories are walked in parallel, and a directory of
//! many entries is compared in parallel chunks, in name order still.

use super::diff::{DiffEntry, DiffProgress, EntryKind, EntryStatus};
use nix::dir::{Dir, Type};
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;
use std::ffi::{CStr, CString, OsStr};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Directories with more children than this are compared in chunks of this many, in
/// parallel (one directory of 200,000 files is common: a dataset's shards).
const PARALLEL_FROM: usize = 1024;

/// What the comparison needs of an entry's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stat {
    pub kind: EntryKind,
    pub len: u64,
    pub mtime: i64,
    pub mtime_nsec: i64,
}

impl Stat {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            kind: EntryKind::of(meta),
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }

    /// `name` in `dir`, not following a link.
    fn at(dir: &OwnedFd, name: &CStr) -> Option<Self> {
        let st = nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).ok()?;
        let kind = match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => EntryKind::Dir,
            libc::S_IFREG => EntryKind::File,
            libc::S_IFLNK => EntryKind::Symlink,
            _ => EntryKind::Other,
        };
        Some(Self {
            kind,
            len: st.st_size as u64,
            mtime: st.st_mtime,
            mtime_nsec: st.st_mtime_nsec,
        })
    }
}

/// The entry for `rel`, given both sides' metadata; `links_differ` tells, for two links,
/// whether their targets differ.
pub(super) fn entry(
    rel: PathBuf,
    snap: &Stat,
    live: Option<&Stat>,
    links_differ: impl FnOnce() -> bool,
) -> DiffEntry {
    let status = match live {
        None => EntryStatus::Deleted,
        Some(l) if l.kind != snap.kind => EntryStatus::Changed,
        Some(l) => {
            let differs = match snap.kind {
                EntryKind::File => {
                    l.len != snap.len || l.mtime != snap.mtime || l.mtime_nsec != snap.mtime_nsec
                }
                EntryKind::Symlink => links_differ(),
                _ => false,
            };
            if differs {
                EntryStatus::Changed
            } else {
                EntryStatus::Same
            }
        }
    };
    DiffEntry {
        path: rel,
        kind: snap.kind,
        size: if snap.kind == EntryKind::Dir {
            0
        } else {
            snap.len
        },
        mtime: snap.mtime,
        status,
    }
}

pub(super) enum WalkError {
    Cancelled,
    Root(std::io::Error),
}

pub(super) type Found = (Vec<DiffEntry>, Vec<(PathBuf, String)>);

/// A directory's entries: name and the type getdents gave (None when not said).
type Names = Vec<(CString, Option<Type>)>;

/// A directory opened without following a link, and its entries' names (sorted) with the
/// type getdents gave (None when the filesystem does not say).
fn list(path: &Path) -> nix::Result<(OwnedFd, Names)> {
    let fd = nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut dir = Dir::from_fd(
        fd.try_clone()
            .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EMFILE)))?,
    )?;
    let mut names: Names = dir
        .iter()
        .filter_map(Result::ok)
        .filter(|e| !matches!(e.file_name().to_bytes(), b"." | b".."))
        .map(|e| (e.file_name().to_owned(), e.file_type()))
        .collect();
    names.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok((fd, names))
}

fn link_target(dir: &OwnedFd, name: &CStr) -> Option<std::ffi::OsString> {
    nix::fcntl::readlinkat(dir, name).ok()
}

pub(super) struct Walk<'a> {
    pub cancel: &'a AtomicBool,
    pub progress: &'a DiffProgress,
}

impl Walk<'_> {
    /// Entries below `snap_dir` in depth-first name order.
    pub fn subtree(
        &self,
        snap_dir: &Path,
        live_dir: Option<&Path>,
        rel: &Path,
    ) -> Result<Found, WalkError> {
        use rayon::prelude::*;
        if self.cancel.load(Ordering::Relaxed) {
            return Err(WalkError::Cancelled);
        }
        let (snap, children) = match list(snap_dir) {
            Ok(listed) => listed,
            Err(e) if rel.as_os_str().is_empty() => return Err(WalkError::Root(e.into())),
            Err(e) => return Ok((vec![], vec![(rel.to_path_buf(), e.desc().to_string())])),
        };
        let live = live_dir.and_then(|d| list(d).ok());
        let live_names: &[(CString, Option<Type>)] = live.as_ref().map_or(&[], |l| &l.1);
        // (entry, whether the live side is a directory to walk beside it)
        let compare = |name: &CStr, in_live: bool| {
            let snap_stat = Stat::at(&snap, name)?;
            let live_stat = live
                .as_ref()
                .filter(|_| in_live)
                .and_then(|(live_dir, _)| Stat::at(live_dir, name));
            let e = entry(
                rel.join(OsStr::from_bytes(name.to_bytes())),
                &snap_stat,
                live_stat.as_ref(),
                || {
                    let live_dir = live.as_ref().map(|l| &l.0);
                    link_target(&snap, name) != live_dir.and_then(|d| link_target(d, name))
                },
            );
            let live_is_dir = live_stat.is_some_and(|s| s.kind == EntryKind::Dir);
            Some((e, live_is_dir))
        };
        // Both listings are sorted: a chunk finds its place in the live one once, then
        // walks both side by side.
        let compare_chunk = |chunk: &[(CString, Option<Type>)]| {
            let first = chunk.first().map(|c| c.0.as_c_str());
            let mut at = live_names.partition_point(|(n, _)| Some(n.as_c_str()) < first);
            let mut out = Vec::with_capacity(chunk.len());
            for (name, _) in chunk {
                while at < live_names.len() && live_names[at].0 < *name {
                    at += 1;
                }
                let in_live = at < live_names.len() && live_names[at].0 == *name;
                out.extend(compare(name, in_live));
            }
            out
        };
        let compared: Vec<(DiffEntry, bool)> = if children.len() > PARALLEL_FROM {
            children
                .par_chunks(PARALLEL_FROM)
                .map(compare_chunk)
                .collect::<Vec<_>>()
                .concat()
        } else {
            compare_chunk(&children)
        };
        drop(live);
        drop(snap);
        let mut here = Vec::with_capacity(compared.len());
        let mut dirs = Vec::new();
        for (e, live_is_dir) in compared {
            if e.kind == EntryKind::Dir {
                let name = e.path.file_name().unwrap_or_default();
                let live_child = live_dir.filter(|_| live_is_dir).map(|d| d.join(name));
                dirs.push((here.len(), snap_dir.join(name), live_child, e.path.clone()));
            }
            here.push(e);
        }
        self.progress.found(&here);
        let below: Vec<Result<Found, WalkError>> = dirs
            .par_iter()
            .map(|(_, snap, live, rel)| self.subtree(snap, live.as_deref(), rel))
            .collect();
        let mut unreadable = Vec::new();
        let mut out = Vec::with_capacity(here.len());
        let mut next_dir = dirs.iter().map(|d| d.0).zip(below).peekable();
        for (i, e) in here.into_iter().enumerate() {
            out.push(e);
            if next_dir.peek().is_some_and(|(pos, _)| *pos == i) {
                let (_, found) = next_dir.next().expect("peeked");
                let (entries, bad) = found?;
                out.extend(entries);
                unreadable.extend(bad);
            }
        }
        Ok((out, unreadable))
    }
}
