//! `snaprescue protect PATH [--apply --confirm TARGET]` and `snaprescue snapshot PATH --name
//! NAME`: the audit of the disk's protection, its fix, and the pre-run marker snapshot,
//! without a terminal.

use super::{CloudArgs, Outcome};
use crate::protect::run::{SourceAudit, apply, audit_session, take};
use crate::protect::{CheckStatus, Schedule, SnapshotRequest};
use crate::session::Session;
use serde_json::json;
use std::fmt::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ProtectArgs {
    /// What to protect (a path on the disk or subvolume).
    #[arg(required_unless_present = "all")]
    pub path: Option<PathBuf>,
    /// Every disk of the account in --region (comma-separated regions), with --source.
    #[arg(long, conflicts_with_all = ["path", "apply"], requires_all = ["source", "region"])]
    pub all: bool,
    /// Create and bind the recommended automatic policy (after the audit).
    #[arg(long)]
    pub apply: bool,
    /// The disk, dataset or subvolume, typed to confirm --apply.
    #[arg(long, requires = "apply")]
    pub confirm: Option<String>,
    /// How often the applied policy snapshots (default 12h: the seed's data-disk table).
    #[arg(long, value_parser = parse_span, requires = "apply")]
    pub every: Option<chrono::Duration>,
    /// How long the applied policy keeps each snapshot (default 3d).
    #[arg(long, value_parser = parse_span, requires = "apply")]
    pub keep: Option<chrono::Duration>,
    #[command(flatten)]
    pub cloud: CloudArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    /// A path on the disk or subvolume to snapshot.
    pub path: PathBuf,
    /// The snapshot's name (its description on btrfs, `dataset@NAME` on ZFS).
    #[arg(long)]
    pub name: String,
    /// A tag to put on it, KEY=VALUE (repeatable).
    #[arg(long = "tag", value_parser = parse_tag)]
    pub tags: Vec<(String, String)>,
    /// Wait until the snapshot is complete.
    #[arg(long)]
    pub wait: bool,
    /// Keep it at least N days, out of every policy's reach.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub keep_days: Option<u32>,
    #[command(flatten)]
    pub cloud: CloudArgs,
    #[arg(long)]
    pub json: bool,
}

/// `30m`, `12h`, `3d`, `2w`.
pub fn parse_span(text: &str) -> Result<chrono::Duration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = number
        .parse()
        .map_err(|_| format!("`{text}`: a number and a unit, like 12h or 3d"))?;
    let span = match unit {
        "m" | "min" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        "w" => chrono::Duration::weeks(n),
        _ => return Err(format!("`{text}`: the unit is m, h, d or w (12h, 3d)")),
    };
    if n == 0 || n > 100_000 {
        return Err(format!("`{text}`: must be more than 0 and sensible"));
    }
    Ok(span)
}

fn parse_tag(text: &str) -> Result<(String, String), String> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: a tag is KEY=VALUE"))?;
    if k.is_empty() {
        return Err(format!("`{text}`: the key is empty"));
    }
    Ok((k.to_string(), v.to_string()))
}

fn mark(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Ok => "ok  ",
        CheckStatus::Warn => "WARN",
        CheckStatus::Fail => "FAIL",
        CheckStatus::Info => "info",
    }
}

/// The audit as text: per source, the failing checks first, each with its fix.
pub fn audit_text(audits: &[SourceAudit]) -> String {
    let mut out = String::new();
    for a in audits {
        let _ = writeln!(out, "{} — {}", a.source, a.target);
        let mut checks: Vec<_> = a.checks.iter().collect();
        checks.sort_by_key(|c| c.status);
        for c in checks {
            let _ = writeln!(out, "  {} {:<20} {}", mark(c.status), c.id, c.message);
            if let Some(fix) = &c.fix {
                let _ = writeln!(out, "       fix: {fix}");
            }
        }
    }
    out
}

fn audits_json(audits: &[SourceAudit]) -> serde_json::Value {
    let checks: Vec<_> = audits
        .iter()
        .flat_map(|a| {
            a.checks.iter().map(|c| {
                let mut v = serde_json::to_value(c).unwrap_or_default();
                v["source"] = json!(a.source);
                v
            })
        })
        .collect();
    json!({ "audits": audits, "checks": checks })
}

