//! The command line: the wizard by default, and one non-interactive command per step, all on
//! the same engine. `--json` prints exactly one JSON document on stdout; exit status 0 is
//! success, 1 failure, 2 bad usage.

pub mod assets;
mod cloud_runs;
mod frozen_notice;
mod listing_json;
mod outcome;
mod pin;
mod protect;
mod recover;
mod restore;
mod status;
mod usage;
mod verify;

use crate::engine::restore_plan::ConflictPolicy;
use clap::{Parser, Subcommand};
pub use outcome::Outcome;
use outcome::{bad_usage, emit};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "snaprescue",
    version = crate::VERSION,
    about = "Get deleted files back from snapshots, step by step",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What was lost (default: the current directory). Opens the wizard.
    pub path: Option<PathBuf>,
    /// The wizard restores into DIR instead of PATH (PATH's disk full or read-only).
    #[arg(long, value_name = "DIR")]
    pub to: Option<PathBuf>,
    #[command(flatten)]
    pub cloud: CloudArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Step 1: processes using PATH's filesystem; freeze or thaw them.
    Writers {
        /// What was lost (it may no longer exist).
        path: PathBuf,
        #[command(flatten)]
        action: status::WritersAction,
        #[arg(long)]
        json: bool,
    },
    /// Step 2: GPUs and the processes using them.
    Gpu {
        #[arg(long)]
        json: bool,
    },
    /// Step 3: every snapshot that covers PATH, newest first, the recommended one marked.
    Snapshots {
        /// What was lost (it may no longer exist).
        path: PathBuf,
        #[command(flatten)]
        cloud: CloudArgs,
        #[arg(long)]
        json: bool,
    },
    /// What the snapshot holds under PATH that the live tree lacks (and what changed).
    Deleted {
        /// What was lost (it may no longer exist).
        path: PathBuf,
        /// The snapshot: its id from `snapshots`, or its path (default: the recommended one).
        #[arg(long)]
        snapshot: Option<String>,
        #[command(flatten)]
        cloud: CloudArgs,
        #[arg(long)]
        json: bool,
    },
    /// Copy entries back from a snapshot, verified.
    Restore {
        /// What was lost (it may no longer exist).
        path: PathBuf,
        /// The snapshot: its id from `snapshots`, or its path (default: the recommended one).
        #[arg(long)]
        snapshot: Option<String>,
        #[command(flatten)]
        cloud: CloudArgs,
        /// Only entries that are missing from the live tree.
        #[arg(long)]
        only_deleted: bool,
        /// Restore into DIR instead of PATH.
        #[arg(long)]
        to: Option<PathBuf>,
        /// What to do when an entry exists live: skip it or restore beside it.
        #[arg(long, value_enum, default_value = "skip")]
        conflict: ConflictPolicy,
        #[arg(long)]
        json: bool,
    },
    /// Put the whole subvolume or cloud disk back to the snapshot (the current state is kept).
    Rollback {
        /// What was lost (it may no longer exist).
        path: PathBuf,
        /// The snapshot: its id from `snapshots`, or its path.
        #[arg(long)]
        snapshot: String,
        /// The subvolume path or id (ZFS: the dataset; cloud: the disk or volume id), typed to confirm.
        #[arg(long, required_unless_present = "dry_run")]
        confirm: Option<String>,
        /// Print what the rollback would do, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Delete the current state instead of keeping it as a read-only guard.
        #[arg(long)]
        no_guard: bool,
        #[command(flatten)]
        cloud: CloudArgs,
        #[arg(long)]
        json: bool,
    },
    /// Keep a snapshot from its policy's deletion (lock, retention, permanent, snapper cleanup).
    Pin(pin::PinArgs),
    /// Undo snaprescue's pin of a snapshot (only what the pin changed).
    Unpin(pin::UnpinArgs),
    /// Audit the protection of PATH's disk (checks with stable ids); --apply fixes the policy.
    Protect(protect::ProtectArgs),
    /// Take a named, tagged snapshot of PATH's disk now: the pre-run marker.
    Snapshot(protect::SnapshotArgs),
    /// Finish what interrupted runs left: rescue disks, ZFS clones, attachments, mounts, rollbacks.
    Cleanup {
        #[arg(long)]
        json: bool,
    },
    /// Step 6: checkpoint integrity of PATHs (files or directories) and the torch.cuda check.
    Verify {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Also check torch.cuda and load each checkpoint with torch.load(weights_only=True)
        /// (implied by --python and --job; without it, no Python is started).
        #[arg(long)]
        torch: bool,
        /// The training job's interpreter (default: python3).
        #[arg(long, value_name = "EXE")]
        python: Option<PathBuf>,
        /// Check with the interpreter of this running training job, as it names it (its
        /// venv), inside its container when it runs in one.
        #[arg(long, value_name = "PID", conflicts_with = "python")]
        job: Option<i32>,
        /// Seconds before the interpreter is considered hung.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        #[arg(long)]
        json: bool,
    },
    /// A practice lab on a loop-mounted btrfs volume, then the wizard on it.
    Drill {
        /// Tear the lab down (also after a crash).
        #[arg(long)]
        clean: bool,
        /// Set the lab up and print where, without opening the wizard.
        #[arg(long)]
        no_wizard: bool,
    },
    /// The drill's writer process (internal).
    #[command(hide = true)]
    DrillWriter { dir: PathBuf },
}

