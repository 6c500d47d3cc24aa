//! The journal of one cloud run (DESIGN rule 7): a JSON-lines file in the state directory,
//! written and fsynced before each step starts and after it ends, with the ids of what was
//! created and where it was mounted. A run whose journal has no `finished` line and whose
//! process is gone was interrupted; `snaprescue cleanup` finishes it from these lines.

use super::RescueError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The first line: what the run is and how to reach its cloud again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunHeader {
    pub run: String,
    /// `rescue`, or the kind of rollback (`rollback-aws-data`, `rollback-aliyun`, …) its
    /// provider finishes.
    pub kind: String,
    pub cloud: String,
    pub region: String,
    pub endpoint: String,
    pub instance: Option<String>,
    pub snapshot: String,
    /// The disk a rollback replaces.
    pub disk: Option<String>,
    pub started: String,
    pub pid: u32,
    /// The process start time (clock ticks since boot), so a reused pid is not mistaken for us.
    pub pid_start: u64,
}

impl RunHeader {
    /// The header of a rollback of `disk` on `instance`.
    pub fn rollback(
        kind: &str,
        cloud: &dyn crate::providers::CloudProvider,
        snapshot: &str,
        instance: &str,
        disk: &str,
    ) -> Self {
        Self {
            instance: Some(instance.to_string()),
            disk: Some(disk.to_string()),
            ..Self::new(kind, cloud, snapshot)
        }
    }

    /// The header of a run on a local source (`zfs`): no region or endpoint; `cleanup`
    /// finishes it through that source, not a cloud.
    pub fn local(kind: &str, source: &str, snapshot: &str, disk: &str) -> Self {
        let pid = std::process::id();
        Self {
            run: super::new_run_id(),
            kind: kind.into(),
            cloud: source.into(),
            region: String::new(),
            endpoint: String::new(),
            instance: None,
            snapshot: snapshot.into(),
            disk: Some(disk.into()),
            started: chrono::Utc::now().to_rfc3339(),
            pid,
            pid_start: crate::ports::processes::start_time(pid as i32).unwrap_or(0),
        }
    }

    pub fn new(kind: &str, cloud: &dyn crate::providers::CloudProvider, snapshot: &str) -> Self {
        let pid = std::process::id();
        Self {
            run: super::new_run_id(),
            kind: kind.into(),
            cloud: cloud.name().into(),
            region: cloud.region().into(),
            endpoint: cloud.endpoint().into(),
            instance: None,
            snapshot: snapshot.into(),
            disk: None,
            started: chrono::Utc::now().to_rfc3339(),
            pid,
            pid_start: crate::ports::processes::start_time(pid as i32).unwrap_or(0),
        }
    }
}

/// Runs `work` under a new journal for `header`. When it fails, `settle` (the same code
/// `snaprescue cleanup` runs for this kind of run) first puts things in a consistent state
/// and the error says which; if that fails too, the journal stays for `cleanup`.
pub fn journaled<T>(
    header: RunHeader,
    work: impl FnOnce(&Journal) -> Result<T, RescueError>,
    settle: impl FnOnce(&RunRecord, &Journal) -> Result<String, RescueError>,
) -> Result<T, RescueError> {
    let journal = Journal::begin(header)?;
    match work(&journal) {
        Ok(value) => {
            journal.finish("done")?;
            Ok(value)
        }
        Err(e) => {
            let settled = RunRecord::read(journal.path()).map(|record| settle(&record, &journal));
            match settled {
                Some(Ok(state)) => {
                    journal.finish("failed")?;
                    Err(RescueError::Refused(format!("{e}; afterwards: {state}")))
                }
                _ => Err(RescueError::Refused(format!(
                    "{e}; run `snaprescue cleanup` to finish the {}",
                    journal.header.kind.replace('-', " ")
                ))),
            }
        }
    }
}

/// Where journals live: `<state dir>/journal`, finished ones under `done/`.
pub fn journal_dir() -> PathBuf {
    crate::runtime::state::state_dir().join("journal")
}

pub struct Journal {
    path: PathBuf,
    file: Mutex<std::fs::File>,
    pub header: RunHeader,
}

impl Journal {
    /// Creates the journal of a new run and writes its header.
    pub fn begin(header: RunHeader) -> Result<Self, RescueError> {
        let dir = journal_dir();
        std::fs::create_dir_all(&dir)
            .map_err(RescueError::io(format!("cannot create {}", dir.display())))?;
        let path = dir.join(format!("{}.jsonl", header.run));
        let journal = Self::open(&path, header)?;
        let line = serde_json::to_value(&journal.header).unwrap_or_default();
        journal.write(&line)?;
        Ok(journal)
    }

