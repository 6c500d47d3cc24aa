//! Where snaprescue keeps its journals, log and reports (and whether that is on the
//! filesystem being rescued), and how the report files are written.

use std::path::PathBuf;
use std::sync::Mutex;

/// Where the journals, reports and the log go: `SNAPRESCUE_STATE_DIR`, else
/// `$XDG_STATE_HOME/snaprescue`, else `~/.local/state/snaprescue`, else (no HOME)
/// `/var/lib/snaprescue`: never a directory a reboot empties (/tmp, /run), since the
/// journals must outlive a crash of the machine.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SNAPRESCUE_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(base) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(base).join("snaprescue");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/state/snaprescue"),
        None => PathBuf::from("/var/lib/snaprescue"),
    }
}

/// The state directory, when it lies on the filesystem that holds `path` (the one being
/// rescued): its writes cannot hurt a snapshot, but can overwrite blocks of deleted files
/// that only a harvest could still save.
pub fn state_dir_on_rescued_filesystem(path: &std::path::Path) -> Option<PathBuf> {
    let dir = state_dir();
    crate::ports::fs_meta::same_filesystem(&dir, path).then_some(dir)
}

/// The warning the command line says once at start (see
/// [`state_dir_on_rescued_filesystem`]).
pub fn state_dir_warning(path: &std::path::Path) -> Option<String> {
    state_dir_on_rescued_filesystem(path).map(|dir| {
        format!(
            "the state directory {} (journals, reports, log) is on the filesystem being \
             rescued: its writes cannot hurt a snapshot, but can overwrite blocks of deleted \
             files that only a harvest could still save. SNAPRESCUE_STATE_DIR can move it to \
             another disk (not /tmp: journals must survive a reboot)",
            dir.display()
        )
    })
}

/// Logs go to `state_dir()/snaprescue.log`, never to the screen.
pub fn init_logging() {
    let dir = state_dir();
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("snaprescue.log"))
    else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .try_init();
}

pub fn write_report(report: &crate::wizard::FinishReport) -> Result<PathBuf, String> {
    let dir = state_dir().join("reports");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let json_path = dir.join(format!("report-{stamp}.json"));
    let json = serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?;
    std::fs::write(&json_path, json)
        .map_err(|e| format!("cannot write {}: {e}", json_path.display()))?;
    let mut text = format!(
        "snaprescue report\nsnaprescue: {}\npath: {}\n",
        report.snaprescue, report.path
    );
    text += &format!(
        "snapshot: {}\n",
        report.snapshot.as_deref().unwrap_or("none")
    );
    text += &format!(
        "deletion estimated at: {}\n",
        report.deleted_at.as_deref().unwrap_or("unknown")
    );
    text += &format!(
        "restored: {} entries, {} bytes\n",
        report.restored, report.restored_bytes
    );
    for line in report
        .skipped
        .iter()
        .map(|s| format!("skipped: {s}\n"))
        .chain(report.failed.iter().map(|f| format!("FAILED: {f}\n")))
    {
        text += &line;
    }
    if let Some(r) = &report.rollback {
        text += &format!("rollback: {r}\n");
    }
    for a in &report.actions {
        text += &format!("action: {a}\n");
    }
    for m in &report.still_missing {
        text += &format!("still missing: {m}\n");
    }
    for v in &report.verdicts {
        text += &format!("verify: {v}\n");
    }
    if let Some(t) = &report.torch {
        text += &format!("torch check: {t}\n");
    }
    for c in &report.created {
        text += &format!("kept: {c}\n");
    }
    text += "temporary snapshot mounts: removed on exit\n";
    for (step, ms) in &report.timings {
        text += &format!("time: {step}: {:.1} s\n", *ms as f64 / 1000.0);
    }
    std::fs::write(json_path.with_extension("txt"), text).map_err(|e| e.to_string())?;
    Ok(json_path)
}