/// Which source and which cloud resources, for commands that list or use snapshots.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CloudArgs {
    /// Only this source: btrfs, zfs, aws, aliyun or tencent (default: every source that serves PATH).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(crate::sources::known_sources()))]
    pub source: Option<String>,
    /// The cloud instance (default: from the metadata service).
    #[arg(long)]
    pub instance: Option<String>,
    /// The cloud region (default: environment, profile, then metadata).
    #[arg(long)]
    pub region: Option<String>,
    /// The cloud disk or volume id (default: found from PATH's block device serial).
    #[arg(long)]
    pub disk: Option<String>,
    /// The cloud API endpoint (default: AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL for EC2,
    /// SNAPRESCUE_ALIYUN_ECS_ENDPOINT for ECS, SNAPRESCUE_TENCENT_CBS_ENDPOINT for CBS, then
    /// the regional one).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Attach rescue disks to this instance (default: the instance this runs on, from its
    /// metadata service, else --instance).
    #[arg(long, value_name = "INSTANCE")]
    pub attach_to: Option<String>,
}

impl From<CloudArgs> for crate::sources::CloudOptions {
    fn from(a: CloudArgs) -> Self {
        Self {
            source: a.source,
            instance: a.instance,
            region: a.region,
            disk: a.disk,
            endpoint: a.endpoint,
            attach_to: a.attach_to,
        }
    }
}

/// Whether a local snapshot of the filesystem holding `path` holds it.
fn held_by_a_snapshot(path: &std::path::Path, cloud: &CloudArgs) -> bool {
    let only_local = crate::sources::CloudOptions {
        source: Some("btrfs".into()),
        ..cloud.clone().into()
    };
    crate::session::Session::open(path, &only_local)
        .is_ok_and(|session| session.held_by_a_local_snapshot())
}

