//! `--snapshot` given as a path on this machine: the root of a listed btrfs snapshot is that
//! snapshot; any other path is refused with the reason (a writable subvolume, a folder inside
//! a subvolume, a snapshot of another subvolume, not on btrfs, nothing there).

use super::{Snapshot, SourceError};
use crate::ports::subvolume_info::subvolume_of;
use std::path::Path;

/// Whether `given` is meant as a path rather than an id: absolute, `./…`, `../…`, or with a
/// `/` in it.
pub fn looks_like_path(given: &str) -> bool {
    given.starts_with('.') || given.contains('/')
}

/// The listed snapshot whose root directory is `given`, or why `given` is not one.
pub fn snapshot_at<'a>(
    snapshots: &'a [Snapshot],
    given: &str,
) -> Result<&'a Snapshot, SourceError> {
    let path = Path::new(given);
    let listed = || {
        let ids: Vec<String> = snapshots
            .iter()
            .map(|s| format!("{} ({})", s.id, s.name))
            .collect();
        if ids.is_empty() {
            "none (no snapshots found)".to_string()
        } else {
            ids.join(", ")
        }
    };
    let refuse = |why: String| {
        Err(SourceError::Refused(format!(
            "--snapshot {given}: {why}; the snapshots of PATH's subvolume are: {}",
            listed()
        )))
    };
    if path.symlink_metadata().is_err() {
        return refuse("no snapshot has this id or path, and nothing exists there".into());
    }
    let Some(subvolume) = subvolume_of(path) else {
        return refuse("this path is not on btrfs, so it is not a snapshot".into());
    };
    if !subvolume.is_root {
        return refuse(format!(
            "this is a folder inside subvolume {}, not a snapshot's root; give the snapshot's \
             id or its top directory",
            subvolume.id
        ));
    }
    if let Some(found) = snapshots
        .iter()
        .find(|s| s.source == "btrfs" && s.id == subvolume.id.to_string())
    {
        return Ok(found);
    }
    if !subvolume.read_only {
        return refuse(format!(
            "this is a writable subvolume (id {}), not a read-only snapshot: only a read-only \
             snapshot is a copy nothing can change while files are restored from it or the \
             subvolume is rolled back to it (take one with `btrfs subvolume snapshot -r`)",
            subvolume.id
        ));
    }
    refuse(format!(
        "this read-only subvolume (id {}) is not a snapshot of the subvolume that holds PATH",
        subvolume.id
    ))
}
