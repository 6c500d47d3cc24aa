//! Parses `btrfs subvolume list` output (key/value form, run with TZ=UTC) into records.

use chrono::{DateTime, NaiveDateTime, Utc};
use std::path::PathBuf;

/// One subvolume as `btrfs subvolume list -u -q [-s]` prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct SubvolumeRecord {
    pub id: u64,
    pub top_level: u64,
    pub uuid: String,
    pub parent_uuid: Option<String>,
    pub otime: Option<DateTime<Utc>>,
    /// Relative to the top-level subvolume.
    pub path: PathBuf,
}

/// Parses every line it understands; others are ignored (btrfs prints notes sometimes).
pub fn parse(text: &str) -> Vec<SubvolumeRecord> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<SubvolumeRecord> {
    let (head, path) = line.split_once(" path ")?;
    let words: Vec<&str> = head.split_whitespace().collect();
    let after = |key: &str| {
        words
            .iter()
            .position(|w| *w == key)
            .and_then(|i| words.get(i + 1).copied())
    };
    let id = after("ID")?.parse().ok()?;
    let top_level = words
        .windows(3)
        .find(|w| w[0] == "top" && w[1] == "level")
        .and_then(|w| w[2].parse().ok())?;
    let uuid = after("uuid")?.to_string();
    let parent_uuid = after("parent_uuid")
        .filter(|u| *u != "-")
        .map(str::to_string);
    let otime = words.iter().position(|w| *w == "otime").and_then(|i| {
        let text = format!("{} {}", words.get(i + 1)?, words.get(i + 2)?);
        NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S")
            .ok()
            .map(|t| t.and_utc())
    });
    let path = path.strip_prefix("<FS_TREE>/").unwrap_or(path);
    Some(SubvolumeRecord {
        id,
        top_level,
        uuid,
        parent_uuid,
        otime,
        path: PathBuf::from(path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_snapshot_line_with_otime_and_spaces_in_path() {
        let line = "ID 257 gen 7 cgen 7 top level 5 otime 2026-11-28 12:00:01 parent_uuid \
                    599196ff-09a5-bd48-bcb1-c1f568d46e7e received_uuid -                                    \
                    uuid 035c9dc5-8123-3342-9b05-33a433d7ed97 path snaps/my snap";
        let r = parse(line).remove(0);
        assert_eq!(r.id, 257);
        assert_eq!(r.top_level, 5);
        assert_eq!(
            r.parent_uuid.as_deref(),
            Some("599196ff-09a5-bd48-bcb1-c1f568d46e7e")
        );
        assert_eq!(r.uuid, "035c9dc5-8123-3342-9b05-33a433d7ed97");
        assert_eq!(r.otime.unwrap().to_rfc3339(), "2026-11-28T12:00:01+00:00");
        assert_eq!(r.path, PathBuf::from("snaps/my snap"));
    }

    #[test]
    fn parses_plain_subvolume_without_parent() {
        let line = "ID 256 gen 7 top level 5 parent_uuid -                                    \
                    uuid 599196ff-09a5-bd48-bcb1-c1f568d46e7e path <FS_TREE>/data";
        let r = parse(line).remove(0);
        assert_eq!(r.parent_uuid, None);
        assert_eq!(r.otime, None);
        assert_eq!(r.path, PathBuf::from("data"));
    }

    #[test]
    fn ignores_unrelated_lines() {
        assert!(parse("WARNING: something\n\n").is_empty());
    }
}
