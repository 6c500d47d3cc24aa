//! Prevention on btrfs: the audit's facts (snapper configs covering the subvolume, its
//! timer, the disk under it), the pre-run snapshot in snapper's layout
//! (`.snapshots/N/snapshot` read-only beside `info.xml`, through `snapper create` where a
//! config covers the subvolume), and `--apply`: a snapper config with timeline settings,
//! made by `snapper create-config`, or written the way it would when `.snapshots` exists
//! already (create-config refuses then).

use super::btrfs::BtrfsSource;
use super::btrfs_snapper::SnapperInfo;
use super::snapper_config::{self, SnapperConfig, TimerState};
use super::{Snapshot, SnapshotSource, SnapshotStatus, SourceError};
use crate::ports::command;
use crate::protect::{
    Fact, PolicyApplied, ProtectionFacts, Schedule, SnapshotRequest, TakenSnapshot,
};
use std::path::{Path, PathBuf};

/// Whether the filesystem holding `path` shares a whole disk with `/`.
pub fn on_system_disk(path: &Path) -> Fact<bool> {
    let sys = Path::new("/sys");
    let root = crate::ports::block::disks_of_path(Path::new("/"), sys);
    if root.is_empty() {
        return Fact::Unknown("the disk under / could not be found in /sys".into());
    }
    let here = crate::ports::block::disks_of_path(path, sys);
    Fact::Known(here.iter().any(|d| root.iter().any(|r| r.name == d.name)))
}

impl BtrfsSource {
    /// Refuses a PATH inside a snapshot or inside snapper's `.snapshots`: their protection
    /// is the live subvolume's.
    fn live_subvolume(&self) -> Result<(), SourceError> {
        let name = self.subvolume.path.file_name().and_then(|n| n.to_str());
        let in_snapshots = self
            .subvolume
            .path
            .components()
            .any(|c| c.as_os_str() == ".snapshots");
        let read_only = self
            .live_root()
            .and_then(|r| crate::ports::subvolume_info::subvolume_of(&r))
            .is_some_and(|s| s.read_only);
        if name == Some(".snapshots") || in_snapshots || read_only {
            return Err(SourceError::Refused(format!(
                "{} is {}, not a live subvolume: name the path in the subvolume it belongs to",
                self.subvolume.path.display(),
                if read_only {
                    "a read-only snapshot"
                } else {
                    "snapper's .snapshots"
                }
            )));
        }
        Ok(())
    }

    /// The subvolume's root as mounted here, writable, or why a snapshot cannot be taken.
    fn writable_root(&self) -> Result<PathBuf, SourceError> {
        self.live_subvolume()?;
        let root = self.live_root().ok_or_else(|| {
            SourceError::Refused(format!(
                "subvolume {} is not mounted here: mount it to take a snapshot of it",
                self.rollback_target()
            ))
        })?;
        if self.mount.read_only {
            return Err(SourceError::Refused(format!(
                "{} is mounted read-only: a snapshot writes to it (`mount -o remount,rw {}`)",
                self.mount.mount_point.display(),
                crate::ports::command::shell_quote(&self.mount.mount_point.to_string_lossy())
            )));
        }
        Ok(root)
    }

    fn snapper_configs(&self) -> Vec<SnapperConfig> {
        self.live_root()
            .map(|r| snapper_config::covering(&r))
            .unwrap_or_default()
    }

    pub(crate) fn protection_facts(
        &self,
        snapshots: Vec<Snapshot>,
    ) -> Result<ProtectionFacts, SourceError> {
        self.live_subvolume()?;
        let listed = snapper_config::listed().map(|(_, n)| n).unwrap_or_default();
        let timer = TimerState::read();
        let installed = command::locate("snapper").is_some();
        let policies = self
            .snapper_configs()
            .iter()
            .map(|c| {
                let mut p = c.policy(listed.contains(&c.name), &timer);
                // A config snapper cannot read (a bad path, a .snapshots it refuses) runs nothing.
                if installed
                    && p.disabled.is_none()
                    && let Err(e) =
                        command::run("snapper", &["--no-dbus", "-c", &c.name, "get-config"])
                {
                    p.disabled = Some(format!("snapper cannot read config {}: {e}", c.name));
                }
                p
            })
            .collect();
        Ok(ProtectionFacts {
            source: "btrfs".into(),
            target: self.describe(),
            snapshots,
            policies: Fact::Known(policies),
            on_system_disk: on_system_disk(&self.anchor),
            encryption: Fact::NotApplicable(
                "btrfs has no encryption of its own (use LUKS under it)".into(),
            ),
            cross_region_copy: Fact::NotApplicable(
                "a local filesystem has no regions (copy snapshots away with `btrfs send`)".into(),
            ),
        })
    }