    /// Appends to the journal of an interrupted run.
    pub fn resume(run: &RunRecord) -> Result<Self, RescueError> {
        Self::open(&run.path, run.header.clone())
    }

    fn open(path: &Path, header: RunHeader) -> Result<Self, RescueError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(RescueError::io(format!(
                "cannot write the journal {}",
                path.display()
            )))?;
        Ok(Self {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            header,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&self, line: &Value) -> Result<(), RescueError> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = line.to_string();
        text.push('\n');
        file.write_all(text.as_bytes())
            .and_then(|_| file.sync_data())
            .map_err(RescueError::io(format!(
                "cannot write the journal {}",
                self.path.display()
            )))
    }

    /// Records that `step` reached `phase` (`start` or `done`), with `fields` (ids, paths).
    pub fn record(&self, step: &str, phase: &str, fields: Value) -> Result<(), RescueError> {
        let mut line = json!({"step": step, "phase": phase, "at": chrono::Utc::now().to_rfc3339()});
        if let (Some(line), Value::Object(extra)) = (line.as_object_mut(), fields) {
            line.extend(extra);
        }
        self.write(&line)?;
        crash_point(step, phase);
        Ok(())
    }

    /// Writes the last line and moves the journal to `done/`.
    pub fn finish(self, outcome: &str) -> Result<(), RescueError> {
        self.record("finished", outcome, json!({}))?;
        let done = journal_dir().join("done");
        std::fs::create_dir_all(&done)
            .and_then(|_| {
                std::fs::rename(
                    &self.path,
                    done.join(self.path.file_name().unwrap_or_default()),
                )
            })
            .map_err(RescueError::io("cannot file the finished journal"))
    }
}

/// Fault injection for the crash tests: `SNAPRESCUE_CRASH_AT=step:phase` kills this process
/// with SIGKILL right after that line is durable, as a power cut or `kill -9` would.
pub(crate) fn crash_point(step: &str, phase: &str) {
    if let Ok(at) = std::env::var("SNAPRESCUE_CRASH_AT")
        && at == format!("{step}:{phase}")
    {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

/// A journal read back.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub path: PathBuf,
    pub header: RunHeader,
    pub events: Vec<Value>,
}

impl RunRecord {
    pub fn read(path: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut lines = text.lines();
        let header = serde_json::from_str(lines.next()?).ok()?;
        // A line cut by the crash is ignored.
        let events = lines.filter_map(|l| serde_json::from_str(l).ok()).collect();
        Some(Self {
            path: path.to_path_buf(),
            header,
            events,
        })
    }

    pub fn reached(&self, step: &str, phase: &str) -> bool {
        self.events
            .iter()
            .any(|e| e["step"] == step && e["phase"] == phase)
    }

    /// What the journal knows of a reset done by `step` to `disk`: done, maybe (asked, the
    /// answer not recorded), or not done. Said by every rollback's `cleanup`.
    pub fn reset_outcome(&self, step: &str, disk: &str) -> String {
        let snapshot = &self.header.snapshot;
        if self.reached(step, "done") {
            format!("{disk} was reset to {snapshot}")
        } else if self.reached(step, "start") {
            format!(
                "{disk} may or may not have been reset to {snapshot} (the request's answer was \
                 not recorded; check its data)"
            )
        } else {
            format!("{disk} was not reset")
        }
    }

    /// The last value of `key` recorded by any step.
    pub fn field(&self, key: &str) -> Option<String> {
        self.events
            .iter()
            .rev()
            .find_map(|e| e[key].as_str().map(str::to_string))
    }

    /// Whether the process that wrote it is still running.
    pub fn alive(&self) -> bool {
        crate::ports::processes::alive(self.header.pid as i32, self.header.pid_start)
    }
}

/// Runs whose journal was not finished and whose process is gone, oldest first.
pub fn interrupted() -> Vec<RunRecord> {
    let mut runs: Vec<RunRecord> = std::fs::read_dir(journal_dir())
        .map(|r| {
            r.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .filter_map(|p| RunRecord::read(&p))
                .filter(|r| !r.alive())
                .collect()
        })
        .unwrap_or_default();
    runs.sort_by(|a, b| a.header.started.cmp(&b.header.started));
    runs
}
