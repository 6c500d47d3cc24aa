//! Step 6's prevention, so the next accident costs minutes: the audit of PATH's disk is
//! asked for when the finish screen first opens and shown failing checks first; `p` applies
//! the recommended automatic policy and `s` takes a pre-run snapshot, each after a question
//! that names the disk; after either, the audit is asked again. Effects as data, no I/O.

use super::message::Effect;
use crate::protect::run::SourceAudit;
use crate::protect::{CheckStatus, PolicyApplied, TakenSnapshot};

/// What `p` or `s` asks before it acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtectAsk {
    ApplyPolicy,
    TakeSnapshot,
}

/// Where the audit is.
#[derive(Debug, Clone, PartialEq)]
pub enum AuditState {
    Running,
    Done(Vec<SourceAudit>),
    Failed(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Protection {
    /// `None` until the finish screen first opens.
    pub audit: Option<AuditState>,
    /// The question on screen.
    pub asking: Option<ProtectAsk>,
    /// The action running.
    pub busy: Option<ProtectAsk>,
    /// What the actions of this run did: (line, is a warning).
    pub said: Vec<(String, bool)>,
}

impl Protection {
    /// Asks for the audit the first time the finish screen opens.
    pub fn on_finish(&mut self) -> Vec<Effect> {
        if self.audit.is_some() {
            return vec![];
        }
        self.audit = Some(AuditState::Running);
        vec![Effect::AuditProtection]
    }

    pub fn on_audited(&mut self, result: Result<Vec<SourceAudit>, String>) {
        self.audit = Some(match result {
            Ok(a) => AuditState::Done(a),
            Err(e) => AuditState::Failed(e),
        });
    }

    fn audits(&self) -> &[SourceAudit] {
        match &self.audit {
            Some(AuditState::Done(a)) => a,
            _ => &[],
        }
    }

    /// What `--confirm` would name: the first source's disk, dataset or subvolume.
    pub fn target(&self) -> Option<&SourceAudit> {
        self.audits().first()
    }

    /// The first source's policy is missing or too weak (`p` can fix it).
    pub fn policy_fixable(&self) -> bool {
        self.busy.is_none()
            && self.target().is_some_and(|a| {
                a.checks.iter().any(|c| {
                    matches!(c.id, "auto-policy" | "policy-schedule")
                        && c.status == CheckStatus::Fail
                        && c.ran
                })
            })
    }

    /// A pre-run snapshot can be taken now (`s`).
    pub fn can_snapshot(&self) -> bool {
        self.busy.is_none() && self.target().is_some()
    }

    pub fn ask(&mut self, what: ProtectAsk) {
        self.asking = Some(what);
    }

    /// The question's answer: the action on yes, nothing on no.
    pub fn answer(&mut self, yes: bool) -> Vec<Effect> {
        let Some(what) = self.asking.take() else {
            return vec![];
        };
        if !yes {
            return vec![];
        }
        self.busy = Some(what);
        vec![match what {
            ProtectAsk::ApplyPolicy => Effect::ApplyPolicy,
            ProtectAsk::TakeSnapshot => Effect::TakePreRunSnapshot,
        }]
    }

    /// The question on screen, naming the disk.
    pub fn question(&self) -> Option<String> {
        let target = self.target()?;
        Some(match self.asking? {
            ProtectAsk::ApplyPolicy => format!(
                "Create and bind an automatic snapshot policy ({}) for {}? Snapshots are billed \
                 by size (cloud) or take disk space (local).",
                crate::protect::run::recommended(self.audits()).describe(),
                target.target
            ),
            ProtectAsk::TakeSnapshot => format!(
                "Take a pre-run snapshot of {} now (named pre-run-<time>, tagged snaprescue)?",
                target.target
            ),
        })
    }

    pub fn on_applied(&mut self, result: Result<(String, PolicyApplied), String>) -> Vec<Effect> {
        self.busy = None;
        match result {
            Ok((source, applied)) => {
                for line in applied.said {
                    self.said.push((format!("{source}: {line}"), false));
                }
                self.audit = Some(AuditState::Running);
                vec![Effect::AuditProtection]
            }
            Err(e) => {
                self.said.push((format!("Policy not applied: {e}"), true));
                vec![]
            }
        }
    }

    pub fn on_snapshot(&mut self, result: Result<TakenSnapshot, String>) -> Vec<Effect> {
        self.busy = None;
        match result {
            Ok(t) => {
                self.said.push((
                    format!(
                        "Pre-run snapshot {} ({}) taken on {}",
                        t.name, t.id, t.source
                    ),
                    false,
                ));
                self.audit = Some(AuditState::Running);
                vec![Effect::AuditProtection]
            }
            Err(e) => {
                self.said
                    .push((format!("Pre-run snapshot not taken: {e}"), true));
                vec![]
            }
        }
    }

    /// The finish screen's lines: the failing checks first, then the rest; what this run did.
    pub fn lines(&self) -> Vec<(String, CheckStatus)> {
        let mut out = Vec::new();
        match &self.audit {
            None => {}
            Some(AuditState::Running) => {
                out.push(("Checking this disk's protection…".into(), CheckStatus::Info))
            }
            Some(AuditState::Failed(e)) => {
                out.push((format!("Protection not checked: {e}"), CheckStatus::Warn))
            }
            Some(AuditState::Done(audits)) => {
                for a in audits {
                    let count = |status| a.checks.iter().filter(|c| c.status == status).count();
                    out.push((
                        format!(
                            "Before the next run — {}: {} failing, {} to improve, {} ok",
                            a.target,
                            count(CheckStatus::Fail),
                            count(CheckStatus::Warn),
                            count(CheckStatus::Ok)
                        ),
                        CheckStatus::Info,
                    ));
                    // What needs doing, failing first; the rest is in `snaprescue protect`.
                    let mut checks: Vec<_> = a
                        .checks
                        .iter()
                        .filter(|c| matches!(c.status, CheckStatus::Fail | CheckStatus::Warn))
                        .collect();
                    checks.sort_by_key(|c| c.status);
                    for c in checks {
                        out.push((format!("  {} {}", c.id, c.message), c.status));
                    }
                }
            }
        }
        match self.busy {
            Some(ProtectAsk::ApplyPolicy) => {
                out.push(("applying the policy…".into(), CheckStatus::Info))
            }
            Some(ProtectAsk::TakeSnapshot) => {
                out.push(("taking the pre-run snapshot…".into(), CheckStatus::Info))
            }
            None => {}
        }
        for (text, warn) in &self.said {
            out.push((
                text.clone(),
                if *warn {
                    CheckStatus::Warn
                } else {
                    CheckStatus::Ok
                },
            ));
        }
        out
    }
}
