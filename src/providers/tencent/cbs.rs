//! CBS disks and snapshots as typed values: DescribeDisks and DescribeSnapshots, every page
//! (Offset/Limit up to TotalCount). CBS times are `YYYY-MM-DD HH:MM:SS` without a zone; they
//! are China Standard Time (UTC+8), the zone of Tencent Cloud's API times.

use super::api::{Service, TencentClient};
use crate::providers::CloudError;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub struct CbsSnapshot {
    pub id: String,
    pub name: String,
    /// `NORMAL`, `CREATING`, `ROLLBACKING`, …
    pub state: String,
    pub percent: u64,
    pub disk_id: String,
    pub disk_size_gib: u64,
    /// `SYSTEM_DISK` or `DATA_DISK`.
    pub disk_usage: String,
    pub encrypted: bool,
    pub created: Option<DateTime<Utc>>,
    pub deadline: Option<DateTime<Utc>>,
    pub permanent: bool,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CbsDisk {
    pub id: String,
    /// `UNATTACHED`, `ATTACHING`, `ATTACHED`, `DETACHING`, `ROLLBACKING`, …
    pub state: String,
    pub instance_id: String,
    pub disk_usage: String,
    pub disk_type: String,
    pub size_gib: u64,
    /// An elastic disk, which can be detached (and so reset online).
    pub portable: bool,
    pub rollbacking: bool,
    pub zone: String,
    /// `Encrypt`: the disk (and so its snapshots) is encrypted.
    pub encrypted: bool,
}

/// A CBS time (`2023-03-09 10:45:11`, UTC+8) in UTC; RFC 3339 is read too.
pub fn parse_cbs_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S") {
        let china = FixedOffset::east_opt(8 * 3600)?;
        return china
            .from_local_datetime(&naive)
            .single()
            .map(|t| t.with_timezone(&Utc));
    }
    crate::providers::iso_time::parse_cloud_time(text)
}

fn text(v: &Value, field: &str) -> String {
    v[field].as_str().unwrap_or_default().to_string()
}

fn number(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .or_else(|| v[field].as_str().and_then(|s| s.trim().parse().ok()))
        .unwrap_or(0)
}

fn snapshot(s: &Value) -> CbsSnapshot {
    CbsSnapshot {
        id: text(s, "SnapshotId"),
        name: text(s, "SnapshotName"),
        state: text(s, "SnapshotState"),
        percent: number(s, "Percent"),
        disk_id: text(s, "DiskId"),
        disk_size_gib: number(s, "DiskSize"),
        disk_usage: text(s, "DiskUsage"),
        encrypted: s["Encrypt"].as_bool().unwrap_or(false),
        created: parse_cbs_time(&text(s, "CreateTime")),
        deadline: parse_cbs_time(&text(s, "DeadlineTime")),
        permanent: s["IsPermanent"].as_bool().unwrap_or(false),
        tags: s["Tags"]
            .as_array()
            .map(|t| {
                t.iter()
                    .map(|t| (text(t, "Key"), text(t, "Value")))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn disk(d: &Value) -> CbsDisk {
    CbsDisk {
        id: text(d, "DiskId"),
        state: text(d, "DiskState"),
        instance_id: text(d, "InstanceId"),
        disk_usage: text(d, "DiskUsage"),
        disk_type: text(d, "DiskType"),
        size_gib: number(d, "DiskSize"),
        portable: d["Portable"].as_bool().unwrap_or(false),
        rollbacking: d["Rollbacking"].as_bool().unwrap_or(false),
        zone: text(&d["Placement"], "Zone"),
        encrypted: d["Encrypt"].as_bool().unwrap_or(false),
    }
}

/// `SNAPRESCUE_TENCENT_PAGE_SIZE` (tests), else the maximum, 100.
fn page_size() -> u64 {
    std::env::var("SNAPRESCUE_TENCENT_PAGE_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
}

impl TencentClient {
    /// Every item of `set` over all pages of `action` asked with `query`.
    pub(super) fn all_pages(
        &self,
        action: &str,
        query: Value,
        set: &str,
    ) -> Result<Vec<Value>, CloudError> {
        let limit = page_size();
        let mut all = Vec::new();
        loop {
            let mut body = query.clone();
            body["Offset"] = json!(all.len());
            body["Limit"] = json!(limit);
            let response = self.call(Service::Cbs, action, &body)?;
            let page = response[set].as_array().cloned().unwrap_or_default();
            let total = response["TotalCount"].as_u64().unwrap_or(0);
            let empty = page.is_empty();
            all.extend(page);
            if empty || all.len() as u64 >= total {
                return Ok(all);
            }
        }
    }

    /// Every snapshot of `disk`.
    pub fn snapshots_of_disk(&self, disk: &str) -> Result<Vec<CbsSnapshot>, CloudError> {
        let query = json!({"Filters": [{"Name": "disk-id", "Values": [disk]}]});
        Ok(self
            .all_pages("DescribeSnapshots", query, "SnapshotSet")?
            .iter()
            .map(snapshot)
            .collect())
    }

    /// The snapshot `id`, `None` when it does not exist.
    pub fn snapshot(&self, id: &str) -> Result<Option<CbsSnapshot>, CloudError> {
        let query = json!({"SnapshotIds": [id]});
        match self.call(Service::Cbs, "DescribeSnapshots", &query) {
            Ok(r) => Ok(r["SnapshotSet"]
                .as_array()
                .and_then(|s| s.first())
                .map(snapshot)),
            Err(e) if e.has_code(&["InvalidSnapshotId.NotFound", "ResourceNotFound"]) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Disks matching `filters` (`[{"Name": …, "Values": […]}]`).
    pub fn disks_where(&self, filters: Value) -> Result<Vec<CbsDisk>, CloudError> {
        Ok(self
            .all_pages("DescribeDisks", json!({ "Filters": filters }), "DiskSet")?
            .iter()
            .map(disk)
            .collect())
    }

    /// Every disk of the region, all pages (`protect --all`).
    pub fn all_disks(&self) -> Result<Vec<CbsDisk>, CloudError> {
        Ok(self
            .all_pages("DescribeDisks", json!({}), "DiskSet")?
            .iter()
            .map(disk)
            .collect())
    }

    /// The disk `id`, `None` when it does not exist.
    pub fn disk(&self, id: &str) -> Result<Option<CbsDisk>, CloudError> {
        match self.call(Service::Cbs, "DescribeDisks", &json!({"DiskIds": [id]})) {
            Ok(r) => Ok(r["DiskSet"].as_array().and_then(|d| d.first()).map(disk)),
            Err(e) if e.has_code(&["InvalidDiskId.NotFound", "ResourceNotFound"]) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbs_times_are_china_standard_time() {
        assert_eq!(
            parse_cbs_time("2023-03-09 10:45:11").unwrap().to_rfc3339(),
            "2023-03-09T02:45:11+00:00"
        );
        assert_eq!(
            parse_cbs_time("2026-01-01T00:00:00Z").unwrap().to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        assert_eq!(parse_cbs_time(""), None);
        assert_eq!(parse_cbs_time("yesterday"), None);
    }
}
