//! Step 6: is each restored file whole? Checkpoint formats are checked natively
//! (PyTorch zip and legacy, safetensors, sharded indexes); every other file against the
//! hash recorded when it was restored. Files are checked in parallel. A file reached
//! through a link is named by the link, its format read from the link's name, and the
//! verdict says where the link points. Nothing but a regular file is ever opened.

mod safetensors;
mod targets;
mod torch_zip;

pub use targets::{Targets, Unchecked};

use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    PytorchZip,
    PytorchLegacy,
    Safetensors,
    ShardIndex,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    #[serde(serialize_with = "crate::engine::restore::ser_path")]
    pub path: PathBuf,
    pub format: Format,
    pub ok: bool,
    /// "OK …" or what is wrong ("truncated: central directory missing").
    pub detail: String,
}

fn is_torch_name(name: &str) -> bool {
    [".pth", ".pt", ".ckpt"].iter().any(|e| name.ends_with(e))
        || (name.starts_with("pytorch_model") && name.ends_with(".bin"))
}

/// The name that says a file's format, lower case: a keep-both copy
/// (`epoch_30.pth.restored-<time>`, `…-2`) is checked as what it was restored from.
fn format_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    match name.rfind(".restored-") {
        Some(at) if at > 0 => name[..at].to_string(),
        _ => name,
    }
}

/// A checkpoint torch can load: the PyTorch names or `.safetensors`.
pub fn is_checkpoint(path: &Path) -> bool {
    let name = format_name(path);
    is_torch_name(&name) || name.ends_with(".safetensors")
}

/// Opens `path` (links followed) for reading only if it is a regular file: a fifo is opened
/// without waiting for a writer (O_NONBLOCK) and refused, never read.
pub(crate) fn open_regular(path: &Path) -> Result<std::fs::File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("unreadable: {e}"))?;
    let kind = file
        .metadata()
        .map_err(|e| format!("unreadable: {e}"))?
        .file_type();
    if !kind.is_file() {
        let what = targets::special_kind(&kind).unwrap_or("not a regular file");
        return Err(format!(
            "not a checkpoint: {what}, not a regular file (not read)"
        ));
    }
    Ok(file)
}

/// Checks one file. `recorded` is the BLAKE3 recorded at restore time, if any.
pub fn verify_file(path: &Path, recorded: Option<&str>) -> Verdict {
    let mut verdict = verify_content(path, recorded);
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        let target = std::fs::read_link(path).unwrap_or_default();
        verdict.detail += &format!(" (link to {})", target.display());
    }
    verdict
}

/// Why a legacy-format checkpoint is not called OK by the format check alone.
pub const LEGACY_UNCHECKED: &str = "legacy (pre-1.6) PyTorch format: it has no checksums, so \
     only torch.load can check it (verify --torch)";

/// Legacy-format checkpoints that torch.load loaded are OK (their header alone proves
/// nothing; see [`LEGACY_UNCHECKED`]).
pub fn confirm_legacy_by_loads(
    verdicts: &mut [Verdict],
    loads: &[crate::engine::torch_check::CheckpointLoad],
) {
    for v in verdicts
        .iter_mut()
        .filter(|v| v.format == Format::PytorchLegacy && !v.ok)
    {
        if loads
            .iter()
            .any(|l| l.path == v.path && l.ok && l.skipped.is_none())
        {
            v.ok = true;
            v.detail = "OK: legacy (pre-1.6) PyTorch format, loaded by torch.load".into();
        }
    }
}

fn verify_content(path: &Path, recorded: Option<&str>) -> Verdict {
    let name = format_name(path);
    let (format, result) = if name.ends_with(".safetensors") {
        (Format::Safetensors, safetensors::check(path))
    } else if name.ends_with(".index.json") {
        (Format::ShardIndex, check_index(path))
    } else if is_torch_name(&name) {
        match torch_zip::check(path) {
            // No checksums and no index in the legacy format: a truncated file looks the
            // same from here. Not called OK; only torch.load (verify --torch) can check it.
            Ok((true, _)) => (Format::PytorchLegacy, Err(LEGACY_UNCHECKED.to_string())),
            Ok((false, detail)) => (Format::PytorchZip, Ok(detail)),
            Err(e) => (Format::PytorchZip, Err(e)),
        }
    } else {
        (Format::Other, check_hash(path, recorded))
    };
    let ok = result.is_ok();
    Verdict {
        path: path.to_path_buf(),
        format,
        ok,
        detail: result.unwrap_or_else(|e| e),
    }
}

