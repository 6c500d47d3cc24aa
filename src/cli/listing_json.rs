//! The two documents that list every entry, `deleted --json` and `restore --json`, written
//! straight from what the engine found: built as `serde_json::Value`s, 40,000 deleted
//! entries cost 60 MB and a fifth of the command's wall time before the first byte was
//! printed. Keys keep the order a `Value` gave them (sorted), so the contract in DESIGN.md
//! is unchanged; the tests compare with the `Value` form byte for byte.

use crate::engine::JsonPath;
use crate::engine::diff::{DiffEntry, EntryKind, EntryStatus, LostCounts, TreeDiff};
use crate::engine::restore::RestoreReport;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use std::path::PathBuf;

/// What `deleted` found, owned, serialized only when `--json` asks for it.
pub struct DeletedDoc {
    pub path: PathBuf,
    pub snapshot: String,
    pub tree: TreeDiff,
    pub lost: LostCounts,
    pub rescue: Option<serde_json::Value>,
}

impl Serialize for DeletedDoc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entries = |status| Entries(&self.tree, status);
        let mut map = s.serialize_map(Some(7))?;
        map.serialize_entry("changed", &entries(EntryStatus::Changed))?;
        map.serialize_entry("deleted", &entries(EntryStatus::Deleted))?;
        map.serialize_entry("lost", &self.lost)?;
        map.serialize_entry("path", &JsonPath(&self.path))?;
        map.serialize_entry("rescue", &self.rescue)?;
        map.serialize_entry("snapshot", &self.snapshot)?;
        map.serialize_entry("unreadable", &Unreadable(&self.tree))?;
        map.end()
    }
}

/// The entries of one status, in the comparison's order.
struct Entries<'a>(&'a TreeDiff, EntryStatus);

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.with_status(self.1).map(EntryDoc))
    }
}

/// `[{"path", "reason"}]` for the directories that could not be read.
struct Unreadable<'a>(&'a TreeDiff);

impl Serialize for Unreadable<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Dir<'a> {
            path: JsonPath<'a>,
            reason: &'a str,
        }
        s.collect_seq(self.0.unreadable.iter().map(|(p, reason)| Dir {
            path: JsonPath(p),
            reason,
        }))
    }
}

/// What `restore` did, with the snapshot it restored from and what became of a cloud
/// rescue disk.
pub struct RestoreDoc {
    pub report: RestoreReport,
    pub snapshot: String,
    pub rescue: Option<serde_json::Value>,
}

impl Serialize for RestoreDoc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = &self.report;
        let mut map = s.serialize_map(Some(9))?;
        map.serialize_entry("bytes", &r.bytes)?;
        map.serialize_entry("cancelled", &r.cancelled)?;
        map.serialize_entry("destination", &JsonPath(&r.destination))?;
        map.serialize_entry("failed", &r.failed)?;
        map.serialize_entry("rescue", &self.rescue)?;
        map.serialize_entry("restored", &r.restored)?;
        map.serialize_entry("skipped", &r.skipped)?;
        map.serialize_entry("snapshot", &self.snapshot)?;
        let swept: Vec<JsonPath> = r.swept.iter().map(|p| JsonPath(p)).collect();
        map.serialize_entry("swept", &swept)?;
        map.end()
    }
}

/// One entry: `{"kind", "mtime", "path", "size", "status"}`.
struct EntryDoc<'a>(&'a DiffEntry);

impl Serialize for EntryDoc<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Fields<'a> {
            kind: EntryKind,
            #[serde(serialize_with = "rfc3339")]
            mtime: i64,
            path: JsonPath<'a>,
            size: u64,
            status: EntryStatus,
        }
        let e = self.0;
        Fields {
            kind: e.kind,
            mtime: e.mtime,
            path: JsonPath(&e.path),
            size: e.size,
            status: e.status,
        }
        .serialize(s)
    }
}

