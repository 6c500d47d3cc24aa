//! The journal of freezes (DESIGN rule 6): every SIGSTOP snaprescue sends is recorded — the
//! pid, the process's start time (field 22 of `/proc/PID/stat`), its command, the PATH it
//! was frozen for and the run that froze it — and fsynced *before* the signal goes out;
//! every thaw after SIGCONT. A run killed with SIGKILL therefore never leaves a process
//! stopped without a record: any later command finds what an earlier run left frozen (the
//! same pid *and* start time, still stopped) and says how to thaw it, and `writers --thaw`
//! thaws only what this journal says snaprescue froze. The file is
//! `STATE_DIR/freezes.jsonl`, one JSON object a line (a line cut by a crash is ignored).

use crate::ports::signals::{Pidfd, ProcessError, signal};
use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum FreezeError {
    #[error(
        "process {pid} not frozen: the freeze could not be recorded in {} ({source}); \
         `kill -STOP {pid}` freezes it without a record",
        journal.display()
    )]
    Journal {
        pid: i32,
        journal: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "process {pid} is already stopped, not by snaprescue (a debugger, Ctrl-Z): left as it is"
    )]
    AlreadyStopped { pid: i32 },
    #[error(transparent)]
    Process(#[from] ProcessError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Event {
    /// Written before SIGSTOP is sent.
    Freeze,
    /// SIGSTOP could not be sent after all.
    FreezeFailed,
    /// Written after SIGCONT was sent (or the process was found gone).
    Thaw,
}

/// One line of the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Line {
    event: Event,
    pid: i32,
    start_time: u64,
    #[serde(default)]
    command: String,
    /// The PATH (absolute) whose writers were being frozen.
    #[serde(default)]
    path: PathBuf,
    at: String,
    /// The snaprescue process that wrote the line, and its start time.
    by_pid: u32,
    by_start: u64,
}

/// A process that snaprescue froze and that is still stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrozenBySnaprescue {
    pub pid: i32,
    pub start_time: u64,
    pub command: String,
    #[serde(serialize_with = "crate::engine::restore::ser_path")]
    pub path: PathBuf,
    pub frozen_at: String,
    /// The snaprescue process that froze it.
    pub by_pid: u32,
    /// Whether that snaprescue process is still running (else an earlier run left it).
    pub by_running_run: bool,
}

/// Where the journal is: `STATE_DIR/freezes.jsonl`.
pub fn journal_path() -> PathBuf {
    crate::runtime::state::state_dir().join("freezes.jsonl")
}

fn command_of(pid: i32) -> String {
    let Ok(process) = procfs::process::Process::new(pid) else {
        return String::new();
    };
    let argv = process.cmdline().unwrap_or_default().join(" ");
    if argv.is_empty() {
        process
            .stat()
            .map(|s| format!("[{}]", s.comm))
            .unwrap_or_default()
    } else {
        argv
    }
}

fn append(event: Event, pid: i32, start: u64, command: String, path: &Path) -> std::io::Result<()> {
    let journal = journal_path();
    if let Some(dir) = journal.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let me = std::process::id();
    let line = Line {
        event,
        pid,
        start_time: start,
        command,
        path: path.to_path_buf(),
        at: chrono::Utc::now().to_rfc3339(),
        by_pid: me,
        by_start: crate::ports::processes::start_time(me as i32).unwrap_or(0),
    };
    let mut text = serde_json::to_string(&line).map_err(std::io::Error::other)?;
    text.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&journal)?;
    file.write_all(text.as_bytes())?;
    file.sync_data()
}

/// The journal's lines whose last word on their process is "freeze", by (pid, start time).
fn outstanding() -> Vec<Line> {
    let Ok(text) = std::fs::read_to_string(journal_path()) else {
        return vec![];
    };
    let mut last: HashMap<(i32, u64), Line> = HashMap::new();
    let mut order = Vec::new();
    for line in text
        .lines()
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
    {
        let key = (line.pid, line.start_time);
        if !order.contains(&key) {
            order.push(key);
        }
        last.insert(key, line);
    }
    order
        .into_iter()
        .filter_map(|key| last.remove(&key))
        .filter(|l| l.event == Event::Freeze)
        .collect()
}

