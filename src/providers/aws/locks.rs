//! EBS snapshot locks and Data Lifecycle Manager tags: what deletes an EBS snapshot and what
//! keeps it. A pin is a **governance** lock for N days (LockSnapshot; compliance mode could
//! never be undone); `unpin` unlocks only the lock snaprescue set, found unchanged, and never
//! a lock that was there before. Listing reads DLM's `aws:dlm:*` tags and every lock
//! (DescribeLockedSnapshots, all pages).

use super::provider::AwsProvider;
use crate::providers::CloudError;
use crate::rescue::param;
use crate::sources::{PinDone, PinPrior, Retention, Unpinned};
use chrono::{DateTime, Utc};
use roxmltree::{Document, Node};
use serde_json::{Value, json};
use std::collections::HashMap;

/// One lock as DescribeLockedSnapshots and LockSnapshot describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotLock {
    pub snapshot: String,
    /// `governance`, `compliance-cooloff`, `compliance` or `expired`.
    pub state: String,
    pub created_on: Option<String>,
    pub expires_on: Option<DateTime<Utc>>,
}

impl SnapshotLock {
    /// Whether it still keeps the snapshot from being deleted.
    pub fn holds(&self) -> bool {
        self.state != "expired"
    }

    fn as_json(&self) -> Value {
        json!({
            "state": self.state,
            "created_on": self.created_on,
            "expires_on": self.expires_on.map(|t| t.to_rfc3339()),
        })
    }
}

fn text(node: Node, name: &str) -> Option<String> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
}

fn lock_from(node: Node) -> Option<SnapshotLock> {
    Some(SnapshotLock {
        snapshot: text(node, "snapshotId")?,
        state: text(node, "lockState")?,
        created_on: text(node, "lockCreatedOn"),
        expires_on: text(node, "lockExpiresOn")
            .and_then(|t| crate::providers::iso_time::parse_cloud_time(&t)),
    })
}