/// Whole seconds as RFC 3339 (`2026-12-07T17:28:44+00:00`), as `to_rfc3339` writes them;
/// an mtime chrono cannot hold is an empty string.
fn rfc3339<S: Serializer>(secs: &i64, s: S) -> Result<S::Ok, S::Error> {
    match DateTime::<Utc>::from_timestamp(*secs, 0) {
        Some(t) => s.collect_str(&t.format("%Y-%m-%dT%H:%M:%S%:z")),
        None => s.serialize_str(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    fn entry(path: &Path, kind: EntryKind, size: u64, status: EntryStatus) -> DiffEntry {
        DiffEntry {
            path: path.to_path_buf(),
            kind,
            size,
            mtime: 1_796_666_924,
            status,
        }
    }

    #[test]
    fn the_document_is_the_contract_with_its_keys_sorted_and_names_kept_exact() {
        let odd = Path::new(OsStr::from_bytes(b"ckpt/caf\xe9.pth"));
        let tree = TreeDiff {
            entries: vec![
                entry(Path::new("ckpt"), EntryKind::Dir, 0, EntryStatus::Deleted),
                entry(odd, EntryKind::File, 7, EntryStatus::Deleted),
                entry(Path::new("log"), EntryKind::File, 3, EntryStatus::Changed),
                entry(Path::new("same"), EntryKind::File, 1, EntryStatus::Same),
            ],
            unreadable: vec![(PathBuf::from("locked"), "Permission denied".into())],
        };
        let doc = DeletedDoc {
            path: PathBuf::from("/data/run"),
            snapshot: "257".into(),
            lost: tree.lost(),
            tree,
            rescue: None,
        };
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let mtime = "2026-12-07T18:08:44+00:00";
        let expected = json!({
            "changed": [{"kind": "file", "mtime": mtime, "path": "log", "size": 3, "status": "changed"}],
            "deleted": [
                {"kind": "dir", "mtime": mtime, "path": "ckpt", "size": 0, "status": "deleted"},
                {"kind": "file", "mtime": mtime, "path": {"hex": "636b70742f636166e92e707468", "lossy": "ckpt/caf\u{fffd}.pth"}, "size": 7, "status": "deleted"},
            ],
            "lost": {"bytes": 7, "entries": 1},
            "path": "/data/run",
            "rescue": null,
            "snapshot": "257",
            "unreadable": [{"path": "locked", "reason": "Permission denied"}],
        });
        // Byte for byte what `json!` printed before: the same values, the same key order.
        assert_eq!(text, serde_json::to_string_pretty(&expected).unwrap());
    }

    #[test]
    fn the_restore_document_is_the_report_as_a_value_with_snapshot_and_rescue() {
        use crate::engine::copy::CopyMethod;
        use crate::engine::restore::{FailedItem, RestoredItem, Verification};
        use crate::engine::restore_plan::SkippedItem;
        let odd = PathBuf::from(OsStr::from_bytes(b"caf\xe9.pth"));
        let report = RestoreReport {
            destination: PathBuf::from("/data/run"),
            restored: vec![RestoredItem {
                hash: Some("af13".into()),
                kind: EntryKind::File,
                method: Some(CopyMethod::Copy),
                path: odd.clone(),
                size: 7,
                target: Path::new("/data/run").join(&odd),
                verified_by: Some(Verification::Blake3),
            }],
            skipped: vec![SkippedItem {
                path: "newer.log".into(),
                reason: "newer in the live tree".into(),
            }],
            failed: vec![FailedItem {
                path: "big.pth".into(),
                reason: "No space left on device".into(),
            }],
            bytes: 7,
            cancelled: false,
            swept: vec![PathBuf::from("/data/run/.x.snaprescue-tmp")],
        };
        let rescue = Some(json!({"disk": "d-1", "removed": true}));
        let mut expected = serde_json::to_value(&report).unwrap();
        expected["snapshot"] = json!("257");
        expected["rescue"] = json!(rescue);
        let doc = RestoreDoc {
            report,
            snapshot: "257".into(),
            rescue,
        };
        assert_eq!(
            serde_json::to_string_pretty(&doc).unwrap(),
            serde_json::to_string_pretty(&expected).unwrap()
        );
    }
}
