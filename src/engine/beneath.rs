//! Paths resolved inside a directory without ever following a symbolic link or leaving it
//! (safety rule 5). The restore runs as root: a link planted in a snapshot, in the live tree
//! or in `--to` must never make it read or write anywhere else. Every lookup goes through
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` from a directory descriptor (with a
//! component-by-component `O_NOFOLLOW` walk where the kernel lacks openat2, before 5.6), and
//! every creation is relative to a descriptor opened that way.

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{Mode, fstatat};
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BeneathError {
    #[error(
        "{path} is a symbolic link (to {target}); snaprescue never follows links here. \
         Restore the link itself, or name the place it points to"
    )]
    Link { path: PathBuf, target: PathBuf },
    #[error("{path} is not a directory")]
    NotDirectory { path: PathBuf },
    #[error("{path} does not exist")]
    Missing { path: PathBuf },
    #[error("{path} is another filesystem mounted here; nothing is written across it")]
    OtherFilesystem { path: PathBuf },
    #[error("{path} leaves the directory it must stay in")]
    Escapes { path: PathBuf },
    #[error("cannot open {path}: {source}")]
    Io { path: PathBuf, source: Errno },
}

/// Whether crossing a mount point below the root is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mounts {
    Cross,
    Stay,
}

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_CLOEXEC)
    .union(OFlag::O_NOFOLLOW);

/// Opens the directory `rel` below `root` (`rel` empty: `root` itself again) without
/// following any link and without leaving `root`.
pub fn open_dir(root: BorrowedFd<'_>, rel: &Path, mounts: Mounts) -> Result<OwnedFd, BeneathError> {
    open(root, rel, DIR_FLAGS, mounts)
}

/// Opens `rel` below `root` with `flags` (O_NOFOLLOW is added), as [`open_dir`] does.
pub fn open(
    root: BorrowedFd<'_>,
    rel: &Path,
    flags: OFlag,
    mounts: Mounts,
) -> Result<OwnedFd, BeneathError> {
    if rel
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(BeneathError::Escapes { path: rel.into() });
    }
    let target: &Path = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let mut resolve = ResolveFlag::RESOLVE_BENEATH
        | ResolveFlag::RESOLVE_NO_SYMLINKS
        | ResolveFlag::RESOLVE_NO_MAGICLINKS;
    if mounts == Mounts::Stay {
        resolve |= ResolveFlag::RESOLVE_NO_XDEV;
    }
    let how = OpenHow::new()
        .flags(flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
        .resolve(resolve);
    match openat2(root, target, how) {
        Ok(fd) => Ok(fd),
        Err(Errno::ENOSYS) => walk(root, rel, flags, mounts),
        Err(errno) => Err(explain(root, rel, errno)),
    }
}

/// The same lookup one component at a time with `O_NOFOLLOW` (kernels without openat2).
fn walk(
    root: BorrowedFd<'_>,
    rel: &Path,
    flags: OFlag,
    mounts: Mounts,
) -> Result<OwnedFd, BeneathError> {
    let names: Vec<&OsStr> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    let root_dev = nix::sys::stat::fstat(root).map(|s| s.st_dev).ok();
    let mut current = openat(root, ".", DIR_FLAGS, Mode::empty())
        .map_err(|errno| explain(root, Path::new(""), errno))?;
    for (i, name) in names.iter().enumerate() {
        let last = i + 1 == names.len();
        let step_flags = if last {
            flags | OFlag::O_NOFOLLOW
        } else {
            DIR_FLAGS
        };
        let next = openat(current.as_fd(), *name, step_flags, Mode::empty())
            .map_err(|errno| explain(root, rel, errno))?;
        if mounts == Mounts::Stay
            && let Ok(st) = nix::sys::stat::fstat(next.as_fd())
            && Some(st.st_dev) != root_dev
        {
            return Err(BeneathError::OtherFilesystem {
                path: names[..=i].iter().collect(),
            });
        }
        current = next;
    }
    if names.is_empty() {
        return openat(root, ".", flags, Mode::empty()).map_err(|e| explain(root, rel, e));
    }
    Ok(current)
}

/// Turns a failed lookup into what a user can act on: which component is a link and where
/// it points, which is not a directory, which is missing.
fn explain(root: BorrowedFd<'_>, rel: &Path, errno: Errno) -> BeneathError {
    let mut prefix = PathBuf::new();
    for component in rel.components() {
        prefix.push(component);
        let Ok(st) = fstatat(root, &prefix, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) else {
            return BeneathError::Missing { path: prefix };
        };
        let kind = st.st_mode & libc::S_IFMT;
        if kind == libc::S_IFLNK {
            let target = nix::fcntl::readlinkat(root, &prefix)
                .map(PathBuf::from)
                .unwrap_or_default();
            return BeneathError::Link {
                path: prefix,
                target,
            };
        }
        let is_last = prefix.as_path() == rel;
        if kind != libc::S_IFDIR && !is_last {
            return BeneathError::NotDirectory { path: prefix };
        }
    }
    match errno {
        Errno::ENOENT => BeneathError::Missing { path: rel.into() },
        Errno::ENOTDIR => BeneathError::NotDirectory { path: rel.into() },
        Errno::EXDEV => BeneathError::OtherFilesystem { path: rel.into() },
        Errno::ELOOP => BeneathError::Link {
            path: rel.into(),
            target: PathBuf::new(),
        },
        source => BeneathError::Io {
            path: rel.into(),
            source,
        },
    }
}

/// Checks that `rel` below `root` crosses no symbolic link on the way (the last component
/// may itself be a link: it is then restored as one).
pub fn check_no_link_above(root: &Path, rel: &Path) -> Result<(), BeneathError> {
    match rel.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            let root_fd = open_root(root)?;
            open_dir(root_fd.as_fd(), parent, Mounts::Cross).map(drop)
        }
        _ => Ok(()),
    }
}

/// Opens the absolute, already resolved `path` component by component from `/` without
/// following any link: a path that was resolved when snaprescue started (PATH, `--to`) and
/// has had a link swapped into it since is refused instead of followed.
pub fn open_resolved(path: &Path) -> Result<OwnedFd, BeneathError> {
    let root = open_root(Path::new("/"))?;
    let rel = path
        .strip_prefix("/")
        .map_err(|_| BeneathError::Escapes { path: path.into() })?;
    open_dir(root.as_fd(), rel, Mounts::Cross).map_err(|e| match e {
        BeneathError::Link { path: at, target } => BeneathError::Link {
            path: Path::new("/").join(at),
            target,
        },
        other => other,
    })
}

/// Opens a directory the caller trusts (the snapshot root, the destination's surviving
/// ancestor, as named by the user).
pub fn open_root(path: &Path) -> Result<OwnedFd, BeneathError> {
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| match source {
        Errno::ENOENT => BeneathError::Missing { path: path.into() },
        Errno::ENOTDIR => BeneathError::NotDirectory { path: path.into() },
        source => BeneathError::Io {
            path: path.into(),
            source,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_link_on_the_way_is_named_with_its_target() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("models")).unwrap();
        let root = open_root(dir.path()).unwrap();
        let err = open_dir(root.as_fd(), Path::new("models/x"), Mounts::Cross).unwrap_err();
        assert!(
            matches!(&err, BeneathError::Link { path, target } if path == Path::new("models") && target == Path::new("/etc")),
            "{err}"
        );
        assert!(open_dir(root.as_fd(), Path::new("real"), Mounts::Stay).is_ok());
        let err = open_dir(root.as_fd(), Path::new("../etc"), Mounts::Cross).unwrap_err();
        assert!(matches!(err, BeneathError::Escapes { .. }), "{err}");
        let err = open_dir(root.as_fd(), Path::new("real/none"), Mounts::Cross).unwrap_err();
        assert!(matches!(err, BeneathError::Missing { .. }), "{err}");
    }

    #[test]
    fn the_fallback_walk_refuses_links_too() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("a/up")).unwrap();
        let root = open_root(dir.path()).unwrap();
        assert!(walk(root.as_fd(), Path::new("a/b"), DIR_FLAGS, Mounts::Stay).is_ok());
        let err = walk(
            root.as_fd(),
            Path::new("a/up/etc"),
            DIR_FLAGS,
            Mounts::Cross,
        )
        .unwrap_err();
        assert!(matches!(err, BeneathError::Link { .. }), "{err}");
    }
}