/// Parses arguments, runs the command, returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    if let Some(path) = &cli.path
        && let Some(message) =
            usage::mistyped_subcommand(path, || held_by_a_snapshot(path, &cli.cloud))
    {
        return bad_usage(&message);
    }
    let wants_wizard = match &cli.command {
        None => true,
        Some(Command::Drill {
            clean, no_wizard, ..
        }) => !clean && !no_wizard,
        Some(_) => false,
    };
    // The drill's own needs (root, btrfs-progs) are said before the wizard's terminal:
    // without a terminal the one command to install btrfs-progs is the useful answer.
    if let Some(Command::Drill { clean: false, .. }) = &cli.command
        && let Err(e) = crate::drill_prereqs::ensure()
    {
        usage::write_stderr(&format!("snaprescue: {e}\n"));
        return 1;
    }
    if wants_wizard && let Some(message) = usage::wizard_needs_terminal() {
        return bad_usage(&message);
    }
    crate::runtime::init_logging();
    match &cli.command {
        None => cloud_runs::offer_cleanup(),
        Some(Command::Cleanup { .. }) => {}
        Some(_) => {
            cloud_runs::notice_interrupted();
        }
    }
    if let Some(
        Command::Writers { path, .. }
        | Command::Snapshots { path, .. }
        | Command::Deleted { path, .. }
        | Command::Restore { path, .. }
        | Command::Rollback { path, .. },
    ) = &cli.command
        && let Some(warning) = crate::runtime::state::state_dir_warning(path)
    {
        eprintln!("snaprescue: {warning}");
    }
    // `writers` and `cleanup` name them in their own output; the wizard in step 1.
    if let Some(
        Command::Gpu { .. }
        | Command::Snapshots { .. }
        | Command::Deleted { .. }
        | Command::Restore { .. }
        | Command::Rollback { .. }
        | Command::Verify { .. }
        | Command::Drill { .. },
    ) = &cli.command
    {
        frozen_notice::notice_left_frozen();
    }
    match cli.command {
        Some(Command::Cleanup { json }) => emit(cloud_runs::cleanup(), json),
        None => {
            let path = cli.path.unwrap_or_else(|| PathBuf::from("."));
            report(crate::runtime::run_wizard(
                &path,
                cli.to.as_deref(),
                None,
                cli.cloud.into(),
            ))
        }
        Some(Command::Writers { path, action, json }) => {
            emit(status::writers(&path, &action), json)
        }
        Some(Command::Gpu { json }) => emit(Ok(status::gpu()), json),
        Some(Command::Verify {
            paths,
            torch,
            python,
            job,
            timeout,
            json,
        }) => {
            let interpreter = match job {
                Some(pid) => verify::Interpreter::Job(pid),
                None => verify::Interpreter::Path(python.as_deref()),
            };
            emit(verify::verify(&paths, torch, interpreter, timeout), json)
        }
        Some(Command::Snapshots { path, cloud, json }) => {
            emit(recover::snapshots(&path, &cloud.into()), json)
        }
        Some(Command::Deleted {
            path,
            snapshot,
            cloud,
            json,
        }) => emit(
            recover::deleted(&path, snapshot.as_deref(), &cloud.into(), json),
            json,
        ),
        Some(Command::Restore {
            path,
            snapshot,
            cloud,
            only_deleted,
            to,
            conflict,
            json,
        }) => emit(
            restore::restore(
                &path,
                snapshot.as_deref(),
                &cloud.into(),
                only_deleted,
                to.as_deref(),
                conflict,
                json,
            ),
            json,
        ),
        Some(Command::Rollback {
            path,
            snapshot,
            confirm,
            dry_run,
            no_guard,
            cloud,
            json,
        }) => emit(
            recover::rollback(
                &path,
                &snapshot,
                confirm.as_deref().filter(|_| !dry_run),
                !no_guard,
                &cloud.into(),
            ),
            json,
        ),
        Some(Command::Pin(args)) => {
            let json = args.json;
            emit(pin::pin(args), json)
        }
        Some(Command::Unpin(args)) => {
            let json = args.json;
            emit(pin::unpin(args), json)
        }
        Some(Command::Protect(args)) => {
            let json = args.json;
            emit(protect::protect(args), json)
        }
        Some(Command::Snapshot(args)) => {
            let json = args.json;
            emit(protect::snapshot(args), json)
        }
        Some(Command::Drill { clean, no_wizard }) => report(if clean {
            crate::drill::clean()
        } else {
            crate::drill::run_drill(!no_wizard)
        }),
        Some(Command::DrillWriter { dir }) => report(crate::drill::writer(&dir)),
    }
}

fn report(result: anyhow::Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            usage::write_stderr(&format!("snaprescue: {}\n", usage::error_text(&e)));
            1
        }
    }
}
