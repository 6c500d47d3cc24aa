//! Prevention on ZFS: the audit's facts (sanoid templates covering the dataset, the
//! `com.sun:auto-snapshot` switch of zfs-auto-snapshot, the pool under `/`), the pre-run
//! snapshot `dataset@NAME` with its tags as user properties `snaprescue:<key>` (set in the
//! same `zfs snapshot -o …`, so it never exists untagged), and `--apply`: a sanoid section
//! for the dataset, appended to sanoid.conf; a section the user wrote is never rewritten.

use super::zfs::ZfsSource;
use super::zfs_policy::{is_off, parse_sanoid, period_length, sanoid_settings};
use super::{Snapshot, SnapshotSource, SnapshotStatus, SourceError, zfs_cli};
use crate::ports::command;
use crate::protect::{
    Fact, Keep, Policy, PolicyApplied, ProtectionFacts, Schedule, SnapshotRequest, TakenSnapshot,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The user property prefix snaprescue's tags are stored under.
const PREFIX: &str = "snaprescue:";

/// Whether a snapshot's user properties carry the pre-run tag.
pub fn is_pre_run(user: &BTreeMap<String, String>) -> bool {
    let (key, value) = crate::protect::request::PRE_RUN_TAG;
    user.get(&format!("{PREFIX}{key}"))
        .is_some_and(|v| v == value)
}

/// sanoid.conf, where `SNAPRESCUE_SANOID_CONF` says (tests), else `/etc/sanoid/sanoid.conf`.
pub fn sanoid_conf_path() -> PathBuf {
    std::env::var_os("SNAPRESCUE_SANOID_CONF")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| "/etc/sanoid/sanoid.conf".into())
}

const PERIODS: [&str; 6] = [
    "frequently",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "yearly",
];

/// sanoid's section covering `dataset` as a policy: the shortest period it takes, kept as
/// long as its longest count × period.
pub fn sanoid_policy(conf: &str, dataset: &str, installed: bool) -> Option<Policy> {
    let (section, settings) = sanoid_settings(&parse_sanoid(conf), dataset)?;
    let taken: Vec<(chrono::Duration, i32)> = PERIODS
        .iter()
        .filter_map(|p| {
            let n: i32 = settings.get(*p)?.parse().ok()?;
            (n > 0).then(|| (period_length(p, &settings), n))
        })
        .collect();
    let disabled = if is_off(settings.get("autosnap")) {
        Some(format!("sanoid [{section}] has autosnap = no"))
    } else if taken.is_empty() {
        Some(format!("sanoid [{section}] keeps no period"))
    } else if !installed {
        Some("sanoid is not installed: `apt-get install sanoid`".into())
    } else {
        None
    };
    let keep = if is_off(settings.get("autoprune")) {
        Keep::Forever
    } else {
        Keep::For(taken.iter().map(|(p, n)| *p * *n).max().unwrap_or_default())
    };
    Some(Policy {
        name: format!("sanoid [{section}]"),
        every: taken.iter().map(|(p, _)| *p).min(),
        keep,
        disabled,
    })
}

/// zfs-auto-snapshot's policy when `com.sun:auto-snapshot` is `true` on the dataset: its
/// cron jobs' labels, each with Debian's default `--keep`.
fn auto_snapshot_policy(switch: &str) -> Option<Policy> {
    if switch != "true" {
        return None;
    }
    let jobs = [
        ("/etc/cron.d/zfs-auto-snapshot", 15, 4),
        ("/etc/cron.hourly/zfs-auto-snapshot", 60, 24),
        ("/etc/cron.daily/zfs-auto-snapshot", 24 * 60, 31),
        ("/etc/cron.weekly/zfs-auto-snapshot", 7 * 24 * 60, 8),
        ("/etc/cron.monthly/zfs-auto-snapshot", 30 * 24 * 60, 12),
    ];
    let installed: Vec<_> = jobs
        .iter()
        .filter(|(p, _, _)| std::path::Path::new(p).exists())
        .collect();
    let span = |m: i64, n: i32| chrono::Duration::minutes(m) * n;
    Some(Policy {
        name: "zfs-auto-snapshot (com.sun:auto-snapshot=true)".into(),
        every: installed
            .iter()
            .map(|(_, m, _)| chrono::Duration::minutes(*m))
            .min(),
        keep: Keep::For(
            installed
                .iter()
                .map(|(_, m, n)| span(*m, *n))
                .max()
                .unwrap_or_default(),
        ),
        disabled: installed.is_empty().then(|| {
            "zfs-auto-snapshot is not installed: `apt-get install zfs-auto-snapshot`".into()
        }),
    })
}

