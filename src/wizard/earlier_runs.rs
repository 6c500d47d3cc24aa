//! What earlier runs of snaprescue left that this one takes over: processes they froze that
//! are still stopped, and files they harvested that the same process still holds; and what
//! is said about frozen processes on leaving.

use super::model::*;

/// What to tell the user on leaving the wizard while processes snaprescue froze (this run,
/// or an earlier one whose freezes were adopted at start) are still frozen: they keep their memory but will not run until thawed, and how to thaw them.
pub fn left_frozen(model: &Model) -> Option<String> {
    let w = &model.writers;
    if w.frozen.is_empty() {
        return None;
    }
    let named: Vec<String> = w
        .frozen
        .iter()
        .map(|(pid, _, command)| {
            let name = crate::ports::processes::program_name(command);
            format!("{pid} ({})", crate::engine::cut(&name, 40))
        })
        .collect();
    let pids: Vec<String> = w.frozen.iter().map(|(pid, ..)| pid.to_string()).collect();
    Some(format!(
        "left frozen (SIGSTOP) by snaprescue: {}. They keep their memory, GPU memory too, and do \
         not run until thawed: `kill -CONT {}`, or `snaprescue writers {} --thaw`.",
        named.join(", "),
        pids.join(" "),
        model.path.display()
    ))
}

/// At start: processes snaprescue froze that are still stopped (an earlier run was killed
/// or left them) become this run's frozen ones — shown as frozen, thawed by `t` at the end,
/// named on leaving — and a notice names them.
pub fn adopt_still_frozen(
    model: &mut Model,
    frozen: &[crate::engine::freeze_journal::FrozenBySnaprescue],
) {
    let w = &mut model.writers;
    for f in frozen {
        if !w.froze(f.pid, f.start_time) {
            w.frozen.push((f.pid, f.start_time, f.command.clone()));
        }
    }
    if frozen.is_empty() {
        return;
    }
    let named: Vec<String> = frozen
        .iter()
        .map(|f| format!("{} ({})", f.pid, f.command))
        .collect();
    let note = format!(
        "still frozen by snaprescue, not by this run: {}; t thaws the selected one, T all",
        named.join(", ")
    );
    model.notice = Some(match model.notice.take() {
        Some(other) => format!("{note}. {other}"),
        None => note,
    });
}

/// Files an earlier run saved from a process that still holds them (same pid, same start
/// time, same handle) count as saved: not asked about again, offered for copy-back.
pub fn adopt_earlier_harvests(w: &mut Writers) {
    let adopted: Vec<crate::engine::harvest::HarvestedFile> = w
        .earlier
        .iter()
        .filter(|e| !w.harvested.contains(&e.handle))
        .filter(|e| {
            w.processes.iter().any(|p| {
                p.pid == e.pid
                    && p.start_time == e.start_time
                    && p.deleted_open.iter().any(|d| d.handle == e.handle)
            })
        })
        .cloned()
        .collect();
    if adopted.is_empty() {
        return;
    }
    w.harvested.extend(adopted.iter().map(|e| e.handle.clone()));
    w.last_harvest
        .get_or_insert_with(Default::default)
        .saved
        .extend(adopted);
}

/// The harvested copy of `original` is no longer trusted: it stops counting as saved.
pub fn forget_harvested(w: &mut Writers, original: &std::path::Path) {
    let Some(report) = w.last_harvest.as_mut() else {
        return;
    };
    let handles: Vec<std::path::PathBuf> = report
        .saved
        .iter()
        .filter(|s| s.original == original)
        .map(|s| s.handle.clone())
        .collect();
    report.saved.retain(|s| s.original != original);
    for handle in handles {
        w.harvested.remove(&handle);
    }
}
