//! snapper's configuration, as `protect` reads and writes it: a config per subvolume in
//! `/etc/snapper/configs/NAME` (shell-style `KEY="value"` lines, `SUBVOLUME` naming the
//! subvolume's mount point), listed in `SNAPPER_CONFIGS` of `/etc/default/snapper` (Debian)
//! or `/etc/sysconfig/snapper` (SUSE) — snapper's timer only runs the configs listed there —
//! and run hourly by `snapper-timeline.timer` when `TIMELINE_CREATE="yes"`. A config is
//! written the way `snapper create-config` would: its template with the subvolume filled in.

use crate::ports::command;
use crate::protect::{Keep, Policy, Schedule};
use chrono::Duration;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const CONFIGS_DIR: &str = "/etc/snapper/configs";
const SYSCONFIG: [&str; 2] = ["/etc/default/snapper", "/etc/sysconfig/snapper"];
const TEMPLATE: &str = "/usr/share/snapper/config-templates/default";

/// One config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapperConfig {
    pub name: String,
    pub values: BTreeMap<String, String>,
}

/// `KEY="value"` lines (comments and blank lines skipped, quotes removed).
pub fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

impl SnapperConfig {
    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    fn yes(&self, key: &str) -> bool {
        self.get(key) == Some("yes")
    }

    /// A timeline limit: the lower end of a range (`"10-20"`), 0 when unset.
    fn limit(&self, key: &str) -> i32 {
        self.get(key)
            .and_then(|v| v.split('-').next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// How long timeline snapshots live: the longest of the kept hourly, daily, weekly,
    /// monthly and yearly ones (`TIMELINE_CLEANUP="no"`: forever).
    pub fn kept(&self) -> Keep {
        if !self.yes("TIMELINE_CLEANUP") {
            return Keep::Forever;
        }
        let spans = [
            (self.limit("TIMELINE_LIMIT_HOURLY"), Duration::hours(1)),
            (self.limit("TIMELINE_LIMIT_DAILY"), Duration::days(1)),
            (self.limit("TIMELINE_LIMIT_WEEKLY"), Duration::weeks(1)),
            (self.limit("TIMELINE_LIMIT_MONTHLY"), Duration::days(30)),
            (self.limit("TIMELINE_LIMIT_YEARLY"), Duration::days(365)),
        ];
        Keep::For(
            spans
                .iter()
                .map(|(n, unit)| *unit * *n)
                .max()
                .unwrap_or_default(),
        )
    }

    /// The timeline as an automatic policy: hourly when `TIMELINE_CREATE="yes"`, and why it
    /// does not run when it does not.
    pub fn policy(&self, listed: bool, timer: &TimerState) -> Policy {
        let disabled = if !self.yes("TIMELINE_CREATE") {
            Some(format!(
                "TIMELINE_CREATE is not \"yes\" in {CONFIGS_DIR}/{}",
                self.name
            ))
        } else if !listed {
            Some(format!(
                "{} is not in SNAPPER_CONFIGS, so snapper's timer skips it",
                self.name
            ))
        } else {
            timer.why_not_running()
        };
        Policy {
            name: format!("snapper config {}", self.name),
            every: Some(Duration::hours(1)),
            keep: self.kept(),
            disabled,
        }
    }
}

/// Every config whose `SUBVOLUME` is `subvolume_root`.
pub fn covering(subvolume_root: &Path) -> Vec<SnapperConfig> {
    let Ok(dir) = std::fs::read_dir(CONFIGS_DIR) else {
        return vec![];
    };
    let mut found: Vec<SnapperConfig> = dir
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path()).ok()?;
            let values = parse(&text);
            (Path::new(values.get("SUBVOLUME")?) == subvolume_root).then(|| SnapperConfig {
                name: e.file_name().to_string_lossy().into_owned(),
                values,
            })
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The sysconfig file this system has, and the names in its `SNAPPER_CONFIGS`.
pub fn listed() -> Option<(PathBuf, Vec<String>)> {
    SYSCONFIG.iter().map(PathBuf::from).find_map(|p| {
        let text = std::fs::read_to_string(&p).ok()?;
        let names = parse(&text)
            .get("SNAPPER_CONFIGS")
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        Some((p, names))
    })
}

/// Whether snapper's hourly timer runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerState {
    Enabled,
    Disabled(String),
    /// No systemctl to ask (cron may run it): not counted against the policy.
    Unknown,
    NotInstalled,
}

impl TimerState {
    pub fn read() -> Self {
        if command::locate("snapper").is_none() {
            return Self::NotInstalled;
        }
        if command::locate("systemctl").is_none() {
            return Self::Unknown;
        }
        let out = std::process::Command::new("systemctl")
            .args(["is-enabled", "snapper-timeline.timer"])
            .stderr(std::process::Stdio::null())
            .output();
        match out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()) {
            Ok(s) if s == "enabled" || s == "static" => Self::Enabled,
            Ok(s) if !s.is_empty() => Self::Disabled(s),
            _ => Self::Unknown,
        }
    }

    fn why_not_running(&self) -> Option<String> {
        match self {
            Self::Disabled(state) => Some(format!(
                "snapper-timeline.timer is {state}: `systemctl enable --now snapper-timeline.timer`"
            )),
            Self::NotInstalled => {
                Some("snapper is not installed: `apt-get install snapper`".into())
            }
            Self::Enabled | Self::Unknown => None,
        }
    }
}

