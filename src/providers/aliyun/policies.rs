//! ECS prevention, for `protect` and `snapshot`: the automatic snapshot policy bound to a
//! disk (DescribeDisks' `AutoSnapshotPolicyId`, then DescribeAutoSnapshotPolicyEx: time
//! points in UTC+8, weekdays, retention, cross-region copy), the disk's encryption and the
//! region's encryption by default, the named pre-run snapshot (CreateSnapshot with tags),
//! and `--apply`: CreateAutoSnapshotPolicy + ApplyAutoSnapshotPolicy, whose parameters are
//! lower-camel (`regionId`, `timePoints`, `diskIds`), unlike the rest of ECS.

use super::AliyunProvider;
use super::provider::required;
use crate::protect::{Encryption, Keep, Policy, PolicyApplied, Schedule};
use crate::providers::CloudError;
use crate::rescue::param;
use chrono::Duration;
use serde_json::Value;

/// A list ECS sends as a JSON-array string (`"[\"0\", \"12\"]"`), or as an array.
fn numbers(v: &Value) -> Vec<u32> {
    let parsed: Value = match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        other => other.clone(),
    };
    parsed
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_u64().or_else(|| x.as_str()?.trim().parse().ok()))
                .filter_map(|x| u32::try_from(x).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The longest time between two snapshots over a week of `hours` on `weekdays`.
pub fn longest_gap(hours: &[u32], weekdays: &[u32]) -> Option<Duration> {
    let mut times: Vec<u32> = weekdays
        .iter()
        .filter(|d| (1..=7).contains(*d))
        .flat_map(|d| {
            hours
                .iter()
                .filter(|h| **h < 24)
                .map(move |h| (d - 1) * 24 + h)
        })
        .collect();
    times.sort_unstable();
    times.dedup();
    let first = *times.first()?;
    let gaps = times.windows(2).map(|w| w[1] - w[0]);
    let wrap = 168 - times[times.len() - 1] + first;
    Some(Duration::hours(gaps.chain([wrap]).max()?.into()))
}

/// One policy of DescribeAutoSnapshotPolicyEx as the audit sees it.
pub fn policy_from(p: &Value, enabled_on_disk: bool) -> Policy {
    let id = p["AutoSnapshotPolicyId"].as_str().unwrap_or_default();
    let name = p["AutoSnapshotPolicyName"].as_str().unwrap_or_default();
    let days = p["RetentionDays"]
        .as_i64()
        .or_else(|| p["RetentionDays"].as_str()?.parse().ok())
        .unwrap_or(-1);
    let status = p["Status"].as_str().unwrap_or("Normal");
    Policy {
        name: format!("auto snapshot policy {id} ({name})"),
        every: longest_gap(&numbers(&p["TimePoints"]), &numbers(&p["RepeatWeekdays"])),
        keep: if days < 0 {
            Keep::Forever
        } else {
            Keep::For(Duration::days(days))
        },
        disabled: if status != "Normal" {
            Some(format!("its status is {status}"))
        } else if !enabled_on_disk {
            Some("automatic snapshots are switched off on the disk".into())
        } else {
            None
        },
    }
}

/// The policy `--apply` creates: time points every `schedule.every` (rounded down to a
/// divisor of a day), every weekday, kept the days asked (rounded up).
pub fn planned(schedule: &Schedule) -> (String, Vec<u32>, i64) {
    let every = schedule.every.num_hours().clamp(1, 24) as u32;
    let step = (1..=every).rev().find(|s| 24 % s == 0).unwrap_or(1);
    let hours = (0..24).step_by(step as usize).collect();
    let days = ((schedule.keep.num_hours() + 23) / 24).max(1);
    (format!("snaprescue-every{step}h-keep{days}d"), hours, days)
}

impl AliyunProvider {
    /// The disk as DescribeDisks answers it (raw).
    fn disk_doc(&self, disk: &str) -> Result<Value, CloudError> {
        let found = self.ecs.pages(
            "DescribeDisks",
            vec![param("DiskIds", &format!("[\"{disk}\"]"))],
            "Disks",
            "Disk",
        )?;
        found.into_iter().next().ok_or_else(|| CloudError::Api {
            service: "ECS",
            code: "InvalidDiskId.NotFound".into(),
            message: format!("disk {disk} was not found"),
            advice: "check --region and --disk".into(),
        })
    }

    /// Every policy of the region, or those named `name`, all pages.
    fn policies_where(&self, extra: Vec<(String, String)>) -> Result<Vec<Value>, CloudError> {
        let mut all = Vec::new();
        for page in 1.. {
            let mut p = extra.clone();
            p.push(param("PageNumber", &page.to_string()));
            p.push(param("PageSize", "100"));
            let doc = self.ecs.call("DescribeAutoSnapshotPolicyEx", &p)?;
            let items = doc["AutoSnapshotPolicies"]["AutoSnapshotPolicy"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let total = doc["TotalCount"].as_u64().unwrap_or(0) as usize;
            let empty = items.is_empty();
            all.extend(items);
            if empty || all.len() >= total || page > 1000 {
                break;
            }
        }
        Ok(all)
    }

    /// The policy bound to `disk` (with whether it is switched on there), if any.
    fn bound(&self, disk: &str) -> Result<Option<(Value, bool)>, CloudError> {
        let doc = self.disk_doc(disk)?;
        let Some(id) = doc["AutoSnapshotPolicyId"]
            .as_str()
            .filter(|s| !s.is_empty())
        else {
            return Ok(None);
        };
        let enabled = doc["EnableAutomatedSnapshotPolicy"]
            .as_bool()
            .unwrap_or(true);
        let policy = self
            .policies_where(vec![param("AutoSnapshotPolicyId", id)])?
            .into_iter()
            .next();
        Ok(policy.map(|p| (p, enabled)))
    }

    pub(super) fn ecs_policies(&self, disk: &str) -> Result<Vec<Policy>, CloudError> {
        Ok(self
            .bound(disk)?
            .map(|(p, enabled)| policy_from(&p, enabled))
            .into_iter()
            .collect())
    }

    pub(super) fn ecs_encryption(&self, disk: &str) -> Result<Encryption, CloudError> {
        let doc = self.disk_doc(disk)?;
        let by_default = self
            .ecs
            .call("DescribeDiskEncryptionByDefaultStatus", &[])
            .ok()
            .and_then(|d| d["Encrypted"].as_bool());
        Ok(Encryption {
            disk: doc["Encrypted"].as_bool().unwrap_or(false),
            by_default,
        })
    }

    /// The region the bound policy copies snapshots to, when it does.
    pub(super) fn ecs_copy_region(&self, disk: &str) -> Result<Option<String>, CloudError> {
        Ok(self.bound(disk)?.and_then(|(p, _)| {
            let on = p["EnableCrossRegionCopy"].as_bool().unwrap_or(false);
            let regions: Value = match &p["TargetCopyRegions"] {
                Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
                other => other.clone(),
            };
            let first = regions.as_array()?.first()?.as_str()?.to_string();
            on.then_some(first)
        }))
    }

    /// The region holding a copy of one of `recent` (CopySnapshot leaves `SourceSnapshotId`
    /// on the copy, in its destination region): every other region of DescribeRegions is
    /// asked, at once.
    pub(super) fn ecs_copy_elsewhere(
        &self,
        recent: &[String],
    ) -> Result<Option<String>, CloudError> {
        if recent.is_empty() {
            return Ok(None);
        }
        let doc = self.ecs.call("DescribeRegions", &[])?;
        let regions: Vec<String> = doc["Regions"]["Region"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["RegionId"].as_str().map(str::to_string))
            .filter(|r| *r != self.ecs.region)
            .collect();
        let found: Vec<Result<Option<String>, CloudError>> = std::thread::scope(|scope| {
            let asked: Vec<_> = regions
                .iter()
                .map(|region| {
                    scope.spawn(move || {
                        let there = self.ecs.in_region(region);
                        let snapshots =
                            there.pages("DescribeSnapshots", vec![], "Snapshots", "Snapshot")?;
                        Ok(snapshots
                            .iter()
                            .any(|s| {
                                s["SourceSnapshotId"]
                                    .as_str()
                                    .is_some_and(|id| recent.iter().any(|r| r == id))
                            })
                            .then(|| region.clone()))
                    })
                })
                .collect();
            asked
                .into_iter()
                .map(|h| h.join().unwrap_or(Ok(None)))
                .collect()
        });
        let mut first_error = None;
        for answer in found {
            match answer {
                Ok(Some(region)) => return Ok(Some(region)),
                Ok(None) => {}
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    pub(super) fn ecs_named_snapshot(
        &self,
        disk: &str,
        name: &str,
        tags: &[(String, String)],
        keep_days: Option<u32>,
    ) -> Result<(String, Option<String>), CloudError> {
        let valid = (2..=128).contains(&name.chars().count())
            && name.chars().next().is_some_and(char::is_alphabetic)
            && !name.starts_with("auto")
            && !name.starts_with("http");
        if !valid {
            return Err(CloudError::Unsupported {
                service: "ECS",
                what: format!("name a snapshot {name:?}"),
                instead: "Give --name 2 to 128 characters starting with a letter, not `auto`."
                    .into(),
            });
        }
        let mut p = vec![param("DiskId", disk), param("SnapshotName", name)];
        for (n, (k, v)) in tags.iter().enumerate().take(20) {
            p.push(param(&format!("Tag.{}.Key", n + 1), k));
            p.push(param(&format!("Tag.{}.Value", n + 1), v));
        }
        if let Some(days) = keep_days {
            p.push(param("RetentionDays", &days.to_string()));
        }
        let doc = self.ecs.call("CreateSnapshot", &p)?;
        let kept = keep_days
            .map(|d| format!("RetentionDays {d}: ECS keeps it {d} days from now, then deletes it"));
        Ok((required(&doc, "CreateSnapshot", "SnapshotId")?, kept))
    }

    pub(super) fn ecs_apply_policy(
        &self,
        disk: &str,
        schedule: &Schedule,
    ) -> Result<PolicyApplied, CloudError> {
        if let Some((p, enabled)) = self.bound(disk)? {
            let policy = policy_from(&p, enabled);
            if policy.meets(schedule) {
                return Ok(PolicyApplied::unchanged(&policy.name, schedule));
            }
        }
        let (name, hours, days) = planned(schedule);
        let mut said = Vec::new();
        let existing = self
            .policies_where(vec![param("AutoSnapshotPolicyName", &name)])?
            .into_iter()
            .find(|p| policy_from(p, true).meets(schedule));
        let id = match existing {
            Some(p) => required(&p, "DescribeAutoSnapshotPolicyEx", "AutoSnapshotPolicyId")?,
            None => {
                let hours_text =
                    serde_json::to_string(&hours.iter().map(u32::to_string).collect::<Vec<_>>())
                        .unwrap_or_default();
                let doc = self.ecs.call_lower_camel(
                    "CreateAutoSnapshotPolicy",
                    &[
                        param("autoSnapshotPolicyName", &name),
                        param("timePoints", &hours_text),
                        param("repeatWeekdays", r#"["1","2","3","4","5","6","7"]"#),
                        param("retentionDays", &days.to_string()),
                    ],
                )?;
                let id = required(&doc, "CreateAutoSnapshotPolicy", "AutoSnapshotPolicyId")?;
                said.push(format!(
                    "created auto snapshot policy {id} ({name}: hours {hours_text} UTC+8 daily, \
                     kept {days} days)"
                ));
                id
            }
        };
        self.ecs.call_lower_camel(
            "ApplyAutoSnapshotPolicy",
            &[
                param("autoSnapshotPolicyId", &id),
                param("diskIds", &format!("[\"{disk}\"]")),
            ],
        )?;
        said.push(format!(
            "bound {id} to {disk} (snapshots are billed by size)"
        ));
        Ok(PolicyApplied {
            changed: true,
            said,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_longest_gap_of_a_week_is_the_policys_period() {
        let all = [1, 2, 3, 4, 5, 6, 7];
        assert_eq!(longest_gap(&[0, 12], &all), Some(Duration::hours(12)));
        assert_eq!(longest_gap(&[2], &all), Some(Duration::hours(24)));
        assert_eq!(longest_gap(&[2], &[1, 4]), Some(Duration::hours(96)));
        assert_eq!(longest_gap(&[], &all), None);
    }

    #[test]
    fn a_policy_reads_its_json_array_strings_and_what_switches_it_off() {
        let p = json!({"AutoSnapshotPolicyId": "sp-1", "AutoSnapshotPolicyName": "n",
            "TimePoints": "[\"0\", \"12\"]", "RepeatWeekdays": "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\"]",
            "RetentionDays": 3, "Status": "Normal"});
        let policy = policy_from(&p, true);
        assert_eq!(policy.every, Some(Duration::hours(12)));
        assert_eq!(policy.keep, Keep::For(Duration::days(3)));
        assert_eq!(policy.disabled, None);
        assert!(policy_from(&p, false).disabled.is_some());
        let forever = json!({"RetentionDays": -1, "TimePoints": [0], "RepeatWeekdays": [1]});
        assert_eq!(policy_from(&forever, true).keep, Keep::Forever);
    }

    #[test]
    fn the_planned_policy_meets_what_was_asked() {
        let s = Schedule {
            every: Duration::hours(12),
            keep: Duration::days(3),
        };
        assert_eq!(
            planned(&s),
            ("snaprescue-every12h-keep3d".into(), vec![0, 12], 3)
        );
        let odd = Schedule {
            every: Duration::hours(5),
            keep: Duration::hours(30),
        };
        let (_, hours, days) = planned(&odd);
        assert_eq!(
            (hours.len(), days),
            (6, 2),
            "every 4 h (divides a day), 2 days"
        );
    }
}