    pub(crate) fn take_pre_run(
        &self,
        request: &SnapshotRequest,
    ) -> Result<TakenSnapshot, SourceError> {
        request.validate().map_err(SourceError::Refused)?;
        if request
            .all_tags()
            .iter()
            .any(|(k, v)| k.contains(',') || v.contains([',', '=']) || v.is_empty())
        {
            return Err(SourceError::Refused(
                "a tag for a btrfs snapshot needs a value without `,` or `=` (snapper's userdata \
                 is `k=v,k=v`)"
                    .into(),
            ));
        }
        let root = self.writable_root()?;
        let keep_until = request
            .keep_days
            .map(|d| (chrono::Utc::now() + chrono::Duration::days(d.into())).to_rfc3339());
        let mut tags = request.all_tags();
        if let Some(until) = &keep_until {
            tags.push(("keep-until".into(), until.clone()));
        }
        // Without --keep-days snapper's number cleanup may remove it among the oldest; with
        // it, no cleanup does and the days are recorded for `protect`.
        let cleanup = keep_until.is_none().then(|| "number".to_string());
        let number = match self.snapper_configs().first() {
            Some(config) if command::locate("snapper").is_some() => {
                snapper_create(&config.name, request, &tags, cleanup.as_deref())?
            }
            _ => super::btrfs_layout::create_snapshot(
                &root,
                SnapperInfo {
                    description: Some(request.name.clone()),
                    date: None,
                    cleanup,
                    userdata: tags.clone(),
                },
            )?,
        };
        let path = self
            .subvolume
            .path
            .join(format!(".snapshots/{number}/snapshot"));
        let listed = self.list()?;
        let taken = listed.iter().find(|s| s.path == path).ok_or_else(|| {
            SourceError::Refused(format!(
                "snapshot {} was made but is not listed as a snapshot of {}",
                path.display(),
                self.rollback_target()
            ))
        })?;
        Ok(TakenSnapshot {
            id: taken.id.clone(),
            source: "btrfs".into(),
            name: taken.name.clone(),
            tags: tags.into_iter().collect(),
            status: SnapshotStatus::Completed,
            kept: keep_until.map(|u| {
                format!("excluded from snapper's cleanup; keep-until {u} recorded in its userdata")
            }),
            notes: if self.subvolume.id == 5 {
                vec![
                    "this is the top-level subvolume: subvolumes inside it are not in the \
                      snapshot (name a path in each to snapshot it)"
                        .into(),
                ]
            } else {
                vec![]
            },
        })
    }

