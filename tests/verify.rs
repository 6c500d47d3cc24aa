//! Step 6 checks on fixtures written by real torch and safetensors (see
//! scripts/make-checkpoint-fixtures.py), damaged copies of them, and the torch check against
//! an interpreter without torch, one that hangs, and real torch when it is importable.

use snaprescue::engine::torch_check::torch_check;
use snaprescue::engine::verify::{Format, verify_file};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/checkpoints")
        .join(rel)
}

#[test]
fn every_good_fixture_verifies_with_its_format() {
    for (name, format) in [
        ("good/epoch_10.pth", Format::PytorchZip),
        ("good/last.ckpt", Format::PytorchZip),
        ("good/pytorch_model.bin", Format::PytorchZip),
        ("good/model.safetensors", Format::Safetensors),
        ("good/model.safetensors.index.json", Format::ShardIndex),
    ] {
        let v = verify_file(&fixture(name), None);
        assert!(v.ok, "{name}: {}", v.detail);
        assert_eq!(v.format, format, "{name}");
    }
}

/// The legacy format has no checksums: its header alone proves nothing (a truncated file
/// has the same header), so it is not called OK without torch.load.
#[test]
fn a_legacy_checkpoint_is_not_called_ok_by_its_header_alone() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(fixture("good/legacy.pt")).unwrap();
    let truncated = dir.path().join("legacy_trunc.pth");
    std::fs::write(&truncated, &good[..14]).unwrap();
    for path in [fixture("good/legacy.pt"), truncated] {
        let v = verify_file(&path, None);
        assert_eq!(v.format, Format::PytorchLegacy);
        assert!(!v.ok, "{}", v.detail);
        assert!(
            v.detail.contains("only torch.load can check it"),
            "{}",
            v.detail
        );
    }
}

/// A shard index whose weight_map sends a tensor to a shard that does not hold it fails.
#[test]
fn an_index_naming_a_tensor_its_shard_lacks_fails() {
    let dir = tempfile::tempdir().unwrap();
    for shard in [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ] {
        std::fs::copy(fixture(&format!("good/{shard}")), dir.path().join(shard)).unwrap();
    }
    let index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixture("good/model.safetensors.index.json")).unwrap(),
    )
    .unwrap();
    let mut index = index;
    let map = index["weight_map"].as_object_mut().unwrap();
    let second = map
        .values()
        .find(|v| v.as_str().unwrap().contains("00002"))
        .unwrap()
        .clone();
    map.insert("not.in.any.shard".into(), second);
    let path = dir.path().join("model.safetensors.index.json");
    std::fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
    let v = verify_file(&path, None);
    assert!(!v.ok, "{}", v.detail);
    assert!(v.detail.contains("not.in.any.shard"), "{}", v.detail);
}

#[test]
fn every_damaged_fixture_says_what_is_wrong() {
    for (name, expected) in [
        (
            "damaged/truncated.pth",
            "truncated: central directory missing",
        ),
        ("damaged/flipped.pth", "CRC mismatch in epoch_10/data/0"),
        (
            "damaged/wrong_header_length.safetensors",
            "wrong header length",
        ),
        (
            "damaged/truncated.safetensors",
            "truncated: 2.weight ends at 688",
        ),
        (
            "damaged/missing-shard/model.safetensors.index.json",
            "missing shard model-00002-of-00002.safetensors",
        ),
    ] {
        let v = verify_file(&fixture(name), None);
        assert!(!v.ok, "{name} passed");
        assert!(v.detail.contains(expected), "{name}: {}", v.detail);
    }
}

#[test]
fn other_files_are_checked_against_the_recorded_hash() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "hello").unwrap();
    let hash = blake3::hash(b"hello").to_hex().to_string();
    assert!(verify_file(&file, Some(&hash)).ok);
    std::fs::write(&file, "hellO").unwrap();
    let v = verify_file(&file, Some(&hash));
    assert!(!v.ok && v.detail.contains("differs"), "{}", v.detail);
}

