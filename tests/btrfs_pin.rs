//! Pinning on real btrfs volumes with snapper's layout: `<cleanup>` in a snapshot's
//! `info.xml` is its `expiry_rule`; `pin` clears it (an atomic edit beside it, never through
//! a symbolic link) and `unpin` puts it back; a snapshot outside snapper, or one without a
//! cleanup algorithm, needs no pin.

mod common;
use common::*;
use std::fs;
use std::process::Command;

fn info(number: u32, cleanup: Option<&str>) -> String {
    let cleanup = cleanup
        .map(|c| format!("  <cleanup>{c}</cleanup>\n"))
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\"?>\n<snapshot>\n  <type>single</type>\n  <num>{number}</num>\n  \
         <date>2026-11-30 10:00:00</date>\n  <description>timeline</description>\n{cleanup}</snapshot>\n"
    )
}

/// snapper #1 (timeline cleanup), #2 (number cleanup), #3 (none), and a plain snapshot.
fn snapper_layout() -> LoopFs {
    let fs = btrfs_with_data_subvolume();
    let data = fs.path("data");
    fs::write(data.join("a.pth"), vec![7u8; 4096]).unwrap();
    for (n, cleanup) in [(1, Some("timeline")), (2, Some("number")), (3, None)] {
        snapshot(&data, &fs.path(&format!("data/.snapshots/{n}/snapshot")));
        fs::write(
            fs.path(&format!("data/.snapshots/{n}/info.xml")),
            info(n, cleanup),
        )
        .unwrap();
    }
    snapshot(&data, &fs.path("snaps/manual"));
    fs
}

fn row<'a>(doc: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    doc["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in {doc}"))
}

#[test]
fn snapper_cleanup_is_listed_cleared_by_pin_and_restored_by_unpin() {
    if !privileged() {
        return;
    }
    let fs = snapper_layout();
    let state = tempfile::tempdir().unwrap();
    let lost = fs.path("data/a.pth");
    let listing = || {
        let (code, doc, err) = json(state.path(), args!["snapshots", lost]);
        assert_eq!(code, 0, "{err}");
        doc
    };
    let doc = listing();
    let first = row(&doc, "data/.snapshots/1/snapshot");
    assert_eq!(first["expiry_rule"], "snapper timeline cleanup", "{first}");
    assert_eq!(first["expires"], serde_json::Value::Null);
    assert_eq!(first["pinned"], false);
    assert_eq!(
        row(&doc, "data/.snapshots/2/snapshot")["expiry_rule"],
        "snapper number cleanup"
    );
    assert_eq!(
        row(&doc, "data/.snapshots/3/snapshot")["expiry_rule"],
        serde_json::Value::Null
    );
    let manual = row(&doc, "snaps/manual");
    assert_eq!(manual["expiry_rule"], serde_json::Value::Null);
    assert_eq!(manual["pinned"], false);

    let (code, pinned, err) = json(
        state.path(),
        args!["pin", lost, "--snapshot", "data/.snapshots/1/snapshot"],
    );
    assert_eq!(code, 0, "{pinned} {err}");
    assert_eq!(pinned["changed"], true);
    assert!(
        pinned["said"]
            .as_str()
            .unwrap()
            .contains("cleared the cleanup algorithm (timeline)"),
        "{pinned}"
    );
    let info_path = fs.path("data/.snapshots/1/info.xml");
    assert_eq!(fs::read_to_string(&info_path).unwrap(), info(1, None));
    let doc = listing();
    let first = row(&doc, "data/.snapshots/1/snapshot");
    assert_eq!(first["pinned"], true, "{first}");
    assert_eq!(first["expiry_rule"], serde_json::Value::Null);
    let leftovers: Vec<_> = fs::read_dir(fs.path("data/.snapshots/1"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "no temporary file left: {leftovers:?}");

    let (code, unpinned, err) = json(
        state.path(),
        args!["unpin", lost, "--snapshot", "data/.snapshots/1/snapshot"],
    );
    assert_eq!(code, 0, "{unpinned} {err}");
    assert_eq!(unpinned["fully_undone"], true, "{unpinned}");
    assert_eq!(
        fs::read_to_string(&info_path).unwrap(),
        info(1, Some("timeline"))
    );
    let doc = listing();
    assert_eq!(row(&doc, "data/.snapshots/1/snapshot")["pinned"], false);
    assert_eq!(
        row(&doc, "data/.snapshots/1/snapshot")["expiry_rule"],
        "snapper timeline cleanup"
    );

    // No cleanup algorithm, or not snapper at all: nothing deletes it, nothing to pin.
    let id_of = |path: &str| row(&doc, path)["id"].as_str().unwrap().to_string();
    for (path, reason) in [
        ("data/.snapshots/3/snapshot", "has no cleanup algorithm"),
        ("snaps/manual", "outside snapper: no policy deletes it"),
    ] {
        let (code, none, err) = json(state.path(), args!["pin", lost, "--snapshot", id_of(path)]);
        assert_eq!(code, 0, "{none} {err}");
        assert_eq!(none["changed"], false);
        assert!(none["said"].as_str().unwrap().contains(reason), "{none}");
    }
    let (code, doc, _) = json(state.path(), args!["unpin", lost, "--snapshot", "9999"]);
    assert_eq!(code, 1);
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("unknown snapshot id `9999`"),
        "{doc}"
    );
}

