//! Step 6: is each restored file whole? Checkpoint formats are checked natively
//! (PyTorch zip and legacy, safetensors, sharded indexes); every other file against the
//! hash recorded when it was restored. Files are checked in parallel.

mod safetensors;
mod torch_zip;

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

/// A checkpoint torch can load: the PyTorch names or `.safetensors`.
pub fn is_checkpoint(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    is_torch_name(&name) || name.ends_with(".safetensors")
}

/// Checks one file. `recorded` is the BLAKE3 recorded at restore time, if any.
pub fn verify_file(path: &Path, recorded: Option<&str>) -> Verdict {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let (format, result) = if name.ends_with(".safetensors") {
        (Format::Safetensors, safetensors::check(path))
    } else if name.ends_with(".index.json") {
        (Format::ShardIndex, check_index(path))
    } else if is_torch_name(&name) {
        match torch_zip::check(path) {
            Ok((legacy, detail)) => (
                if legacy {
                    Format::PytorchLegacy
                } else {
                    Format::PytorchZip
                },
                Ok(detail),
            ),
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
    let mut file = std::fs::File::open(path).map_err(|e| format!("unreadable: {e}"))?;
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

/// A sharded checkpoint index (`*.index.json`): every shard in `weight_map` exists and verifies.
fn check_index(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("unreadable: {e}"))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))?;
    let map = doc["weight_map"]
        .as_object()
        .ok_or("no weight_map in the index")?;
    let mut shards: Vec<&str> = map.values().filter_map(|v| v.as_str()).collect();
    shards.sort();
    shards.dedup();
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut bad = Vec::new();
    for shard in &shards {
        let shard_path = dir.join(shard);
        if !shard_path.exists() {
            bad.push(format!("missing shard {shard}"));
            continue;
        }
        let v = verify_file(&shard_path, None);
        if !v.ok {
            bad.push(format!("{shard}: {}", v.detail));
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

/// Every regular file under `paths` (files or directories), without following symlinks.
pub fn files_under(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        for entry in walkdir::WalkDir::new(p)
            .follow_links(false)
            .follow_root_links(false)
            .into_iter()
            .flatten()
        {
            if entry.file_type().is_file() {
                out.push(entry.into_path());
            }
        }
    }
    out
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
