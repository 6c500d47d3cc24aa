//! Choosing a snapshot: estimate when the deletion happened and recommend the newest
//! completed snapshot taken before it.

use crate::sources::{Snapshot, SnapshotStatus};
use chrono::{DateTime, Utc};
use std::path::Path;

/// mtime of the nearest surviving ancestor of PATH: removing entries updates the mtime of
/// the directory that held them.
pub fn estimate_deletion_time(path: &Path) -> Option<DateTime<Utc>> {
    let (anchor, _) = crate::ports::fs_meta::surviving_ancestor(path).ok()?;
    let modified = std::fs::metadata(anchor).ok()?.modified().ok()?;
    Some(DateTime::<Utc>::from(modified))
}

/// Index of the newest completed snapshot created strictly before `deleted_at` (or the
/// newest completed one when the time is unknown).
pub fn recommend(snapshots: &[Snapshot], deleted_at: Option<DateTime<Utc>>) -> Option<usize> {
    snapshots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.status == SnapshotStatus::Completed)
        .filter(|(_, s)| deleted_at.is_none_or(|t| s.created < t))
        .max_by_key(|(_, s)| s.created)
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn snap(id: &str, hour: u32, status: SnapshotStatus) -> Snapshot {
        Snapshot {
            id: id.into(),
            source: "btrfs".into(),
            name: id.into(),
            created: Utc.with_ymd_and_hms(2026, 11, 28, hour, 0, 0).unwrap(),
            status,
            read_only: true,
            path: id.into(),
            layout: "subvolume".into(),
            description: None,
            cloud: None,
        }
    }

    #[test]
    fn recommends_newest_completed_before_deletion() {
        let list = vec![
            snap("after", 12, SnapshotStatus::Completed),
            snap("pending", 10, SnapshotStatus::InProgress),
            snap("good", 9, SnapshotStatus::Completed),
            snap("old", 8, SnapshotStatus::Completed),
        ];
        let deleted = Utc.with_ymd_and_hms(2026, 11, 28, 11, 0, 0).unwrap();
        assert_eq!(recommend(&list, Some(deleted)), Some(2));
        assert_eq!(recommend(&list, None), Some(0));
        let too_early = Utc.with_ymd_and_hms(2026, 11, 28, 7, 0, 0).unwrap();
        assert_eq!(recommend(&list, Some(too_early)), None);
    }
}
