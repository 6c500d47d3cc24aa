//! Prevention on a real ZFS pool (zfs-fuse): `protect` audits the dataset against sanoid's
//! configuration (a private sanoid.conf through `SNAPRESCUE_SANOID_CONF`) and the
//! `com.sun:auto-snapshot` switch; `snapshot` makes `dataset@NAME` with its tags as
//! `snaprescue:` user properties (held with --keep-days) that `snapshots` lists by name;
//! `--apply` appends a sanoid section, once.

mod common;
use common::check;
use common::zfs_lab::*;
use std::fs;
use std::process::Command;

/// The binary with sanoid.conf at `conf`.
fn run(
    state: &std::path::Path,
    conf: &std::path::Path,
    args: &[&std::ffi::OsStr],
) -> (i32, serde_json::Value, String) {
    let mut all = args.to_vec();
    all.push("--json".as_ref());
    let out = Command::new(env!("CARGO_BIN_EXE_snaprescue"))
        .args(all)
        .env("SNAPRESCUE_STATE_DIR", state)
        .env("SNAPRESCUE_SANOID_CONF", conf)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (
        out.status.code().unwrap_or(-1),
        doc,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_dataset_is_audited_snapshotted_with_properties_and_given_a_sanoid_policy() {
    let Some(lab) = ZfsLab::new() else { return };
    let sanoid_here = snaprescue::ports::command::exists("sanoid");
    assert!(
        sanoid_here || std::env::var_os("SNAPRESCUE_REQUIRE_PRIVILEGED").is_none(),
        "sanoid is not installed (scripts/test installs it)"
    );
    fs::write(lab.path("a.pth"), vec![3u8; 8192]).unwrap();
    let state = tempfile::tempdir().unwrap();
    let conf = state.path().join("sanoid.conf");
    let dataset = lab.dataset();

    let (code, doc, err) = run(state.path(), &conf, args!["protect", lab.data]);
    assert_eq!(code, 1, "{doc} {err}");
    assert_eq!(check(&doc, "auto-policy")["status"], "fail");
    assert_eq!(check(&doc, "snapshot-recent")["status"], "fail");
    assert_eq!(check(&doc, "encryption")["status"], "info");

    // zfs-auto-snapshot's switch on, but the tool not installed: covered, not running.
    lab.zfs(&["set", "com.sun:auto-snapshot=true", &dataset]);
    let (_, doc, _) = run(state.path(), &conf, args!["protect", lab.data]);
    let policy = check(&doc, "auto-policy");
    assert_eq!(policy["status"], "fail", "{policy}");
    assert!(
        policy["message"]
            .as_str()
            .unwrap()
            .contains("zfs-auto-snapshot is not installed"),
        "{policy}"
    );
    lab.zfs(&["inherit", "com.sun:auto-snapshot", &dataset]);

    let (code, taken, err) = run(
        state.path(),
        &conf,
        args![
            "snapshot",
            lab.data,
            "--name",
            "pre-run 1",
            "--tag",
            "run=exp7",
            "--keep-days",
            "10"
        ],
    );
    assert_eq!(code, 0, "{taken} {err}");
    let full = format!("{dataset}@pre-run 1");
    assert_eq!(taken["name"], full);
    assert_eq!(lab.get(&full, "snaprescue:run"), "exp7");
    assert_eq!(lab.get(&full, "snaprescue:snaprescue"), "pre-run");
    assert_eq!(lab.get(&full, "userrefs"), "1", "held for --keep-days");
    assert!(taken["kept"].as_str().unwrap().contains("held"));
    let (_, listed, _) = run(state.path(), &conf, args!["snapshots", lab.data]);
    let row = &listed["snapshots"][0];
    assert_eq!(row["name"], full, "{listed}");
    assert_eq!(row["pre_run"], true);
    assert_eq!(row["pinned"], true);

    // A tag ZFS cannot store as a property name is refused before anything is made.
    let (code, _, err) = run(
        state.path(),
        &conf,
        args!["snapshot", lab.data, "--name", "x", "--tag", "Run=1"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("lowercase"), "{err}");
    assert!(!lab.names().iter().any(|n| n.ends_with("@x")));

    let (code, doc, err) = run(
        state.path(),
        &conf,
        args!["protect", lab.data, "--apply", "--confirm", dataset],
    );
    assert_eq!(doc["applied"]["changed"], true, "{doc} {err}");
    let text = fs::read_to_string(&conf).unwrap();
    assert!(text.contains(&format!("[{dataset}]")), "{text}");
    let policy = check(&doc, "auto-policy");
    if sanoid_here {
        assert_eq!(code, 0, "{doc} {err}");
        assert_eq!(policy["status"], "ok", "{policy}");
        assert_eq!(check(&doc, "policy-schedule")["status"], "ok");
    } else {
        assert!(
            policy["message"]
                .as_str()
                .unwrap()
                .contains("sanoid is not installed")
        );
    }
    let (_, again, _) = run(
        state.path(),
        &conf,
        args!["protect", lab.data, "--apply", "--confirm", dataset],
    );
    assert_eq!(again["applied"]["changed"], false, "{again}");
    assert_eq!(fs::read_to_string(&conf).unwrap(), text, "unchanged");

    // The child dataset shares the template the first --apply wrote.
    let child = lab.data.join("child");
    let (_, doc, err) = run(
        state.path(),
        &conf,
        args![
            "protect",
            child,
            "--apply",
            "--confirm",
            format!("{dataset}/child")
        ],
    );
    assert_eq!(doc["applied"]["changed"], true, "{doc} {err}");
    let shared = fs::read_to_string(&conf).unwrap();
    assert_eq!(
        shared.matches("[template_snaprescue]").count(),
        1,
        "{shared}"
    );
    assert!(shared.contains(&format!("[{dataset}/child]")), "{shared}");

    // A sanoid.conf that is a link, or a device, is never replaced.
    let real = state.path().join("real.conf");
    fs::write(&real, "").unwrap();
    let link = state.path().join("link.conf");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    for (target, said) in [
        (link.as_path(), "a symbolic link"),
        (std::path::Path::new("/dev/null"), "a device"),
    ] {
        let (code, _, err) = run(
            state.path(),
            target,
            args![
                "protect",
                child,
                "--apply",
                "--confirm",
                format!("{dataset}/child")
            ],
        );
        assert_eq!(code, 1);
        assert!(err.contains(said), "{err}");
    }
    assert_eq!(fs::read_to_string(&real).unwrap(), "");
    use std::os::unix::fs::FileTypeExt;
    assert!(
        fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    // Pool cleanup releases the hold with the pool.
}