/// The timeline settings that meet `schedule`: snapper takes timeline snapshots hourly;
/// a day of hourly ones and daily ones for as long as it asks are kept, nothing longer.
pub fn timeline_settings(schedule: &Schedule) -> Vec<(String, String)> {
    let days = (schedule.keep.num_hours() + 23) / 24;
    [
        ("TIMELINE_CREATE", "yes".to_string()),
        ("TIMELINE_CLEANUP", "yes".to_string()),
        ("TIMELINE_LIMIT_HOURLY", "24".to_string()),
        ("TIMELINE_LIMIT_DAILY", days.max(1).to_string()),
        ("TIMELINE_LIMIT_WEEKLY", "0".to_string()),
        ("TIMELINE_LIMIT_MONTHLY", "0".to_string()),
        ("TIMELINE_LIMIT_YEARLY", "0".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The text of a config for `subvolume_root` made from snapper's template (or its defaults
/// when the template is missing), with `settings` applied.
pub fn config_text(subvolume_root: &Path, settings: &[(String, String)]) -> String {
    let template = std::fs::read_to_string(TEMPLATE).unwrap_or_else(|_| {
        "FSTYPE=\"btrfs\"\nALLOW_USERS=\"\"\nALLOW_GROUPS=\"\"\nSYNC_ACL=\"no\"\n\
         NUMBER_CLEANUP=\"yes\"\nNUMBER_MIN_AGE=\"1800\"\nNUMBER_LIMIT=\"50\"\n\
         TIMELINE_CREATE=\"yes\"\nTIMELINE_CLEANUP=\"yes\"\nTIMELINE_MIN_AGE=\"1800\"\n"
            .into()
    });
    let mut set: BTreeMap<String, String> = settings.iter().cloned().collect();
    set.insert(
        "SUBVOLUME".into(),
        subvolume_root.to_string_lossy().into_owned(),
    );
    set.insert("FSTYPE".into(), "btrfs".into());
    let mut out = String::new();
    for line in template.lines() {
        let key = line.split_once('=').map(|(k, _)| k.trim().to_string());
        match key.and_then(|k| set.remove(&k).map(|v| (k, v))) {
            Some((k, v)) => out.push_str(&format!("{k}=\"{v}\"\n")),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (k, v) in set {
        out.push_str(&format!("{k}=\"{v}\"\n"));
    }
    out
}

/// Adds `name` to `SNAPPER_CONFIGS` in the sysconfig file (created as Debian's when there is
/// none); `false` when it was listed already.
pub fn list_config(name: &str) -> Result<bool, crate::ports::file_replace::ReplaceError> {
    let (path, names) = listed().unwrap_or_else(|| (PathBuf::from(SYSCONFIG[0]), vec![]));
    if names.iter().any(|n| n == name) {
        return Ok(false);
    }
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut all = names;
    all.push(name.to_string());
    let line = format!("SNAPPER_CONFIGS=\"{}\"", all.join(" "));
    let mut replaced = false;
    let mut out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("SNAPPER_CONFIGS=") && !replaced {
                replaced = true;
                line.clone()
            } else {
                l.to_string()
            }
        })
        .collect();
    if !replaced {
        out.push(line);
    }
    crate::ports::file_replace::replace(&path, (out.join("\n") + "\n").as_bytes(), 0o644)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> SnapperConfig {
        SnapperConfig {
            name: "data".into(),
            values: parse(text),
        }
    }

    #[test]
    fn the_timeline_is_an_hourly_policy_kept_as_long_as_its_longest_limit() {
        let c = config(
            "# x\nTIMELINE_CREATE=\"yes\"\nTIMELINE_CLEANUP=\"yes\"\nTIMELINE_LIMIT_HOURLY=\"10\"\n\
             TIMELINE_LIMIT_DAILY=\"3-7\"\n",
        );
        let p = c.policy(true, &TimerState::Enabled);
        assert_eq!(p.every, Some(Duration::hours(1)));
        assert_eq!(p.keep, Keep::For(Duration::days(3)));
        assert_eq!(p.disabled, None);
        assert!(
            c.policy(false, &TimerState::Enabled)
                .disabled
                .unwrap()
                .contains("SNAPPER_CONFIGS")
        );
        let off = c.policy(true, &TimerState::Disabled("disabled".into()));
        assert!(off.disabled.unwrap().contains("systemctl enable --now"));
        let none = config("TIMELINE_CREATE=\"no\"\n").policy(true, &TimerState::Enabled);
        assert!(none.disabled.unwrap().contains("TIMELINE_CREATE"));
        assert_eq!(config("TIMELINE_CLEANUP=\"no\"").kept(), Keep::Forever);
    }

    #[test]
    fn a_written_config_keeps_the_template_and_meets_the_schedule() {
        let schedule = Schedule::recommended(crate::protect::DiskRole::Data);
        let text = config_text(Path::new("/data"), &timeline_settings(&schedule));
        let c = SnapperConfig {
            name: "data".into(),
            values: parse(&text),
        };
        assert_eq!(c.get("SUBVOLUME"), Some("/data"));
        assert_eq!(c.get("FSTYPE"), Some("btrfs"));
        let p = c.policy(true, &TimerState::Enabled);
        assert!(p.kept_for().unwrap() >= schedule.keep, "{p:?}");
        assert!(p.every.unwrap() <= schedule.every);
    }
}