/// Whether the journal says snaprescue froze this very process and has not thawed it.
pub fn frozen_by_snaprescue(pid: i32, start: u64) -> bool {
    outstanding()
        .iter()
        .any(|l| l.pid == pid && l.start_time == start)
}

/// Freezes the process `pid` that started at `start`, for PATH `path`: the freeze is on
/// disk before SIGSTOP is sent. A process already stopped by someone else is left alone.
pub fn freeze(pid: i32, start: u64, path: &Path) -> Result<(), FreezeError> {
    let process = Pidfd::open(pid, start)?;
    if crate::ports::processes::state_of(pid) == Some('T') && !frozen_by_snaprescue(pid, start) {
        return Err(FreezeError::AlreadyStopped { pid });
    }
    let command = command_of(pid);
    append(Event::Freeze, pid, start, command.clone(), path).map_err(|source| {
        FreezeError::Journal {
            pid,
            journal: journal_path(),
            source,
        }
    })?;
    if let Err(e) = process.send(Signal::SIGSTOP) {
        let _ = append(Event::FreezeFailed, pid, start, command, path);
        return Err(e.into());
    }
    Ok(())
}

/// Thaws the process `pid` that started at `start` and records it. A process that is gone
/// or whose pid was reused is recorded as settled too (nothing of ours is stopped there).
pub fn thaw(pid: i32, start: u64) -> Result<(), FreezeError> {
    let result = signal(pid, start, Signal::SIGCONT);
    let settled = matches!(
        result,
        Ok(()) | Err(ProcessError::Gone { .. } | ProcessError::Recycled { .. })
    );
    if settled && frozen_by_snaprescue(pid, start) {
        // Best effort: a thaw that is not recorded is harmless, the process no longer
        // being stopped.
        let _ = append(Event::Thaw, pid, start, String::new(), Path::new(""));
    }
    result.map_err(Into::into)
}

/// Processes snaprescue froze that still exist (the same pid and start time) and are still
/// stopped, oldest freeze first.
pub fn still_frozen() -> Vec<FrozenBySnaprescue> {
    outstanding()
        .into_iter()
        .filter(|l| crate::ports::processes::stopped(l.pid, l.start_time))
        .map(|l| FrozenBySnaprescue {
            by_running_run: l.by_pid != std::process::id()
                && crate::ports::processes::alive(l.by_pid as i32, l.by_start),
            pid: l.pid,
            start_time: l.start_time,
            command: l.command,
            path: l.path,
            frozen_at: l.at,
            by_pid: l.by_pid,
        })
        .collect()
}

/// The lines that name `frozen` and say how to thaw them; empty when there are none.
pub fn describe(frozen: &[FrozenBySnaprescue]) -> Vec<String> {
    let mut lines = Vec::new();
    for f in frozen {
        let by = if f.by_running_run {
            format!("by snaprescue pid {}, still running", f.by_pid)
        } else {
            "by an earlier snaprescue run".to_string()
        };
        lines.push(format!(
            "process {} ({}) is still frozen (SIGSTOP {by}, at {}, for {})",
            f.pid,
            f.command,
            f.frozen_at,
            f.path.display()
        ));
    }
    let mut paths: Vec<&Path> = frozen.iter().map(|f| f.path.as_path()).collect();
    paths.sort();
    paths.dedup();
    if !frozen.is_empty() {
        let thaw: Vec<String> = paths
            .iter()
            .map(|p| format!("`snaprescue writers {} --thaw`", p.display()))
            .collect();
        let pids: Vec<String> = frozen.iter().map(|f| f.pid.to_string()).collect();
        lines.push(format!(
            "frozen processes keep their memory (GPU memory too) and do not run until thawed: \
             {} thaws them, or `kill -CONT {}`",
            thaw.join(" or "),
            pids.join(" ")
        ));
    }
    lines
}
