//! When a btrfs subvolume was created, to the nanosecond (BTRFS_IOC_GET_SUBVOL_INFO):
//! `btrfs subvolume list` prints whole seconds, and a snapshot taken 0.7 s after the
//! deletion would otherwise look older than it and be recommended.

use chrono::{DateTime, Utc};
use std::os::fd::AsRawFd;
use std::path::Path;

/// `struct btrfs_ioctl_get_subvol_info_args` (linux/btrfs.h), 504 bytes.
#[repr(C)]
struct SubvolInfoArgs {
    treeid: u64,
    name: [u8; 256],
    parent_id: u64,
    dirid: u64,
    generation: u64,
    flags: u64,
    uuid: [u8; 16],
    parent_uuid: [u8; 16],
    received_uuid: [u8; 16],
    ctransid: u64,
    otransid: u64,
    stransid: u64,
    rtransid: u64,
    ctime: Timespec,
    otime: Timespec,
    stime: Timespec,
    rtime: Timespec,
    reserved: [u64; 8],
}

#[repr(C)]
struct Timespec {
    sec: u64,
    nsec: u32,
}

const _: () = assert!(std::mem::size_of::<SubvolInfoArgs>() == 504);

nix::ioctl_read!(get_subvol_info, 0x94, 60, SubvolInfoArgs);

/// `BTRFS_SUBVOL_RDONLY` in `flags`.
const SUBVOL_RDONLY: u64 = 1 << 1;

/// The inode number of every btrfs subvolume's root directory.
const SUBVOLUME_ROOT_INODE: u64 = 256;

fn subvol_info(path: &Path) -> Option<SubvolInfoArgs> {
    let dir = std::fs::File::open(path).ok()?;
    // SAFETY: all-zero bytes are a valid value of this plain-data struct.
    let mut args: SubvolInfoArgs = unsafe { std::mem::zeroed() };
    // SAFETY: the kernel fills `args`, whose layout matches the ioctl's, from an open fd.
    unsafe { get_subvol_info(dir.as_raw_fd(), &mut args) }.ok()?;
    Some(args)
}

/// The creation time of the subvolume whose root directory is `root`; None when it is not
/// a btrfs subvolume root or the kernel is older than 4.18.
pub fn created(root: &Path) -> Option<DateTime<Utc>> {
    let args = subvol_info(root)?;
    DateTime::from_timestamp(i64::try_from(args.otime.sec).ok()?, args.otime.nsec)
}

/// What a path on btrfs is: the subvolume holding it, and whether it is that root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubvolumeOf {
    /// The subvolume (tree) id.
    pub id: u64,
    pub read_only: bool,
    /// Whether the path is the subvolume's root directory (else a folder inside it).
    pub is_root: bool,
}

/// The subvolume holding `path`; None when it is not on btrfs (or the kernel is too old).
pub fn subvolume_of(path: &Path) -> Option<SubvolumeOf> {
    use std::os::unix::fs::MetadataExt;
    let args = subvol_info(path)?;
    Some(SubvolumeOf {
        id: args.treeid,
        read_only: args.flags & SUBVOL_RDONLY != 0,
        is_root: std::fs::metadata(path).ok()?.ino() == SUBVOLUME_ROOT_INODE,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn not_a_subvolume_is_none() {
        let dir = tempfile::tempdir().unwrap();
        // tmpfs or ext4 here: the ioctl is refused (ENOTTY).
        if crate::ports::fs_meta::filesystem_kind(dir.path()) != "btrfs" {
            assert_eq!(super::created(dir.path()), None);
        }
    }
}
