//! The `zfs` command, spoken with argv only and read from its `-H` (tab-separated) output,
//! in the subset both OpenZFS and the old zfs-fuse (pool v23) understand: `zfs list -p` and
//! `zfs holds` exist only on OpenZFS, so numbers come from `zfs get -H -p` (both have it)
//! and holds are counted by the `userrefs` property, their tags read by `zfs holds` where it
//! works.

use crate::ports::command::{self, CommandError};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;

/// The hold tag snaprescue puts on a snapshot it keeps from deletion.
pub const HOLD_TAG: &str = "snaprescue";

/// What `zfs get` says of one snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotProperties {
    pub creation: Option<DateTime<Utc>>,
    /// Bytes only this snapshot holds.
    pub used: Option<u64>,
    /// How many holds it has (`userrefs`): a held snapshot cannot be destroyed.
    pub userrefs: u64,
    /// User properties (`module:name`), set locally or received.
    pub user: BTreeMap<String, String>,
}

fn zfs(args: &[&str]) -> Result<String, CommandError> {
    command::run("zfs", args)
}

/// The full names (`dataset@snap`) of `dataset`'s own snapshots, oldest first.
pub fn snapshot_names(dataset: &str) -> Result<Vec<String>, CommandError> {
    let out = zfs(&[
        "list", "-H", "-t", "snapshot", "-o", "name", "-s", "creation", "-d", "1", dataset,
    ])?;
    Ok(out
        .lines()
        .filter(|l| l.starts_with(dataset) && l[dataset.len()..].starts_with('@'))
        .map(str::to_string)
        .collect())
}

/// Creation, used, holds and user properties of each of `names` (parsable numbers).
pub fn snapshot_properties(
    names: &[String],
) -> Result<BTreeMap<String, SnapshotProperties>, CommandError> {
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut args = vec!["get", "-H", "-p", "-o", "name,property,value,source", "all"];
    args.extend(names.iter().map(String::as_str));
    Ok(parse_properties(&zfs(&args)?))
}

/// Parses `zfs get -H -p -o name,property,value,source` output. A value may hold spaces (and
/// tabs, for a user property): the name and property are the first two fields, the source
/// the last.
pub fn parse_properties(out: &str) -> BTreeMap<String, SnapshotProperties> {
    let mut all: BTreeMap<String, SnapshotProperties> = BTreeMap::new();
    for line in out.lines() {
        let mut head = line.splitn(3, '\t');
        let (Some(name), Some(property), Some(rest)) = (head.next(), head.next(), head.next())
        else {
            continue;
        };
        let (value, source) = rest.rsplit_once('\t').unwrap_or((rest, "-"));
        let entry = all.entry(name.to_string()).or_default();
        match property {
            "creation" => {
                entry.creation = value
                    .parse::<i64>()
                    .ok()
                    .and_then(|s| Utc.timestamp_opt(s, 0).single())
            }
            "used" => entry.used = value.parse().ok(),
            "userrefs" => entry.userrefs = value.parse().unwrap_or(0),
            p if p.contains(':') && source != "-" => {
                entry.user.insert(p.to_string(), value.to_string());
            }
            _ => {}
        }
    }
    all
}

/// One property's value of one dataset or snapshot (`-` when unset).
pub fn property(name: &str, property: &str) -> Result<String, CommandError> {
    Ok(zfs(&["get", "-H", "-p", "-o", "value", property, name])?
        .trim_end_matches('\n')
        .to_string())
}

/// Whether the dataset or snapshot `name` exists.
pub fn exists(name: &str) -> bool {
    zfs(&["get", "-H", "-o", "value", "type", name]).is_ok()
}

/// Takes the snapshot `dataset@snap`.
pub fn snapshot(full_name: &str) -> Result<(), CommandError> {
    zfs(&["snapshot", full_name]).map(drop)
}

/// Puts snaprescue's hold on `snapshot` (a held snapshot cannot be destroyed by any policy).
/// Holding one already held by snaprescue is not an error.
pub fn hold(snapshot: &str) -> Result<(), CommandError> {
    match zfs(&["hold", HOLD_TAG, snapshot]) {
        Err(CommandError::Failed { stderr, .. }) if stderr.contains("tag already exists") => Ok(()),
        other => other.map(drop),
    }
}

