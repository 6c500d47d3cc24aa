//! The wizard's state: the step it is at and what each step has learned.

use super::picker::Picker;
use crate::engine::diff::LostCounts;
use crate::engine::harvest::{HarvestReport, HarvestedFile};
pub use crate::engine::newer::NewerFiles;
use crate::engine::restore::{Progress, RestoreReport};
use crate::engine::restore_plan::ConflictPolicy;
use crate::engine::torch_check::TorchReport;
use crate::engine::verify::Verdict;
use crate::ports::gpu::GpuStatus;
use crate::ports::processes::ProcessUse;
use crate::sources::{RollbackOutcome, Snapshot};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Writers,
    Gpu,
    Snapshots,
    Recovery,
    Restore,
    Finish,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::Writers,
        Step::Gpu,
        Step::Snapshots,
        Step::Recovery,
        Step::Restore,
        Step::Finish,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Step::Writers => "Stop writers",
            Step::Gpu => "GPU",
            Step::Snapshots => "Snapshot",
            Step::Recovery => "Rescue/Rollback",
            Step::Restore => "Restore",
            Step::Finish => "Finish",
        }
    }

    pub fn index(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalAction {
    Freeze,
    Thaw,
    /// SIGTERM, then SIGKILL after [`TERMINATE_GRACE_SECS`].
    Terminate,
}

pub const TERMINATE_GRACE_SECS: u64 = 10;

/// Where harvested files go unless the user types another directory: tmpfs, never the disk
/// that lost the files.
pub const DEFAULT_HARVEST_DIR: &str = "/dev/shm/snaprescue-harvest";

/// An action of step 1 waiting for its confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    Signal(SignalAction, Vec<(i32, u64)>),
    /// Terminating would destroy this many deleted files that were not harvested.
    Terminate {
        targets: Vec<(i32, u64)>,
        unharvested: usize,
    },
    Remount,
    /// Harvest: the folder the saved files go to, being typed.
    HarvestTo(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    QuitConfirm,
    /// Deleted files that only a process's open handle still holds, not yet saved: asked
    /// before moving on (while a writer runs) or quitting.
    AtRisk(Leaving),
}

/// What the user was doing when asked about files at risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaving {
    NextStep,
    Quit,
}

pub use crate::engine::choose::COUNTED_SNAPSHOTS;

#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotListing {
    pub source: String,
    /// (source name, what to type to confirm a rollback there).
    pub rollback_targets: Vec<(String, String)>,
    /// (source name, how its rollback is said in step 4).
    pub rollback_words: Vec<(String, crate::sources::RollbackWords)>,
    pub snapshots: Vec<Snapshot>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub recommended: Option<usize>,
    /// Why `recommended` is the one (or why there is none).
    pub recommend_reason: String,
}

impl SnapshotListing {
    /// Whether the snapshot at `index` gets its lost entries counted.
    pub fn worth_counting(&self, index: usize, snapshot: &Snapshot) -> bool {
        crate::engine::choose::worth_looking_into(snapshot, index, self.recommended)
    }

    /// Whether some snapshot worth counting has no count yet.
    pub fn counting(&self, lost: &crate::session::LostById) -> bool {
        self.snapshots
            .iter()
            .enumerate()
            .any(|(i, s)| self.worth_counting(i, s) && !lost.contains_key(&s.id))
    }

    /// Recommends again from what was counted (the same choice as the CLI's `snapshots`).
    pub fn recommend_by(&mut self, lost: &crate::session::LostById) {
        let chosen = crate::session::recommend_from(&self.snapshots, self.deleted_at, lost);
        self.recommended = chosen.index;
        self.recommend_reason = chosen.reason;
    }
}

