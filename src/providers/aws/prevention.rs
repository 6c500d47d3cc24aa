//! EBS prevention, for `protect` and `snapshot`: the DLM policies whose target tags the
//! volume carries, the volume's and the region's encryption by default, whether it is its
//! instance's root volume, the named pre-run snapshot (CreateSnapshot tagged `Name` and
//! snaprescue's tags), and `--apply`: the volume tagged `snaprescue-protect=<id>` and a DLM
//! policy targeting that tag, run by DLM's default role (whose absence is said with the
//! command that creates it).

use super::AwsProvider;
use super::dlm::{DlmClient, copy_regions, policy_from};
use super::ec2::QueryApi;
use crate::protect::{Encryption, Policy, PolicyApplied, Schedule};
use crate::providers::CloudError;
use crate::rescue::param;
use serde_json::json;

/// The tag `--apply` puts on a volume for its DLM policy to target.
pub const PROTECT_TAG: &str = "snaprescue-protect";
const DEFAULT_ROLE: &str = "AWSDataLifecycleManagerDefaultRole";
/// The intervals DLM accepts for a CreateRule, in hours.
const DLM_INTERVALS: [i64; 8] = [1, 2, 3, 4, 6, 8, 12, 24];

/// The CreateLifecyclePolicy body for `volume` meeting `schedule`.
pub fn policy_body(volume: &str, role: &str, schedule: &Schedule) -> serde_json::Value {
    let hours = schedule.every.num_hours();
    let interval = DLM_INTERVALS
        .iter()
        .rev()
        .find(|i| **i <= hours.max(1))
        .copied()
        .unwrap_or(1);
    let days = ((schedule.keep.num_hours() + 23) / 24).max(1);
    json!({
        "ExecutionRoleArn": role,
        "Description": format!("snaprescue: {volume} every {interval} h, kept {days} d"),
        "State": "ENABLED",
        "PolicyDetails": {
            "PolicyType": "EBS_SNAPSHOT_MANAGEMENT",
            "ResourceTypes": ["VOLUME"],
            "TargetTags": [{"Key": PROTECT_TAG, "Value": volume}],
            "Schedules": [{
                "Name": format!("every {interval} h, kept {days} d"),
                "CopyTags": true,
                "CreateRule": {"Interval": interval, "IntervalUnit": "HOURS", "Times": ["00:00"]},
                "RetainRule": {"Interval": days, "IntervalUnit": "DAYS"},
            }],
        },
        "Tags": {"snaprescue": "protect"},
    })
}

impl AwsProvider {
    fn dlm(&self) -> Result<DlmClient, CloudError> {
        DlmClient::new(&self.ec2.region, self.ec2.credentials().clone())
    }

    fn volume_tags(&self, volume: &str) -> Result<Vec<(String, String)>, CloudError> {
        Ok(self.volume(volume)?.map(|v| v.tags).unwrap_or_default())
    }

    fn covering(&self, volume: &str) -> Result<Vec<serde_json::Value>, CloudError> {
        self.dlm()?.covering(&self.volume_tags(volume)?)
    }

    pub(super) fn ebs_policies(&self, volume: &str) -> Result<Vec<Policy>, CloudError> {
        Ok(self
            .covering(volume)?
            .iter()
            .flat_map(policy_from)
            .collect())
    }

    pub(super) fn ebs_copy_region(&self, volume: &str) -> Result<Option<String>, CloudError> {
        Ok(self.covering(volume)?.iter().flat_map(copy_regions).next())
    }

    pub(super) fn ebs_encryption(&self, volume: &str) -> Result<Encryption, CloudError> {
        let body = self
            .ec2
            .call("DescribeVolumes", &[param("VolumeId.1", volume)])?;
        let by_default = self
            .ec2
            .call("GetEbsEncryptionByDefault", &[])
            .ok()
            .and_then(|b| super::xml::field(&b, "ebsEncryptionByDefault"))
            .map(|v| v == "true");
        Ok(Encryption {
            disk: super::xml::field(&body, "encrypted").is_some_and(|v| v == "true"),
            by_default,
        })
    }

