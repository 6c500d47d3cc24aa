//! The audit's checks, computed from [`ProtectionFacts`] alone: each has a stable id, a
//! status, one line, and the snaprescue command that fixes it (PATH quoted as the user gave
//! it, so the line can be pasted).

use super::{Check, CheckStatus, DiskRole, Fact, Policy, ProtectionFacts, Schedule};
use crate::sources::SnapshotStatus;
use crate::sources::retention::short_duration;
use chrono::{DateTime, Duration, Utc};

/// The ids, in the order they are reported.
pub const IDS: [&str; 8] = [
    "snapshot-recent",
    "auto-policy",
    "policy-schedule",
    "data-on-system-disk",
    "encryption",
    "cross-region-copy",
    "pre-run-snapshot",
    "expiry",
];

struct Audit<'a> {
    facts: &'a ProtectionFacts,
    path: String,
    now: DateTime<Utc>,
}

fn check(id: &'static str, status: CheckStatus, message: impl Into<String>) -> Check {
    Check {
        id,
        status,
        message: message.into(),
        fix: None,
        ran: true,
    }
}

fn could_not(id: &'static str, why: &str) -> Check {
    Check {
        ran: false,
        ..check(
            id,
            CheckStatus::Fail,
            format!("could not be checked: {why}"),
        )
    }
}

fn not_here(id: &'static str, why: &str) -> Check {
    check(id, CheckStatus::Info, format!("not applicable here: {why}"))
}

fn with_fix(mut c: Check, fix: String) -> Check {
    c.fix = Some(fix);
    c
}

/// Every check for `facts`, `path` being what the user named.
pub fn audit(facts: &ProtectionFacts, path: &str, now: DateTime<Utc>) -> Vec<Check> {
    let a = Audit {
        facts,
        path: crate::ports::command::shell_quote(path),
        now,
    };
    vec![
        a.snapshot_recent(),
        a.auto_policy(),
        a.policy_schedule(),
        a.data_on_system_disk(),
        a.encryption(),
        a.cross_region_copy(),
        a.pre_run_snapshot(),
        a.expiry(),
    ]
}

