//! Choosing a snapshot: estimate when the deletion happened, and recommend the snapshot
//! that brings the most back. Where looking inside is cheap (local snapshots) the one holding
//! the most lost entries wins; cloud snapshots, whose contents are unknown without a rescue
//! disk, fall back to the newest completed one before the deletion estimate. A snapshot
//! whose time is unknown is never recommended by time.

use crate::engine::diff::LostCounts;
use crate::sources::{Snapshot, SnapshotStatus};
use chrono::{DateTime, Utc};
use humansize::{BINARY, format_size};
use std::path::Path;

/// How many of the newest local snapshots get "what would it bring back" counted (each is a
/// full comparison with the live tree); the one recommended by time always is.
pub const COUNTED_SNAPSHOTS: usize = 6;

/// mtime of the nearest surviving ancestor of PATH: removing entries updates the mtime of
/// the directory that held them.
pub fn estimate_deletion_time(path: &Path) -> Option<DateTime<Utc>> {
    let (anchor, _) = crate::ports::fs_meta::surviving_ancestor(path).ok()?;
    let modified = std::fs::metadata(anchor).ok()?.modified().ok()?;
    Some(DateTime::<Utc>::from(modified))
}

/// The recommended snapshot (an index into the list) and why; without one, why not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recommendation {
    pub index: Option<usize>,
    pub reason: String,
}

/// Index of the newest completed snapshot with a known time strictly before `deleted_at`
/// (or the newest completed one when the deletion time is unknown), skipping those looked
/// into and found to hold nothing lost.
pub fn newest_before(
    snapshots: &[Snapshot],
    deleted_at: Option<DateTime<Utc>>,
    lost: &dyn Fn(&Snapshot) -> Option<LostCounts>,
) -> Option<usize> {
    snapshots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.status == SnapshotStatus::Completed)
        .filter(|(_, s)| lost(s).is_none_or(|l| l.entries > 0))
        .filter_map(|(i, s)| Some((i, s.created?)))
        .filter(|(_, created)| deleted_at.is_none_or(|t| *created < t))
        .max_by_key(|(_, created)| *created)
        .map(|(i, _)| i)
}

/// Whether the snapshot at `index` is looked into (its lost entries counted): local, and
/// among the [`COUNTED_SNAPSHOTS`] newest or the one `by_time` would recommend.
pub fn worth_looking_into(snapshot: &Snapshot, index: usize, by_time: Option<usize>) -> bool {
    snapshot.cloud.is_none() && (index < COUNTED_SNAPSHOTS || by_time == Some(index))
}

