//! Btrfs rollback: the live subvolume is renamed aside and made read-only (the guard), and a
//! writable snapshot of the chosen snapshot takes its place; where the subvolume is mounted
//! directly, the new one is mounted there instead (btrfs_remount). Refused while processes
//! use the subvolume, and for the root filesystem.

use super::btrfs::BtrfsSource;
use super::{RollbackOutcome, Snapshot, SnapshotSource, SourceError, btrfs_remount};
use crate::ports::command;
use crate::ports::mounts::{MountTable, TempMount};
use crate::ports::processes::processes_using;
use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub fn rollback(
    source: &BtrfsSource,
    snapshot: &Snapshot,
    confirm: &str,
    keep_guard: bool,
) -> Result<RollbackOutcome, SourceError> {
    let subvolume = &source.subvolume;
    let typed_ok = confirm == subvolume.id.to_string()
        || Path::new(confirm.trim_start_matches('/')) == subvolume.path;
    if !typed_ok {
        return Err(SourceError::Refused(format!(
            "confirmation `{confirm}` does not name the subvolume to roll back; type its path \
             `{}` or its id {}",
            subvolume.path.display(),
            subvolume.id
        )));
    }
    let (table, direct) = refusals(source)?;
    // Where the subvolume can be renamed: a writable mount showing it from above, else a
    // private read-write mount of the top level.
    let (live, top) = match source.shown_inside(&table, &subvolume.path) {
        Some(above) => (above, None),
        None => {
            let top = TempMount::read_write(&source.mount.source, "btrfs", "subvolid=5")?;
            (top.path().join(&subvolume.path), Some(top))
        }
    };
    let device = crate::ports::fs_meta::device_of(&live)
        .map_err(SourceError::io(format!("cannot stat {}", live.display())))?;
    let shown = direct.first().map_or(&live, |m| &m.mount_point);
    users_refusal(device, shown)?;
    // Shells are never refused (`snaprescue` is usually started from inside PATH), but
    // the swap leaves them in the kept previous state.
    let notes = shells_left_behind(device);
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut guard_name: OsString = live.file_name().unwrap_or_default().to_os_string();
    guard_name.push(format!(".pre-rollback-{stamp}"));
    let guard = live.with_file_name(&guard_name);
    // The snapshot as seen once the live subvolume has moved to the guard (a snapshot
    // nested in it, like snapper's .snapshots, moves with it).
    // `reading` may hold a private mount the snapshot is read through: kept until copied.
    let (from, reading) = match &top {
        Some(top) => {
            let from = match snapshot.path.strip_prefix(&subvolume.path) {
                Ok(inside) => guard.join(inside),
                Err(_) => top.path().join(&snapshot.path),
            };
            (from, None)
        }
        None => {
            let opened = source.open(snapshot, &crate::rescue::quiet_watch())?;
            let from = match opened.root.strip_prefix(&live) {
                Ok(inside) => guard.join(inside),
                Err(_) => opened.root.clone(),
            };
            (from, Some(opened))
        }
    };
    std::fs::rename(&live, &guard).map_err(SourceError::io(format!(
        "cannot move {} aside to {}",
        live.display(),
        guard.display()
    )))?;
    if let Err(e) = command::run(
        "btrfs",
        &[Path::new("subvolume"), Path::new("snapshot"), &from, &live],
    ) {
        // Put the original back so nothing changed.
        let _ = std::fs::rename(&guard, &live);
        return Err(e.into());
    }
    drop(reading);
    move_nested_subvolumes(source, &guard, &live);
    if let Err(failed) = btrfs_remount::remount(&direct) {
        return Err(undo_swap(source, &live, &guard, failed));
    }
    command::run(
        "btrfs",
        &[
            Path::new("property"),
            Path::new("set"),
            Path::new("-ts"),
            &guard,
            Path::new("ro"),
            Path::new("true"),
        ],
    )?;
    let kept = if keep_guard {
        Some(guard.clone())
    } else {
        command::run(
            "btrfs",
            &[Path::new("subvolume"), Path::new("delete"), &guard],
        )?;
        None
    };
    let replaced = direct
        .first()
        .map_or(live.clone(), |m| m.mount_point.clone());
    tracing::info!(live = %replaced.display(), snapshot = %snapshot.id, "rolled back");
    let undo = match (&top, keep_guard) {
        (_, false) => "none: the previous state was deleted at your request (--no-guard)".into(),
        (None, true) => format!(
            "mv {live} {aside} && btrfs property set -ts {guard} ro false && mv {guard} {live}{remount}",
            live = quoted(&live),
            aside = quoted(&live.with_file_name({
                let mut n = live.file_name().unwrap_or_default().to_os_string();
                n.push(".rolled-back");
                n
            })),
            guard = quoted(&guard),
            remount = remount_hint(&direct),
        ),
        (Some(_), true) => {
            let s = &subvolume.path;
            let g = subvolume.path.with_file_name(&guard_name);
            let at = |p: &Path| quoted(&Path::new(UNDO_MOUNT).join(p));
            format!(
                "mkdir -p {UNDO_MOUNT} && mount -o subvolid=5 {dev} {UNDO_MOUNT} && mv {s} {aside} && btrfs property set -ts {g} ro false && mv {g} {s} && umount {UNDO_MOUNT}{remount}",
                dev = quoted(Path::new(&source.mount.source)),
                aside = at(&s.with_file_name({
                    let mut n = s.file_name().unwrap_or_default().to_os_string();
                    n.push(".rolled-back");
                    n
                })),
                s = at(s),
                g = at(&g),
                remount = remount_hint(&direct),
            )
        }
    };
    Ok(RollbackOutcome {
        replaced,
        snapshot: snapshot.id.clone(),
        // In a private view of the top level, the guard is named as `btrfs subvolume list`
        // names it.
        guard: kept.map(|g| match &top {
            Some(_) => subvolume.path.with_file_name(&guard_name),
            None => g,
        }),
        undo,
        notes,
    })
}

