//! Btrfs rollback: the live subvolume is renamed aside and made read-only (the guard), and a
//! writable snapshot of the chosen snapshot takes its place (refusals and the dry run are in
//! btrfs_rollback_plan); where the subvolume is mounted
//! directly, the new one is mounted there instead (btrfs_remount). Refused while processes
//! use the subvolume, and for the root filesystem.

use super::btrfs::BtrfsSource;
use super::btrfs_rollback_plan::{refusals, users_refusal};
use super::{RollbackOutcome, Snapshot, SnapshotSource, SourceError, btrfs_remount};
use crate::ports::command;
use crate::ports::mounts::TempMount;
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
    // Where the snapshot is read from once the live subvolume has moved to the guard (a
    // snapshot nested in it, like snapper's .snapshots, moves with it): inside the guard
    // (known once the guard has its name), or a path of its own. `reading` may hold a
    // private mount the snapshot is read through: kept until copied.
    let (at, reading) = match &top {
        Some(top) => match snapshot.path.strip_prefix(&subvolume.path) {
            Ok(inside) => (Err(inside.to_path_buf()), None),
            Err(_) => (Ok(top.path().join(&snapshot.path)), None),
        },
        None => {
            let opened = source.open(snapshot, &crate::rescue::quiet_watch())?;
            match opened.root.strip_prefix(&live) {
                Ok(inside) => (Err(inside.to_path_buf()), Some(opened)),
                Err(_) => (Ok(opened.root.clone()), Some(opened)),
            }
        }
    };
    // Never over an existing entry (a name planted there beforehand): the next free
    // `-2`, `-3`… instead.
    let parent = live.parent().unwrap_or(Path::new("/"));
    let parent_fd = nix::fcntl::open(
        parent,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| SourceError::io(format!("cannot open {}", parent.display()))(e.into()))?;
    let given = crate::engine::copy::rename_free(
        std::os::fd::AsFd::as_fd(&parent_fd),
        live.file_name().unwrap_or_default(),
        &guard_name,
        20,
    )
    .map_err(|e| {
        SourceError::io(format!("cannot move {} aside", live.display()))(std::io::Error::other(
            e.to_string(),
        ))
    })?;
    let guard = live.with_file_name(given);
    // `at`: Ok(a path of its own), or Err(its place inside the guard).
    let from = at.unwrap_or_else(|inside| guard.join(inside));
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

/// Where the printed undo command mounts the top level (not /mnt, which may be in use).
const UNDO_MOUNT: &str = "/run/snaprescue/undo";

/// `path` quoted for the shell the user pastes the undo command into.
fn quoted(path: &Path) -> String {
    crate::ports::command::shell_quote(&path.to_string_lossy())
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