/// One page of DescribeLockedSnapshots.
pub fn locks_page(body: &str) -> super::xml::Page<SnapshotLock> {
    let doc = Document::parse(body).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    if root.tag_name().name() != "DescribeLockedSnapshotsResponse" {
        return Err(format!(
            "unexpected root element <{}>",
            root.tag_name().name()
        ));
    }
    let set = root
        .children()
        .find(|c| c.is_element() && c.tag_name().name() == "snapshotSet");
    let locks = set
        .map(|s| {
            s.children()
                .filter(|c| c.is_element() && c.tag_name().name() == "item")
                .map(|i| lock_from(i).ok_or("a locked snapshot without snapshotId or lockState"))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    Ok((locks, text(root, "nextToken").filter(|t| !t.is_empty())))
}

/// The `aws:dlm:*` tags of a snapshot: when DLM deletes it, and which policy made it.
pub fn dlm_retention(tags: &[(String, String)]) -> Retention {
    let tag = |key: &str| tags.iter().find(|t| t.0 == key).map(|t| t.1.clone());
    let expires = tag("aws:dlm:expirationTime")
        .and_then(|t| crate::providers::iso_time::parse_cloud_time(&t));
    let expiry_rule = tag("aws:dlm:lifecycle-policy-id").map(|policy| {
        match tag("aws:dlm:lifecycle-schedule-name") {
            Some(schedule) => format!("DLM policy {policy} (schedule {schedule})"),
            None => format!("DLM policy {policy}"),
        }
    });
    Retention {
        expires,
        expiry_rule,
        pinned: false,
    }
}

/// A lock holds the snapshot: pinned, and a DLM deletion cannot happen before the lock ends.
pub fn with_lock(mut retention: Retention, lock: Option<&SnapshotLock>) -> Retention {
    if let Some(lock) = lock.filter(|l| l.holds()) {
        retention.pinned = true;
        if let (Some(expires), Some(lock_end)) = (retention.expires, lock.expires_on) {
            retention.expires = Some(expires.max(lock_end));
        }
    }
    retention
}

impl AwsProvider {
    /// Every lock in the region (or on `snapshot`), by snapshot id. Credentials that may not
    /// ask give an empty answer with a warning: locks only add to a listing.
    pub fn locks(
        &self,
        snapshot: Option<&str>,
    ) -> Result<HashMap<String, SnapshotLock>, CloudError> {
        let mut params = Vec::new();
        if let Some(id) = snapshot {
            params.push(param("SnapshotId.1", id));
        }
        let mut all = HashMap::new();
        let mut token: Option<String> = None;
        loop {
            let mut page_params = params.clone();
            if let Some(t) = &token {
                page_params.push(param("NextToken", t));
            }
            let body = self.ec2.call("DescribeLockedSnapshots", &page_params)?;
            let (page, next) = locks_page(&body).map_err(|reason| CloudError::Malformed {
                service: "EC2",
                reason,
                head: crate::providers::head(&body),
            })?;
            all.extend(page.into_iter().map(|l| (l.snapshot.clone(), l)));
            match next {
                Some(t) if Some(&t) != token.as_ref() => token = Some(t),
                _ => return Ok(all),
            }
        }
    }

    /// The locks for a listing: none (with a warning) when these credentials may not read them.
    pub fn locks_for_listing(&self) -> Result<HashMap<String, SnapshotLock>, CloudError> {
        match self.locks(None) {
            Err(e) if e.has_code(&["UnauthorizedOperation", "AccessDenied", "InvalidAction"]) => {
                tracing::warn!(error = %e, "snapshot locks not read");
                Ok(HashMap::new())
            }
            other => other,
        }
    }

    fn lock_of(&self, snapshot: &str) -> Result<Option<SnapshotLock>, CloudError> {
        Ok(self.locks(Some(snapshot))?.remove(snapshot))
    }

    pub fn pin_prior(&self, snapshot: &str) -> Result<PinPrior, CloudError> {
        let lock = self.lock_of(snapshot)?.filter(SnapshotLock::holds);
        Ok(PinPrior {
            state: json!({ "lock": lock.as_ref().map(SnapshotLock::as_json) }),
            not_needed: lock.map(|l| {
                format!(
                    "{snapshot} is already locked ({}{}); snaprescue leaves that lock as it is",
                    l.state,
                    l.expires_on
                        .map(|t| format!(" until {}", t.to_rfc3339()))
                        .unwrap_or_default()
                )
            }),
        })
    }

    pub fn pin(&self, snapshot: &str, days: u32) -> Result<PinDone, CloudError> {
        let body = self.ec2.call(
            "LockSnapshot",
            &[
                param("SnapshotId", snapshot),
                param("LockMode", "governance"),
                param("LockDuration", &days.to_string()),
            ],
        )?;
        let doc = Document::parse(&body).map_err(|e| CloudError::Malformed {
            service: "EC2",
            reason: e.to_string(),
            head: crate::providers::head(&body),
        })?;
        let lock = lock_from(doc.root_element()).ok_or_else(|| CloudError::Malformed {
            service: "EC2",
            reason: "LockSnapshot answered without snapshotId or lockState".into(),
            head: crate::providers::head(&body),
        })?;
        Ok(PinDone {
            did: format!(
                "locked {snapshot} in governance mode for {days} days{}",
                lock.expires_on
                    .map(|t| format!(" (until {})", t.to_rfc3339()))
                    .unwrap_or_default()
            ),
            until: lock.expires_on,
            state: lock.as_json(),
        })
    }

    pub fn unpin(
        &self,
        snapshot: &str,
        prior: &PinPrior,
        done: &PinDone,
    ) -> Result<Unpinned, CloudError> {
        if !prior.state["lock"].is_null() {
            return Ok(Unpinned::not_undone(format!(
                "the lock on {snapshot} was there before snaprescue: left as it is"
            )));
        }
        let Some(now) = self.lock_of(snapshot)?.filter(SnapshotLock::holds) else {
            return Ok(Unpinned::undone(format!(
                "{snapshot} is no longer locked (the lock ended or was removed)"
            )));
        };
        if now.as_json() != done.state {
            return Ok(Unpinned::not_undone(format!(
                "the lock on {snapshot} was changed since snaprescue set it (now {}{}): left \
                 as it is; `aws ec2 unlock-snapshot --snapshot-id {snapshot}` removes it",
                now.state,
                now.expires_on
                    .map(|t| format!(" until {}", t.to_rfc3339()))
                    .unwrap_or_default()
            )));
        }
        self.ec2
            .call("UnlockSnapshot", &[param("SnapshotId", snapshot)])?;
        Ok(Unpinned::undone(format!(
            "unlocked {snapshot} (the governance lock snaprescue set)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlm_tags_give_the_expiry_and_a_lock_pins_past_it() {
        let tags = vec![
            (
                "aws:dlm:lifecycle-policy-id".to_string(),
                "policy-0abc".to_string(),
            ),
            (
                "aws:dlm:expirationTime".into(),
                "2026-12-05T10:00:00.000Z".into(),
            ),
        ];
        let r = dlm_retention(&tags);
        assert_eq!(r.expiry_rule.as_deref(), Some("DLM policy policy-0abc"));
        assert_eq!(r.expires.unwrap().to_rfc3339(), "2026-12-05T10:00:00+00:00");
        let lock = SnapshotLock {
            snapshot: "snap-1".into(),
            state: "governance".into(),
            created_on: None,
            expires_on: crate::providers::iso_time::parse_cloud_time("2026-12-20T00:00:00Z"),
        };
        let locked = with_lock(r.clone(), Some(&lock));
        assert!(locked.pinned);
        assert_eq!(locked.expires, lock.expires_on);
        let expired = SnapshotLock {
            state: "expired".into(),
            ..lock
        };
        assert_eq!(with_lock(r.clone(), Some(&expired)), r);
    }

    #[test]
    fn reads_a_page_of_locks() {
        let body = "<DescribeLockedSnapshotsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
            <requestId>r</requestId><snapshotSet><item><ownerId>1</ownerId><snapshotId>snap-1</snapshotId>\
            <lockState>governance</lockState><lockDuration>14</lockDuration>\
            <lockCreatedOn>2026-12-01T00:00:00.000Z</lockCreatedOn>\
            <lockExpiresOn>2026-12-15T00:00:00.000Z</lockExpiresOn></item></snapshotSet>\
            <nextToken>5</nextToken></DescribeLockedSnapshotsResponse>";
        let (locks, next) = locks_page(body).unwrap();
        assert_eq!(next.as_deref(), Some("5"));
        assert_eq!(locks[0].state, "governance");
        assert!(locks_page("<Other/>").is_err());
    }
}