#[test]
fn verify_command_prints_json_and_fails_on_damage() {
    let run = |dir: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_snaprescue"))
            .args([
                "verify",
                fixture(dir).to_str().unwrap(),
                "--json",
                "--timeout",
                "30",
            ])
            .output()
            .unwrap();
        (
            out.status.code(),
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        )
    };
    let (code, good) = run("good");
    // All good but the legacy checkpoint, which only torch.load can check (not here).
    assert_eq!(code, Some(1), "{good}");
    let files = good["files"].as_array().unwrap();
    assert_eq!(files.len(), 8);
    let failed: Vec<_> = files.iter().filter(|f| f["ok"] == false).collect();
    assert_eq!(failed.len(), 1, "{good}");
    assert_eq!(failed[0]["format"], "pytorch_legacy");
    // Without --torch no Python is started: the torch check is left out and said to be.
    assert!(good["torch"].is_null(), "{good}");
    let (code, bad) = run("damaged");
    assert_eq!(code, Some(1));
    assert_eq!(
        bad["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["ok"] == false)
            .count(),
        5
    );
}

#[test]
fn an_interpreter_without_torch_is_diagnosed() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("python-without-torch");
    // A real Python whose torch import fails, whatever the machine has installed.
    std::fs::write(&script, "#!/bin/sh\nexec python3 -c 'import sys; sys.modules[\"torch\"] = None; exec(sys.argv[1])' \"$2\" \"$@\"\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let report = torch_check(&script, &[], Duration::from_secs(30));
    let d = report.diagnosis.expect("a diagnosis");
    assert!(d.contains("torch is not installed"), "{d}");
}

#[test]
fn a_missing_interpreter_names_the_fix() {
    let report = torch_check(
        Path::new("/nonexistent/python"),
        &[],
        Duration::from_secs(5),
    );
    // The engine's diagnosis names the fix without a CLI flag (the wizard has none) …
    let diagnosis = report.diagnosis.unwrap();
    assert!(
        diagnosis.contains("the training job's own interpreter"),
        "{diagnosis}"
    );
    assert!(!diagnosis.contains("--"), "{diagnosis}");
    // … and the command line adds its flags.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snaprescue"))
        .args(["verify", fixture("good/epoch_10.pth").to_str().unwrap()])
        .args(["--python", "/nonexistent/python"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--python EXE names the interpreter"),
        "{text}"
    );
}

#[test]
fn a_hanging_interpreter_is_stopped_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("hanging-python");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 30\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let started = Instant::now();
    let report = torch_check(&script, &[], Duration::from_secs(1));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        report
            .diagnosis
            .unwrap()
            .contains("did not answer within 1 s")
    );
}

/// Real torch: `SNAPRESCUE_TORCH_PYTHON=/path/to/python` (an environment with torch and
/// safetensors); skipped when unset.
#[test]
fn real_torch_loads_good_checkpoints_and_rejects_damaged_ones() {
    let Some(python) = std::env::var_os("SNAPRESCUE_TORCH_PYTHON") else {
        eprintln!("skipped: SNAPRESCUE_TORCH_PYTHON not set");
        return;
    };
    let files = vec![
        fixture("good/epoch_10.pth"),
        fixture("good/model.safetensors"),
        fixture("good/legacy.pt"),
        fixture("damaged/truncated.pth"),
    ];
    let report = torch_check(Path::new(&python), &files, Duration::from_secs(120));
    assert!(report.facts.torch.is_some(), "{report:?}");
    let ok: Vec<bool> = report.facts.loads.iter().map(|l| l.ok).collect();
    assert_eq!(ok, [true, true, true, false], "{:?}", report.facts.loads);
    if report.facts.available != Some(true) {
        assert!(
            report.diagnosis.unwrap().contains("cannot use the GPU")
                || report.facts.cuda_build.is_none()
        );
    }
}

/// An interpreter whose torch is the stand-in (tests/fixtures/stand-in-torch), with `env`.
fn with_stand_in_torch(dir: &Path, env: &str) -> std::path::PathBuf {
    let stand_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stand-in-torch");
    let script = dir.join("python-with-stand-in-torch");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nPYTHONPATH='{}' {env} exec python3 \"$@\"\n",
            stand_in.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    script
}

