//! What a btrfs rollback would do, and what refuses it: one set of refusals decided before
//! anything changes, shared by the rollback and its dry run so both give the same verdict,
//! and the dry run's steps with what would be set aside.

use super::btrfs::BtrfsSource;
use super::{Snapshot, SourceError, btrfs_remount};
use crate::ports::mounts::MountTable;
use crate::ports::processes::processes_using;
use std::collections::HashSet;
use std::path::Path;

/// Everything that refuses a rollback before anything is done, shared by the rollback and
/// its dry run so that both give the same verdict: the top level, a read-only subvolume
/// (PATH inside a snapshot: rolling it back would make a snapshot writable with another
/// snapshot's content), and mounts that could not be moved.
pub(super) fn refusals(
    source: &BtrfsSource,
) -> Result<(MountTable, Vec<crate::ports::mounts::MountEntry>), SourceError> {
    if source.subvolume.id == 5 {
        return Err(SourceError::Refused(
            "PATH is in the top-level subvolume, which cannot be replaced; restore the files \
             instead (snaprescue restore)"
                .into(),
        ));
    }
    if read_only_subvolume(&source.anchor) {
        return Err(SourceError::Refused(format!(
            "PATH is inside the read-only subvolume {} (a snapshot): a snapshot is not rolled \
             back. Name the live path whose subvolume should go back in time, or copy files \
             out of this snapshot with `snaprescue restore`",
            source.subvolume.path.display()
        )));
    }
    let table = MountTable::read()?;
    let direct = btrfs_remount::mounts_to_move(source, &table).map_err(SourceError::Refused)?;
    Ok((table, direct))
}

/// Whether the subvolume holding `path` is read-only (BTRFS_IOC_SUBVOL_GETFLAGS, asked of
/// the subvolume's root directory: the highest ancestor on the same device, inode 256).
fn read_only_subvolume(path: &Path) -> bool {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    const BTRFS_SUBVOL_RDONLY: u64 = 1 << 1;
    const SUBVOLUME_ROOT_INODE: u64 = 256;
    nix::ioctl_read!(subvol_getflags, 0x94, 25, u64);
    let Ok(dev) = crate::ports::fs_meta::device_of(path) else {
        return false;
    };
    let Some(root) = path
        .ancestors()
        .take_while(|a| crate::ports::fs_meta::device_of(a).is_ok_and(|d| d == dev))
        .last()
        .filter(|r| std::fs::symlink_metadata(r).is_ok_and(|m| m.ino() == SUBVOLUME_ROOT_INODE))
    else {
        return false;
    };
    let Ok(file) = std::fs::File::open(root) else {
        return false;
    };
    let mut flags = 0u64;
    // SAFETY: the ioctl writes one u64 into `flags`; the descriptor is open.
    unsafe { subvol_getflags(file.as_raw_fd(), &mut flags) }.is_ok()
        && flags & BTRFS_SUBVOL_RDONLY != 0
}

/// Refused while processes other than snaprescue's launchers use the subvolume on `device`.
pub(super) fn users_refusal(device: u64, shown: &Path) -> Result<(), SourceError> {
    let (mut users, _) = processes_using(&HashSet::from([device]));
    // What started snaprescue is told where it stands afterwards (see `notes`).
    users.retain(|p| !p.launcher);
    if users.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = users
        .iter()
        .map(|p| {
            let name = crate::ports::processes::program_name(&p.command);
            format!("{} ({})", p.pid, crate::engine::cut(&name, 40))
        })
        .collect();
    Err(SourceError::Refused(format!(
        "processes still use {}: {}; end them first (a frozen one still uses it; save any \
         deleted file one holds open before ending it), then roll back",
        shown.display(),
        names.join(", ")
    )))
}

/// What a rollback to `snapshot` would do, step by step, and what it would set aside;
/// refused exactly when the rollback would be (the processes are checked where the
/// subvolume is visible; a hidden one is checked by the rollback itself).
pub fn plan(
    source: &BtrfsSource,
    snapshot: &Snapshot,
    keep_guard: bool,
) -> Result<Vec<String>, SourceError> {
    let (table, direct) = refusals(source)?;
    let visible = source
        .shown_inside(&table, &source.subvolume.path)
        .or_else(|| direct.first().map(|m| m.mount_point.clone()));
    let mut set_aside = Vec::new();
    if let Some(live) = &visible {
        let device = crate::ports::fs_meta::device_of(live)
            .map_err(SourceError::io(format!("cannot stat {}", live.display())))?;
        users_refusal(device, live)?;
        if let Some(created) = snapshot.created {
            let newer = crate::engine::newer::files_newer_than(live, created.timestamp(), 5);
            set_aside.push(format!(
                "set aside {}, {}, written since the snapshot{}",
                crate::engine::counted(newer.count as usize, "file"),
                humansize::format_size(newer.bytes, humansize::BINARY),
                if newer.newest.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", newest: {}",
                        newer
                            .newest
                            .iter()
                            .map(|(p, _)| crate::engine::shown(p))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ));
        }
    }
    let live = source.subvolume.path.display();
    let remounts = direct.iter().map(|m| {
        format!(
            "unmount {} and mount the new subvolume there as before (btrfs {})",
            m.mount_point.display(),
            m.options.join(",")
        )
    });
    Ok(vec![
        format!("refuse if processes still use subvolume {live}"),
        if keep_guard {
            format!(
                "rename {live} aside to {live}.pre-rollback-<time> and make it read-only (the guard)"
            )
        } else {
            format!("rename {live} aside, then delete it (--no-guard)")
        },
        format!(
            "put a writable snapshot of {} at {live}",
            snapshot.path.display()
        ),
        "move nested subvolumes into the new one".into(),
    ]
    .into_iter()
    .chain(remounts)
    .chain(set_aside)
    .collect())
}
