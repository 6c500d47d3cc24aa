//! The wizard's prevention effects (step 6): the audit of PATH's disk over its snapshots as
//! they are now, the recommended policy applied (the user confirmed the question naming the
//! disk, which stands for `--confirm`), and the pre-run snapshot named by the time; each
//! answer goes back to `update` as a message.

use super::executor::Executor;
use crate::protect::SnapshotRequest;
use crate::protect::run::{apply, audit_fresh, recommended, take};
use crate::wizard::Msg;

impl Executor {
    pub(super) fn audit_protection(&self) {
        self.with_session(
            |s| {
                let shown = s.path.to_string_lossy().into_owned();
                Msg::Audited(audit_fresh(s, &shown).map_err(|e| e.to_string()))
            },
            |e| Msg::Audited(Err(e)),
        );
    }

    pub(super) fn apply_policy(&self) {
        self.with_session(
            |s| {
                let shown = s.path.to_string_lossy().into_owned();
                let result = audit_fresh(s, &shown).and_then(|audits| {
                    let target = s
                        .sources
                        .first()
                        .map(|source| source.protect_target())
                        .unwrap_or_default();
                    apply(s, &recommended(&audits), Some(&target))
                });
                Msg::PolicyApplied(result.map_err(|e| e.to_string()))
            },
            |e| Msg::PolicyApplied(Err(e)),
        );
    }

    pub(super) fn take_pre_run_snapshot(&self) {
        self.with_session(
            |s| {
                let request = SnapshotRequest {
                    name: format!("pre-run-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S")),
                    tags: vec![],
                    wait: true,
                    keep_days: None,
                };
                let cancel = std::sync::atomic::AtomicBool::new(false);
                let quiet = |_: &str| {};
                let watch = crate::rescue::Watch {
                    cancel: &cancel,
                    stage: &quiet,
                };
                Msg::PreRunSnapshot(take(s, &request, &watch).map_err(|e| e.to_string()))
            },
            |e| Msg::PreRunSnapshot(Err(e)),
        );
    }
}
