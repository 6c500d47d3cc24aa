//! `.safetensors`: an 8-byte little-endian header length, a JSON header, then the data.
//! Every tensor's dtype and shape must match its byte range, ranges must lie in the data
//! region, not overlap, and cover it.

use std::io::Read;
use std::path::Path;

fn dtype_size(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" => 1,
        "I16" | "U16" | "F16" | "BF16" => 2,
        "I32" | "U32" | "F32" => 4,
        "I64" | "U64" | "F64" => 8,
        _ => return None,
    })
}

/// The tensor names in the header of the `.safetensors` file at `path`.
pub fn tensor_names(path: &Path) -> Result<std::collections::HashSet<String>, String> {
    let mut file = super::open_regular(path)?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .map_err(|_| "truncated: no header length".to_string())?;
    let header_len = u64::from_le_bytes(len);
    if header_len > 100 << 20 {
        return Err(format!("wrong header length {header_len}"));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header)
        .map_err(|_| "truncated header".to_string())?;
    let doc: serde_json::Value =
        serde_json::from_slice(&header).map_err(|e| format!("header is not JSON: {e}"))?;
    Ok(doc
        .as_object()
        .ok_or("header is not a JSON object")?
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect())
}

pub fn check(path: &Path) -> Result<String, String> {
    let mut file = super::open_regular(path)?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .map_err(|_| "truncated: no header length".to_string())?;
    let header_len = u64::from_le_bytes(len);
    if header_len > 100 << 20 || header_len + 8 > size {
        return Err(format!(
            "wrong header length {header_len} for a file of {size} bytes"
        ));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header)
        .map_err(|_| "truncated header".to_string())?;
    let doc: serde_json::Value =
        serde_json::from_slice(&header).map_err(|e| format!("header is not JSON: {e}"))?;
    let tensors = doc.as_object().ok_or("header is not a JSON object")?;
    let data_len = size - 8 - header_len;
    let mut ranges = Vec::new();
    for (name, t) in tensors.iter().filter(|(k, _)| *k != "__metadata__") {
        let dtype = t["dtype"].as_str().ok_or(format!("{name}: no dtype"))?;
        let width = dtype_size(dtype).ok_or(format!("{name}: unknown dtype {dtype}"))?;
        let shape: Vec<u64> = t["shape"]
            .as_array()
            .ok_or(format!("{name}: no shape"))?
            .iter()
            .map(|d| d.as_u64().unwrap_or(u64::MAX))
            .collect();
        let offsets = t["data_offsets"]
            .as_array()
            .ok_or(format!("{name}: no data_offsets"))?;
        let (start, end) = match (
            offsets.first().and_then(|v| v.as_u64()),
            offsets.get(1).and_then(|v| v.as_u64()),
        ) {
            (Some(s), Some(e)) if s <= e => (s, e),
            _ => return Err(format!("{name}: bad data_offsets")),
        };
        let elements = shape
            .iter()
            .try_fold(1u64, |acc, d| acc.checked_mul(*d))
            .ok_or(format!("{name}: shape overflows"))?;
        if elements.checked_mul(width) != Some(end - start) {
            return Err(format!(
                "{name}: {dtype} {shape:?} needs {} bytes but its range holds {}",
                elements.saturating_mul(width),
                end - start
            ));
        }
        if end > data_len {
            return Err(format!(
                "truncated: {name} ends at {end} but the data region has {data_len} bytes"
            ));
        }
        ranges.push((start, end, name.clone()));
    }
    ranges.sort();
    let mut covered = 0;
    for (start, end, name) in &ranges {
        if *start < covered {
            return Err(format!("{name} overlaps the previous tensor"));
        }
        if *start > covered {
            return Err(format!("gap of {} bytes before {name}", start - covered));
        }
        covered = *end;
    }
    if covered != data_len {
        return Err(format!(
            "{} trailing bytes after the last tensor",
            data_len - covered
        ));
    }
    Ok(format!(
        "OK: {} tensor{}, {data_len} data bytes",
        ranges.len(),
        if ranges.len() == 1 { "" } else { "s" }
    ))
}
