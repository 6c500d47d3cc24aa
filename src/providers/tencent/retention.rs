//! When CBS deletes a snapshot and how it is pinned. A snapshot is permanent, or deleted at
//! its `DeadlineTime`; a pin makes it permanent (ModifySnapshotAttribute `IsPermanent`), and
//! `unpin` puts the earlier deadline back only while that deadline is still ahead: restoring
//! one that has passed would delete the snapshot at once, so it stays permanent and says so.

use super::api::Service;
use super::cbs::CbsSnapshot;
use super::provider::TencentProvider;
use crate::providers::CloudError;
use crate::sources::{PinDone, PinPrior, Retention, Unpinned};
use chrono::{DateTime, Utc};
use serde_json::json;

/// The expiry of a CBS snapshot: its deadline, or the policy that may delete it.
pub fn retention(s: &CbsSnapshot) -> Retention {
    Retention {
        expires: s.deadline.filter(|_| !s.permanent),
        expiry_rule: (!s.permanent && s.deadline.is_none()).then(|| {
            "not permanent: its automatic snapshot policy's retention may delete it".into()
        }),
        pinned: false,
    }
}

impl TencentProvider {
    fn described(&self, id: &str) -> Result<CbsSnapshot, CloudError> {
        self.client.snapshot(id)?.ok_or_else(|| CloudError::Api {
            service: "CBS",
            code: "InvalidSnapshotId.NotFound".into(),
            message: format!("snapshot {id} does not exist"),
            advice: "It was deleted meanwhile, or is in another region: list them again with \
                     `snaprescue snapshots PATH`"
                .into(),
        })
    }

    fn modify_snapshot(&self, body: serde_json::Value) -> Result<(), CloudError> {
        self.client
            .call(Service::Cbs, "ModifySnapshotAttribute", &body)
            .map(|_| ())
    }

    pub fn permanent_prior(&self, id: &str) -> Result<PinPrior, CloudError> {
        let s = self.described(id)?;
        Ok(PinPrior {
            state: json!({
                "permanent": s.permanent,
                "deadline": s.deadline.map(|t| t.to_rfc3339()),
            }),
            not_needed: s
                .permanent
                .then(|| format!("{id} is kept permanently already")),
        })
    }

    pub fn make_permanent(&self, id: &str) -> Result<PinDone, CloudError> {
        let before = self.described(id)?.deadline;
        self.modify_snapshot(json!({"SnapshotId": id, "IsPermanent": true}))?;
        Ok(PinDone {
            did: format!(
                "made {id} permanent{}",
                before
                    .map(|t| format!(" (it was due for deletion at {})", t.to_rfc3339()))
                    .unwrap_or_default()
            ),
            until: None,
            state: json!({"permanent": true}),
        })
    }

    pub fn restore_deadline(&self, id: &str, prior: &PinPrior) -> Result<Unpinned, CloudError> {
        let deadline = prior.state["deadline"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        let Some(deadline) = deadline else {
            return Ok(Unpinned::not_undone(format!(
                "{id} stays permanent: it had no deadline to restore"
            )));
        };
        if !self.described(id)?.permanent {
            return Ok(Unpinned::not_undone(format!(
                "{id} was changed since snaprescue made it permanent (it is no longer \
                 permanent): left as it is"
            )));
        }
        // A minute's margin: a deadline that passes while the request travels deletes it.
        if deadline <= Utc::now() + chrono::Duration::minutes(1) {
            return Ok(Unpinned::not_undone(format!(
                "{id} stays permanent: its earlier deadline {} has passed (or is less than a \
                 minute away), and restoring it would delete the snapshot at once; delete it \
                 by hand once it is no longer needed",
                deadline.to_rfc3339()
            )));
        }
        self.modify_snapshot(json!({"SnapshotId": id, "Deadline": deadline.to_rfc3339()}))?;
        Ok(Unpinned::undone(format!(
            "{id} is no longer permanent: its deadline {} is back",
            deadline.to_rfc3339()
        )))
    }
}
