//! Prevention on real btrfs volumes: `protect` audits the subvolume (failing with the fix
//! when nothing protects it), `snapshot` takes the pre-run marker in snapper's layout that
//! `snapshots` lists by name and snapper itself reads, and `protect --apply` makes snapper
//! take timeline snapshots of it — by `snapper create-config`, or by writing the config the
//! way snapper would when `.snapshots` exists already. A second `--apply` changes nothing.
//! The tests that change snapper's configuration take turns (one SNAPPER_CONFIGS line).

mod common;
use common::check;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

static SNAPPER_ETC: Mutex<()> = Mutex::new(());

fn snapper_installed() -> bool {
    let here = Command::new("snapper").arg("--version").output().is_ok();
    if !here {
        assert!(
            std::env::var_os("SNAPRESCUE_REQUIRE_PRIVILEGED").is_none(),
            "snapper is not installed (scripts/test installs it)"
        );
        eprintln!("skipped: snapper not installed");
    }
    here
}

/// Removes, on drop, every snapper config whose SUBVOLUME is `root` and its name from
/// SNAPPER_CONFIGS (only ours: the subvolume is on this test's loop device).
struct SnapperConfigsOf(PathBuf);

impl SnapperConfigsOf {
    fn names(&self) -> Vec<String> {
        let Ok(dir) = fs::read_dir("/etc/snapper/configs") else {
            return vec![];
        };
        dir.flatten()
            .filter(|e| {
                fs::read_to_string(e.path())
                    .is_ok_and(|t| t.contains(&format!("SUBVOLUME=\"{}\"", self.0.display())))
            })
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for SnapperConfigsOf {
    fn drop(&mut self) {
        for name in self.names() {
            let _ = fs::remove_file(Path::new("/etc/snapper/configs").join(&name));
            let path = "/etc/default/snapper";
            if let Ok(text) = fs::read_to_string(path) {
                let fixed: Vec<String> = text
                    .lines()
                    .map(|l| match l.strip_prefix("SNAPPER_CONFIGS=") {
                        Some(v) => {
                            let kept: Vec<&str> = v
                                .trim_matches('"')
                                .split_whitespace()
                                .filter(|n| *n != name)
                                .collect();
                            format!("SNAPPER_CONFIGS=\"{}\"", kept.join(" "))
                        }
                        None => l.to_string(),
                    })
                    .collect();
                let _ = fs::write(path, fixed.join("\n") + "\n");
            }
        }
    }
}

fn snapper(config: &str, args: &[&str]) -> String {
    let mut all = vec!["--no-dbus", "-c", config];
    all.extend(args);
    sh("snapper", &all)
}

#[test]
fn an_unprotected_subvolume_fails_then_the_pre_run_snapshot_and_apply_fix_it() {
    if !privileged() || !snapper_installed() {
        return;
    }
    let _turn = SNAPPER_ETC.lock().unwrap_or_else(|e| e.into_inner());
    // `.snapshots` exists already (made by hand, as this helper does): apply adopts it.
    let fs = btrfs_with_data_subvolume();
    let data = fs.path("data");
    let configs = SnapperConfigsOf(data.clone());
    fs::write(data.join("a.pth"), vec![7u8; 4096]).unwrap();
    let state = tempfile::tempdir().unwrap();

    let (code, doc, err) = json(state.path(), args!["protect", data]);
    assert_eq!(code, 1, "{doc} {err}");
    assert_eq!(doc["ok"], false);
    let ids: Vec<_> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "snapshot-recent",
            "auto-policy",
            "policy-schedule",
            "data-on-system-disk",
            "encryption",
            "cross-region-copy",
            "pre-run-snapshot",
            "expiry"
        ]
    );
    assert_eq!(check(&doc, "snapshot-recent")["status"], "fail");
    let policy = check(&doc, "auto-policy");
    assert_eq!(policy["status"], "fail", "{policy}");
    assert_eq!(
        policy["fix"],
        format!("snaprescue protect {} --apply", data.display())
    );
    assert_eq!(check(&doc, "policy-schedule")["status"], "fail");
    assert_eq!(check(&doc, "data-on-system-disk")["status"], "ok");
    for id in ["encryption", "cross-region-copy"] {
        let c = check(&doc, id);
        assert_eq!(c["status"], "info", "{c}");
        assert!(
            c["message"]
                .as_str()
                .unwrap()
                .starts_with("not applicable here")
        );
    }
    assert_eq!(check(&doc, "pre-run-snapshot")["status"], "warn");

