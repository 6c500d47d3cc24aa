//! snaprescue checks itself: its own program, its state directory and the pip or cargo
//! cache it was just installed through should not live on the filesystem being rescued
//! (every write there may land on a deleted file's blocks). Step 1 says so in one line,
//! with how to avoid it next time (run it from RAM: the README's "When it happens for real").

use std::path::{Path, PathBuf};

/// What of snaprescue's own lies on the filesystem holding `path`: (what, where).
pub fn on_rescued_filesystem(path: &Path) -> Vec<(&'static str, PathBuf)> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let env_dir = |name: &str| std::env::var_os(name).map(PathBuf::from);
    let pip_cache = env_dir("PIP_CACHE_DIR")
        .or_else(|| env_dir("XDG_CACHE_HOME").map(|c| c.join("pip")))
        .or_else(|| home.as_ref().map(|h| h.join(".cache/pip")));
    let cargo_home = env_dir("CARGO_HOME").or_else(|| home.as_ref().map(|h| h.join(".cargo")));
    let candidates = [
        ("its program", std::env::current_exe().ok()),
        ("its state directory", Some(super::state::state_dir())),
        ("pip's cache", pip_cache.filter(|p| p.exists())),
        ("cargo's home", cargo_home.filter(|p| p.exists())),
    ];
    candidates
        .into_iter()
        .filter_map(|(what, place)| Some((what, place?)))
        .filter(|(_, place)| crate::ports::fs_meta::same_filesystem(place, path))
        .collect()
}

/// The one line step 1 shows, when anything of snaprescue's own is on that filesystem.
pub fn notice(path: &Path) -> Option<String> {
    let found = on_rescued_filesystem(path);
    if found.is_empty() {
        return None;
    }
    let named: Vec<String> = found
        .iter()
        .map(|(what, place)| format!("{what} ({})", crate::engine::shown(place)))
        .collect();
    Some(format!(
        "snaprescue itself is on this disk: {}. Next time run it from RAM (/dev/shm; README: \
         When it happens for real){}",
        named.join(", "),
        if found.iter().any(|f| f.0 == "its state directory") {
            "; SNAPRESCUE_STATE_DIR moves its state"
        } else {
            ""
        }
    ))
}