    pub(super) fn ebs_is_root(&self, volume: &str) -> Result<Option<bool>, CloudError> {
        let Some(v) = self.volume(volume)? else {
            return Ok(None);
        };
        let Some(attachment) = v.attachments.first() else {
            return Ok(Some(false));
        };
        let body = self.ec2.call(
            "DescribeInstances",
            &[param("InstanceId.1", &attachment.instance)],
        )?;
        Ok(super::xml::field(&body, "rootDeviceName").map(|root| root == attachment.device))
    }

    pub(super) fn ebs_named_snapshot(
        &self,
        volume: &str,
        name: &str,
        tags: &[(String, String)],
    ) -> Result<String, CloudError> {
        let mut p = vec![
            param("VolumeId", volume),
            param("Description", name),
            param("TagSpecification.1.ResourceType", "snapshot"),
            param("TagSpecification.1.Tag.1.Key", "Name"),
            param("TagSpecification.1.Tag.1.Value", name),
        ];
        for (n, (k, v)) in tags.iter().enumerate().take(48) {
            p.push(param(&format!("TagSpecification.1.Tag.{}.Key", n + 2), k));
            p.push(param(&format!("TagSpecification.1.Tag.{}.Value", n + 2), v));
        }
        self.call_for("CreateSnapshot", &p, "snapshotId")
    }

    /// The account the credentials belong to (STS GetCallerIdentity).
    fn account(&self) -> Result<String, CloudError> {
        let endpoint = std::env::var("AWS_ENDPOINT_URL_STS")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|_| format!("https://sts.{}.amazonaws.com", self.ec2.region))
            .trim_end_matches('/')
            .to_string();
        let api = QueryApi {
            label: "STS",
            service: "sts",
            version: "2011-06-15",
            endpoint: &endpoint,
        };
        let body = self.ec2.call_api(&api, "GetCallerIdentity", &[])?;
        super::xml::field(&body, "Account").ok_or_else(|| CloudError::Malformed {
            service: "STS",
            reason: "GetCallerIdentity answered without Account".into(),
            head: crate::providers::head(&body),
        })
    }

    pub(super) fn ebs_apply_policy(
        &self,
        volume: &str,
        schedule: &Schedule,
    ) -> Result<PolicyApplied, CloudError> {
        if let Some(p) = self
            .ebs_policies(volume)?
            .into_iter()
            .find(|p| p.meets(schedule))
        {
            return Ok(PolicyApplied::unchanged(&p.name, schedule));
        }
        let role = format!("arn:aws:iam::{}:role/{DEFAULT_ROLE}", self.account()?);
        // The policy first: when DLM refuses it (no role), nothing has changed.
        let id = self.dlm()?.create(&policy_body(volume, &role, schedule))?;
        let mut said = vec![format!(
            "created DLM policy {id} targeting {PROTECT_TAG}={volume} ({}; snapshots are \
             billed by size)",
            schedule.describe()
        )];
        if !self
            .volume_tags(volume)?
            .iter()
            .any(|(k, v)| k == PROTECT_TAG && v == volume)
        {
            self.tag(volume, &[(PROTECT_TAG, volume)])?;
            said.push(format!("tagged {volume} {PROTECT_TAG}={volume}"));
        }
        Ok(PolicyApplied {
            changed: true,
            said,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn the_policy_body_uses_an_interval_dlm_accepts_and_meets_the_schedule() {
        let s = Schedule {
            every: Duration::hours(10),
            keep: Duration::hours(50),
        };
        let body = policy_body("vol-1", "arn:role", &s);
        let schedule = &body["PolicyDetails"]["Schedules"][0];
        assert_eq!(schedule["CreateRule"]["Interval"], 8);
        assert_eq!(schedule["RetainRule"]["Interval"], 3);
        let parsed = policy_from(&json!({"PolicyId": "p", "State": "ENABLED",
            "PolicyDetails": body["PolicyDetails"].clone()}));
        assert!(parsed[0].meets(&s), "{parsed:?}");
    }
}