    // The pre-run marker: read-only, in snapper's layout, listed by its name.
    let (code, taken, err) = json(
        state.path(),
        args![
            "snapshot",
            data,
            "--name",
            "before run <1> & co",
            "--tag",
            "run=exp1",
            "--wait"
        ],
    );
    assert_eq!(code, 0, "{taken} {err}");
    assert_eq!(taken["source"], "btrfs");
    assert_eq!(taken["status"], "completed");
    assert_eq!(taken["tags"]["run"], "exp1");
    assert_eq!(taken["tags"]["snaprescue"], "pre-run");
    let snap = data.join(".snapshots/1/snapshot");
    assert_eq!(fs::read(snap.join("a.pth")).unwrap(), vec![7u8; 4096]);
    assert!(btrfs(&["property", "get", "-ts", snap.to_str().unwrap(), "ro"]).contains("ro=true"));
    let (_, listed, _) = json(state.path(), args!["snapshots", data]);
    let row = &listed["snapshots"][0];
    assert_eq!(row["id"], taken["id"], "{listed}");
    assert_eq!(row["name"], "snapper #1: before run <1> & co");
    assert_eq!(row["pre_run"], true);
    assert_eq!(row["expiry_rule"], "snapper number cleanup");

    let (_, doc, _) = json(state.path(), args!["protect", data]);
    assert_eq!(check(&doc, "snapshot-recent")["status"], "ok");
    let pre = check(&doc, "pre-run-snapshot");
    assert_eq!(pre["status"], "ok", "{pre}");
    assert!(
        pre["message"]
            .as_str()
            .unwrap()
            .contains("before run <1> & co")
    );