/// A note for each process that started snaprescue (its shell, `sudo`, …) whose working
/// directory is in the subvolume on `device`: once it is swapped, they are in the kept
/// previous state and see none of the rollback until they change directory.
fn shells_left_behind(device: u64) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    crate::ports::invocation::ancestors()
        .into_iter()
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/cwd")).is_ok_and(|m| m.dev() == device)
        })
        .map(|pid| {
            format!(
                "the working directory of {} is in the previous state now: `cd \"$PWD\"` \
                 there to see the rolled-back files",
                crate::ports::invocation::describe(pid)
            )
        })
        .collect()
}

/// Everything that refuses a rollback before anything is done, shared by the rollback and
/// its dry run so that both give the same verdict: the top level, a read-only subvolume
/// (PATH inside a snapshot: rolling it back would make a snapshot writable with another
/// snapshot's content), and mounts that could not be moved.
fn refusals(
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
fn users_refusal(device: u64, shown: &Path) -> Result<(), SourceError> {
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
            format!("{} ({})", p.pid, name.chars().take(40).collect::<String>())
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
                "set aside {} file(s), {}, written since the snapshot{}",
                newer.count,
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

/// Where the printed undo command mounts the top level (not /mnt, which may be in use).
const UNDO_MOUNT: &str = "/run/snaprescue/undo";

/// `path` quoted for the shell the user pastes the undo command into.
fn quoted(path: &Path) -> String {
    let text = path.to_string_lossy();
    if text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:@,".contains(&b))
    {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The end of the undo command: mount each direct mount again on the restored subvolume,
/// spelled out in full (a plain `mount POINT` needs an fstab line, which is often absent).
fn remount_hint(direct: &[crate::ports::mounts::MountEntry]) -> String {
    direct
        .iter()
        .map(|m| {
            let spec = m.spec();
            let mut options = spec.options.clone();
            options.extend(spec.data());
            format!(
                " && umount {p} && mount -t {fs} -o {o} {src} {p}",
                p = quoted(&m.mount_point),
                fs = spec.fs_type,
                o = options.join(","),
                src = quoted(Path::new(&m.source)),
            )
        })
        .collect()
}

/// A remount failed after the swap: put the old subvolume back under its name and mount it
/// where it was, so that nothing changed.
fn undo_swap(
    source: &BtrfsSource,
    live: &Path,
    guard: &Path,
    failed: btrfs_remount::RemountFailed,
) -> SourceError {
    btrfs_remount::unmount_new(&failed.touched);
    move_nested_subvolumes(source, live, guard);
    let deleted = command::run(
        "btrfs",
        &[Path::new("subvolume"), Path::new("delete"), live],
    );
    let renamed = deleted.is_ok() && std::fs::rename(guard, live).is_ok();
    let not_back = btrfs_remount::mount_back(&failed.touched);
    let state = if renamed && not_back.is_empty() {
        "nothing was changed".to_string()
    } else {
        format!(
            "undoing it was incomplete (old state at {}{}): mount it by hand",
            guard.display(),
            not_back
                .iter()
                .map(|e| format!("; {e}"))
                .collect::<String>()
        )
    };
    SourceError::Refused(format!("rollback stopped: {} — {state}", failed.error))
}

/// Subvolumes nested directly in the old subvolume (snapper's `.snapshots`, for one) are not
/// part of any snapshot; move them into the new subvolume at the same place.
fn move_nested_subvolumes(source: &BtrfsSource, guard: &Path, live: &Path) {
    for nested in source
        .all
        .iter()
        .filter(|r| r.top_level == source.subvolume.id)
    {
        let Ok(relative) = nested.path.strip_prefix(&source.subvolume.path) else {
            continue;
        };
        let from: PathBuf = guard.join(relative);
        let to: PathBuf = live.join(relative);
        if let Some(parent) = to.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        // A snapshot holds an empty directory where a nested subvolume was: make room.
        let _ = std::fs::remove_dir(&to);
        if let Err(e) = std::fs::rename(&from, &to) {
            tracing::warn!(from = %from.display(), error = %e, "nested subvolume left in the guard");
        }
    }
}
