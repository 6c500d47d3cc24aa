//! Pinning a ZFS snapshot: a hold tagged `snaprescue` (`zfs hold`), which neither `zfs
//! destroy`, sanoid nor zfs-auto-snapshot can get past; `unpin` releases only that hold, and
//! never one that was there before the pin. What a policy would do to a snapshot (sanoid's
//! or zfs-auto-snapshot's retention) is its `expiry_rule`.

use super::zfs::{ZfsSource, hold, holds, release};
use super::zfs_policy::expiry_rule_here;
use super::{PinDone, PinPrior, Retention, Snapshot, SourceError, Unpinned};
use serde_json::json;

impl ZfsSource {
    /// When a policy would delete `snapshot` and whether it is held.
    pub(crate) fn retention_of(
        &self,
        short: &str,
        snapshot: &Snapshot,
        userrefs: u64,
    ) -> Retention {
        let rule = expiry_rule_here(&self.dataset, short, snapshot.created);
        Retention {
            expires: rule.as_ref().and_then(|r| r.expires),
            expiry_rule: rule.map(|r| r.rule),
            // Any hold keeps it from every policy and from `zfs destroy`.
            pinned: userrefs > 0,
        }
    }

    pub(crate) fn zfs_pin_prior(&self, snapshot: &Snapshot) -> Result<PinPrior, SourceError> {
        let full = self.full_name(snapshot);
        let before = holds(&full)?;
        Ok(PinPrior {
            state: json!({ "snapshot": full, "held_before": before.by_snaprescue() }),
            not_needed: before
                .by_snaprescue()
                .then(|| format!("{full} already has snaprescue's hold: nothing can destroy it")),
        })
    }

    pub(crate) fn zfs_pin(&self, snapshot: &Snapshot) -> Result<PinDone, SourceError> {
        let full = self.full_name(snapshot);
        hold(&full)?;
        Ok(PinDone {
            did: format!(
                "held {full} (zfs hold snaprescue): zfs destroy, sanoid and zfs-auto-snapshot \
                 cannot remove it"
            ),
            until: None,
            state: json!({ "held": true }),
        })
    }

    pub(crate) fn zfs_unpin(
        &self,
        snapshot: &Snapshot,
        prior: &PinPrior,
    ) -> Result<Unpinned, SourceError> {
        let full = self.full_name(snapshot);
        if prior.state["held_before"] == true {
            return Ok(Unpinned::not_undone(format!(
                "{full} had snaprescue's hold before this pin: it is kept"
            )));
        }
        release(&full)?;
        Ok(Unpinned::undone(format!(
            "released snaprescue's hold of {full}: its policy may delete it again"
        )))
    }
}
