//! What may delete a ZFS snapshot without a fixed date, for `expiry_rule`: sanoid (age-based:
//! a snapshot older than its template's count × period is pruned, so it has an expiry time)
//! or zfs-auto-snapshot (count-based `--keep`, switched by the `com.sun:auto-snapshot`
//! property). Recognised by the snapshot's name; sanoid's retention is read from
//! `/etc/sanoid/sanoid.conf` (`SNAPRESCUE_SANOID_CONF`), the templates covering the dataset.

use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// A policy that may delete a snapshot, and when, where that is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryRule {
    pub rule: String,
    pub expires: Option<DateTime<Utc>>,
}

/// The sanoid period of `autosnap_<date>_<time>_<period>`.
fn sanoid_period(snapshot: &str) -> Option<&str> {
    let rest = snapshot.strip_prefix("autosnap_")?;
    let period = rest.rsplit('_').next()?;
    matches!(
        period,
        "frequently" | "hourly" | "daily" | "weekly" | "monthly" | "yearly"
    )
    .then_some(period)
}

/// The zfs-auto-snapshot label of `zfs-auto-snap_<label>-<date>`.
fn auto_snapshot_label(snapshot: &str) -> Option<&str> {
    let rest = snapshot.strip_prefix("zfs-auto-snap_")?;
    let label = rest.split('-').next()?;
    (!label.is_empty()).then_some(label)
}

/// Sections of sanoid.conf: name → key → value (comments and blank lines dropped).
pub fn parse_sanoid(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim().to_string());
            sections.entry(name.trim().to_string()).or_default();
        } else if let (Some(section), Some((key, value))) = (&current, line.split_once('=')) {
            sections
                .entry(section.clone())
                .or_default()
                .insert(key.trim().to_string(), value.trim().to_string());
        }
    }
    sections
}

/// The settings sanoid applies to `dataset`: its own section, or the nearest ancestor's
/// with `recursive`, over the templates it uses. None when no section covers it.
pub(crate) fn sanoid_settings(
    conf: &BTreeMap<String, BTreeMap<String, String>>,
    dataset: &str,
) -> Option<(String, BTreeMap<String, String>)> {
    let mut name = dataset;
    let section = loop {
        if let Some(s) = conf.get(name) {
            let recursive = s.get("recursive").is_some_and(|v| v == "yes");
            if name == dataset || recursive {
                break (name.to_string(), s);
            }
        }
        name = name.rsplit_once('/')?.0;
    };
    // Under everything, sanoid's own defaults ([template_default]).
    let mut merged = sanoid_defaults();
    let templates = section.1.get("use_template").cloned().unwrap_or_default();
    for template in templates
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if let Some(keys) = conf.get(&format!("template_{template}")) {
            merged.extend(keys.clone());
        }
    }
    merged.extend(section.1.clone());
    Some((section.0, merged))
}

