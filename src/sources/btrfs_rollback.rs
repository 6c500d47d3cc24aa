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
    if subvolume.id == 5 {
        return Err(SourceError::Refused(
            "PATH is in the top-level subvolume, which cannot be replaced; restore the files \
             instead (snaprescue restore)"
                .into(),
        ));
    }
    let table = MountTable::read()?;
    let direct = btrfs_remount::mounts_to_move(source, &table).map_err(SourceError::Refused)?;
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
    let (mut users, _) = processes_using(&HashSet::from([device]));
    // What started snaprescue is told where it stands afterwards (see `notes`).
    users.retain(|p| !p.launcher);
    if !users.is_empty() {
        let names: Vec<String> = users
            .iter()
            .map(|p| format!("{} ({})", p.pid, p.command))
            .collect();
        let shown = direct.first().map_or(&live, |m| &m.mount_point);
        return Err(SourceError::Refused(format!(
            "processes still use {}: {}; stop them first (step 1: freeze, then end them), then \
             roll back",
            shown.display(),
            names.join(", ")
        )));
    }
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
            "mv {live} {live}.rolled-back && btrfs property set -ts {guard} ro false && mv {guard} {live}{remount}",
            live = live.display(),
            guard = guard.display(),
            remount = remount_hint(&direct),
        ),
        (Some(_), true) => format!(
            "mount -o subvolid=5 {dev} /mnt && mv /mnt/{s} /mnt/{s}.rolled-back && btrfs property set -ts /mnt/{g} ro false && mv /mnt/{g} /mnt/{s} && umount /mnt{remount}",
            dev = source.mount.source,
            s = subvolume.path.display(),
            g = subvolume.path.with_file_name(&guard_name).display(),
            remount = remount_hint(&direct),
        ),
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

/// What a rollback to `snapshot` would do, step by step; refused up front when it would be.
pub fn plan(
    source: &BtrfsSource,
    snapshot: &Snapshot,
    keep_guard: bool,
) -> Result<Vec<String>, SourceError> {
    let table = MountTable::read()?;
    let direct = btrfs_remount::mounts_to_move(source, &table).map_err(SourceError::Refused)?;
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
    .collect())
}

/// The end of the undo command: mount each direct mount again on the restored subvolume.
fn remount_hint(direct: &[crate::ports::mounts::MountEntry]) -> String {
    direct
        .iter()
        .map(|m| format!(" && umount {p} && mount {p}", p = m.mount_point.display()))
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
