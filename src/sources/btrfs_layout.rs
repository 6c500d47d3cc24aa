//! snapper's layout made by hand, safely as root: `<subvolume>/.snapshots` must be a btrfs
//! subvolume that root owns and nobody else can write to (else a user could swap a link in
//! between two steps); the new `N` is made and every later step — the read-only snapshot,
//! its `info.xml` — goes through descriptors of the directories, never through a path that
//! could have been replaced. A snapshot whose `info.xml` cannot be written is deleted again.

use super::SourceError;
use super::btrfs_snapper::SnapperInfo;
use crate::ports::command;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag, fstatat};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The inode of a btrfs subvolume's root directory.
const SUBVOLUME_ROOT_INODE: u64 = 256;

/// The path of `fd` for a child process (the directory itself, whatever its name now).
fn through(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        fd.as_raw_fd()
    ))
}

fn refused(text: String) -> SourceError {
    SourceError::Refused(text)
}

/// The subvolume's root directory, and its `.snapshots` when it exists and is fit to hold
/// snapshots made as root; refused with what to do when it exists and is not.
pub fn snapshots_dir(root: &Path) -> Result<(OwnedFd, Option<OwnedFd>), SourceError> {
    let root_fd = crate::engine::beneath::open_resolved(root)
        .map_err(|e| refused(format!("cannot open {}: {e}", root.display())))?;
    let dir = root.join(".snapshots");
    let st = match fstatat(root_fd.as_fd(), ".snapshots", AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(nix::errno::Errno::ENOENT) => return Ok((root_fd, None)),
        Err(e) => return Err(refused(format!("cannot stat {}: {e}", dir.display()))),
    };
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    if kind != SFlag::S_IFDIR {
        return Err(refused(format!(
            "{} is not a directory (a link?): left as it is; move it away first",
            dir.display()
        )));
    }
    if st.st_uid != 0 || st.st_mode & 0o022 != 0 {
        return Err(refused(format!(
            "{} is owned by uid {} or writable by others: snaprescue puts snapshots only in a \
             .snapshots that root owns and only root writes (`chown root:root` and `chmod 750` \
             it, or move it aside)",
            dir.display(),
            st.st_uid
        )));
    }
    if st.st_ino != SUBVOLUME_ROOT_INODE {
        return Err(refused(format!(
            "{} is a plain directory, not a subvolume as snapper's .snapshots is: move it aside \
             (snaprescue then makes the subvolume)",
            dir.display()
        )));
    }
    let fd = nix::fcntl::openat(
        root_fd.as_fd(),
        ".snapshots",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| refused(format!("cannot open {}: {e}", dir.display())))?;
    Ok((root_fd, Some(fd)))
}

/// Takes a read-only snapshot of the subvolume at `root` as `.snapshots/N/snapshot` with
/// `info` as its `info.xml`; returns N.
pub fn create_snapshot(root: &Path, mut info: SnapperInfo) -> Result<u64, SourceError> {
    let (root_fd, existing) = snapshots_dir(root)?;
    let snaps = match existing {
        Some(fd) => fd,
        None => {
            command::run(
                "btrfs",
                &[
                    Path::new("subvolume"),
                    Path::new("create"),
                    &through(root_fd.as_fd()).join(".snapshots"),
                ],
            )?;
            let made = through(root_fd.as_fd()).join(".snapshots");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&made, std::fs::Permissions::from_mode(0o750))
                .map_err(SourceError::io("cannot set the mode of .snapshots"))?;
            snapshots_dir(root)?
                .1
                .ok_or_else(|| refused(".snapshots vanished as it was made".into()))?
        }
    };
    // Numbers as snapper gives them: one more than the largest (absurd ones ignored).
    let largest = std::fs::read_dir(through(snaps.as_fd()))
        .map_err(SourceError::io("cannot list .snapshots"))?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
        .filter(|n| *n < 1_000_000_000)
        .max()
        .unwrap_or(0);
    let mut number = largest;
    let slot = loop {
        number += 1;
        match nix::sys::stat::mkdirat(
            snaps.as_fd(),
            number.to_string().as_str(),
            Mode::from_bits_truncate(0o750),
        ) {
            Ok(()) => break number,
            Err(nix::errno::Errno::EEXIST) if number < largest + 1000 => continue,
            Err(e) => return Err(refused(format!("cannot make .snapshots/{number}: {e}"))),
        }
    };
    let slot_fd = nix::fcntl::openat(
        snaps.as_fd(),
        slot.to_string().as_str(),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| refused(format!("cannot open .snapshots/{slot}: {e}")))?;
    let remove_slot = || {
        let _ = nix::unistd::unlinkat(
            snaps.as_fd(),
            slot.to_string().as_str(),
            nix::unistd::UnlinkatFlags::RemoveDir,
        );
    };
    let target = through(slot_fd.as_fd()).join("snapshot");
    let made = command::run(
        "btrfs",
        &[
            Path::new("subvolume"),
            Path::new("snapshot"),
            Path::new("-r"),
            &through(root_fd.as_fd()),
            &target,
        ],
    );
    if let Err(e) = made {
        remove_slot();
        return Err(e.into());
    }
    info.date = Some(chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string());
    let written = crate::ports::file_replace::replace_at(
        slot_fd.as_fd(),
        "info.xml",
        info.to_xml(slot).as_bytes(),
        0o640,
        &format!(".snapshots/{slot}/info.xml"),
    );
    if let Err(e) = written {
        // A snapshot without its info.xml has no name and would be taken for a pre-run one.
        let _ = command::run(
            "btrfs",
            &[Path::new("subvolume"), Path::new("delete"), &target],
        );
        remove_slot();
        return Err(refused(format!("{e}; the snapshot was removed again")));
    }
    Ok(slot)
}