#[derive(Debug, Clone, Default)]
pub struct Writers {
    pub loaded: bool,
    pub processes: Vec<ProcessUse>,
    pub unreadable: usize,
    pub selected: usize,
    /// Bytes per second written, from the last two scans.
    pub rates: HashMap<i32, f64>,
    /// (pid, start time, command) of what this run froze.
    pub frozen: Vec<(i32, u64, String)>,
    /// An action waiting for its answer (a confirmation, or the harvest folder).
    pub confirm: Option<Pending>,
    /// `/proc/PID/fd/N` handles whose data was saved.
    pub harvested: std::collections::HashSet<PathBuf>,
    pub last_harvest: Option<HarvestReport>,
    pub working: bool,
    /// What earlier runs saved in the harvest folder: adopted when the same process (pid
    /// and start time) still holds the same handle, so it is not asked about again.
    pub earlier: Vec<HarvestedFile>,
    /// What of snaprescue's own (program, state, install cache) lies on the filesystem
    /// being rescued: one line at the top of step 1.
    pub self_warning: Option<String>,
}

impl Writers {
    /// Whether this run froze the process (else someone else stopped it: not ours to thaw).
    pub fn froze(&self, pid: i32, start_time: u64) -> bool {
        self.frozen.iter().any(|f| f.0 == pid && f.1 == start_time)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Snapshots {
    pub listing: Option<SnapshotListing>,
    pub error: Option<String>,
    pub selected: usize,
    pub lost: HashMap<String, Result<LostCounts, String>>,
    pub chosen: Option<String>,
    /// The pins of the snapshots picked (so no policy deletes them mid-rescue).
    pub pins: super::pins::Pins,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoveryChoice {
    #[default]
    Rescue,
    Rollback,
}

/// Where step 4 is: choosing, confirming a rollback (refusals checked, then the name
/// typed), or rolling back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoveryPhase {
    #[default]
    Choosing,
    Confirming,
    Running,
}

#[derive(Debug, Clone, Default)]
pub struct Recovery {
    pub choice: RecoveryChoice,
    pub phase: RecoveryPhase,
    pub typed: String,
    pub newer: Option<Result<NewerFiles, String>>,
    /// What would refuse the rollback (busy, read-only, mounts), checked before anything
    /// is typed; None while the check runs, Some(Ok) when nothing does.
    pub refusal: Option<Result<(), String>>,
    /// Sent to step 1 from a refused rollback (`f`): leaving step 1 comes back here.
    pub back_to_rollback: bool,
    /// Where a running rollback is (a cloud rollback takes minutes).
    pub stage: String,
    pub outcome: Option<Result<RollbackOutcome, String>>,
}

/// Where step 5 is: comparing, browsing, asking (restore? leave?), restoring, cancelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestorePhase {
    #[default]
    Browsing,
    /// The snapshot is opened and compared with the live tree.
    Loading,
    Confirming,
    /// Asked before leaving the picker with a selection (which leaving forgets).
    Leaving,
    Running,
    Cancelling,
}

impl RestorePhase {
    /// A restore is copying (or stopping).
    pub fn restoring(self) -> bool {
        matches!(self, RestorePhase::Running | RestorePhase::Cancelling)
    }
}

#[derive(Debug, Clone)]
pub struct RestoreRun {
    pub phase: RestorePhase,
    /// Entries compared so far while loading, and the first deleted ones found.
    pub scanned: u64,
    pub first_deleted: Vec<PathBuf>,
    /// What opening the snapshot is doing, when that takes time (a cloud rescue disk).
    pub stage: String,
    pub error: Option<String>,
    pub policy: ConflictPolicy,
    pub progress: Option<Progress>,
    pub report: Option<RestoreReport>,
}

impl Default for RestoreRun {
    fn default() -> Self {
        Self {
            phase: RestorePhase::Browsing,
            scanned: 0,
            first_deleted: Vec::new(),
            stage: String::new(),
            error: None,
            policy: ConflictPolicy::Skip,
            progress: None,
            report: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Finish {
    /// The disk's protection: the audit, `p` and `s`.
    pub protection: super::protection::Protection,
    pub report_file: Option<Result<PathBuf, String>>,
    pub thawed: bool,
    pub verify_progress: Option<(usize, usize)>,
    pub verdicts: Option<Vec<Verdict>>,
    pub torch: Option<TorchReport>,
    /// (step, milliseconds) measured by the runtime.
    pub timings: Vec<(String, u128)>,
    /// First line shown of the finish screen (it scrolls).
    pub scroll: u16,
    /// One line per restore or rollback of this run, for the report.
    pub actions: Vec<String>,
    /// Entries and bytes restored over all restores of this run.
    pub restored_total: (usize, u64),
    /// The checks of the latest action are running; the report is written when they end.
    pub report_pending: bool,
    /// Harvested files copied back into place: (original, outcome).
    pub copied_back: Vec<(PathBuf, Result<(), String>)>,
}

impl Finish {
    /// The harvested copy of `original` is back in place.
    pub fn is_back(&self, original: &Path) -> bool {
        self.copied_back
            .iter()
            .any(|(o, r)| o == original && r.is_ok())
    }
}

#[derive(Debug, Clone)]
pub struct Model {
    pub path: PathBuf,
    /// Restores go here instead of PATH (`--to DIR`), when given.
    pub restore_to: Option<PathBuf>,
    pub step: Step,
    pub overlay: Overlay,
    pub quitting: bool,
    /// Sent to step 1 from a later step (to save open files): leaving step 1 goes back there.
    pub return_to: Option<Step>,
    pub notice: Option<String>,
    pub writers: Writers,
    pub gpu: Option<GpuStatus>,
    pub snapshots: Snapshots,
    pub recovery: Recovery,
    pub picker: Option<Picker>,
    pub restore: RestoreRun,
    pub finish: Finish,
}

impl Model {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            restore_to: None,
            step: Step::Writers,
            overlay: Overlay::None,
            quitting: false,
            return_to: None,
            notice: None,
            writers: Writers::default(),
            gpu: None,
            snapshots: Snapshots::default(),
            recovery: Recovery::default(),
            picker: None,
            restore: RestoreRun::default(),
            finish: Finish::default(),
        }
    }

    /// Work is running that quitting would interrupt.
    pub fn busy(&self) -> bool {
        self.restore.phase.restoring()
            || self.restore.phase == RestorePhase::Loading
            || self.recovery.phase == RecoveryPhase::Running
            || self.writers.working
    }

    /// The snapshot chosen in step 3.
    pub fn chosen_snapshot(&self) -> Option<&Snapshot> {
        let id = self.snapshots.chosen.as_ref()?;
        self.snapshots
            .listing
            .as_ref()?
            .snapshots
            .iter()
            .find(|s| &s.id == id)
    }

    /// What to type to confirm rolling back to the chosen snapshot.
    pub fn rollback_target(&self) -> String {
        let (Some(listing), Some(snapshot)) = (&self.snapshots.listing, self.chosen_snapshot())
        else {
            return String::new();
        };
        listing
            .rollback_targets
            .iter()
            .find(|(s, _)| *s == snapshot.source)
            .map(|t| t.1.clone())
            .unwrap_or_default()
    }

    /// Deleted files whose only copy is a process's open handle, not yet saved (harvested);
    /// with `running_only`, only those held by a process that is not stopped (it may close
    /// or overwrite them any moment).
    pub fn files_at_risk(&self, running_only: bool) -> Vec<PathBuf> {
        self.writers
            .processes
            .iter()
            .filter(|p| !running_only || p.state != 'T')
            .flat_map(|p| &p.deleted_open)
            .filter(|d| !self.writers.harvested.contains(&d.handle))
            .map(|d| d.path.clone())
            .collect()
    }

    /// Harvested copies not yet copied back into place.
    pub fn harvested_to_copy_back(&self) -> Vec<crate::engine::harvest::HarvestedFile> {
        self.writers
            .last_harvest
            .iter()
            .flat_map(|h| h.saved.iter())
            .filter(|s| !self.finish.is_back(&s.original))
            .cloned()
            .collect()
    }

    /// A text field has the keyboard (search, typed confirmation, harvest folder).
    pub fn typing(&self) -> bool {
        super::keymap::Mode::of(self).keymap().types()
    }
}
