//! What the command line adds around cloud runs: progress lines on stderr, Ctrl-C turned
//! into a cancel (so a rescue disk is still removed), the notice about interrupted runs at
//! every start, and `snaprescue cleanup` (which also names processes an earlier run left
//! frozen).

use super::Outcome;
use crate::rescue::Watch;
use crate::rescue::cleanup::clean_all;
use crate::rescue::journal::interrupted;
use serde_json::json;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static CANCEL: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: nix::libc::c_int) {
    CANCEL.store(true, Ordering::Relaxed);
}

fn say(text: &str) {
    eprintln!("snaprescue: {text}");
}

/// A watch that prints stages to stderr and is cancelled by Ctrl-C, SIGTERM or SIGHUP (the
/// SSH session dropped; the handler
/// only sets a flag; the work stops at its next check and removes what it created).
pub fn interruptible() -> Watch<'static> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(on_interrupt),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        let _ = unsafe { sigaction(signal, &action) };
    }
    Watch {
        cancel: &CANCEL,
        stage: &say,
    }
}

/// Says on stderr that interrupted runs are waiting to be finished; false when none are.
pub fn notice_interrupted() -> bool {
    let runs = interrupted();
    if runs.is_empty() {
        return false;
    }
    eprintln!(
        "snaprescue: {} interrupted run(s) may have left disks, attachments, clones or mounts:",
        runs.len()
    );
    for run in &runs {
        eprintln!(
            "  {} ({} on {}, snapshot {}, started {})",
            run.header.run,
            run.header.kind,
            run.header.cloud,
            run.header.snapshot,
            run.header.started
        );
    }
    eprintln!("snaprescue: run `snaprescue cleanup` to finish them");
    true
}

/// Offers, before the wizard takes the terminal, to finish interrupted runs now.
pub fn offer_cleanup() {
    if !notice_interrupted() {
        return;
    }
    eprint!("Finish them now? [Y/n] ");
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    if !answer.trim().to_ascii_lowercase().starts_with('n')
        && let Ok(outcome) = cleanup()
    {
        eprint!("{}", outcome.human);
    }
}

/// `snaprescue cleanup`: finishes every interrupted run, and names the pins runs left.
pub fn cleanup() -> anyhow::Result<Outcome> {
    let watch = interruptible();
    let cleaned = clean_all(&watch);
    let swept = crate::engine::leftovers::sweep();
    let unmounted = crate::ports::mount_record::sweep();
    let mut human = String::new();
    for point in &unmounted {
        writeln!(
            human,
            "unmounted {} (read-only snapshot view of an interrupted run)",
            crate::engine::shown(point)
        )?;
    }
    let pins_kept = crate::engine::pin_journal::left_by_ended_runs();
    if cleaned.is_empty() && swept.runs == 0 && unmounted.is_empty() && pins_kept.is_empty() {
        writeln!(human, "nothing to clean up: no interrupted runs")?;
    }
    for path in &swept.removed {
        writeln!(
            human,
            "removed {} (temporary file of an interrupted restore)",
            crate::engine::shown(path)
        )?;
    }
    // Never thawed here: a writer may be frozen on purpose. Named, with how to thaw it.
    let left_frozen = crate::engine::freeze_journal::still_frozen();
    for line in crate::engine::freeze_journal::describe(&left_frozen) {
        writeln!(human, "{line}")?;
    }
    // Never unpinned here either: pinned data is safe data. Named, with how to unpin.
    for line in crate::engine::pin_journal::describe(&pins_kept) {
        writeln!(human, "{line}")?;
    }
    for c in &cleaned {
        writeln!(
            human,
            "{} {} ({} on {}): {}",
            if c.ok { "finished" } else { "FAILED" },
            c.run,
            c.kind,
            c.cloud,
            c.state
        )?;
    }
    Ok(Outcome {
        ok: cleaned.iter().all(|c| c.ok),
        json: json!({
            "runs": cleaned,
            "left_frozen": left_frozen,
            "pins_kept": pins_kept.iter().map(|r| json!({
                "source": r.source,
                "snapshot": r.snapshot,
                "name": r.snapshot_name,
                "pinned_at": r.at,
                "by": r.by,
                "did": r.done.as_ref().map(|d| d.did.clone()),
                "until": r.done.as_ref().and_then(|d| d.until).map(|t| t.to_rfc3339()),
                "unpin": r.unpin_command(),
            })).collect::<Vec<_>>(),
            "mounts_removed": unmounted.iter().map(|p| crate::engine::path_json(p)).collect::<Vec<_>>(),
            "restore_temp_files_removed": swept.removed.iter().map(|p| crate::engine::path_json(p)).collect::<Vec<_>>(),
        }),
        human,
    })
}