/// `torch.cuda.is_available()` only asks the driver: the check runs a kernel too, so a
/// torch build without the GPU's architecture is caught, with the reason.
#[test]
fn a_gpu_that_torch_sees_but_cannot_run_a_kernel_on_is_diagnosed() {
    let dir = tempfile::tempdir().unwrap();
    let works = torch_check(
        &with_stand_in_torch(dir.path(), ""),
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(works.diagnosis, None, "{works:?}");
    assert_eq!(works.facts.kernel_ok, Some(true));
    assert_eq!(works.facts.cudnn, Some(90100));
    let broken = torch_check(
        &with_stand_in_torch(dir.path(), "STAND_IN_TORCH_KERNEL=fail"),
        &[],
        Duration::from_secs(30),
    );
    let d = broken.diagnosis.unwrap();
    assert!(
        d.contains("sees stand-in GPU 0 but cannot run a kernel"),
        "{d}"
    );
    assert!(d.contains("no kernel image is available"), "{d}");
}

/// An interpreter without safetensors cannot load `.safetensors` files with torch: they are
/// reported as not loaded, with the reason, and do not fail the check (their headers and
/// shards were verified); every torch checkpoint, zip and legacy, is loaded.
#[test]
fn safetensors_files_are_skipped_not_failed_where_safetensors_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let python = with_stand_in_torch(dir.path(), "");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snaprescue"))
        .args(["verify", fixture("good").to_str().unwrap(), "--torch"])
        .arg("--python")
        .arg(&python)
        .args(["--json", "--timeout", "30"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{doc}");
    let loads = doc["torch"]["facts"]["loads"].as_array().unwrap();
    let (skipped, loaded): (Vec<_>, Vec<_>) = loads.iter().partition(|l| l["skipped"].is_string());
    assert_eq!(skipped.len(), 3, "{doc}");
    assert!(skipped.iter().all(|l| {
        l["path"].as_str().unwrap().ends_with(".safetensors")
            && l["skipped"] == "safetensors is not installed for this interpreter"
    }));
    assert_eq!(loaded.len(), 4, "{doc}");
    assert!(loaded.iter().all(|l| l["ok"] == true), "{doc}");
}

/// A `*.safetensors.index.json` names shards beside it: a `weight_map` that points out of
/// its directory (`..`, an absolute path) or at a file that is not `.safetensors` fails,
/// even when the file it points at is a valid checkpoint.
#[test]
fn an_index_pointing_outside_its_directory_or_at_another_format_fails() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let shard = "model-00001-of-00002.safetensors";
    std::fs::copy(fixture(&format!("good/{shard}")), dir.path().join(shard)).unwrap();
    std::fs::copy(fixture("good/epoch_10.pth"), sub.join("epoch_10.pth")).unwrap();
    let absolute = fixture(&format!("good/{shard}")).display().to_string();
    for (target, expected) in [
        (format!("../{shard}"), "lies outside the index's directory"),
        (absolute, "lies outside the index's directory"),
        ("epoch_10.pth".to_string(), "is not a .safetensors file"),
    ] {
        let index = sub.join("model.safetensors.index.json");
        std::fs::write(
            &index,
            serde_json::json!({ "weight_map": { "0.weight": target } }).to_string(),
        )
        .unwrap();
        let v = verify_file(&index, None);
        assert!(!v.ok, "{target} passed: {}", v.detail);
        assert!(v.detail.contains(expected), "{target}: {}", v.detail);
    }
}

/// A `.pth` whose members are deflated (repacked by a zip tool; written by
/// scripts/make-deflated-fixtures.py) is read and its CRCs checked.
#[test]
fn a_deflated_checkpoint_is_verified_with_its_crcs() {
    let v = verify_file(&fixture("deflated/epoch_10.pth"), None);
    assert!(v.ok, "{}", v.detail);
    assert_eq!(v.format, Format::PytorchZip);
    assert!(v.detail.contains("CRCs match"), "{}", v.detail);
    let v = verify_file(&fixture("deflated/flipped.pth"), None);
    assert!(!v.ok, "flipped passed: {}", v.detail);
    assert!(
        v.detail.contains("CRC mismatch in epoch_10/data/0"),
        "{}",
        v.detail
    );
}