/// Takes snaprescue's hold off `snapshot`; one not held by snaprescue is not an error.
pub fn release(snapshot: &str) -> Result<(), CommandError> {
    match zfs(&["release", HOLD_TAG, snapshot]) {
        Err(CommandError::Failed { stderr, .. }) if stderr.contains("no such tag") => Ok(()),
        other => other.map(drop),
    }
}

/// Who holds `snapshot`: the tags where `zfs holds` works (OpenZFS), else only how many
/// (zfs-fuse's `zfs holds` needs a helper it does not ship; `userrefs` counts them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holds {
    pub count: u64,
    pub tags: Option<Vec<String>>,
}

impl Holds {
    /// Held by snaprescue; where tags cannot be read, any hold counts.
    pub fn by_snaprescue(&self) -> bool {
        match &self.tags {
            Some(tags) => tags.iter().any(|t| t == HOLD_TAG),
            None => self.count > 0,
        }
    }
}

pub fn holds(snapshot: &str) -> Result<Holds, CommandError> {
    let count = property(snapshot, "userrefs")?.parse().unwrap_or(0);
    let tags = zfs(&["holds", "-H", snapshot])
        .ok()
        .map(|out| parse_holds(&out));
    Ok(Holds { count, tags })
}

/// Tags from `zfs holds -H` (`name<TAB>tag<TAB>timestamp`).
pub fn parse_holds(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.split('\t').nth(1))
        .map(str::to_string)
        .collect()
}

/// A read-only clone of `snapshot` named `clone`, mounted at `mountpoint`.
pub fn clone_read_only(snapshot: &str, clone: &str, mountpoint: &str) -> Result<(), CommandError> {
    let mountpoint = format!("mountpoint={mountpoint}");
    zfs(&[
        "clone",
        "-o",
        "readonly=on",
        "-o",
        &mountpoint,
        snapshot,
        clone,
    ])
    .map(drop)
}

/// Destroys a dataset or snapshot snaprescue made; one already gone counts as done. zfs-fuse
/// answers "dataset is busy" while its unmount settles: asked again a few times.
pub fn destroy(name: &str) -> Result<(), CommandError> {
    let mut last = None;
    for attempt in 0..10 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(200 * attempt));
        }
        match zfs(&["destroy", name]) {
            Ok(_) => return Ok(()),
            Err(CommandError::Failed { stderr, .. }) if stderr.contains("does not exist") => {
                return Ok(());
            }
            Err(e @ CommandError::Failed { .. }) if e.to_string().contains("busy") => {
                last = Some(e)
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("ten attempts were made"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_are_read_with_spaces_and_user_properties() {
        let out = "p/d@s 1\tcreation\t1796244856\t-\n\
                   p/d@s 1\tused\t90112\t-\n\
                   p/d@s 1\tuserrefs\t1\t-\n\
                   p/d@s 1\tsnaprescue:note\thello\tworld\tlocal\n\
                   p/d@s 1\tcom.sun:auto-snapshot\ttrue\tinherited from p\n\
                   p/d@s 1\tcompressratio\t1.00x\t-\n";
        let props = parse_properties(out);
        let p = &props["p/d@s 1"];
        assert_eq!(p.creation.unwrap().timestamp(), 1796244856);
        assert_eq!(p.used, Some(90112));
        assert_eq!(p.userrefs, 1);
        assert_eq!(p.user["snaprescue:note"], "hello\tworld");
        assert_eq!(p.user["com.sun:auto-snapshot"], "true");
        assert_eq!(p.user.len(), 2);
    }

    #[test]
    fn unreadable_numbers_are_unknown() {
        let props = parse_properties("p/d@x\tcreation\t-\t-\np/d@x\tused\tbig\t-\n");
        assert_eq!(props["p/d@x"].creation, None);
        assert_eq!(props["p/d@x"].used, None);
    }

    #[test]
    fn hold_tags_are_read() {
        let out = "p/d@s\tsnaprescue\tWed Dec  2 20:54 2026\np/d@s\tkeep\tWed Dec  2 20:55 2026\n";
        assert_eq!(parse_holds(out), vec!["snaprescue", "keep"]);
        let counted = Holds {
            count: 1,
            tags: None,
        };
        assert!(counted.by_snaprescue());
        let tagged = Holds {
            count: 1,
            tags: Some(vec!["keep".into()]),
        };
        assert!(!tagged.by_snaprescue());
    }
}
