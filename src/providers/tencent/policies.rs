//! CBS prevention, for `protect` and `snapshot`: the automatic snapshot policies bound to a
//! disk (DescribeDiskAssociatedAutoSnapshotPolicy, read by `schedule`), the disk's type and
//! encryption (DescribeDisks `DiskUsage`, `Encrypt`; CBS has no account-wide "encrypt new
//! disks" setting to read), the named pre-run snapshot (CreateSnapshot with `Tags`), and
//! `--apply`: the policy named for what it meets, reused when it exists
//! (DescribeAutoSnapshotPolicies by name), else CreateAutoSnapshotPolicy, then
//! BindAutoSnapshotPolicy. A disk can have several bound policies; the ones already there
//! stay bound.

use super::api::Service;
use super::cbs::CbsDisk;
use super::provider::TencentProvider;
use super::schedule::{policy_from, text};
use crate::protect::{Encryption, Policy, PolicyApplied, Schedule};
use crate::providers::CloudError;
use crate::providers::aliyun::policies::planned;
use serde_json::{Value, json};

/// `field` of a CBS answer, which must be there.
fn required(doc: &Value, action: &str, field: &str) -> Result<String, CloudError> {
    doc[field]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| CloudError::Malformed {
            service: "CBS",
            reason: format!("{action} answered without {field}"),
            head: crate::providers::head(&doc.to_string()),
        })
}

impl TencentProvider {
    fn cbs_call(&self, action: &str, body: Value) -> Result<Value, CloudError> {
        self.client.call(Service::Cbs, action, &body)
    }

    fn known_disk(&self, disk: &str) -> Result<CbsDisk, CloudError> {
        self.client.disk(disk)?.ok_or_else(|| CloudError::Api {
            service: "CBS",
            code: "InvalidDiskId.NotFound".into(),
            message: format!("disk {disk} was not found"),
            advice: "check --region and --disk".into(),
        })
    }

    /// The policies bound to `disk`, as CBS answers them.
    fn bound(&self, disk: &str) -> Result<Vec<Value>, CloudError> {
        let answer = self.cbs_call(
            "DescribeDiskAssociatedAutoSnapshotPolicy",
            json!({ "DiskId": disk }),
        )?;
        Ok(answer["AutoSnapshotPolicySet"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// The region's policies named exactly `name`, all pages.
    fn policies_named(&self, name: &str) -> Result<Vec<Value>, CloudError> {
        let query = json!({"Filters": [{"Name": "auto-snapshot-policy-name", "Values": [name]}]});
        Ok(self
            .client
            .all_pages(
                "DescribeAutoSnapshotPolicies",
                query,
                "AutoSnapshotPolicySet",
            )?
            .into_iter()
            .filter(|p| text(p, "AutoSnapshotPolicyName") == name)
            .collect())
    }

    pub(super) fn cbs_system_disk(&self, disk: &str) -> Result<Option<bool>, CloudError> {
        Ok(self
            .client
            .disk(disk)?
            .and_then(|d| match d.disk_usage.as_str() {
                "SYSTEM_DISK" => Some(true),
                "DATA_DISK" => Some(false),
                _ => None,
            }))
    }

    pub(super) fn cbs_policies(&self, disk: &str) -> Result<Vec<Policy>, CloudError> {
        Ok(self.bound(disk)?.iter().map(policy_from).collect())
    }

    pub(super) fn cbs_encryption(&self, disk: &str) -> Result<Encryption, CloudError> {
        Ok(Encryption {
            disk: self.known_disk(disk)?.encrypted,
            by_default: None,
        })
    }

    /// CreateSnapshot without a `Deadline`: permanent until deleted (or `--keep-days` pins
    /// it, which then says no pin is needed).
    pub(super) fn cbs_named_snapshot(
        &self,
        disk: &str,
        name: &str,
        tags: &[(String, String)],
        keep_days: Option<u32>,
    ) -> Result<(String, Option<String>), CloudError> {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect();
        let mut body = json!({"DiskId": disk, "SnapshotName": name, "Tags": tags});
        // Deadline: at least a day ahead (ISO 8601, UTC); CBS deletes it then.
        let deadline = keep_days.map(|d| {
            (chrono::Utc::now() + chrono::Duration::days(i64::from(d)))
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        });
        if let Some(at) = &deadline {
            body["Deadline"] = json!(at);
        }
        let answer = self.cbs_call("CreateSnapshot", body)?;
        let kept =
            deadline.map(|at| format!("Deadline {at}: CBS keeps it until then, then deletes it"));
        Ok((required(&answer, "CreateSnapshot", "SnapshotId")?, kept))
    }

    pub(super) fn cbs_apply_policy(
        &self,
        disk: &str,
        schedule: &Schedule,
    ) -> Result<PolicyApplied, CloudError> {
        let bound = self.bound(disk)?;
        if let Some(p) = bound.iter().map(policy_from).find(|p| p.meets(schedule)) {
            return Ok(PolicyApplied::unchanged(&p.name, schedule));
        }
        let (name, hours, days) = planned(schedule);
        let mut said = Vec::new();
        let existing = self
            .policies_named(&name)?
            .into_iter()
            .find(|p| policy_from(p).meets(schedule));
        let id = match existing {
            Some(p) => {
                let id = required(&p, "DescribeAutoSnapshotPolicies", "AutoSnapshotPolicyId")?;
                said.push(format!("reused auto snapshot policy {id} ({name})"));
                id
            }
            None => {
                let answer = self.cbs_call(
                    "CreateAutoSnapshotPolicy",
                    json!({
                        "Policy": [{"DayOfWeek": [0, 1, 2, 3, 4, 5, 6], "Hour": hours}],
                        "AutoSnapshotPolicyName": name,
                        "IsActivated": true,
                        "IsPermanent": false,
                        "RetentionDays": days,
                    }),
                )?;
                let id = required(&answer, "CreateAutoSnapshotPolicy", "AutoSnapshotPolicyId")?;
                said.push(format!(
                    "created auto snapshot policy {id} ({name}: hours {hours:?} every day, kept \
                     {days} days)"
                ));
                id
            }
        };
        let before: Vec<&str> = bound
            .iter()
            .map(|p| text(p, "AutoSnapshotPolicyId"))
            .collect();
        let bind = self.cbs_call(
            "BindAutoSnapshotPolicy",
            json!({"AutoSnapshotPolicyId": id, "DiskIds": [disk]}),
        );
        match bind {
            Err(e) if e.has_code(&["InvalidDisk.AlreadyBound"]) && !before.is_empty() => {
                return Err(CloudError::Unsupported {
                    service: "CBS",
                    what: format!(
                        "bind {id} to {disk} while {} is bound to it (it answered \
                         InvalidDisk.AlreadyBound)",
                        before.join(", ")
                    ),
                    instead: format!(
                        "Unbind the weaker policy in the console (or UnbindAutoSnapshotPolicy), \
                         then run --apply again: it binds {id}"
                    ),
                });
            }
            other => other?,
        };
        said.push(format!(
            "bound {id} to {disk} (snapshots are billed by size)"
        ));
        if !before.is_empty() {
            said.push(format!(
                "{} stays bound to {disk} as well: unbind it in the console if its snapshots \
                 are no longer wanted",
                before.join(", ")
            ));
        }
        Ok(PolicyApplied {
            changed: true,
            said,
        })
    }
}
