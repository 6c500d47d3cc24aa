//! `verify PATH…` on what a user may name: a path that does not exist, a fifo, a link to a
//! damaged checkpoint, a Hugging Face cache (`snapshots/<rev>/` of links into `blobs/`), a
//! directory with nothing to check. Each either checks something or fails saying why.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/checkpoints")
        .join(rel)
}

/// Runs `verify PATHS --json` (killed after 60 s: a fifo must never block it); returns the
/// exit code and the document.
fn verify(paths: &[&Path]) -> (i32, serde_json::Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_snaprescue"))
        .arg("verify")
        .args(paths)
        .args(["--json", "--timeout", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("verify did not finish within 60 s (blocked on {paths:?}?)");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap_or(-1), doc)
}

fn unchecked(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["unchecked"]
        .as_array()
        .unwrap_or_else(|| panic!("no unchecked list: {doc}"))
        .iter()
        .map(|u| {
            (
                u["path"].as_str().unwrap().to_string(),
                u["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_path_that_does_not_exist_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nonexistent.pth");
    let (code, doc) = verify(&[&missing]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(
        unchecked(&doc),
        [(missing.display().to_string(), "does not exist".to_string())]
    );
}

#[test]
fn a_fifo_is_reported_as_not_a_checkpoint_without_being_opened() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("epoch_10.pth");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // Named directly, and through a link: neither may block on the fifo.
    let link = dir.path().join("link.pth");
    symlink(&fifo, &link).unwrap();
    let (code, doc) = verify(&[&fifo, &link]);
    assert_eq!(code, 1, "{doc}");
    let reasons = unchecked(&doc);
    assert_eq!(reasons.len(), 2, "{doc}");
    for (_, reason) in &reasons {
        assert!(reason.contains("not a checkpoint: a fifo"), "{reason}");
    }
}

#[test]
fn a_link_to_a_truncated_checkpoint_is_followed_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("epoch_10.pth");
    symlink(fixture("damaged/truncated.pth"), &link).unwrap();
    let (code, doc) = verify(&[&link]);
    assert_eq!(code, 1, "{doc}");
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{doc}");
    assert_eq!(files[0]["path"], link.display().to_string());
    assert_eq!(files[0]["ok"], false);
    let detail = files[0]["detail"].as_str().unwrap();
    assert!(detail.contains("truncated"), "{detail}");
    assert!(detail.contains("link to"), "{detail}");
}

/// `models--org--name/` as the Hugging Face hub writes it: blobs named by hash, and a
/// revision directory of relative links to them.
fn hugging_face_cache(root: &Path, files: &[(&str, &str)]) -> PathBuf {
    let model = root.join("models--org--name");
    let blobs = model.join("blobs");
    let revision = model.join("snapshots/0123456789abcdef");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::create_dir_all(&revision).unwrap();
    std::fs::create_dir_all(model.join("refs")).unwrap();
    std::fs::write(model.join("refs/main"), "0123456789abcdef").unwrap();
    for (name, source) in files {
        let bytes = std::fs::read(fixture(source)).unwrap();
        let hash = blake3::hash(&bytes).to_hex().to_string();
        std::fs::write(blobs.join(&hash), &bytes).unwrap();
        symlink(format!("../../blobs/{hash}"), revision.join(name)).unwrap();
    }
    revision
}

#[test]
fn a_hugging_face_cache_verifies_the_blobs_behind_its_links() {
    let dir = tempfile::tempdir().unwrap();
    let revision = hugging_face_cache(
        dir.path(),
        &[
            (
                "model-00001-of-00002.safetensors",
                "good/model-00001-of-00002.safetensors",
            ),
            (
                "model-00002-of-00002.safetensors",
                "good/model-00002-of-00002.safetensors",
            ),
            (
                "model.safetensors.index.json",
                "good/model.safetensors.index.json",
            ),
            ("pytorch_model.bin", "good/pytorch_model.bin"),
        ],
    );
    let (code, doc) = verify(&[&revision]);
    assert_eq!(code, 0, "{doc}");
    let files = doc["files"].as_array().unwrap();
    let formats: Vec<(&str, &str)> = files
        .iter()
        .map(|f| {
            let path = Path::new(f["path"].as_str().unwrap());
            assert!(path.starts_with(&revision), "named by the link: {f}");
            assert!(
                f["detail"]
                    .as_str()
                    .unwrap()
                    .contains("link to ../../blobs/"),
                "{f}"
            );
            (
                path.file_name().unwrap().to_str().unwrap(),
                f["format"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        formats,
        [
            ("model-00001-of-00002.safetensors", "safetensors"),
            ("model-00002-of-00002.safetensors", "safetensors"),
            ("model.safetensors.index.json", "shard_index"),
            ("pytorch_model.bin", "pytorch_zip"),
        ]
    );
}

#[test]
fn a_hugging_face_cache_with_a_damaged_or_missing_blob_fails() {
    let dir = tempfile::tempdir().unwrap();
    let revision = hugging_face_cache(
        dir.path(),
        &[
            ("model.safetensors", "damaged/truncated.safetensors"),
            ("pytorch_model.bin", "good/pytorch_model.bin"),
        ],
    );
    let blob = std::fs::read_link(revision.join("pytorch_model.bin")).unwrap();
    std::fs::remove_file(revision.join(&blob)).unwrap();
    let (code, doc) = verify(&[&revision]);
    assert_eq!(code, 1, "{doc}");
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{doc}");
    assert_eq!(files[0]["ok"], false, "{doc}");
    let missing = unchecked(&doc);
    assert_eq!(missing.len(), 1, "{doc}");
    assert!(missing[0].0.ends_with("pytorch_model.bin"), "{doc}");
    assert!(missing[0].1.contains("leads nowhere"), "{doc}");
}

#[test]
fn a_directory_with_nothing_to_check_fails_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("run");
    std::fs::create_dir(&empty).unwrap();
    symlink("/", empty.join("root-link")).unwrap();
    let (code, doc) = verify(&[&empty]);
    assert_eq!(code, 1, "{doc}");
    let reasons = unchecked(&doc);
    assert_eq!(reasons.len(), 1, "{doc}");
    assert!(reasons[0].1.starts_with("nothing to check"), "{doc}");
    assert!(
        reasons[0].1.contains("1 link to directories not followed"),
        "{doc}"
    );
}