/// The sanoid section `--apply` appends for `dataset` to meet `schedule`.
pub fn sanoid_section(dataset: &str, schedule: &Schedule) -> String {
    let hours = schedule.keep.num_hours().max(schedule.every.num_hours());
    let days = (hours + 23) / 24;
    format!(
        "\n# Added by snaprescue protect --apply ({}).\n[{dataset}]\n\tuse_template = snaprescue\n\n\
         [template_snaprescue]\n\tfrequently = 0\n\thourly = {hours}\n\tdaily = {days}\n\tweekly = 0\n\t\
         monthly = 0\n\tyearly = 0\n\tautosnap = yes\n\tautoprune = yes\n",
        schedule.describe()
    )
}

impl ZfsSource {
    fn policies(&self) -> Vec<Policy> {
        let conf = std::fs::read_to_string(sanoid_conf_path()).unwrap_or_default();
        let installed = command::locate("sanoid").is_some();
        let switch = zfs_cli::property(&self.dataset, "com.sun:auto-snapshot").unwrap_or_default();
        sanoid_policy(&conf, &self.dataset, installed)
            .into_iter()
            .chain(auto_snapshot_policy(&switch))
            .collect()
    }

    pub(crate) fn protection_facts(
        &self,
        snapshots: Vec<Snapshot>,
    ) -> Result<ProtectionFacts, SourceError> {
        let pool = self.dataset.split('/').next().unwrap_or_default();
        let on_system_disk = match crate::ports::mounts::mount_of(std::path::Path::new("/")) {
            Ok((root, _)) if super::zfs::is_zfs_type(&root.fs_type) => Fact::Known(
                super::zfs::unescape_octal(&root.source).split('/').next() == Some(pool),
            ),
            Ok(_) => super::btrfs_protect::on_system_disk(&self.mount.mount_point),
            Err(e) => Fact::Unknown(format!("cannot read the mount of /: {e}")),
        };
        Ok(ProtectionFacts {
            source: "zfs".into(),
            target: self.describe(),
            snapshots,
            policies: Fact::Known(self.policies()),
            on_system_disk,
            encryption: Fact::NotApplicable(
                "ZFS native encryption is set per dataset at creation; not audited here".into(),
            ),
            cross_region_copy: Fact::NotApplicable(
                "a local pool has no regions (replicate with syncoid or `zfs send`)".into(),
            ),
        })
    }

    pub(crate) fn take_pre_run(
        &self,
        request: &SnapshotRequest,
    ) -> Result<TakenSnapshot, SourceError> {
        request.validate().map_err(SourceError::Refused)?;
        if request.name.contains(['@', '/', '#', '%']) {
            return Err(SourceError::Refused(format!(
                "a ZFS snapshot name cannot hold @, /, # or %: {:?}",
                request.name
            )));
        }
        let mut tags = request.all_tags();
        let keep_until = request
            .keep_days
            .map(|d| (chrono::Utc::now() + chrono::Duration::days(d.into())).to_rfc3339());
        if let Some(until) = &keep_until {
            tags.push(("keep-until".into(), until.clone()));
        }
        let valid_key = |k: &str| {
            !k.is_empty()
                && k.len() < 200
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.:".contains(&b))
        };
        if let Some((k, _)) = tags.iter().find(|(k, _)| !valid_key(k)) {
            return Err(SourceError::Refused(format!(
                "tag key {k:?}: a ZFS user property name is lowercase letters, digits and -_.:"
            )));
        }
        let full = format!("{}@{}", self.dataset, request.name);
        if zfs_cli::exists(&full) {
            return Err(SourceError::Refused(format!(
                "snapshot {full} exists already: choose another --name"
            )));
        }
        let mut args: Vec<String> = vec!["snapshot".into()];
        for (k, v) in &tags {
            args.push("-o".into());
            args.push(format!("{PREFIX}{k}={v}"));
        }
        args.push(full.clone());
        command::run("zfs", &args)?;
        let kept = match &keep_until {
            Some(until) => {
                zfs_cli::hold(&full)?;
                Some(format!(
                    "held (`zfs hold {} {full}`): no policy can destroy it; keep-until {until} recorded",
                    zfs_cli::HOLD_TAG
                ))
            }
            None => None,
        };
        Ok(TakenSnapshot {
            id: request.name.clone(),
            source: "zfs".into(),
            name: full,
            tags: tags.into_iter().collect(),
            status: SnapshotStatus::Completed,
            kept,
            notes: vec![],
        })
    }

