//! Files of a fake training run in real formats: PyTorch zip checkpoints (the layout
//! `torch.save` writes) and `.safetensors` files, with deterministic contents.

use std::io::Write;
use std::path::Path;

/// Deterministic pseudo-random little-endian f32 weights.
fn weights(seed: u32, count: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    let mut out = Vec::with_capacity(count * 4);
    for _ in 0..count {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let value = (state as f32 / u32::MAX as f32) - 0.5;
        out.extend_from_slice(&value.to_le_bytes());
    }
    out
}

/// A PyTorch checkpoint in the zip layout: `archive/data.pkl`, `archive/data/0`,
/// `archive/version`, `archive/byteorder`, members stored uncompressed as torch does.
pub fn write_pth(path: &Path, seed: u32, params: usize) -> std::io::Result<()> {
    use zip::write::SimpleFileOptions;
    let file = std::fs::File::create(path)?;
    let mut zip = zip::ZipWriter::new(file);
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let to_io = |e: zip::result::ZipError| std::io::Error::other(e.to_string());
    // Pickle protocol 2: {"epoch": seed} then STOP.
    let mut pickle = vec![0x80, 0x02, b'}', b'q', 0x00, b'X', 5, 0, 0, 0];
    pickle.extend_from_slice(b"epoch");
    pickle.extend_from_slice(&[b'q', 0x01, b'J']);
    pickle.extend_from_slice(&(seed as i32).to_le_bytes());
    pickle.extend_from_slice(b"s.");
    for (name, data) in [
        ("archive/data.pkl", pickle),
        ("archive/byteorder", b"little".to_vec()),
        ("archive/data/0", weights(seed, params)),
        ("archive/version", b"3\n".to_vec()),
    ] {
        zip.start_file(name, options).map_err(to_io)?;
        zip.write_all(&data)?;
    }
    zip.finish().map_err(to_io)?.sync_all()
}

/// A `.safetensors` file holding one F32 tensor `weight` of `params` values.
pub fn write_safetensors(path: &Path, seed: u32, params: usize) -> std::io::Result<()> {
    let data = weights(seed, params);
    let mut header = serde_json::json!({
        "__metadata__": { "format": "pt" },
        "weight": { "dtype": "F32", "shape": [params], "data_offsets": [0, data.len()] },
    })
    .to_string();
    while !header.len().is_multiple_of(8) {
        header.push(' ');
    }
    let mut file = std::fs::File::create(path)?;
    file.write_all(&(header.len() as u64).to_le_bytes())?;
    file.write_all(header.as_bytes())?;
    file.write_all(&data)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_header_length_matches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        write_safetensors(&path, 1, 10).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
        assert_eq!(header["weight"]["data_offsets"][1], 40);
        assert_eq!(bytes.len(), 8 + len + 40);
    }

    #[test]
    fn pth_is_a_zip_with_torch_members() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.pth");
        write_pth(&path, 3, 16).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..4], b"PK\x03\x04");
        let text = String::from_utf8_lossy(&bytes);
        for member in ["archive/data.pkl", "archive/data/0", "archive/version"] {
            assert!(text.contains(member), "{member} missing");
        }
    }
}
