//! `protect --all`: every disk of an account's regions, audited with the same checks — how
//! a team with a hundred GPU instances finds the unprotected disks before an accident. The
//! cloud's snapshot service does the work; this is the auditor. Regions are asked in
//! parallel (each call with the providers' retry and backoff); a region that fails is
//! reported beside the others, which are still audited.

use super::{Check, CheckStatus, audit};
use crate::providers::{CloudProvider, ProviderEntry};
use crate::sources::CloudOptions;
use crate::sources::cloud_protect::disk_facts;
use serde::Serialize;

/// One disk's audit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiskAudit {
    pub region: String,
    pub disk: String,
    /// Instances it is attached to.
    pub instances: Vec<String>,
    /// Where it is mounted, when that is known (attached to this machine): otherwise null.
    pub path: Option<String>,
    pub checks: Vec<Check>,
    /// The ids of the checks that failed or could not run.
    pub failing: Vec<&'static str>,
}

/// One region: how many disks, or why it could not be audited.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionAudit {
    pub region: String,
    pub disks: usize,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetAudit {
    pub source: String,
    pub regions: Vec<RegionAudit>,
    pub disks: Vec<DiskAudit>,
}

impl FleetAudit {
    /// Every region answered and no disk has a failing check.
    pub fn passed(&self) -> bool {
        self.regions.iter().all(|r| r.error.is_none())
            && self.disks.iter().all(|d| d.failing.is_empty())
    }
}

fn region_audit(
    provider: &dyn CloudProvider,
    region: &str,
) -> Result<Vec<DiskAudit>, crate::providers::CloudError> {
    let now = chrono::Utc::now();
    let disks = provider.describe_disks(None, None)?;
    let mut out = Vec::new();
    for disk in disks {
        let checks = match provider.list_snapshots(&disk.id) {
            Ok(snapshots) => {
                let facts = disk_facts(provider, &disk, None, snapshots);
                // The fix is run on the disk's instance, naming a path on it and the disk.
                let named = format!(
                    " --source {} --region {region} --disk {}",
                    provider.name(),
                    disk.id
                );
                let mut checks = audit(&facts, "PATH", now);
                for c in &mut checks {
                    if let Some(fix) = &mut c.fix {
                        fix.push_str(&named);
                    }
                }
                checks
            }
            Err(e) => vec![Check {
                id: "snapshot-recent",
                status: CheckStatus::Fail,
                message: format!("could not be checked: {e}"),
                fix: None,
                ran: false,
            }],
        };
        let failing = checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail || !c.ran)
            .map(|c| c.id)
            .collect();
        out.push(DiskAudit {
            region: region.to_string(),
            disk: disk.id.clone(),
            instances: disk.attached_to.clone(),
            path: None,
            checks,
            failing,
        });
    }
    Ok(out)
}

/// Audits every disk of `entry`'s cloud in each of `regions`, in parallel.
pub fn audit_fleet(
    entry: &ProviderEntry,
    regions: &[String],
    options: &CloudOptions,
) -> FleetAudit {
    let answers: Vec<(String, Result<Vec<DiskAudit>, String>)> = std::thread::scope(|scope| {
        let running: Vec<_> = regions
            .iter()
            .map(|region| {
                let options = CloudOptions {
                    source: Some(entry.name.into()),
                    region: Some(region.clone()),
                    ..options.clone()
                };
                let handle = scope.spawn(move || {
                    let provider = (entry.connect)(&options).map_err(|e| e.to_string())?;
                    region_audit(provider.as_ref(), region).map_err(|e| e.to_string())
                });
                (region.clone(), handle)
            })
            .collect();
        running
            .into_iter()
            .map(|(region, handle)| {
                let answer = handle
                    .join()
                    .unwrap_or_else(|_| Err("the audit of this region failed".into()));
                (region, answer)
            })
            .collect()
    });
    let mut fleet = FleetAudit {
        source: entry.name.into(),
        regions: Vec::new(),
        disks: Vec::new(),
    };
    for (region, answer) in answers {
        match answer {
            Ok(disks) => {
                fleet.regions.push(RegionAudit {
                    region,
                    disks: disks.len(),
                    error: None,
                });
                fleet.disks.extend(disks);
            }
            Err(e) => fleet.regions.push(RegionAudit {
                region,
                disks: 0,
                error: Some(e),
            }),
        }
    }
    fleet
}

/// The fleet as a table: disk, instance, path, failing checks; then each failed region.
pub fn table(fleet: &FleetAudit) -> String {
    let mut rows = vec![[
        "REGION".to_string(),
        "DISK".into(),
        "INSTANCE".into(),
        "PATH".into(),
        "FAILING".into(),
    ]];
    for d in &fleet.disks {
        rows.push([
            d.region.clone(),
            d.disk.clone(),
            if d.instances.is_empty() {
                "-".into()
            } else {
                d.instances.join(",")
            },
            d.path.clone().unwrap_or_else(|| "-".into()),
            if d.failing.is_empty() {
                "none".into()
            } else {
                d.failing.join(", ")
            },
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        for (i, cell) in r.iter().enumerate() {
            if i < 4 {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            } else {
                out.push_str(cell);
            }
        }
        out.push('\n');
    }
    for r in &fleet.regions {
        match &r.error {
            Some(e) => out.push_str(&format!("region {}: NOT AUDITED: {e}\n", r.region)),
            None => out.push_str(&format!("region {}: {} disks audited\n", r.region, r.disks)),
        }
    }
    out
}
