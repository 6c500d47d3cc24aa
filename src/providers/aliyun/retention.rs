//! When ECS deletes a snapshot and how it is pinned. `RetentionDays` counts from the
//! snapshot's CreationTime (absent: kept until deleted); an automatic snapshot's policy may
//! also delete it when the disk's automatic-snapshot quota is reached. A pin extends
//! `RetentionDays` (ModifySnapshotAttribute) to cover N more days; ECS can only extend a
//! retention, never shorten it, so `unpin` cannot take a pin back and says so.

use super::ecs::EcsSnapshot;
use super::provider::AliyunProvider;
use crate::providers::CloudError;
use crate::rescue::param;
use crate::sources::{PinDone, PinPrior, Retention, Unpinned};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

/// When `s` is deleted by its retention, if it has one.
fn retention_end(s: &EcsSnapshot) -> Option<DateTime<Utc>> {
    Some(s.created? + Duration::days(i64::try_from(s.retention_days?).ok()?))
}

/// The expiry of an ECS snapshot: its retention's end, and the automatic policy that made it.
pub fn retention(s: &EcsSnapshot) -> Retention {
    Retention {
        expires: retention_end(s),
        expiry_rule: s.auto_policy.as_ref().map(|policy| match s.retention_days {
            Some(days) => format!("auto policy {policy} keeps {days} days"),
            None => format!(
                "auto policy {policy} (the oldest automatic snapshot goes when the disk's \
                 quota is reached)"
            ),
        }),
        pinned: false,
    }
}

/// The whole days from `created` that reach `until`.
fn days_to_reach(created: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
    let seconds = (until - created).num_seconds().max(0) as u64;
    seconds.div_ceil(86_400).clamp(1, 65_536)
}

impl AliyunProvider {
    fn described(&self, id: &str) -> Result<EcsSnapshot, CloudError> {
        self.ecs.snapshot(id)?.ok_or_else(|| CloudError::Api {
            service: "ECS",
            code: "InvalidSnapshotId.NotFound".into(),
            message: format!("snapshot {id} does not exist"),
            advice: "It was deleted meanwhile, or is in another region: list them again with \
                     `snaprescue snapshots PATH`"
                .into(),
        })
    }

    pub fn retention_prior(&self, id: &str, days: u32) -> Result<PinPrior, CloudError> {
        let s = self.described(id)?;
        let end = retention_end(&s);
        let wanted = Utc::now() + Duration::days(days.into());
        let not_needed = match (s.retention_days, &s.auto_policy, end) {
            (None, None, _) => Some(format!(
                "{id} has no retention period and no automatic policy: it is kept until \
                 someone deletes it"
            )),
            (_, _, Some(end)) if end >= wanted => Some(format!(
                "{id} is already kept until {} (more than {days} days)",
                end.to_rfc3339()
            )),
            _ => None,
        };
        Ok(PinPrior {
            state: json!({
                "retention_days": s.retention_days,
                "created": s.created.map(|t| t.to_rfc3339()),
                "auto_policy": s.auto_policy,
            }),
            not_needed,
        })
    }

    pub fn retention_pin(&self, id: &str, days: u32) -> Result<PinDone, CloudError> {
        let s = self.described(id)?;
        let created = s.created.ok_or_else(|| CloudError::Malformed {
            service: "ECS",
            reason: format!("snapshot {id} has no readable CreationTime"),
            head: String::new(),
        })?;
        let retention = days_to_reach(created, Utc::now() + Duration::days(days.into()));
        let asked = self.ecs.call(
            "ModifySnapshotAttribute",
            &[
                param("SnapshotId", id),
                param("RetentionDays", &retention.to_string()),
            ],
        );
        // A retried request whose first answer was lost is refused (the retention is no
        // longer extended by it): what counts is whether the snapshot is now kept that long.
        if let Err(e) = asked
            && self
                .described(id)?
                .retention_days
                .is_none_or(|now| now < retention)
        {
            return Err(e);
        }
        let until = created + Duration::days(retention as i64);
        Ok(PinDone {
            did: format!(
                "extended the retention of {id} to {retention} days from its creation (kept \
                 until {})",
                until.to_rfc3339()
            ),
            until: Some(until),
            state: json!({ "retention_days": retention }),
        })
    }

    pub fn retention_unpin(&self, id: &str, prior: &PinPrior, done: &PinDone) -> Unpinned {
        let before = match prior.state["retention_days"].as_u64() {
            Some(days) => format!("it was {days} days before"),
            None => "it had none before".into(),
        };
        Unpinned::not_undone(format!(
            "ECS can only extend a snapshot's retention, never shorten it: {id} stays kept \
             until {} ({before}); delete it by hand once it is no longer needed",
            done.until
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "the end of the retention snaprescue set".into())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn whole_days_from_creation_cover_the_pin() {
        let created = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        assert_eq!(days_to_reach(created, created + Duration::hours(1)), 1);
        assert_eq!(days_to_reach(created, created + Duration::days(14)), 14);
        assert_eq!(
            days_to_reach(created, created + Duration::days(14) + Duration::seconds(1)),
            15
        );
    }
}
