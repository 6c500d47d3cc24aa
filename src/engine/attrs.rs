//! Gives a restored entry the snapshot entry's ownership, mode, extended attributes and
//! times, always through descriptors (or `*at` calls that do not follow a link), so a name
//! swapped for a link meanwhile is never written through.

use nix::fcntl::AtFlags;
use nix::sys::stat::{Mode, UtimensatFlags, fchmod, futimens, utimensat};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchown, fchownat};
use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use xattr::FileExt;

fn times(meta: &Metadata) -> (TimeSpec, TimeSpec) {
    (
        TimeSpec::new(meta.atime(), meta.atime_nsec()),
        TimeSpec::new(meta.mtime(), meta.mtime_nsec()),
    )
}

/// Owner (as root), mode, xattrs (read from `source`) and times onto the open `target`.
pub fn apply_to_open(target: &File, meta: &Metadata, source: &File) -> std::io::Result<()> {
    if nix::unistd::geteuid().is_root() {
        fchown(
            target.as_fd(),
            Some(Uid::from_raw(meta.uid())),
            Some(Gid::from_raw(meta.gid())),
        )?;
    }
    fchmod(
        target.as_fd(),
        Mode::from_bits_truncate(meta.mode() & 0o7777),
    )?;
    copy_xattrs(source, target);
    let (atime, mtime) = times(meta);
    futimens(target.as_fd(), &atime, &mtime)?;
    Ok(())
}

/// Extended attributes of `source` onto `target`; one that cannot be set is logged, not
/// fatal (a destination filesystem without xattr support still gets the data).
fn copy_xattrs(source: &File, target: &File) {
    let Ok(names) = source.list_xattr() else {
        return;
    };
    for name in names {
        if let Ok(Some(value)) = source.get_xattr(&name)
            && let Err(e) = target.set_xattr(&name, &value)
        {
            tracing::warn!(attr = ?name, error = %e, "xattr not copied");
        }
    }
}

/// Owner and times onto the symbolic link `name` in `dir` (a link has no mode of its own).
pub fn apply_to_link(dir: BorrowedFd<'_>, name: &OsStr, meta: &Metadata) -> std::io::Result<()> {
    if nix::unistd::geteuid().is_root() {
        fchownat(
            dir,
            name,
            Some(Uid::from_raw(meta.uid())),
            Some(Gid::from_raw(meta.gid())),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
    }
    let (atime, mtime) = times(meta);
    utimensat(dir, name, &atime, &mtime, UtimensatFlags::NoFollowSymlink)?;
    Ok(())
}