#[test]
fn an_info_xml_that_is_a_link_is_never_written_through() {
    if !privileged() {
        return;
    }
    let fs = snapper_layout();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("precious.xml");
    fs::write(&target, info(2, Some("number"))).unwrap();
    let link = fs.path("data/.snapshots/2/info.xml");
    fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (code, doc, _) = json(
        state.path(),
        args![
            "pin",
            fs.path("data/a.pth"),
            "--snapshot",
            "data/.snapshots/2/snapshot"
        ],
    );
    assert_eq!(code, 1, "{doc}");
    assert!(doc["error"].as_str().unwrap().contains("info.xml"), "{doc}");
    assert_eq!(
        fs::read_to_string(&target).unwrap(),
        info(2, Some("number"))
    );
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// A snapper config of this test's own for the volume, removed on drop.
struct SnapperConfig(std::path::PathBuf);

impl Drop for SnapperConfig {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[test]
fn where_snapper_manages_the_subvolume_the_pin_goes_through_snapper() {
    if !privileged() {
        return;
    }
    if Command::new("snapper").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("SNAPRESCUE_REQUIRE_PRIVILEGED").is_none(),
            "snapper is not installed (scripts/test installs it)"
        );
        eprintln!("skipped: snapper not installed");
        return;
    }
    let fs = snapper_layout();
    let name = format!("snaprescue-test-{}", std::process::id());
    let config = SnapperConfig(std::path::Path::new("/etc/snapper/configs").join(&name));
    fs::create_dir_all("/etc/snapper/configs").unwrap();
    fs::write(
        &config.0,
        format!(
            "SUBVOLUME=\"{}\"\nFSTYPE=\"btrfs\"\n",
            fs.path("data").display()
        ),
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let lost = fs.path("data/a.pth");
    let (code, pinned, err) = json(
        state.path(),
        args!["pin", lost, "--snapshot", "data/.snapshots/2/snapshot"],
    );
    assert_eq!(code, 0, "{pinned} {err}");
    assert!(
        pinned["said"]
            .as_str()
            .unwrap()
            .contains(&format!("snapper config {name}")),
        "{pinned}"
    );
    let info_path = fs.path("data/.snapshots/2/info.xml");
    assert!(!fs::read_to_string(&info_path).unwrap().contains("cleanup"));
    let (code, unpinned, err) = json(
        state.path(),
        args!["unpin", lost, "--snapshot", "data/.snapshots/2/snapshot"],
    );
    assert_eq!(code, 0, "{unpinned} {err}");
    assert_eq!(unpinned["fully_undone"], true, "{unpinned}");
    assert!(
        fs::read_to_string(&info_path)
            .unwrap()
            .contains("<cleanup>number</cleanup>")
    );
}

#[test]
fn a_pinned_snapshot_deleted_since_is_forgotten_by_unpin_and_no_longer_named_by_cleanup() {
    if !privileged() {
        return;
    }
    let fs = snapper_layout();
    let state = tempfile::tempdir().unwrap();
    let lost = fs.path("data/a.pth");
    let (code, doc, err) = json(state.path(), args!["snapshots", lost]);
    assert_eq!(code, 0, "{err}");
    let id = row(&doc, "data/.snapshots/1/snapshot")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, pinned, err) = json(state.path(), args!["pin", lost, "--snapshot", id]);
    assert_eq!(
        (code, &pinned["changed"]),
        (0, &true.into()),
        "{pinned} {err}"
    );
    let (_, cleanup, _) = json(state.path(), args!["cleanup"]);
    assert_eq!(
        cleanup["pins_kept"][0]["snapshot"],
        id.as_str(),
        "{cleanup}"
    );
    btrfs(&[
        "subvolume",
        "delete",
        fs.path("data/.snapshots/1/snapshot").to_str().unwrap(),
    ]);
    let (code, unpinned, err) = json(state.path(), args!["unpin", lost, "--snapshot", id]);
    assert_eq!(code, 0, "{unpinned} {err}");
    let why = unpinned["not_undone"][0].as_str().unwrap();
    assert!(why.contains("no longer exists"), "{why}");
    let (_, cleanup, _) = json(state.path(), args!["cleanup"]);
    assert_eq!(cleanup["pins_kept"], serde_json::json!([]), "{cleanup}");
    // An id that never was pinned nor exists is still an error naming the valid ids.
    let (code, doc, _) = json(state.path(), args!["unpin", lost, "--snapshot", id]);
    assert_eq!(code, 1, "{doc}");
}

