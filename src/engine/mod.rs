//! The work itself, with no terminal code: comparing a snapshot with the live tree, choosing
//! a snapshot, copying files back with verification.

pub mod choose;
pub mod copy;
pub mod diff;
pub mod extents;
pub mod freeze_journal;
pub mod harvest;
pub mod keep_running;
pub mod newer;
pub mod restore;
pub mod restore_plan;
pub mod torch_check;
pub mod torch_probe;
pub mod verify;

/// Paths in JSON: the lossless UTF-8 text when there is one, else the bytes in hex too.
pub fn path_json(path: &std::path::Path) -> serde_json::Value {
    use std::os::unix::ffi::OsStrExt;
    match path.to_str() {
        Some(text) => serde_json::Value::String(text.to_string()),
        None => serde_json::json!({
            "lossy": path.to_string_lossy(),
            "hex": path.as_os_str().as_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>(),
        }),
    }
}