impl Audit<'_> {
    fn apply_fix(&self) -> String {
        format!("snaprescue protect {} --apply", self.path)
    }

    fn snapshot_fix(&self) -> String {
        format!("snaprescue snapshot {} --name pre-run --wait", self.path)
    }

    fn role(&self) -> DiskRole {
        match self.facts.on_system_disk {
            Fact::Known(true) => DiskRole::System,
            _ => DiskRole::Data,
        }
    }

    /// The running policies, when they could be read.
    fn running(&self) -> Result<Vec<&Policy>, &Fact<Vec<Policy>>> {
        match &self.facts.policies {
            Fact::Known(all) => Ok(all.iter().filter(|p| p.disabled.is_none()).collect()),
            other => Err(other),
        }
    }

    fn snapshot_recent(&self) -> Check {
        let id = "snapshot-recent";
        let newest = self
            .facts
            .snapshots
            .iter()
            .filter(|s| s.status == SnapshotStatus::Completed)
            .filter_map(|s| Some((s, s.created?)))
            .max_by_key(|(_, t)| *t);
        let Some((snapshot, at)) = newest else {
            return with_fix(
                check(
                    id,
                    CheckStatus::Fail,
                    "no completed snapshot of this disk exists",
                ),
                self.snapshot_fix(),
            );
        };
        let period = self
            .running()
            .ok()
            .and_then(|p| p.iter().filter_map(|p| p.every).min())
            .unwrap_or(Duration::hours(24));
        let age = (self.now - at).max(Duration::zero());
        let said = format!(
            "the newest completed snapshot ({}) is {} old",
            snapshot.name,
            self::age(age)
        );
        if age <= period {
            check(id, CheckStatus::Ok, said)
        } else {
            with_fix(
                check(
                    id,
                    CheckStatus::Warn,
                    format!("{said}, more than {}", short_duration(period)),
                ),
                self.snapshot_fix(),
            )
        }
    }

    fn auto_policy(&self) -> Check {
        let id = "auto-policy";
        let all = match &self.facts.policies {
            Fact::Known(all) => all,
            Fact::Unknown(why) => return could_not(id, why),
            Fact::NotApplicable(why) => return not_here(id, why),
        };
        if let Some(p) = all.iter().find(|p| p.disabled.is_none()) {
            return check(id, CheckStatus::Ok, format!("{} covers this disk", p.name));
        }
        let message = match all.first() {
            Some(p) => format!(
                "{} covers this disk but does not run: {}",
                p.name,
                p.disabled.as_deref().unwrap_or_default()
            ),
            None => format!("no automatic snapshot policy covers {}", self.facts.target),
        };
        with_fix(check(id, CheckStatus::Fail, message), self.apply_fix())
    }

    fn policy_schedule(&self) -> Check {
        let id = "policy-schedule";
        let wanted = Schedule::recommended(self.role());
        let running = match self.running() {
            Ok(r) => r,
            Err(Fact::Unknown(why)) => return could_not(id, why),
            Err(Fact::NotApplicable(why)) => return not_here(id, why),
            Err(Fact::Known(_)) => unreachable!("known policies are Ok"),
        };
        if let Some(p) = running.iter().find(|p| p.meets(&wanted)) {
            return check(
                id,
                CheckStatus::Ok,
                format!("{} meets {} ({})", p.name, wanted.describe(), describe(p)),
            );
        }
        let message = match running.first() {
            Some(p) => format!(
                "{} takes {}; this disk needs at least {}",
                p.name,
                describe(p),
                wanted.describe()
            ),
            None => format!("no running policy; this disk needs {}", wanted.describe()),
        };
        with_fix(check(id, CheckStatus::Fail, message), self.apply_fix())
    }

    fn data_on_system_disk(&self) -> Check {
        let id = "data-on-system-disk";
        match &self.facts.on_system_disk {
            Fact::Known(true) => check(
                id,
                CheckStatus::Warn,
                "this path lives on the system disk: keep training data on a data disk of its \
                 own, so a rollback of one does not undo the other",
            ),
            Fact::Known(false) => check(id, CheckStatus::Ok, "this path is on a data disk"),
            Fact::Unknown(why) => could_not(id, why),
            Fact::NotApplicable(why) => not_here(id, why),
        }
    }

    fn encryption(&self) -> Check {
        let id = "encryption";
        let e = match &self.facts.encryption {
            Fact::Known(e) => e,
            Fact::Unknown(why) => return could_not(id, why),
            Fact::NotApplicable(why) => return not_here(id, why),
        };
        match (e.disk, e.by_default) {
            (false, _) => check(
                id,
                CheckStatus::Warn,
                "the disk is not encrypted (its snapshots are not either)",
            ),
            (true, Some(false)) => check(
                id,
                CheckStatus::Warn,
                "the disk is encrypted, but new disks here are not encrypted by default",
            ),
            (true, _) => check(id, CheckStatus::Ok, "the disk is encrypted"),
        }
    }

    fn cross_region_copy(&self) -> Check {
        let id = "cross-region-copy";
        match &self.facts.cross_region_copy {
            Fact::Known(Some(region)) => check(
                id,
                CheckStatus::Ok,
                format!("a recent snapshot has a copy in {region}"),
            ),
            Fact::Known(None) => check(
                id,
                CheckStatus::Warn,
                "no recent snapshot has a copy in another region: a regional outage or a \
                 deleted disk takes every snapshot with it",
            ),
            Fact::Unknown(why) => could_not(id, why),
            Fact::NotApplicable(why) => not_here(id, why),
        }
    }

    fn pre_run_snapshot(&self) -> Check {
        let id = "pre-run-snapshot";
        let newest = self
            .facts
            .snapshots
            .iter()
            .filter(|s| s.pre_run)
            .max_by_key(|s| s.created);
        match newest {
            Some(s) => check(
                id,
                CheckStatus::Ok,
                format!(
                    "pre-run snapshot {} taken {}",
                    s.name,
                    s.created
                        .map(|t| format!("{} ago", age(self.now - t)))
                        .unwrap_or_else(|| "at an unknown time".into())
                ),
            ),
            None => with_fix(
                check(
                    id,
                    CheckStatus::Warn,
                    "no snapshot taken by `snaprescue snapshot`: take one before each training run",
                ),
                self.snapshot_fix(),
            ),
        }
    }

    fn expiry(&self) -> Check {
        let id = "expiry";
        let oldest = self
            .facts
            .snapshots
            .iter()
            .filter(|s| s.status == SnapshotStatus::Completed)
            .min_by_key(|s| s.created);
        let Some(s) = oldest else {
            return check(id, CheckStatus::Info, "no snapshot to expire");
        };
        let r = &s.retention;
        let message = if r.pinned {
            format!(
                "the oldest snapshot, {}, is pinned: no policy deletes it",
                s.name
            )
        } else if let Some(at) = r.expires {
            let left = at - self.now;
            format!(
                "the oldest snapshot, {}, is deleted by policy {}",
                s.name,
                if left <= Duration::zero() {
                    "now".to_string()
                } else {
                    format!(
                        "in {} ({})",
                        short_duration(left),
                        at.format("%Y-%m-%d %H:%M UTC")
                    )
                }
            )
        } else if let Some(rule) = &r.expiry_rule {
            format!("the oldest snapshot, {}, may be deleted by {rule}", s.name)
        } else {
            format!(
                "the oldest snapshot, {}, is kept until deleted by hand",
                s.name
            )
        };
        check(id, CheckStatus::Info, message)
    }
}

/// How long ago, for a line: "less than a minute" below one.
fn age(d: Duration) -> String {
    if d < Duration::minutes(1) {
        "less than a minute".into()
    } else {
        short_duration(d)
    }
}

fn describe(p: &Policy) -> String {
    let every = p
        .every
        .map(|e| format!("every {}", short_duration(e)))
        .unwrap_or_else(|| "at times that cannot be told".into());
    let keep = match p.keep {
        super::Keep::For(d) => format!("kept {}", short_duration(d)),
        super::Keep::Newest(n) => format!("the newest {n} kept"),
        super::Keep::Forever => "kept forever".into(),
    };
    format!("{every}, {keep}")
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
