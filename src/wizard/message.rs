//! What flows between the wizard and the runtime: the [`Msg`]s that reach `update` (keys,
//! ticks, results of work) and the [`Effect`]s it asks the runtime to carry out.

use super::model::{SignalAction, SnapshotListing};
use crate::engine::diff::{LostCounts, TreeDiff};
use crate::engine::harvest::{HarvestReport, HarvestTarget};
use crate::engine::newer::NewerFiles;
use crate::engine::restore::{Progress, RestoreReport};
use crate::engine::restore_plan::ConflictPolicy;
use crate::engine::torch_check::{JobPython, TorchReport};
use crate::engine::verify::Verdict;
use crate::ports::gpu::GpuStatus;
use crate::ports::processes::ProcessUse;
use crate::sources::RollbackOutcome;
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct DiffLoaded {
    pub snapshot_id: String,
    pub tree: TreeDiff,
    pub dest: PathBuf,
    pub free_bytes: u64,
    /// Snapshot and PATH on one btrfs filesystem (a restore reflinks: no space needed).
    pub reflink: bool,
    /// What the snapshot copy may lack (see `OpenedSnapshot::caveat`).
    pub caveat: Option<String>,
    pub elapsed_ms: u128,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Key(super::Key),
    Tick,
    WritersScanned {
        processes: Vec<ProcessUse>,
        unreadable: usize,
        elapsed_secs: f64,
    },
    Signalled {
        action: SignalAction,
        results: Vec<(i32, Result<(), String>)>,
    },
    Harvested(Result<HarvestReport, String>),
    Remounted(Result<String, String>),
    GpuProbed(GpuStatus),
    SnapshotsListed(Result<SnapshotListing, String>),
    LostCounted {
        id: String,
        lost: Result<LostCounts, String>,
    },
    NewerScanned(Result<NewerFiles, String>),
    DiffReady(Result<DiffLoaded, String>),
    /// Entries compared so far while the snapshot is compared with the live tree.
    DiffProgress {
        scanned: u64,
        first_deleted: Vec<PathBuf>,
        /// What opening the snapshot is doing (creating a cloud rescue disk…), if anything.
        stage: String,
    },
    RestoreProgress(Progress),
    RestoreRefused(String),
    RestoreDone {
        report: RestoreReport,
        elapsed_ms: u128,
    },
    VerifyProgress {
        done: usize,
        total: usize,
    },
    Verified {
        verdicts: Vec<Verdict>,
        elapsed_ms: u128,
    },
    TorchChecked(TorchReport),
    RollbackDone(Result<RollbackOutcome, String>),
    /// Harvested files copied back: (original, outcome).
    CopiedBack(Vec<(PathBuf, Result<(), crate::engine::harvest::CopyBackError>)>),
    /// The rollback's dry run: Err names what would refuse it.
    RollbackChecked(Result<(), String>),
    /// What a running rollback is doing now.
    RollbackStage(String),
    ReportWritten(Result<PathBuf, String>),
    Pinned {
        id: String,
        result: Result<crate::pinning::PinOutcome, String>,
    },
    Unpinned {
        id: String,
        result: Result<crate::pinning::UnpinOutcome, String>,
    },
    /// The audit of PATH's disk (step 6).
    Audited(Result<Vec<crate::protect::run::SourceAudit>, String>),
    /// `p`'s policy: (source, what changed).
    PolicyApplied(Result<(String, crate::protect::PolicyApplied), String>),
    /// `s`'s pre-run snapshot.
    PreRunSnapshot(Result<crate::protect::TakenSnapshot, String>),
}

/// The summary written at the end.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FinishReport {
    /// The snaprescue that wrote it: version, commit, build target.
    pub snaprescue: String,
    pub path: String,
    pub snapshot: Option<String>,
    pub deleted_at: Option<String>,
    pub restored: usize,
    pub restored_bytes: u64,
    pub skipped: Vec<String>,
    pub failed: Vec<String>,
    pub rollback: Option<String>,
    pub frozen: Vec<i32>,
    /// "OK"/"FAIL path: detail" per restored file.
    pub verdicts: Vec<String>,
    /// The torch check: versions and GPUs, or the diagnosis.
    pub torch: Option<String>,
    /// (step, milliseconds).
    pub timings: Vec<(String, u128)>,
    /// What this run left on disk on purpose (harvested files, rollback guard).
    pub created: Vec<String>,
    /// Each restore and rollback of this run, in order.
    pub actions: Vec<String>,
    /// Lost entries that did not come back, with where each still is.
    pub still_missing: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    ScanWriters,
    Signal {
        action: SignalAction,
        targets: Vec<(i32, u64)>,
    },
    Harvest {
        targets: Vec<HarvestTarget>,
        dir: PathBuf,
    },
    RemountReadOnly,
    ProbeGpu,
    ListSnapshots,
    CountLost {
        id: String,
    },
    ScanNewer {
        id: String,
    },
    LoadDiff {
        id: String,
    },
    Restore {
        id: String,
        selection: Vec<PathBuf>,
        policy: ConflictPolicy,
    },
    /// Cancels the running job of that kind, and only it.
    Cancel(Job),
    /// Cancels every running job (leaving the wizard).
    CancelAll,
    Rollback {
        id: String,
        confirm: String,
    },
    Verify {
        files: Vec<PathBuf>,
        recorded: HashMap<PathBuf, String>,
    },
    /// Copies harvested files back into place (checked against their recorded BLAKE3).
    CopyBack {
        files: Vec<crate::engine::harvest::HarvestedFile>,
    },
    /// Runs the rollback's dry run for the snapshot: what would refuse it.
    CheckRollback {
        id: String,
    },
    /// Verifies every checkpoint below `root` (after a rollback).
    VerifyUnder {
        root: PathBuf,
    },
    /// The job's interpreter (None: python3) and the checkpoints to load.
    TorchCheck {
        python: Option<JobPython>,
        checkpoints: Vec<PathBuf>,
    },
    WriteReport(Box<FinishReport>),
    /// Keeps the snapshot from its policy's deletion for `days` (journaled).
    Pin {
        id: String,
        days: u32,
    },
    /// Takes back snaprescue's pin of the snapshot.
    Unpin {
        id: String,
    },
    /// Audits the protection of PATH's disk (over its snapshots as they are now).
    AuditProtection,
    /// Applies the recommended automatic policy to PATH's disk (the user confirmed).
    ApplyPolicy,
    /// Takes a pre-run snapshot of PATH's disk, named by the time (the user confirmed).
    TakePreRunSnapshot,
    Quit,
}

/// The kinds of background job a cancel can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    /// Opening a snapshot and comparing it with the live tree.
    Diff,
    Restore,
    Rollback,
}
