//! `snaprescue pin PATH --snapshot ID [--days N]` and `unpin`: keep the snapshot being
//! recovered from out of its policy's reach, and take that back, without a terminal.

use super::{CloudArgs, Outcome};
use crate::pinning::PinnedBy;
use crate::session::Session;
use serde_json::json;
use std::fmt::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct PinArgs {
    /// What was lost (it may no longer exist).
    pub path: PathBuf,
    /// The snapshot: its id from `snapshots`, or its path.
    #[arg(long)]
    pub snapshot: String,
    /// How many days from now it is kept at least (where the source counts days).
    #[arg(long, default_value_t = crate::sources::retention::DEFAULT_PIN_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub days: u32,
    #[command(flatten)]
    pub cloud: CloudArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct UnpinArgs {
    /// What was lost (it may no longer exist).
    pub path: PathBuf,
    /// The snapshot: its id from `snapshots`, or its path.
    #[arg(long)]
    pub snapshot: String,
    #[command(flatten)]
    pub cloud: CloudArgs,
    #[arg(long)]
    pub json: bool,
}

pub fn pin(args: PinArgs) -> anyhow::Result<Outcome> {
    let session = Session::open(&args.path, &args.cloud.into())?;
    let pinned = session.pin(&args.snapshot, args.days, PinnedBy::Command)?;
    let mut human = format!("{} {}: {}\n", pinned.source, pinned.snapshot, pinned.said);
    if let Some(unpin) = &pinned.unpin {
        writeln!(human, "to unpin: {unpin}")?;
    }
    Ok(Outcome {
        json: serde_json::to_value(&pinned)?,
        human,
        ok: true,
    })
}

pub fn unpin(args: UnpinArgs) -> anyhow::Result<Outcome> {
    let session = Session::open(&args.path, &args.cloud.into())?;
    let unpinned = session.unpin(&args.snapshot)?;
    let mut human = String::new();
    for line in &unpinned.undone {
        writeln!(human, "undone: {line}")?;
    }
    for line in &unpinned.not_undone {
        writeln!(human, "not undone: {line}")?;
    }
    let mut doc = serde_json::to_value(&unpinned)?;
    doc["fully_undone"] = json!(unpinned.not_undone.is_empty());
    Ok(Outcome {
        json: doc,
        human,
        ok: true,
    })
}