/// sanoid's `[template_default]`, from its `sanoid.defaults.conf` where installed, else the
/// values sanoid ships (hourly 48, daily 90, monthly 6, autosnap and autoprune on).
fn sanoid_defaults() -> BTreeMap<String, String> {
    let shipped = std::fs::read_to_string("/usr/share/sanoid/sanoid.defaults.conf")
        .ok()
        .and_then(|t| parse_sanoid(&t).remove("template_default"));
    shipped
        .unwrap_or_else(|| {
            [
                ("frequent_period", "15"),
                ("frequently", "0"),
                ("hourly", "48"),
                ("daily", "90"),
                ("weekly", "0"),
                ("monthly", "6"),
                ("yearly", "0"),
                ("autosnap", "yes"),
                ("autoprune", "yes"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        })
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// A sanoid yes/no setting that is off (`no`, `0`).
pub(crate) fn is_off(value: Option<&String>) -> bool {
    value.is_some_and(|v| matches!(v.as_str(), "no" | "0"))
}

pub(crate) fn period_length(period: &str, settings: &BTreeMap<String, String>) -> Duration {
    match period {
        "frequently" => Duration::minutes(
            settings
                .get("frequent_period")
                .and_then(|v| v.parse().ok())
                .unwrap_or(15),
        ),
        "hourly" => Duration::hours(1),
        "daily" => Duration::days(1),
        "weekly" => Duration::days(7),
        "monthly" => Duration::days(30),
        _ => Duration::days(365),
    }
}

/// The rule for `snapshot` (its short name) of `dataset` taken at `created`, given sanoid's
/// configuration text and the dataset's `com.sun:auto-snapshot` value, when either applies.
pub fn expiry_rule(
    dataset: &str,
    snapshot: &str,
    created: Option<DateTime<Utc>>,
    sanoid_conf: Option<&str>,
    auto_snapshot: Option<&str>,
) -> Option<ExpiryRule> {
    if let Some(period) = sanoid_period(snapshot) {
        let conf = parse_sanoid(sanoid_conf.unwrap_or(""));
        let Some((section, settings)) = sanoid_settings(&conf, dataset) else {
            return Some(ExpiryRule {
                rule: format!(
                    "sanoid {period} snapshot; no section of sanoid.conf covers {dataset}"
                ),
                expires: None,
            });
        };
        let autoprune = !is_off(settings.get("autoprune"));
        let Some(count) = settings.get(period).and_then(|v| v.parse::<i32>().ok()) else {
            return Some(ExpiryRule {
                rule: format!("sanoid [{section}]: {period} retention from sanoid's defaults"),
                expires: None,
            });
        };
        if !autoprune {
            return Some(ExpiryRule {
                rule: format!("sanoid [{section}]: autoprune = no, never pruned"),
                expires: None,
            });
        }
        return Some(ExpiryRule {
            rule: format!(
                "sanoid [{section}]: {period} = {count}, pruned once older than {count} {period} periods"
            ),
            expires: created.map(|c| c + period_length(period, &settings) * count),
        });
    }
    let label = auto_snapshot_label(snapshot)?;
    let switch = auto_snapshot.unwrap_or("-");
    let keep = match label {
        "frequent" => "4",
        "hourly" => "24",
        "daily" => "31",
        "weekly" => "8",
        "monthly" => "12",
        _ => "its cron job's",
    };
    Some(ExpiryRule {
        rule: if switch == "false" {
            format!(
                "zfs-auto-snapshot {label} snapshot; com.sun:auto-snapshot=false: not pruned by it now"
            )
        } else {
            format!(
                "zfs-auto-snapshot {label}: count-based, destroyed once {keep} newer {label} \
                 snapshots exist (--keep; com.sun:auto-snapshot={switch})"
            )
        },
        expires: None,
    })
}

/// [`expiry_rule`] with this machine's sanoid.conf and the dataset's property.
pub fn expiry_rule_here(
    dataset: &str,
    snapshot: &str,
    created: Option<DateTime<Utc>>,
) -> Option<ExpiryRule> {
    let conf = std::fs::read_to_string(super::zfs_protect::sanoid_conf_path()).ok();
    let auto = super::zfs_cli::property(dataset, "com.sun:auto-snapshot").ok();
    expiry_rule(dataset, snapshot, created, conf.as_deref(), auto.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const CONF: &str = "
[tank/data]
        use_template = production
        recursive = yes
[template_production]
        hourly = 36
        daily = 30
        autoprune = yes
";

    #[test]
    fn sanoid_snapshots_expire_by_age_under_the_template_covering_the_dataset() {
        let created = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let name = "autosnap_2026-01-01_00:00:00_hourly";
        let r = expiry_rule("tank/data/run", name, Some(created), Some(CONF), None).unwrap();
        assert!(
            r.rule.contains("[tank/data]") && r.rule.contains("hourly = 36"),
            "{}",
            r.rule
        );
        assert_eq!(r.expires, Some(created + Duration::hours(36)));
        let r = expiry_rule("tank/other", name, Some(created), Some(CONF), None).unwrap();
        assert_eq!(r.expires, None);
        assert!(r.rule.contains("no section"), "{}", r.rule);
    }

    #[test]
    fn zfs_auto_snapshot_is_count_based_and_switched_by_its_property() {
        let name = "zfs-auto-snap_daily-2026-01-01-0000";
        let r = expiry_rule("tank/data", name, None, None, Some("true")).unwrap();
        assert!(r.rule.contains("31 newer daily"), "{}", r.rule);
        assert_eq!(r.expires, None);
        let off = expiry_rule("tank/data", name, None, None, Some("false")).unwrap();
        assert!(off.rule.contains("not pruned"), "{}", off.rule);
        assert_eq!(
            expiry_rule("tank/data", "before rm", None, Some(CONF), None),
            None
        );
    }
}