/// The snapshot to recommend. `lost` answers what a snapshot would bring back where it was
/// looked into (`None`: not looked into, or unreadable). Among snapshots looked into, the
/// one holding the most lost entries wins (ties: more lost bytes, then newer), whatever the
/// deletion estimate says; when none holds any, the newest completed one before the estimate
/// that was not found empty, with a reason that says it was not looked into.
pub fn recommend(
    snapshots: &[Snapshot],
    deleted_at: Option<DateTime<Utc>>,
    lost: &dyn Fn(&Snapshot) -> Option<LostCounts>,
) -> Recommendation {
    let by_content = snapshots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.status == SnapshotStatus::Completed)
        .filter_map(|(i, s)| Some((i, s, lost(s)?)))
        .filter(|(_, _, l)| l.entries > 0)
        .max_by_key(|(_, s, l)| (l.entries, l.bytes, s.created));
    if let Some((index, snapshot, counts)) = by_content {
        let time = match (snapshot.created, deleted_at) {
            (None, _) => "; its time is unknown".to_string(),
            (Some(c), Some(d)) if c >= d => {
                "; it is newer than the deletion estimate, which is only a guess".to_string()
            }
            _ => String::new(),
        };
        return Recommendation {
            index: Some(index),
            reason: format!(
                "holds {} of the lost entries ({}), the most of the snapshots looked into{time}",
                counts.entries,
                format_size(counts.bytes, BINARY)
            ),
        };
    }
    let looked_into = snapshots.iter().filter(|s| lost(s).is_some()).count();
    match newest_before(snapshots, deleted_at, lost) {
        Some(index) => {
            let why = if snapshots[index].cloud.is_some() {
                "not looked into: a cloud snapshot's contents are only known from a disk made from it"
            } else {
                "not looked into yet"
            };
            let when = if deleted_at.is_some() {
                "newest completed snapshot before the deletion estimate"
            } else {
                "newest completed snapshot (the deletion time is unknown)"
            };
            Recommendation {
                index: Some(index),
                reason: format!("{when}; {why}"),
            }
        }
        None if looked_into > 0 => Recommendation {
            index: None,
            reason: format!(
                "none of the {looked_into} snapshot(s) looked into holds an entry missing from \
                 the live tree"
            ),
        },
        None => Recommendation {
            index: None,
            reason: "no completed snapshot with a known time was taken before the estimated \
                     deletion: check each one"
                .into(),
        },
    }
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
            created: Some(Utc.with_ymd_and_hms(2026, 11, 28, hour, 0, 0).unwrap()),
            status,
            read_only: true,
            path: id.into(),
            layout: "subvolume".into(),
            description: None,
            retention: Default::default(),
            cloud: None,
            pre_run: false,
        }
    }

    fn cloud(id: &str, hour: Option<u32>) -> Snapshot {
        let mut s = snap(id, 0, SnapshotStatus::Completed);
        s.created = hour.map(|h| Utc.with_ymd_and_hms(2026, 11, 28, h, 0, 0).unwrap());
        s.source = "aliyun".into();
        s.cloud = Some(Default::default());
        s
    }

    fn at(hour: u32) -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(2026, 11, 28, hour, 0, 0).unwrap())
    }

    fn not_looked(_: &Snapshot) -> Option<LostCounts> {
        None
    }

    fn counts(table: &[(&str, u64, u64)]) -> impl Fn(&Snapshot) -> Option<LostCounts> {
        let table: Vec<(String, u64, u64)> = table
            .iter()
            .map(|(id, e, b)| (id.to_string(), *e, *b))
            .collect();
        move |s| {
            table
                .iter()
                .find(|(id, ..)| *id == s.id)
                .map(|(_, entries, bytes)| LostCounts {
                    entries: *entries,
                    bytes: *bytes,
                })
        }
    }

    #[test]
    fn without_looking_inside_recommends_newest_completed_before_deletion() {
        let list = vec![
            snap("after", 12, SnapshotStatus::Completed),
            snap("pending", 10, SnapshotStatus::InProgress),
            snap("good", 9, SnapshotStatus::Completed),
            snap("old", 8, SnapshotStatus::Completed),
        ];
        assert_eq!(recommend(&list, at(11), &not_looked).index, Some(2));
        assert_eq!(recommend(&list, None, &not_looked).index, Some(0));
        let too_early = recommend(&list, at(7), &not_looked);
        assert_eq!(too_early.index, None);
        assert!(too_early.reason.contains("check each one"));
    }

    /// Snapshot A holds the files, `rm`, snapshot B, a new file: B is newest before the
    /// estimate but holds nothing lost.
    #[test]
    fn the_snapshot_holding_the_most_lost_entries_wins() {
        let list = vec![
            snap("B", 10, SnapshotStatus::Completed),
            snap("A", 9, SnapshotStatus::Completed),
        ];
        let lost = counts(&[("B", 0, 0), ("A", 2, 300)]);
        let r = recommend(&list, at(11), &lost);
        assert_eq!(r.index, Some(1));
        assert!(
            r.reason.contains("holds 2 of the lost entries"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn ties_go_to_more_bytes_then_newer() {
        let list = vec![
            snap("3", 10, SnapshotStatus::Completed),
            snap("2", 9, SnapshotStatus::Completed),
            snap("1", 8, SnapshotStatus::Completed),
        ];
        let bytes = counts(&[("3", 2, 10), ("2", 2, 20), ("1", 1, 99)]);
        assert_eq!(recommend(&list, at(11), &bytes).index, Some(1));
        let same = counts(&[("3", 2, 20), ("2", 2, 20), ("1", 2, 20)]);
        assert_eq!(recommend(&list, at(11), &same).index, Some(0));
    }

    /// PATH a parent of what was deleted: the estimate falls before every snapshot, but
    /// what they hold still decides.
    #[test]
    fn content_decides_when_the_estimate_is_before_every_snapshot() {
        let list = vec![
            snap("B", 10, SnapshotStatus::Completed),
            snap("A", 9, SnapshotStatus::Completed),
        ];
        let r = recommend(&list, at(7), &counts(&[("B", 0, 0), ("A", 2, 300)]));
        assert_eq!(r.index, Some(1));
        assert!(r.reason.contains("deletion estimate"), "{}", r.reason);
    }

    #[test]
    fn snapshots_found_empty_are_not_recommended() {
        let list = vec![
            snap("B", 10, SnapshotStatus::Completed),
            snap("A", 9, SnapshotStatus::Completed),
        ];
        let r = recommend(&list, at(11), &counts(&[("B", 0, 0), ("A", 0, 0)]));
        assert_eq!(r.index, None);
        assert!(r.reason.contains("none of the 2"), "{}", r.reason);
    }

    #[test]
    fn cloud_snapshots_are_chosen_by_time_and_say_so() {
        let list = vec![cloud("s-new", Some(12)), cloud("s-old", Some(9))];
        let r = recommend(&list, at(11), &not_looked);
        assert_eq!(r.index, Some(1));
        assert!(r.reason.contains("not looked into"), "{}", r.reason);
    }

    #[test]
    fn a_snapshot_of_unknown_time_is_never_recommended_by_time() {
        let list = vec![cloud("s-unknown", None), cloud("s-old", Some(9))];
        assert_eq!(recommend(&list, at(11), &not_looked).index, Some(1));
        assert_eq!(recommend(&list, None, &not_looked).index, Some(1));
        let only_unknown = vec![cloud("s-unknown", None)];
        assert_eq!(recommend(&only_unknown, None, &not_looked).index, None);
    }
}