    // --apply needs the subvolume typed, and says what it costs.
    let out = snaprescue(state.path(), args!["protect", data, "--apply"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--confirm data") && err.contains("billed by size"),
        "{err}"
    );
    assert!(
        configs.names().is_empty(),
        "nothing is written before the confirmation"
    );
    let (code, doc, err) = json(
        state.path(),
        args!["protect", data, "--apply", "--confirm", "x"],
    );
    assert_eq!(code, 1, "{doc} {err}");
    assert!(configs.names().is_empty());

    let (code, doc, err) = json(
        state.path(),
        args!["protect", data, "--apply", "--confirm", "data"],
    );
    assert_eq!(code, 0, "{doc} {err}");
    assert_eq!(doc["applied"]["changed"], true, "{doc}");
    assert_eq!(check(&doc, "auto-policy")["status"], "ok", "{doc}");
    assert_eq!(check(&doc, "policy-schedule")["status"], "ok", "{doc}");
    let names = configs.names();
    assert_eq!(names.len(), 1, "{names:?}");
    // snapper itself reads the adopted layout: the pre-run snapshot is its #1.
    let list = snapper(&names[0], &["list"]);
    assert!(list.contains("before run <1> & co"), "{list}");
    let config = snapper(&names[0], &["get-config"]);
    assert!(
        config.contains("TIMELINE_CREATE") && config.contains("yes"),
        "{config}"
    );
    let sysconfig = fs::read_to_string("/etc/default/snapper").unwrap();
    assert!(sysconfig.contains(&names[0]), "{sysconfig}");

    let (code, doc, err) = json(
        state.path(),
        args!["protect", data, "--apply", "--confirm", "data"],
    );
    assert_eq!(code, 0, "{doc} {err}");
    assert_eq!(doc["applied"]["changed"], false, "{doc}");
    assert!(
        doc["applied"]["said"][0]
            .as_str()
            .unwrap()
            .contains("nothing changed")
    );
}

#[test]
fn without_snapshots_dir_apply_runs_create_config_and_snapshot_goes_through_snapper() {
    if !privileged() || !snapper_installed() {
        return;
    }
    let _turn = SNAPPER_ETC.lock().unwrap_or_else(|e| e.into_inner());
    let fs = LoopFs::new("btrfs", 300);
    let work = fs.path("work");
    btrfs(&["subvolume", "create", work.to_str().unwrap()]);
    let configs = SnapperConfigsOf(work.clone());
    fs::write(work.join("ckpt.pt"), b"weights").unwrap();
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = json(
        state.path(),
        args!["protect", work, "--apply", "--confirm", "work"],
    );
    assert_eq!(
        code, 1,
        "no snapshot yet, so the audit still fails: {doc} {err}"
    );
    assert_eq!(doc["applied"]["changed"], true);
    assert_eq!(check(&doc, "auto-policy")["status"], "ok", "{doc}");
    let names = configs.names();
    assert_eq!(names.len(), 1);
    assert!(
        work.join(".snapshots").is_dir(),
        "create-config made .snapshots"
    );

    let (code, taken, err) = json(
        state.path(),
        args!["snapshot", work, "--name", "pre-run", "--keep-days", "30"],
    );
    assert_eq!(code, 0, "{taken} {err}");
    assert!(
        taken["kept"].as_str().unwrap().contains("keep-until"),
        "{taken}"
    );
    // Made by snapper: its list has it with the userdata, and no cleanup (kept).
    let list = snapper(&names[0], &["list"]);
    assert!(
        list.contains("pre-run") && list.contains("snaprescue=pre-run"),
        "{list}"
    );
    let (_, listed, _) = json(state.path(), args!["snapshots", work]);
    let row = &listed["snapshots"][0];
    assert_eq!(row["pre_run"], true, "{listed}");
    assert_eq!(row["expiry_rule"], serde_json::Value::Null, "{row}");
    let (code, doc, err) = json(state.path(), args!["protect", work]);
    assert_eq!(code, 0, "{doc} {err}");
    assert_eq!(doc["ok"], true);
}

#[test]
fn snapshot_refuses_bad_names_links_and_read_only_mounts_before_creating_anything() {
    if !privileged() {
        return;
    }
    let mut fs = btrfs_with_data_subvolume();
    let data = fs.path("data");
    let state = tempfile::tempdir().unwrap();
    let out = snaprescue(state.path(), args!["snapshot", data, "--name", "a\nb"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without control"));
    let out = snaprescue(
        state.path(),
        args!["snapshot", data, "--name", "x", "--tag", "k"],
    );
    assert_eq!(out.status.code(), Some(2), "a tag without = is bad usage");

    // A link planted as .snapshots is not followed: nothing appears where it points.
    btrfs(&[
        "subvolume",
        "delete",
        data.join(".snapshots").to_str().unwrap(),
    ]);
    let elsewhere = fs.path("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, data.join(".snapshots")).unwrap();
    let out = snaprescue(state.path(), args!["snapshot", data, "--name", "x"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a directory (a link?)"), "{err}");
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);

    fs::remove_file(data.join(".snapshots")).unwrap();
    fs.unmount();
    fs.mount_with("ro");
    let out = snaprescue(state.path(), args!["snapshot", data, "--name", "x"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mounted read-only") && err.contains("remount,rw"),
        "{err}"
    );
    assert!(!data.join(".snapshots").exists());
}

#[test]
fn a_snapshots_dir_others_could_swap_links_in_is_refused_and_nothing_is_written_through_it() {
    if !privileged() {
        return;
    }
    let fs = btrfs_with_data_subvolume();
    let data = fs.path("data");
    let state = tempfile::tempdir().unwrap();
    // Owned by another user (who could rename entries and plant links between two steps).
    let snaps = data.join(".snapshots");
    std::os::unix::fs::chown(&snaps, Some(65534), Some(65534)).unwrap();
    let out = snaprescue(state.path(), args!["snapshot", data, "--name", "x"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("owned by uid 65534"), "{err}");
    assert_eq!(
        fs::read_dir(&snaps).unwrap().count(),
        0,
        "nothing made in it"
    );
    // A plain directory in its place: not snapper's subvolume.
    btrfs(&["subvolume", "delete", snaps.to_str().unwrap()]);
    fs::create_dir(&snaps).unwrap();
    let out = snaprescue(state.path(), args!["snapshot", data, "--name", "x"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a subvolume"));
    fs::remove_dir(&snaps).unwrap();
    // An absurd number planted there does not stop the next one.
    let out = snaprescue(state.path(), args!["snapshot", data, "--name", "first"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::create_dir(snaps.join("18446744073709551615")).unwrap();
    let (code, taken, err) = json(state.path(), args!["snapshot", data, "--name", "second"]);
    assert_eq!(code, 0, "{taken} {err}");
    assert_eq!(taken["name"], "snapper #2: second");
    // PATH inside a snapshot, or in .snapshots itself: the live subvolume is what to name.
    for inside in [snaps.join("1/snapshot"), snaps.clone()] {
        let out = snaprescue(state.path(), args!["protect", inside]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("not a live subvolume"),
            "{}: {err}",
            inside.display()
        );
    }
}

#[test]
fn apply_refuses_a_snapshots_link_and_a_path_snapper_cannot_read_before_writing_anything() {
    if !privileged() || !snapper_installed() {
        return;
    }
    let _turn = SNAPPER_ETC.lock().unwrap_or_else(|e| e.into_inner());
    let before = fs::read_to_string("/etc/default/snapper").unwrap_or_default();
    let fs = LoopFs::new("btrfs", 300);
    let state = tempfile::tempdir().unwrap();
    let linked = fs.path("linked");
    btrfs(&["subvolume", "create", linked.to_str().unwrap()]);
    let configs = SnapperConfigsOf(linked.clone());
    std::os::unix::fs::symlink("/etc", linked.join(".snapshots")).unwrap();
    let out = snaprescue(
        state.path(),
        args!["protect", linked, "--apply", "--confirm", "linked"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a directory (a link?)"), "{err}");
    assert!(configs.names().is_empty());
    let odd = fs.path("q\"x $(id)");
    btrfs(&["subvolume", "create", odd.to_str().unwrap()]);
    let odd_configs = SnapperConfigsOf(odd.clone());
    let out = snaprescue(
        state.path(),
        args!["protect", odd, "--apply", "--confirm", "q\"x $(id)"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("snapper's config cannot hold"), "{err}");
    assert!(odd_configs.names().is_empty());
    assert_eq!(
        fs::read_to_string("/etc/default/snapper").unwrap_or_default(),
        before
    );
}
