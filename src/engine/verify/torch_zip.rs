//! PyTorch checkpoints: the zip format of `torch.save` (central directory, every member's
//! CRC-32, a `data.pkl` with a sane pickle header, a `version` record) and the legacy
//! format recognised by its pickled magic number. Members are stored (as `torch.save`
//! writes them) or deflated (as zip tools repack them); both are read and CRC-checked.

use std::io::Read;
use std::path::Path;

/// The legacy format starts with the pickled magic number 0x1950a86a20f9469cfc6c.
const LEGACY_MAGIC: [u8; 14] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
];

/// Ok((legacy, detail)) or what is wrong.
pub fn check(path: &Path) -> Result<(bool, String), String> {
    let mut file = super::open_regular(path)?;
    let mut head = [0u8; 14];
    let n = file
        .read(&mut head)
        .map_err(|e| format!("unreadable: {e}"))?;
    if n == 0 {
        return Err("empty file".into());
    }
    if n == 14 && head == LEGACY_MAGIC {
        return Ok((
            true,
            "legacy (pre-1.6) PyTorch format; magic number present".into(),
        ));
    }
    if &head[..2.min(n)] != b"PK" {
        return Err("not a PyTorch checkpoint: neither a zip archive nor the legacy format".into());
    }
    let mut archive = zip::ZipArchive::new(file).map_err(|e| match e {
        zip::result::ZipError::InvalidArchive(_) => {
            format!("truncated: central directory missing ({e})")
        }
        other => format!("damaged zip: {other}"),
    })?;
    let mut pickle = None;
    let mut version = false;
    let mut buf = Vec::new();
    for i in 0..archive.len() {
        let (name, method) = {
            let raw = archive
                .by_index_raw(i)
                .map_err(|e| format!("damaged member {i}: {e}"))?;
            let name = raw
                .name()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| format!("member {i}"));
            (name, raw.compression())
        };
        let mut member = archive.by_index(i).map_err(|e| match e {
            zip::result::ZipError::UnsupportedArchive(_)
            | zip::result::ZipError::CompressionMethodNotSupported(_) => format!(
                "not checked: member {name} is compressed with {method}, which snaprescue does \
                 not read (it reads stored and deflated members, what torch.save and zip \
                 tools write)"
            ),
            other => format!("damaged member {name}: {other}"),
        })?;
        buf.clear();
        member.read_to_end(&mut buf).map_err(|e| {
            if e.to_string().to_lowercase().contains("checksum") {
                format!("CRC mismatch in {name}")
            } else {
                format!("unreadable member {name} ({method}): {e}")
            }
        })?;
        if name.ends_with("/data.pkl") || name == "data.pkl" {
            pickle = Some(buf.clone());
        }
        if name.ends_with("/version") || name == "version" || name.ends_with("/.data/version") {
            version = true;
        }
    }
    let pickle = pickle.ok_or("no data.pkl record: not a torch.save archive")?;
    if pickle.len() < 3
        || pickle[0] != 0x80
        || !(2..=5).contains(&pickle[1])
        || pickle.last() != Some(&b'.')
    {
        return Err("data.pkl is not a complete pickle (bad header or missing STOP)".into());
    }
    if !version {
        return Err("no version record in the archive".into());
    }
    Ok((
        false,
        format!(
            "OK: zip with {} members, CRCs match, pickle protocol {}",
            archive.len(),
            pickle[1]
        ),
    ))
}