#[test]
fn a_snapper_snapshot_not_visible_from_the_mount_is_pinned_through_the_top_level() {
    if !privileged() {
        return;
    }
    // `@`-style layout: `data` and `.snapshots` side by side at the top level, and only
    // `data` mounted, so snapper's folder is reached through a private top-level mount.
    let mut fs = LoopFs::new("btrfs", 300);
    btrfs(&["subvolume", "create", fs.path("data").to_str().unwrap()]);
    btrfs(&[
        "subvolume",
        "create",
        fs.path(".snapshots").to_str().unwrap(),
    ]);
    fs::write(fs.path("data/a.pth"), vec![7u8; 4096]).unwrap();
    snapshot(&fs.path("data"), &fs.path(".snapshots/1/snapshot"));
    fs::write(fs.path(".snapshots/1/info.xml"), info(1, Some("timeline"))).unwrap();
    fs.unmount();
    fs.mount_with("subvol=data");
    let state = tempfile::tempdir().unwrap();
    let lost = fs.path("a.pth");
    let (code, pinned, err) = json(
        state.path(),
        args!["pin", lost, "--snapshot", ".snapshots/1/snapshot"],
    );
    assert_eq!(code, 0, "{pinned} {err}");
    assert_eq!(pinned["changed"], true, "{pinned}");
    let (code, doc, err) = json(state.path(), args!["snapshots", lost]);
    assert_eq!(code, 0, "{err}");
    let listed = row(&doc, ".snapshots/1/snapshot");
    assert_eq!(listed["pinned"], true, "{listed}");
    assert_eq!(listed["expiry_rule"], serde_json::Value::Null, "{listed}");
    fs.unmount();
    fs.mount_with("");
    assert_eq!(
        fs::read_to_string(fs.path(".snapshots/1/info.xml")).unwrap(),
        info(1, None)
    );
}