    pub(crate) fn apply_sanoid(&self, schedule: &Schedule) -> Result<PolicyApplied, SourceError> {
        let path = sanoid_conf_path();
        let conf = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(SourceError::io(format!("cannot read {}", path.display()))(
                    e,
                ));
            }
        };
        let installed = command::locate("sanoid").is_some();
        if let Some(p) = sanoid_policy(&conf, &self.dataset, true) {
            if p.meets(schedule) {
                return Ok(PolicyApplied::unchanged(&p.name, schedule));
            }
            return Err(SourceError::Refused(format!(
                "{} in {} covers {} but does not meet {}: edit it (snaprescue does not rewrite a \
                 section you wrote), e.g. hourly = 72, daily = 3, autosnap = yes",
                p.name,
                path.display(),
                self.dataset,
                schedule.describe()
            )));
        }
        // A second dataset shares the template an earlier --apply wrote, when it meets the
        // schedule asked now.
        let addition = if parse_sanoid(&conf).contains_key("template_snaprescue") {
            format!(
                "\n# Added by snaprescue protect --apply.\n[{}]\n\tuse_template = snaprescue\n",
                self.dataset
            )
        } else {
            sanoid_section(&self.dataset, schedule)
        };
        let text = format!("{conf}{addition}");
        let meets = sanoid_policy(&text, &self.dataset, true).is_some_and(|p| p.meets(schedule));
        if !meets {
            return Err(SourceError::Refused(format!(
                "[template_snaprescue] in {} does not meet {}: edit it (e.g. hourly = 72, daily = \
                 3), then run this again",
                path.display(),
                schedule.describe()
            )));
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(SourceError::io(format!("cannot create {}", dir.display())))?;
        }
        crate::ports::file_replace::replace(&path, text.as_bytes(), 0o644)
            .map_err(|e| SourceError::Refused(e.to_string()))?;
        let mut said = vec![format!(
            "sanoid [{}] added to {} ({})",
            self.dataset,
            path.display(),
            schedule.describe()
        )];
        if !installed {
            said.push("sanoid is not installed: `apt-get install sanoid` so it runs".into());
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
    use crate::protect::DiskRole;

    #[test]
    fn the_appended_section_is_a_sanoid_policy_meeting_the_schedule() {
        let schedule = Schedule::recommended(DiskRole::Data);
        let conf = sanoid_section("tank/data", &schedule);
        let p = sanoid_policy(&conf, "tank/data", true).unwrap();
        assert_eq!(p.disabled, None);
        assert!(p.every.unwrap() <= schedule.every, "{p:?}");
        assert!(p.kept_for().unwrap() >= schedule.keep, "{p:?}");
        assert!(sanoid_policy(&conf, "tank/other", true).is_none());
        let off = sanoid_policy(&conf, "tank/data", false).unwrap();
        assert!(off.disabled.unwrap().contains("not installed"));
        let no = conf.replace("autosnap = yes", "autosnap = no");
        assert!(
            sanoid_policy(&no, "tank/data", true)
                .unwrap()
                .disabled
                .is_some()
        );
    }
}
