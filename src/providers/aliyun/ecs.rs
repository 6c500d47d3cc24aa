//! The ECS 2014-05-26 API client: snapshots, disks and instances as typed values over the
//! RPC call in `rpc.rs` (signing, retries, advice). The endpoint comes from
//! `--endpoint`, `SNAPRESCUE_ALIYUN_ECS_ENDPOINT`, the profile, else the regional one.

use super::creds::AliyunCredentials;
use super::rpc::{Api, rpc_call};
use crate::providers::CloudError;
use crate::providers::iso_time::parse_cloud_time;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::time::Duration;

pub struct EcsClient {
    pub endpoint: String,
    pub region: String,
    creds: AliyunCredentials,
    http: reqwest::blocking::Client,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EcsSnapshot {
    pub id: String,
    pub name: String,
    pub description: String,
    pub status: String,
    pub progress: String,
    pub created: Option<DateTime<Utc>>,
    pub disk_id: String,
    pub disk_size_gib: u64,
    pub encrypted: bool,
    pub tags: Vec<(String, String)>,
    pub source_region: Option<String>,
    /// Days it is kept from `created`; `None`: until deleted (or by its automatic policy).
    pub retention_days: Option<u64>,
    /// The automatic snapshot policy that made it (and may delete it).
    pub auto_policy: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EcsDisk {
    pub id: String,
    pub size_gib: u64,
    pub zone: String,
    pub status: String,
    pub kind: String,
    pub instance_id: String,
    /// Whether it can be detached (`Portable`); unknown counts as not.
    pub portable: bool,
    /// Operations still holding the disk (`OperationLocks`), e.g. a reset settling.
    pub locked: bool,
}

/// A field that should be a number but may arrive as a string (`"40"`), as the SDK models
/// disagree with the samples; anything else is a malformed answer naming the field.
fn number(v: &Value, field: &str) -> Result<u64, String> {
    match &v[field] {
        Value::Null => Ok(0),
        Value::Number(n) => n
            .as_u64()
            .ok_or(format!("{field} is not a whole number: {n}")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("{field} should be a number, got {s:?}")),
        other => Err(format!("{field} should be a number, got {other}")),
    }
}

fn text(v: &Value, field: &str) -> String {
    v[field].as_str().unwrap_or_default().to_string()
}

impl EcsClient {
    pub fn endpoint_for(region: &str, flag: Option<&str>, profile: Option<&str>) -> String {
        flag.map(str::to_string)
            .or_else(|| std::env::var("SNAPRESCUE_ALIYUN_ECS_ENDPOINT").ok())
            .or_else(|| profile.map(str::to_string))
            .unwrap_or_else(|| format!("https://ecs.{region}.aliyuncs.com"))
            .trim_end_matches('/')
            .to_string()
    }

    pub fn new(
        endpoint: String,
        region: &str,
        creds: AliyunCredentials,
    ) -> Result<Self, CloudError> {
        let timeout = std::env::var("SNAPRESCUE_HTTP_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30);
        Ok(Self {
            endpoint,
            region: region.to_string(),
            creds,
            http: crate::providers::http_client(Duration::from_secs(timeout))?,
        })
    }

    /// The same credentials in `region`: an endpoint naming this region is renamed, one
    /// that does not (a proxy, a stand-in) is kept.
    pub fn in_region(&self, region: &str) -> Self {
        Self {
            endpoint: self.endpoint.replace(&self.region, region),
            region: region.to_string(),
            creds: self.creds.clone(),
            http: self.http.clone(),
        }
    }

    /// Calls `action`; returns the JSON of a success.
    pub fn call(&self, action: &str, params: &[(String, String)]) -> Result<Value, CloudError> {
        let api = Api {
            service: "ECS",
            endpoint: &self.endpoint,
            version: "2014-05-26",
            region: Some(&self.region),
        };
        rpc_call(&self.http, &api, &self.creds, action, params)
    }

    /// Calls one of the actions whose parameters are lower-camel (`regionId`, not
    /// `RegionId`): CreateAutoSnapshotPolicy, ApplyAutoSnapshotPolicy.
    pub fn call_lower_camel(
        &self,
        action: &str,
        params: &[(String, String)],
    ) -> Result<Value, CloudError> {
        let api = Api {
            service: "ECS",
            endpoint: &self.endpoint,
            version: "2014-05-26",
            region: None,
        };
        let mut all = vec![("regionId".to_string(), self.region.clone())];
        all.extend(params.iter().cloned());
        rpc_call(&self.http, &api, &self.creds, action, &all)
    }

    pub fn pages(
        &self,
        action: &str,
        params: Vec<(String, String)>,
        list: &str,
        item: &str,
    ) -> Result<Vec<Value>, CloudError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut p = params.clone();
            p.push(("MaxResults".into(), "100".into()));
            if let Some(t) = &token {
                p.push(("NextToken".into(), t.clone()));
            }
            let doc = self.call(action, &p)?;
            let items = doc[list][item]
                .as_array()
                .ok_or_else(|| CloudError::Malformed {
                    service: "ECS",
                    reason: format!("no {list}.{item} list in {action}"),
                    head: crate::providers::head(&doc.to_string()),
                })?;
            all.extend(items.iter().cloned());
            match doc["NextToken"].as_str().filter(|t| !t.is_empty()) {
                Some(t) if Some(t) != token.as_deref() => token = Some(t.to_string()),
                _ => return Ok(all),
            }
        }
    }

    pub fn describe_snapshots(&self, disk_id: &str) -> Result<Vec<EcsSnapshot>, CloudError> {
        let items = self.pages(
            "DescribeSnapshots",
            vec![("DiskId".into(), disk_id.into())],
            "Snapshots",
            "Snapshot",
        )?;
        items.iter().map(snapshot_from).collect()
    }

    /// The snapshot `id`, `None` when it does not exist.
    pub fn snapshot(&self, id: &str) -> Result<Option<EcsSnapshot>, CloudError> {
        let doc = self.call(
            "DescribeSnapshots",
            &[("SnapshotIds".into(), format!("[\"{id}\"]"))],
        )?;
        doc["Snapshots"]["Snapshot"]
            .as_array()
            .and_then(|s| s.first())
            .map(snapshot_from)
            .transpose()
    }

    pub fn describe_disks(
        &self,
        instance_id: Option<&str>,
        disk_id: Option<&str>,
    ) -> Result<Vec<EcsDisk>, CloudError> {
        let mut params = Vec::new();
        if let Some(i) = instance_id {
            params.push(("InstanceId".to_string(), i.to_string()));
        }
        if let Some(d) = disk_id {
            params.push(("DiskIds".to_string(), format!("[\"{d}\"]")));
        }
        self.disks_where(params)
    }

    /// Disks matching raw DescribeDisks parameters (tags, ids), all pages.
    pub fn disks_where(&self, params: Vec<(String, String)>) -> Result<Vec<EcsDisk>, CloudError> {
        let items = self.pages("DescribeDisks", params, "Disks", "Disk")?;
        items
            .iter()
            .map(|d| {
                Ok(EcsDisk {
                    id: text(d, "DiskId"),
                    size_gib: number(d, "Size").map_err(|reason| CloudError::Malformed {
                        service: "ECS",
                        reason,
                        head: crate::providers::head(&d.to_string()),
                    })?,
                    zone: text(d, "ZoneId"),
                    status: text(d, "Status"),
                    kind: text(d, "Type"),
                    instance_id: text(d, "InstanceId"),
                    portable: d["Portable"].as_bool().unwrap_or(false),
                    locked: d["OperationLocks"]["OperationLock"]
                        .as_array()
                        .is_some_and(|locks| !locks.is_empty()),
                })
            })
            .collect()
    }
}

/// One snapshot of a DescribeSnapshots answer.
fn snapshot_from(s: &Value) -> Result<EcsSnapshot, CloudError> {
    let malformed = |reason: String| CloudError::Malformed {
        service: "ECS",
        reason,
        head: crate::providers::head(&s.to_string()),
    };
    Ok(EcsSnapshot {
        id: text(s, "SnapshotId"),
        name: text(s, "SnapshotName"),
        description: text(s, "Description"),
        status: text(s, "Status"),
        progress: text(s, "Progress"),
        created: parse_cloud_time(&text(s, "CreationTime")),
        disk_id: text(s, "SourceDiskId"),
        disk_size_gib: number(s, "SourceDiskSize").map_err(malformed)?,
        encrypted: s["Encrypted"].as_bool().unwrap_or(false),
        tags: s["Tags"]["Tag"]
            .as_array()
            .map(|t| {
                t.iter()
                    .map(|t| (text(t, "TagKey"), text(t, "TagValue")))
                    .collect()
            })
            .unwrap_or_default(),
        source_region: Some(text(s, "SourceRegionId")).filter(|r| !r.is_empty()),
        // Absent, null or -1: kept until deleted.
        retention_days: s["RetentionDays"]
            .as_i64()
            .or_else(|| {
                s["RetentionDays"]
                    .as_str()
                    .and_then(|d| d.trim().parse().ok())
            })
            .and_then(|d| u64::try_from(d).ok())
            .filter(|d| *d > 0),
        auto_policy: Some(text(s, "AutoSnapshotPolicyId")).filter(|p| !p.is_empty()),
    })
}

/// A disk serial (virtio or NVMe) → the ECS disk id (`bp1…` → `d-bp1…`).
pub fn disk_id_from_serial(serial: &str, model: Option<&str>) -> Option<String> {
    let s = serial.trim();
    let nvme_ok = model.is_none_or(|m| m.contains("Alibaba") || m.trim().is_empty());
    (nvme_ok
        && (12..=24).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars().any(|c| c.is_ascii_digit())
        && !s.starts_with("vol"))
    .then(|| format!("d-{s}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_may_be_strings_but_not_garbage() {
        let v: Value = serde_json::json!({"a": 40, "b": "40", "c": "forty", "d": true});
        assert_eq!(number(&v, "a"), Ok(40));
        assert_eq!(number(&v, "b"), Ok(40));
        assert!(
            number(&v, "c")
                .unwrap_err()
                .contains("c should be a number")
        );
        assert!(number(&v, "d").is_err());
    }

    #[test]
    fn serials_name_ecs_disks() {
        assert_eq!(
            disk_id_from_serial("bp1abcdefghijklmnop\n", None).as_deref(),
            Some("d-bp1abcdefghijklmnop")
        );
        assert_eq!(
            disk_id_from_serial(
                "2zeabcdefghij123",
                Some("Alibaba Cloud Elastic Block Storage")
            )
            .as_deref(),
            Some("d-2zeabcdefghij123")
        );
        assert_eq!(
            disk_id_from_serial("vol0123456789abcdef0", Some("Amazon Elastic Block Store")),
            None
        );
    }
}
