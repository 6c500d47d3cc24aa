//! Btrfs rollback: the live subvolume is renamed aside and made read-only (the guard), and a
//! writable snapshot of the chosen snapshot takes its place. Refused while processes use the
//! subvolume, or when it is a mount root (that needs a remount, which we explain instead).

use super::btrfs::BtrfsSource;
use super::{RollbackOutcome, Snapshot, SnapshotSource, SourceError};
use crate::ports::command;
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
    let live = source.visible(&subvolume.path).ok_or_else(|| {
        SourceError::Refused(format!(
            "subvolume {} is not reachable through a mount; mount the top level (subvolid=5) \
             and run again from there",
            subvolume.path.display()
        ))
    })?;
    let is_mount_root = crate::ports::mounts::MountTable::read()?
        .entries
        .iter()
        .any(|m| m.mount_point == live);
    if is_mount_root {
        return Err(SourceError::Refused(format!(
            "subvolume {} is mounted directly at {}; a live rollback would need a remount. \
             Either restore the files instead, or boot/remount with \
             `btrfs subvolume set-default` pointing at a writable snapshot of {}",
            subvolume.path.display(),
            live.display(),
            snapshot.path.display()
        )));
    }
    let device = crate::ports::fs_meta::device_of(&live)
        .map_err(SourceError::io(format!("cannot stat {}", live.display())))?;
    let (users, _) = processes_using(&HashSet::from([device]));
    if !users.is_empty() {
        let names: Vec<String> = users
            .iter()
            .map(|p| format!("{} ({})", p.pid, p.command))
            .collect();
        return Err(SourceError::Refused(format!(
            "processes still use {}: {}; stop them first (step 1: freeze, then end them), then \
             roll back",
            live.display(),
            names.join(", ")
        )));
    }
    let opened = source.open(snapshot, &crate::rescue::quiet_watch())?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut guard_name: OsString = live.file_name().unwrap_or_default().to_os_string();
    guard_name.push(format!(".pre-rollback-{stamp}"));
    let guard = live.with_file_name(guard_name);
    std::fs::rename(&live, &guard).map_err(SourceError::io(format!(
        "cannot move {} aside to {}",
        live.display(),
        guard.display()
    )))?;
    // A snapshot nested in the subvolume (snapper's .snapshots) moved with it.
    let from = match opened.root.strip_prefix(&live) {
        Ok(inside) => guard.join(inside),
        Err(_) => opened.root.clone(),
    };
    if let Err(e) = command::run(
        "btrfs",
        &[Path::new("subvolume"), Path::new("snapshot"), &from, &live],
    ) {
        // Put the original back so nothing changed.
        let _ = std::fs::rename(&guard, &live);
        return Err(e.into());
    }
    move_nested_subvolumes(source, &guard, &live);
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
    let undo = format!(
        "mv {live} {live}.rolled-back && btrfs property set -ts {guard} ro false && mv {guard} {live}",
        live = live.display(),
        guard = guard.display()
    );
    let kept = if keep_guard {
        Some(guard)
    } else {
        command::run(
            "btrfs",
            &[Path::new("subvolume"), Path::new("delete"), &guard],
        )?;
        None
    };
    tracing::info!(live = %live.display(), snapshot = %snapshot.id, "rolled back");
    Ok(RollbackOutcome {
        replaced: live,
        snapshot: snapshot.id.clone(),
        guard: kept,
        undo: if keep_guard {
            undo
        } else {
            "none: the previous state was deleted at your request (--no-guard)".into()
        },
    })
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