    pub(crate) fn apply_snapper_policy(
        &self,
        schedule: &Schedule,
    ) -> Result<PolicyApplied, SourceError> {
        if command::locate("snapper").is_none() {
            return Err(SourceError::Refused(
                "snapper is not installed: `apt-get install snapper`, then run this again \
                 (snapper takes btrfs's automatic snapshots)"
                    .into(),
            ));
        }
        if schedule.every < chrono::Duration::hours(1) {
            return Err(SourceError::Refused(format!(
                "snapper takes timeline snapshots hourly: {} cannot be met (give --every 1h or more)",
                schedule.describe()
            )));
        }
        let root = self.writable_root()?;
        // snapper's config is shell-like: a path it would misread is refused, not quoted.
        let root_text = root.to_string_lossy().into_owned();
        if root_text.contains(['"', '\\', '$', '`', '\n']) {
            return Err(SourceError::Refused(format!(
                "{root_text:?} holds a character snapper's config cannot hold (\" \\ $ `): mount the \
                 subvolume at a plainer path to protect it"
            )));
        }
        // Checked before anything is written: snapshots are only adopted from a .snapshots
        // root owns (never through a link).
        let (_, existing) = super::btrfs_layout::snapshots_dir(&root)?;
        let settings = snapper_config::timeline_settings(schedule);
        let listed = snapper_config::listed().map(|(_, n)| n).unwrap_or_default();
        let timer = TimerState::read();
        let mut said = Vec::new();
        let name = match self.snapper_configs().into_iter().next() {
            Some(config) => {
                let p = config.policy(true, &TimerState::Enabled);
                if !p.meets(schedule) {
                    set_config(&config.name, &settings)?;
                    said.push(format!(
                        "snapper config {}: timeline set to {}",
                        config.name,
                        schedule.describe()
                    ));
                }
                config.name
            }
            None => {
                let name = free_config_name(&root);
                if existing.is_some() {
                    // create-config refuses an existing .snapshots: adopt it as snapper would.
                    let path = Path::new(snapper_config::CONFIGS_DIR).join(&name);
                    std::fs::create_dir_all(snapper_config::CONFIGS_DIR)
                        .map_err(SourceError::io("cannot create /etc/snapper/configs"))?;
                    crate::ports::file_replace::replace(
                        &path,
                        snapper_config::config_text(&root, &settings).as_bytes(),
                        0o640,
                    )
                    .map_err(|e| SourceError::Refused(e.to_string()))?;
                    said.push(format!(
                        "snapper config {name} written for {} (its .snapshots adopted)",
                        root.display()
                    ));
                } else {
                    command::run(
                        "snapper",
                        &[
                            "--no-dbus",
                            "-c",
                            &name,
                            "create-config",
                            "-f",
                            "btrfs",
                            &root_text,
                        ],
                    )?;
                    set_config(&name, &settings)?;
                    said.push(format!(
                        "snapper config {name} created for {} (timeline {})",
                        root.display(),
                        schedule.describe()
                    ));
                }
                name
            }
        };
        if !listed.contains(&name)
            && snapper_config::list_config(&name)
                .map_err(|e| SourceError::Refused(e.to_string()))?
        {
            said.push(format!("{name} added to SNAPPER_CONFIGS"));
        }
        // snapper itself must read what was written (a config it cannot read protects nothing).
        command::run("snapper", &["--no-dbus", "-c", &name, "get-config"])?;
        if let TimerState::Disabled(state) = timer {
            command::run("systemctl", &["enable", "--now", "snapper-timeline.timer"])?;
            said.push(format!("snapper-timeline.timer was {state}: enabled"));
        }
        if said.is_empty() {
            return Ok(PolicyApplied::unchanged(
                &format!("snapper config {name}"),
                schedule,
            ));
        }
        Ok(PolicyApplied {
            changed: true,
            said,
        })
    }
}

fn set_config(name: &str, settings: &[(String, String)]) -> Result<(), SourceError> {
    let mut args: Vec<String> = ["--no-dbus", "-c", name, "set-config"]
        .map(String::from)
        .to_vec();
    args.extend(settings.iter().map(|(k, v)| format!("{k}={v}")));
    command::run("snapper", &args)?;
    Ok(())
}

/// `snapper create` under `config`; returns the snapshot's number.
fn snapper_create(
    config: &str,
    request: &SnapshotRequest,
    tags: &[(String, String)],
    cleanup: Option<&str>,
) -> Result<u64, SourceError> {
    let userdata = tags
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut args = vec![
        "--no-dbus",
        "-c",
        config,
        "create",
        "--print-number",
        "--description",
        &request.name,
        "--userdata",
        &userdata,
    ];
    if let Some(c) = cleanup {
        args.extend(["--cleanup-algorithm", c]);
    }
    let out = command::run("snapper", &args)?;
    out.trim()
        .parse()
        .map_err(|_| SourceError::Refused(format!("snapper create printed {out:?}, not a number")))
}

/// A config name for the subvolume at `root`: its last component (`root` for `/`), made
/// unique among the existing configs.
fn free_config_name(root: &Path) -> String {
    let base: String = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let taken = |n: &str| Path::new(snapper_config::CONFIGS_DIR).join(n).exists();
    (1..)
        .map(|i| {
            if i == 1 {
                base.clone()
            } else {
                format!("{base}-{i}")
            }
        })
        .find(|n| !taken(n))
        .expect("a free name")
}
