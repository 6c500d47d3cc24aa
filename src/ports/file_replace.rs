//! Replacing a small configuration file as root, atomically and without following links:
//! the new text goes to a temporary file beside it (created exclusively, never through a
//! link), is synced and renamed over the old one, which keeps its mode and owner. The
//! directory is reached component by component without links, and a target that is not a
//! regular file (a link, a device, a FIFO) is refused, never replaced: `/dev/null` named as
//! a config file stays a device.

use nix::fcntl::{AtFlags, OFlag, renameat};
use nix::sys::stat::{Mode, SFlag, fstatat};
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReplaceError {
    #[error("{path} is {kind}, not a regular file: left as it is (name the file itself)")]
    NotRegular { path: String, kind: &'static str },
    #[error("cannot write {path}: {reason}")]
    Io { path: String, reason: String },
}

fn kind_of(mode: SFlag) -> &'static str {
    match mode & SFlag::S_IFMT {
        SFlag::S_IFLNK => "a symbolic link",
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFCHR | SFlag::S_IFBLK => "a device",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFSOCK => "a socket",
        _ => "not a regular file",
    }
}

/// Writes `text` as `name` in the directory `dir`, replacing a regular file of that name
/// (its mode and owner kept) or creating it with `mode`. `shown` names it in errors.
pub fn replace_at(
    dir: BorrowedFd<'_>,
    name: &str,
    text: &[u8],
    mode: u32,
    shown: &str,
) -> Result<(), ReplaceError> {
    let io = |reason: String| ReplaceError::Io {
        path: shown.to_string(),
        reason,
    };
    let old = match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => {
            let kind = SFlag::from_bits_truncate(st.st_mode);
            if kind & SFlag::S_IFMT != SFlag::S_IFREG {
                return Err(ReplaceError::NotRegular {
                    path: shown.to_string(),
                    kind: kind_of(kind),
                });
            }
            Some((st.st_mode & 0o7777, st.st_uid, st.st_gid))
        }
        Err(nix::errno::Errno::ENOENT) => None,
        Err(e) => return Err(io(e.to_string())),
    };
    let temp = format!(".{name}.snaprescue-{}", std::process::id());
    let fd = nix::fcntl::openat(
        dir,
        temp.as_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| io(format!("cannot create a file beside it: {e}")))?;
    let mut file = std::fs::File::from(fd);
    let (mode, uid, gid) = old.unwrap_or((mode, 0, 0));
    let written = file
        .write_all(text)
        .and_then(|_| {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))
        })
        .and_then(|_| file.sync_all())
        .map_err(|e| e.to_string())
        .and_then(|_| renameat(dir, temp.as_str(), dir, name).map_err(|e| e.to_string()));
    if let Err(e) = written {
        let _ = nix::unistd::unlinkat(dir, temp.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
        return Err(io(e));
    }
    let _ = nix::unistd::fsync(dir);
    Ok(())
}

/// [`replace_at`] for an absolute `path`, its directory reached without following links.
pub fn replace(path: &Path, text: &[u8], mode: u32) -> Result<(), ReplaceError> {
    let shown = path.display().to_string();
    let (Some(parent), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
    else {
        return Err(ReplaceError::Io {
            path: shown,
            reason: "not a file path".into(),
        });
    };
    let dir = crate::engine::beneath::open_resolved(parent).map_err(|e| ReplaceError::Io {
        path: shown.clone(),
        reason: format!("its folder: {e}"),
    })?;
    replace_at(dir.as_fd(), name, text, mode, &shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_keeping_its_mode_and_a_link_or_device_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("sanoid.conf");
        std::fs::write(&conf, "old").unwrap();
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o640)).unwrap();
        replace(&conf, b"new", 0o644).unwrap();
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), "new");
        let mode = std::fs::metadata(&conf).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let target = dir.path().join("real");
        std::fs::write(&target, "real").unwrap();
        let link = dir.path().join("link.conf");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = replace(&link, b"x", 0o644).unwrap_err().to_string();
        assert!(e.contains("a symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "real");
        let e = replace(Path::new("/dev/null"), b"x", 0o644)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a device"), "{e}");
        let fresh = dir.path().join("fresh.conf");
        replace(&fresh, b"made", 0o644).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            4,
            "no temp left"
        );
    }
}