/// The session for PATH; a filesystem nothing snapshots gets prevention's advice, not
/// recovery's.
fn open_protected(
    path: &std::path::Path,
    options: &crate::sources::CloudOptions,
) -> anyhow::Result<Session> {
    match Session::open(path, options) {
        Err(crate::session::SessionError::Source(crate::sources::SourceError::NoSource {
            fs,
            mount,
            checked,
            ..
        })) => anyhow::bail!(
            "nothing can snapshot {}: it is on {fs} at {}, and no snapshot source serves it \
             (checked: {checked}). Keep training data on btrfs (with snapper), ZFS, or a cloud \
             disk with an automatic snapshot policy; on a cloud disk name it with --source and \
             --disk",
            path.display(),
            mount.display()
        ),
        other => Ok(other?),
    }
}

/// `protect --all`: the fleet of one cloud account, region by region.
fn protect_all(options: &crate::sources::CloudOptions) -> anyhow::Result<Outcome> {
    let name = options.source.as_deref().unwrap_or_default();
    let entry = crate::providers::PROVIDERS
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--all audits a cloud account: --source aws, aliyun or tencent, not `{name}`"
            )
        })?;
    let regions: Vec<String> = options
        .region
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect();
    if regions.is_empty() {
        anyhow::bail!("--all needs --region R[,R…]");
    }
    let fleet = crate::protect::fleet::audit_fleet(entry, &regions, options);
    Ok(Outcome {
        json: json!({ "ok": fleet.passed(), "source": fleet.source, "regions": fleet.regions, "disks": fleet.disks }),
        human: crate::protect::fleet::table(&fleet),
        ok: fleet.passed(),
    })
}

pub fn protect(args: ProtectArgs) -> anyhow::Result<Outcome> {
    let options: crate::sources::CloudOptions = args.cloud.into();
    let Some(path) = args.path.filter(|_| !args.all) else {
        return protect_all(&options);
    };
    let shown = path.to_string_lossy().into_owned();
    let session = open_protected(&path, &options)?;
    let mut audits = audit_session(&session, &shown)?;
    let mut doc = audits_json(&audits);
    let mut human = audit_text(&audits);
    if args.apply {
        let base = crate::protect::run::recommended(&audits);
        let schedule = Schedule {
            every: args.every.unwrap_or(base.every),
            keep: args.keep.unwrap_or(base.keep),
        };
        let (source, applied) = apply(&session, &schedule, args.confirm.as_deref())?;
        for line in &applied.said {
            writeln!(human, "{source}: {line}")?;
        }
        // The audit again, after the change, so the answer shows it took.
        let after = Session::open(&session.path, &options)
            .map_err(anyhow::Error::from)
            .and_then(|s| Ok(audit_session(&s, &shown)?));
        match after {
            Ok(after) => {
                human.push_str("after:\n");
                human.push_str(&audit_text(&after));
                audits = after;
                doc = audits_json(&audits);
            }
            Err(e) => {
                writeln!(human, "the audit after the change could not run: {e:#}")?;
                doc["after_error"] = json!(format!("{e:#}"));
            }
        }
        doc["applied"] =
            json!({ "source": source, "changed": applied.changed, "said": applied.said });
    }
    let ok = audits.iter().all(SourceAudit::passed);
    doc["ok"] = json!(ok);
    doc["path"] = json!(session.path);
    Ok(Outcome {
        json: doc,
        human,
        ok,
    })
}

pub fn snapshot(args: SnapshotArgs) -> anyhow::Result<Outcome> {
    let request = SnapshotRequest {
        name: args.name,
        tags: args.tags,
        wait: args.wait,
        keep_days: args.keep_days,
    };
    let session = open_protected(&args.path, &args.cloud.into())?;
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let say = |stage: &str| eprintln!("snaprescue: {stage}");
    let watch = crate::rescue::Watch {
        cancel: &cancel,
        stage: &say,
    };
    let mut taken = take(&session, &request, &watch)?;
    if std::fs::symlink_metadata(&args.path).is_err() {
        taken.notes.push(format!(
            "{} does not exist now: this snapshot holds its {} as it is, not what was deleted",
            args.path.display(),
            taken.source
        ));
    }
    let mut human = format!(
        "{} snapshot {} ({}): {:?}\n",
        taken.source, taken.id, taken.name, taken.status
    );
    if let Some(kept) = &taken.kept {
        writeln!(human, "kept: {kept}")?;
    }
    for note in &taken.notes {
        writeln!(human, "note: {note}")?;
    }
    Ok(Outcome {
        json: serde_json::to_value(&taken)?,
        human,
        ok: true,
    })
}