fn check_hash(path: &Path, recorded: Option<&str>) -> Result<String, String> {
    let mut file = open_regular(path)?;
    let hash = super::copy::hash_file(&mut file, &std::sync::atomic::AtomicBool::new(false))
        .map_err(|e| e.to_string())?;
    match recorded {
        Some(r) if r == hash => Ok("OK: BLAKE3 matches the restore record".into()),
        Some(_) => Err(
            "hash differs from the one recorded at restore time: changed or damaged since".into(),
        ),
        None => Ok(format!("no format check; BLAKE3 {}…", &hash[..16])),
    }
}

/// Why a `weight_map` entry of the index `index_name` cannot be a shard of it: shards lie in
/// the index's directory (a plain relative name, no `..`, not absolute) and have the format
/// the index is for (`*.safetensors.index.json` → `.safetensors`; other indexes → a
/// checkpoint name).
fn bad_shard_name(index_name: &str, shard: &str) -> Option<String> {
    use std::path::Component;
    let shard_path = Path::new(shard);
    if shard.is_empty() {
        return Some("an empty shard name".into());
    }
    if !shard_path
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return Some(format!(
            "shard {shard} lies outside the index's directory: shards are named relative \
             to it, without `..` or a leading /"
        ));
    }
    let lower = shard.to_lowercase();
    if index_name.ends_with(".safetensors.index.json") {
        if !lower.ends_with(".safetensors") {
            return Some(format!(
                "shard {shard} is not a .safetensors file, as a safetensors index requires"
            ));
        }
    } else if !is_checkpoint(shard_path) {
        return Some(format!("shard {shard} is not a checkpoint file"));
    }
    None
}

/// A sharded checkpoint index (`*.index.json`): every shard in `weight_map` is a checkpoint
/// beside the index, exists and verifies.
fn check_index(path: &Path) -> Result<String, String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut open_regular(path)?, &mut text)
        .map_err(|e| format!("unreadable: {e}"))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))?;
    let map = doc["weight_map"]
        .as_object()
        .ok_or("no weight_map in the index")?;
    let mut shards: Vec<&str> = map.values().filter_map(|v| v.as_str()).collect();
    shards.sort();
    shards.dedup();
    let dir = path.parent().unwrap_or(Path::new("."));
    let index_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut bad: Vec<String> = shards
        .iter()
        .filter_map(|shard| bad_shard_name(&index_name, shard))
        .collect();
    if !bad.is_empty() {
        return Err(bad.join("; "));
    }
    if shards.is_empty() {
        return Err("weight_map names no shard: nothing to check".into());
    }
    if map.values().any(|v| !v.is_string()) {
        return Err("weight_map has a value that is not a shard name".into());
    }
    for shard in &shards {
        let shard_path = dir.join(shard);
        if !shard_path.exists() {
            bad.push(format!("missing shard {shard}"));
            continue;
        }
        let v = verify_file(&shard_path, None);
        if !v.ok {
            bad.push(format!("{shard}: {}", v.detail));
            continue;
        }
        // Every tensor the index maps to this shard must be in it.
        if shard.ends_with(".safetensors")
            && let Ok(names) = safetensors::tensor_names(&shard_path)
        {
            let mut absent: Vec<&str> = map
                .iter()
                .filter(|(_, s)| s.as_str() == Some(shard))
                .map(|(t, _)| t.as_str())
                .filter(|t| !names.contains(*t))
                .collect();
            absent.sort();
            if !absent.is_empty() {
                bad.push(format!(
                    "{shard} lacks {} tensor(s) the index maps to it: {}",
                    absent.len(),
                    absent
                        .iter()
                        .take(5)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    if bad.is_empty() {
        Ok(format!(
            "OK: {} shards, {} tensors",
            shards.len(),
            map.len()
        ))
    } else {
        Err(bad.join("; "))
    }
}

/// Verifies `files` on all cores; `progress(done, total)` after each.
pub fn verify_all(
    files: &[PathBuf],
    recorded: &HashMap<PathBuf, String>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<Verdict> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(files.len().max(1));
    let mut verdicts: Vec<(usize, Verdict)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(i) else { break };
                        mine.push((i, verify_file(path, recorded.get(path).map(String::as_str))));
                        progress(done.fetch_add(1, Ordering::Relaxed) + 1, files.len());
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    verdicts.sort_by_key(|(i, _)| *i);
    verdicts.into_iter().map(|(_, v)| v).collect()
}

#[cfg(test)]
mod format_tests {
    use std::path::Path;

    #[test]
    fn a_keep_both_copy_is_checked_as_what_it_was_restored_from() {
        assert!(super::is_checkpoint(Path::new(
            "/d/epoch_30.pth.restored-20261202T1800Z"
        )));
        assert!(super::is_checkpoint(Path::new(
            "/d/m.safetensors.restored-20261202T1800Z-2"
        )));
        assert!(!super::is_checkpoint(Path::new(
            "/d/notes.txt.restored-20261202T1800Z"
        )));
        assert!(!super::is_checkpoint(Path::new("/d/.restored-x.pth.txt")));
    }
}
