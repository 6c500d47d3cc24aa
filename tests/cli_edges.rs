//! The command line at its edges, on the real binary: `--json` into a closed pipe, the wizard
//! without a terminal, a mistyped subcommand, an unknown `--source`, and `--snapshot` given a
//! path that is not a snapshot.

mod common;
use common::*;
use std::process::{Command, Stdio};

fn run(cmd: &mut Command) -> (Option<i32>, String) {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn json_into_a_closed_pipe_is_a_quiet_exit() {
    let home = tempfile::tempdir().unwrap();
    for args in [&["gpu", "--json"][..], &["gpu"][..]] {
        let (reader, writer) = nix::unistd::pipe().unwrap();
        drop(reader);
        let child = common::isolated(home.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

#[test]
fn the_wizard_without_a_terminal_says_so_and_names_the_subcommands() {
    let home = tempfile::tempdir().unwrap();
    let lost = tempfile::tempdir().unwrap();
    let (code, stderr) = run(common::isolated(home.path()).arg(lost.path()));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("needs a terminal"), "{stderr}");
    for sub in ["writers", "snapshots", "restore", "verify"] {
        assert!(stderr.contains(sub), "{sub} not named: {stderr}");
    }
    assert!(!stderr.contains("os error"), "{stderr}");
}

#[test]
fn a_mistyped_subcommand_is_bad_usage_with_the_nearest_one() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let (code, stderr) = run(common::isolated(home.path())
        .current_dir(cwd.path())
        .arg("restor"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("snaprescue restore"), "{stderr}");
    let (code, stderr) = run(common::isolated(home.path())
        .current_dir(cwd.path())
        .arg("frobnicate"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("./frobnicate"), "{stderr}");
    assert!(
        !stderr.contains("terminal"),
        "no wizard for a typo: {stderr}"
    );
    // Written as a path, the same word is a PATH: the wizard is wanted (and needs a tty).
    let (code, stderr) = run(common::isolated(home.path())
        .current_dir(cwd.path())
        .arg("./frobnicate"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("needs a terminal"), "{stderr}");
}

#[test]
fn an_unknown_source_is_bad_usage_listing_the_valid_ones() {
    let home = tempfile::tempdir().unwrap();
    let (code, stderr) =
        run(common::isolated(home.path()).args(["snapshots", "/tmp", "--source", "lvm"]));
    assert_eq!(code, Some(2), "{stderr}");
    for name in ["btrfs", "aws", "aliyun"] {
        assert!(stderr.contains(name), "{name}: {stderr}");
    }
}

/// `rm -rf ckpt` in a folder whose snapshot still holds it: `snaprescue ckpt` is that PATH.
#[test]
fn a_bare_word_held_by_a_snapshot_is_a_path() {
    if !privileged() {
        return;
    }
    let fs = LoopFs::new("btrfs", 128);
    let data = fs.path("data");
    btrfs(&["subvolume", "create", data.to_str().unwrap()]);
    std::fs::create_dir_all(data.join("run/ckpt")).unwrap();
    std::fs::write(data.join("run/ckpt/a.pth"), b"weights").unwrap();
    snapshot(&data, &fs.path("snaps/A"));
    std::fs::remove_dir_all(data.join("run/ckpt")).unwrap();
    let home = tempfile::tempdir().unwrap();
    let (code, stderr) = run(common::isolated(home.path())
        .current_dir(data.join("run"))
        .arg("ckpt"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("needs a terminal"),
        "taken as PATH: {stderr}"
    );
    let (_, stderr) = run(common::isolated(home.path())
        .current_dir(data.join("run"))
        .arg("ckpz"));
    assert!(stderr.contains("is not a subcommand"), "{stderr}");
}

#[test]
fn a_snapshot_path_that_is_not_a_snapshot_says_why() {
    if !privileged() {
        return;
    }
    let fs = LoopFs::new("btrfs", 128);
    let data = fs.path("data");
    btrfs(&["subvolume", "create", data.to_str().unwrap()]);
    std::fs::create_dir_all(data.join("ckpt")).unwrap();
    std::fs::write(data.join("ckpt/a.pth"), b"weights").unwrap();
    snapshot(&data, &fs.path("snaps/A"));
    std::fs::remove_file(data.join("ckpt/a.pth")).unwrap();
    let state = tempfile::tempdir().unwrap();
    let deleted = |given: &std::path::Path| {
        json(
            state.path(),
            args!["deleted", data.join("ckpt"), "--snapshot", given],
        )
    };
    let (code, _, stderr) = deleted(&data);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("writable subvolume"), "{stderr}");
    assert!(stderr.contains("read-only snapshot"), "{stderr}");
    let (code, _, stderr) = deleted(&fs.path("snaps/A/ckpt"));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("folder inside subvolume"), "{stderr}");
    let (code, _, stderr) = deleted(&fs.path("nothing-here"));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("nothing exists there"), "{stderr}");
    // The root of a listed snapshot, by its path on this machine, is that snapshot.
    let (code, doc, stderr) = deleted(&fs.path("snaps/A"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(doc["deleted"][0]["path"], "a.pth", "{doc}");
}

/// `--version` says which build this is: version, the git commit, the target.
#[test]
fn the_version_names_its_commit_and_target() {
    let out = Command::new(env!("CARGO_BIN_EXE_snaprescue"))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let head = git_head();
    assert!(out.status.success());
    assert!(
        text.starts_with(&format!(
            "snaprescue {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    assert!(text.contains("x86_64-unknown-linux-gnu)"), "{text}");
    if let Some(head) = head {
        assert!(text.contains(&head[..12]), "{text} vs {head}");
    }
}

/// The commit this checkout is at, when it is a git checkout.
fn git_head() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
