//! Prevention: how well the disk behind PATH is protected before the next accident. A source
//! gathers the facts (its snapshots, the automatic policies that cover it, where it lives,
//! encryption, copies) into [`ProtectionFacts`]; [`checks::audit`] turns them into checks
//! with stable ids, a status, a line and the command that fixes each — no I/O, so every
//! check's passing and failing case is a plain test. The seed's table is [`Schedule`]'s
//! recommendation: a data disk every 12 h kept 3 days, a system disk daily kept 7 days.

pub mod checks;
pub mod fleet;
pub mod request;
pub mod run;

pub use checks::audit;
pub use request::{PolicyApplied, SnapshotRequest, TakenSnapshot};

use crate::sources::Snapshot;
use chrono::Duration;
use serde::Serialize;

/// A check's outcome: `fail` makes `protect` exit 1. Ordered by urgency (what to show first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Fail,
    Warn,
    Ok,
    Info,
}

/// One line of the audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable: `snapshot-recent`, `auto-policy`, …
    pub id: &'static str,
    pub status: CheckStatus,
    pub message: String,
    /// The exact command that fixes it, or `None`.
    pub fix: Option<String>,
    /// `false` when the facts could not be read (the message says why): the audit fails.
    pub ran: bool,
}

/// A fact a source knows, could not find out, or that does not apply to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact<T> {
    Known(T),
    /// Could not be read: why (a permission, an API error).
    Unknown(String),
    /// Has no meaning on this source: why.
    NotApplicable(String),
}

/// How many snapshots a policy keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Each for this long.
    For(Duration),
    /// The newest `n` (snapper's, zfs-auto-snapshot's): how long that is depends on `every`.
    Newest(u32),
    Forever,
}

/// An automatic snapshot policy that covers the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Its name or id, as the source shows it (`sp-…`, `snapper config data`).
    pub name: String,
    /// How often it takes a snapshot; `None` when it cannot be told.
    pub every: Option<Duration>,
    pub keep: Keep,
    /// Why it does not run, when it does not (a timer disabled, a policy switched off).
    pub disabled: Option<String>,
}

impl Policy {
    /// It runs, at least as often as `schedule`, and keeps snapshots at least as long.
    pub fn meets(&self, schedule: &Schedule) -> bool {
        self.disabled.is_none()
            && self.every.is_some_and(|e| e <= schedule.every)
            && self.kept_for().is_some_and(|k| k >= schedule.keep)
    }

    /// How long the snapshots it takes live.
    pub fn kept_for(&self) -> Option<Duration> {
        match self.keep {
            Keep::For(d) => Some(d),
            Keep::Newest(n) => self.every.map(|e| e * n as i32),
            Keep::Forever => Some(Duration::MAX),
        }
    }
}

/// What the disk holds, for the schedule it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskRole {
    Data,
    System,
}

/// The seed's recommended automatic policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub every: Duration,
    pub keep: Duration,
}

impl Schedule {
    /// Data disk: every 12 h, kept 3 days. System disk: daily, kept 7 days.
    pub fn recommended(role: DiskRole) -> Self {
        match role {
            DiskRole::Data => Self {
                every: Duration::hours(12),
                keep: Duration::days(3),
            },
            DiskRole::System => Self {
                every: Duration::hours(24),
                keep: Duration::days(7),
            },
        }
    }

    /// "every 12 h, kept 3 d".
    pub fn describe(&self) -> String {
        format!(
            "every {}, kept {}",
            crate::sources::retention::short_duration(self.every),
            crate::sources::retention::short_duration(self.keep)
        )
    }
}

/// Encryption of the disk and of new disks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    pub disk: bool,
    /// Whether new disks are encrypted by default (`None`: not asked, or no such setting).
    pub by_default: Option<bool>,
}

/// Everything the audit needs, gathered by a source.
#[derive(Debug, Clone)]
pub struct ProtectionFacts {
    /// The source's name (`btrfs`, `zfs`, `aliyun`).
    pub source: String,
    /// What is audited, in words (`btrfs subvolume data on /dev/loop3`).
    pub target: String,
    /// Every snapshot of the disk, newest first.
    pub snapshots: Vec<Snapshot>,
    pub policies: Fact<Vec<Policy>>,
    /// Whether PATH lives on the system (root) disk.
    pub on_system_disk: Fact<bool>,
    pub encryption: Fact<Encryption>,
    /// The region of a copy of a recent snapshot, `None` when there is none.
    pub cross_region_copy: Fact<Option<String>>,
}
