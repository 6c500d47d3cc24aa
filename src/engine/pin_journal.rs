//! The journal of pins: for every snapshot snaprescue pins, the state before the pin is
//! written and fsynced *before* anything changes, and what the pin did after. `unpin` reads
//! it back to undo only that change; a listing reads it to mark snapshots pinned; `cleanup`
//! names the pins that runs left behind (never undoing them: pinned data is safe data). One
//! JSON file per pinned snapshot in `STATE_DIR/pins/`, replaced atomically; an unpinned one
//! is moved to `pins/done/`.

use crate::sources::{PinDone, PinPrior};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One pin, as journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PinRecord {
    /// The source's name (`btrfs`, `aws`, …).
    pub source: String,
    /// Which filesystem or disk the source serves (its `pin_place`: a subvolume UUID, a
    /// cloud disk).
    pub place: String,
    pub snapshot: String,
    pub snapshot_name: String,
    /// The PATH it was pinned for (what `unpin` is given again).
    pub path: PathBuf,
    pub days: u32,
    pub prior: PinPrior,
    /// What the pin did; `None` when the run stopped before the answer was recorded.
    pub done: Option<PinDone>,
    pub at: String,
    /// `pin` (the command) or `wizard`.
    pub by: String,
    pub by_pid: u32,
    pub by_start: u64,
}

impl PinRecord {
    /// The command that takes this pin back.
    pub fn unpin_command(&self) -> String {
        format!(
            "snaprescue unpin {} --snapshot {}{}",
            crate::engine::shown(&self.path),
            self.snapshot,
            if self.source == "btrfs" {
                String::new()
            } else {
                format!(" --source {}", self.source)
            }
        )
    }

    /// Whether the snaprescue process that made it still runs.
    pub fn by_running_run(&self) -> bool {
        crate::ports::processes::alive(self.by_pid as i32, self.by_start)
    }
}

pub fn pins_dir() -> PathBuf {
    crate::runtime::state::state_dir().join("pins")
}

/// A file name for the pin of `snapshot` from `source` at `place` (a btrfs id is only
/// unique within its filesystem).
fn file_name(source: &str, place: &str, snapshot: &str) -> String {
    // FNV-1a: stable across runs and builds.
    let hash = place.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let safe: String = snapshot
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    format!("{source}-{safe}-{hash:016x}.json")
}

/// Writes `record` (atomically: a temporary file fsynced, then renamed over the old one).
pub fn write(record: &PinRecord) -> std::io::Result<PathBuf> {
    let dir = pins_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(file_name(&record.source, &record.place, &record.snapshot));
    let temp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)?;
    let text = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
    file.write_all(&text)?;
    file.sync_all()?;
    std::fs::rename(&temp, &path)?;
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(path)
}

fn read(path: &Path) -> Option<PinRecord> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// The record of a pin of `snapshot` that exists but cannot be read (damaged), if any.
pub fn unreadable(source: &str, place: &str, snapshot: &str) -> Option<PathBuf> {
    let path = pins_dir().join(file_name(source, place, snapshot));
    (path.exists() && read(&path).is_none()).then_some(path)
}

/// The pin of `snapshot` from `source` at `place`, if snaprescue holds one.
pub fn find(source: &str, place: &str, snapshot: &str) -> Option<PinRecord> {
    read(&pins_dir().join(file_name(source, place, snapshot)))
}

/// Files the pin away (it was undone, or nothing is left to undo).
pub fn retire(record: &PinRecord) -> std::io::Result<()> {
    let name = file_name(&record.source, &record.place, &record.snapshot);
    let done = pins_dir().join("done");
    std::fs::create_dir_all(&done)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    std::fs::rename(pins_dir().join(&name), done.join(format!("{stamp}-{name}")))
}

/// Files away the pins made for paths under `root` (a drill lab about to be removed, its
/// snapshots with it); returns how many.
pub fn retire_under(root: &Path) -> usize {
    all()
        .iter()
        .filter(|r| r.path.starts_with(root))
        .filter(|r| retire(r).is_ok())
        .count()
}

/// Every pin snaprescue holds, oldest first.
pub fn all() -> Vec<PinRecord> {
    let mut records: Vec<PinRecord> = std::fs::read_dir(pins_dir())
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .filter_map(|p| read(&p))
                .collect()
        })
        .unwrap_or_default();
    records.sort_by(|a, b| a.at.cmp(&b.at));
    records
}

/// Pins whose run has ended (a crashed or finished wizard, a `pin` command): still in place.
pub fn left_by_ended_runs() -> Vec<PinRecord> {
    all().into_iter().filter(|r| !r.by_running_run()).collect()
}

/// What `cleanup` says about each pin left in place.
pub fn describe(records: &[PinRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            let state = match &r.done {
                Some(done) => done.did.clone(),
                None => "the pin was asked for, its answer not recorded".into(),
            };
            format!(
                "kept pinned (not undone: pinned data is safe data): {} {} ({}), pinned by {} \
                 at {}: {state}. To unpin: {}",
                r.source,
                r.snapshot,
                r.snapshot_name,
                r.by,
                r.at,
                r.unpin_command()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_and_differ_by_place() {
        let a = file_name(
            "btrfs",
            "btrfs subvolume data (id 256) on /dev/loop3",
            "257",
        );
        let b = file_name(
            "btrfs",
            "btrfs subvolume data (id 256) on /dev/loop4",
            "257",
        );
        assert_ne!(a, b);
        assert!(a.starts_with("btrfs-257-") && a.ends_with(".json"), "{a}");
        assert!(!file_name("aws", "x", "../../etc").contains('/'));
    }
}