#[test]
fn an_info_xml_that_is_a_fifo_or_huge_is_refused_without_hanging_and_a_pin_keeps_mode_and_owner() {
    if !privileged() {
        return;
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let fs = snapper_layout();
    let fifo = fs.path("data/.snapshots/2/info.xml");
    fs::remove_file(&fifo).unwrap();
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    fs::write(
        fs.path("data/.snapshots/3/info.xml"),
        format!("<snapshot>{}</snapshot>", " ".repeat(200_000)),
    )
    .unwrap();
    // snapper's own file is 0600; here owned by someone else, to see it kept.
    let one = fs.path("data/.snapshots/1/info.xml");
    fs::set_permissions(&one, fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&one, Some(123), Some(456)).unwrap();
    let state = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let (code, doc, _) = json(state.path(), args!["snapshots", fs.path("data/a.pth")]);
    assert_eq!(code, 0, "{doc}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "a FIFO is not waited on"
    );
    assert_eq!(
        row(&doc, "data/.snapshots/1/snapshot")["expiry_rule"],
        "snapper timeline cleanup"
    );
    let (code, doc, _) = json(
        state.path(),
        args![
            "pin",
            fs.path("data/a.pth"),
            "--snapshot",
            "data/.snapshots/2/snapshot"
        ],
    );
    assert_eq!(code, 1, "{doc}");
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("not a regular file"),
        "{doc}"
    );
    let (code, doc, _) = json(
        state.path(),
        args![
            "pin",
            fs.path("data/a.pth"),
            "--snapshot",
            "data/.snapshots/1/snapshot"
        ],
    );
    assert_eq!(code, 0, "{doc}");
    let meta = fs::metadata(&one).unwrap();
    assert_eq!(
        (meta.mode() & 0o7777, meta.uid(), meta.gid()),
        (0o600, 123, 456),
        "the rewritten info.xml keeps its mode and owner"
    );
}

#[test]
fn a_damaged_pin_record_is_named_by_unpin_not_taken_for_no_pin() {
    if !privileged() {
        return;
    }
    let fs = snapper_layout();
    let state = tempfile::tempdir().unwrap();
    let file = fs.path("data/a.pth");
    let (code, doc, _) = json(
        state.path(),
        args!["pin", file, "--snapshot", "data/.snapshots/1/snapshot"],
    );
    assert_eq!(code, 0, "{doc}");
    let records: Vec<_> = walkdir::WalkDir::new(state.path())
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && e.path().to_string_lossy().contains("/pins/"))
        .filter(|e| !e.path().to_string_lossy().contains("/pins/done/"))
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    fs::write(records[0].path(), "{garbage").unwrap();
    let (code, doc, _) = json(
        state.path(),
        args!["unpin", file, "--snapshot", "data/.snapshots/1/snapshot"],
    );
    assert_eq!(code, 1, "{doc}");
    let error = doc["error"].as_str().unwrap();
    assert!(
        error.contains("cannot be read") && error.contains("pins"),
        "{error}"
    );
    assert!(
        fs::read_to_string(fs.path("data/.snapshots/1/info.xml"))
            .unwrap()
            .contains("<cleanup></cleanup>")
            || !fs::read_to_string(fs.path("data/.snapshots/1/info.xml"))
                .unwrap()
                .contains("timeline</cleanup>"),
        "still pinned"
    );
}

#[test]
fn a_filesystem_mounted_read_only_is_not_written_by_a_pin() {
    if !privileged() {
        return;
    }
    let fs = snapper_layout();
    let info_path = fs.path("data/.snapshots/1/info.xml");
    let before = fs::read(&info_path).unwrap();
    sh("mount", &["-o", "remount,ro", fs.mount.to_str().unwrap()]);
    let state = tempfile::tempdir().unwrap();
    let file = fs.path("data/a.pth");
    let (code, doc, _) = json(
        state.path(),
        args!["pin", file, "--snapshot", "data/.snapshots/1/snapshot"],
    );
    sh("mount", &["-o", "remount,rw", fs.mount.to_str().unwrap()]);
    assert_eq!(code, 1, "{doc}");
    assert!(
        doc["error"].as_str().unwrap().contains("read-only"),
        "{doc}"
    );
    assert_eq!(fs::read(&info_path).unwrap(), before, "info.xml untouched");
}
