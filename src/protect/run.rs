//! `protect`, `protect --apply` and `snapshot` through a [`Session`]: the one path of the
//! commands and the wizard's finish step. Each source of PATH is audited over its own
//! snapshots; a policy is applied and a snapshot taken on one source, the first (local
//! before cloud) unless `--source` chose.

use super::{Check, CheckStatus, PolicyApplied, Schedule, SnapshotRequest, TakenSnapshot, audit};
use crate::session::Session;
use crate::sources::{SnapshotSource, SourceError};
use serde::Serialize;

/// The audit of one source of PATH.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceAudit {
    pub source: String,
    pub target: String,
    /// What `--apply --confirm` must name.
    pub confirm: String,
    pub checks: Vec<Check>,
}

impl SourceAudit {
    /// Every check ran and none failed.
    pub fn passed(&self) -> bool {
        self.checks
            .iter()
            .all(|c| c.ran && c.status != CheckStatus::Fail)
    }
}

/// Audits every source of the session over the snapshots it listed; `shown` is PATH as
/// the user typed it (for the fix commands).
pub fn audit_session(session: &Session, shown: &str) -> Result<Vec<SourceAudit>, SourceError> {
    audit_over(session, shown, session.snapshots.clone())
}

/// [`audit_session`] over the snapshots as they are now (the wizard's session listed them
/// before this run's own snapshots and pins).
pub fn audit_fresh(session: &Session, shown: &str) -> Result<Vec<SourceAudit>, SourceError> {
    let mut now = Vec::new();
    for source in &session.sources {
        now.extend(source.list()?);
    }
    crate::pinning::mark_pinned(&session.sources, &mut now);
    audit_over(session, shown, now)
}

/// The seed's schedule for the first source's disk: a system disk's when the audit found
/// PATH on one, else a data disk's.
pub fn recommended(audits: &[SourceAudit]) -> Schedule {
    let on_system = audits
        .first()
        .and_then(|a| a.checks.iter().find(|c| c.id == "data-on-system-disk"))
        .is_some_and(|c| c.status == CheckStatus::Warn);
    Schedule::recommended(if on_system {
        super::DiskRole::System
    } else {
        super::DiskRole::Data
    })
}

fn audit_over(
    session: &Session,
    shown: &str,
    snapshots: Vec<crate::sources::Snapshot>,
) -> Result<Vec<SourceAudit>, SourceError> {
    let now = chrono::Utc::now();
    session
        .sources
        .iter()
        .map(|source| {
            let own = snapshots
                .iter()
                .filter(|s| s.source == source.name())
                .cloned()
                .collect();
            let facts = source.protection(own)?;
            Ok(SourceAudit {
                source: facts.source.clone(),
                target: facts.target.clone(),
                confirm: source.protect_target(),
                checks: audit(&facts, shown, now),
            })
        })
        .collect()
}

fn first(session: &Session) -> Result<&dyn SnapshotSource, SourceError> {
    session
        .sources
        .first()
        .map(|s| s.as_ref())
        .ok_or_else(|| SourceError::Refused("no snapshot source serves this path".into()))
}

/// What `--apply` would do and what it must be confirmed with, in one sentence.
pub fn apply_question(source: &dyn SnapshotSource, schedule: &Schedule) -> String {
    format!(
        "This creates and binds an automatic snapshot policy ({}) for {}. Snapshots are \
         billed by size (on a cloud) or take space on the disk (locally), growing with what \
         changes between them. Confirm with --confirm {}",
        schedule.describe(),
        source.describe(),
        crate::ports::command::shell_quote(&source.protect_target())
    )
}

/// `protect --apply`: refused unless `confirm` names the target.
pub fn apply(
    session: &Session,
    schedule: &Schedule,
    confirm: Option<&str>,
) -> Result<(String, PolicyApplied), SourceError> {
    let source = first(session)?;
    let target = source.protect_target();
    let Some(confirm) = confirm else {
        return Err(SourceError::Refused(apply_question(source, schedule)));
    };
    if confirm != target {
        return Err(SourceError::Refused(format!(
            "confirmation `{confirm}` does not name what to protect; type it: --confirm {}",
            crate::ports::command::shell_quote(&target)
        )));
    }
    Ok((source.name().to_string(), source.apply_policy(schedule)?))
}

/// `snapshot`: the pre-run marker on the first source.
pub fn take(
    session: &Session,
    request: &SnapshotRequest,
    watch: &crate::rescue::Watch,
) -> Result<TakenSnapshot, SourceError> {
    first(session)?.take_snapshot(request, watch)
}
