//! Safety rule 5 on real btrfs and ext4 loop volumes, through the real binary: a link in the
//! snapshot is never followed out of it (above, at and below PATH), a link planted in the
//! live tree or in `--to` is never written through; and the seed's own accident (a whole run
//! folder removed with `rm -rf`, PATH gone; PATH a deleted file) restores through the same
//! path the wizard takes.

mod common;

use common::snapshot_lab::*;
use common::*;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

#[test]
fn a_link_in_the_snapshot_above_path_is_refused_naming_link_and_target() {
    if !privileged() {
        return;
    }
    let host = tempfile::tempdir().unwrap();
    fs::write(host.path().join("shadow"), "host secret").unwrap();
    let (vol, id) = volume(|data| {
        fs::create_dir(data.join("proj")).unwrap();
        symlink(host.path(), data.join("proj/models")).unwrap();
    });
    let state = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let live = vol.path("data/proj/models/shadow");
    // With the live link still there, PATH names the host directory: no snapshot serves
    // it, and nothing is written anywhere.
    let (code, _, err) = restore(
        state.path(),
        &live,
        &id,
        &["--to", out.path().to_str().unwrap()],
    );
    assert_eq!(code, 1, "{err}");
    // The rm -rf took the live link too: PATH is looked up in the snapshot, where the link
    // is, and refused.
    fs::remove_file(vol.path("data/proj/models")).unwrap();
    let (code, _, err) = restore(
        state.path(),
        &live,
        &id,
        &["--to", out.path().to_str().unwrap()],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("models is a symbolic link"), "{err}");
    assert!(
        err.contains(&host.path().display().to_string()),
        "names the target: {err}"
    );
    assert!(all_names(out.path()).is_empty(), "nothing copied into --to");
    let (code, _, err) = restore(state.path(), &live, &id, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        !vol.path("data/proj/models").exists(),
        "nothing created in the live tree"
    );
    assert_eq!(
        fs::read_to_string(host.path().join("shadow")).unwrap(),
        "host secret"
    );
    // `deleted` refuses the same way: it never lists the host's files.
    let (code, _, err) = json(state.path(), args!["deleted", live, "--snapshot", id]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
}

#[test]
fn path_that_is_a_link_in_the_snapshot_comes_back_as_the_link() {
    if !privileged() {
        return;
    }
    let (vol, id) = volume(|data| {
        fs::create_dir(data.join("proj")).unwrap();
        symlink("/etc", data.join("proj/models")).unwrap();
    });
    fs::remove_file(vol.path("data/proj/models")).unwrap();
    let state = tempfile::tempdir().unwrap();
    let live = vol.path("data/proj/models");
    let (code, doc, err) = restore(state.path(), &live, &id, &[]);
    assert_eq!(code, 0, "{err} {doc}");
    assert_eq!(fs::read_link(&live).unwrap(), Path::new("/etc"));
    assert_eq!(doc["restored"].as_array().unwrap().len(), 1, "{doc}");
    fs::remove_file(&live).unwrap();
    let out = tempfile::tempdir().unwrap();
    let (code, _, err) = restore(
        state.path(),
        &live,
        &id,
        &["--to", out.path().to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        all_names(out.path()),
        ["models"],
        "the link itself, nothing of /etc"
    );
    assert!(
        fs::symlink_metadata(out.path().join("models"))
            .unwrap()
            .is_symlink()
    );
}

/// A link planted where the snapshot has a directory, in the live tree and in `--to`: the
/// restore never writes through it, reports it once, and keep-both restores beside it.
#[test]
fn links_planted_in_the_live_tree_and_in_to_are_never_written_through() {
    if !privileged() {
        return;
    }
    let (vol, id) = volume(|data| {
        fs::create_dir_all(data.join("proj/sub/deep")).unwrap();
        fs::write(data.join("proj/sub/b.txt"), "b").unwrap();
        fs::write(data.join("proj/sub/deep/c.txt"), "c").unwrap();
        fs::write(data.join("proj/a.txt"), "a").unwrap();
    });
    let elsewhere = tempfile::tempdir().unwrap();
    let live = vol.path("data/proj");
    fs::remove_dir_all(&live).unwrap();
    fs::create_dir(&live).unwrap();
    symlink(elsewhere.path(), live.join("sub")).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = restore(state.path(), &live, &id, &[]);
    assert!(
        all_names(elsewhere.path()).is_empty(),
        "written through the link: {doc}"
    );
    assert_eq!(code, 0, "a skipped conflict is not a failure: {err}");
    assert_eq!(fs::read_to_string(live.join("a.txt")).unwrap(), "a");
    let skipped = doc["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "reported once: {doc}");
    let reason = skipped[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("symbolic link") && reason.contains("3 entries"),
        "{reason}"
    );
    let (code, doc, err) = restore(state.path(), &live, &id, &["--conflict", "keep-both"]);
    assert_eq!(code, 0, "{err} {doc}");
    assert!(all_names(elsewhere.path()).is_empty());
    let beside: Vec<String> = all_names(&live)
        .into_iter()
        .filter(|n| n.starts_with("sub.restored-"))
        .collect();
    assert_eq!(
        beside.len(),
        4,
        "the directory, b.txt, deep, deep/c.txt: {beside:?}"
    );
    // --to with a planted link.
    let to = tempfile::tempdir().unwrap();
    let elsewhere2 = tempfile::tempdir().unwrap();
    symlink(elsewhere2.path(), to.path().join("sub")).unwrap();
    let (code, doc, err) = restore(
        state.path(),
        &live,
        &id,
        &["--to", to.path().to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err} {doc}");
    assert!(
        all_names(elsewhere2.path()).is_empty(),
        "written through --to's link"
    );
    assert_eq!(fs::read_to_string(to.path().join("a.txt")).unwrap(), "a");
    restore_lab::no_temp_files(&live);
    restore_lab::no_temp_files(to.path());
}

/// The seed's accident: `rm -rf checkpoints/run-20250405` (the parent survives), then the
/// restore of that gone folder, through the session the wizard uses and through the CLI.
#[test]
fn a_whole_folder_removed_comes_back_through_cli_and_wizard_path() {
    if !privileged() {
        return;
    }
    let weights: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (vol, id) = volume(|data| {
        let run = data.join("exp/checkpoints/run-20250405");
        fs::create_dir_all(run.join("ckpt")).unwrap();
        fs::write(run.join("ckpt/epoch_10.pth"), &weights).unwrap();
        fs::write(run.join("config.yaml"), "lr: 0.1").unwrap();
    });
    let run = vol.path("data/exp/checkpoints/run-20250405");
    fs::remove_dir_all(vol.path("data/exp/checkpoints")).unwrap();
    // The wizard's path: Session::restore with the deleted roots selected.
    let session = snaprescue::session::Session::open(&run, &Default::default()).unwrap();
    let snap = session.snapshot(&id).unwrap().clone();
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let (opened, tree) = session.diff(&snap, &cancel).unwrap();
    // As the picker's "select all deleted" does: the topmost deleted entries.
    let deleted: Vec<_> = tree
        .with_status(snaprescue::engine::diff::EntryStatus::Deleted)
        .map(|e| e.path.clone())
        .collect();
    let selection: Vec<_> = deleted
        .iter()
        .filter(|p| {
            p.parent()
                .is_none_or(|parent| !deleted.iter().any(|d| d == parent))
        })
        .cloned()
        .collect();
    assert_eq!(selection.len(), 2, "{selection:?}");
    let (_, report) = session
        .restore(
            &opened,
            &selection,
            None,
            snaprescue::engine::restore_plan::ConflictPolicy::Skip,
            &cancel,
            &mut |_| {},
        )
        .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(fs::read(run.join("ckpt/epoch_10.pth")).unwrap(), weights);
    assert_eq!(
        fs::read_to_string(run.join("config.yaml")).unwrap(),
        "lr: 0.1"
    );
    let snap_dir = vol.path("snaps/s1/exp/checkpoints");
    restore_lab::assert_same_file(&snap_dir, &vol.path("data/exp/checkpoints"));
    drop(opened);
    // The CLI, after the same accident again.
    fs::remove_dir_all(vol.path("data/exp/checkpoints")).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = restore(state.path(), &run, &id, &["--only-deleted"]);
    assert_eq!(code, 0, "{err} {doc}");
    assert_eq!(fs::read(run.join("ckpt/epoch_10.pth")).unwrap(), weights);
    restore_lab::no_temp_files(&vol.path("data"));
}

#[test]
fn path_that_is_a_deleted_file_restores_that_file_alone() {
    if !privileged() {
        return;
    }
    let (vol, id) = volume(|data| {
        fs::create_dir_all(data.join("ckpt")).unwrap();
        fs::write(data.join("ckpt/epoch_10.pth"), "ten").unwrap();
        fs::write(data.join("ckpt/epoch_20.pth"), "twenty").unwrap();
    });
    fs::remove_dir_all(vol.path("data/ckpt")).unwrap();
    let state = tempfile::tempdir().unwrap();
    let file = vol.path("data/ckpt/epoch_20.pth");
    let (code, doc, err) = restore(state.path(), &file, &id, &[]);
    assert_eq!(code, 0, "{err} {doc}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "twenty");
    assert_eq!(all_names(&vol.path("data/ckpt")), ["epoch_20.pth"]);
    let out = snaprescue(
        state.path(),
        args![
            "restore",
            file,
            "--snapshot",
            id,
            "--to",
            vol.path("elsewhere")
        ],
    );
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("restored epoch_20.pth"),
        "names the file: {text}"
    );
    assert_eq!(
        fs::read_to_string(vol.path("elsewhere/epoch_20.pth")).unwrap(),
        "twenty"
    );
}

/// ext4 as the destination of a cross-filesystem restore with a planted link in `--to`.
#[test]
fn an_ext4_destination_with_a_planted_link_is_safe_too() {
    if !privileged() {
        return;
    }
    let (vol, id) = volume(|data| {
        fs::create_dir_all(data.join("proj/ckpt")).unwrap();
        fs::write(data.join("proj/ckpt/e.pth"), vec![7u8; 1 << 20]).unwrap();
    });
    let ext4 = LoopFs::new("ext4", 64);
    let elsewhere = tempfile::tempdir().unwrap();
    symlink(elsewhere.path(), ext4.path("ckpt")).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = restore(
        state.path(),
        &vol.path("data/proj"),
        &id,
        &[
            "--to",
            ext4.mount.to_str().unwrap(),
            "--conflict",
            "keep-both",
        ],
    );
    assert_eq!(code, 0, "{err} {doc}");
    assert!(all_names(elsewhere.path()).is_empty());
    let restored = doc["restored"].as_array().unwrap();
    let file = restored.iter().find(|r| r["kind"] == "file").unwrap();
    assert_eq!(file["method"], "copy");
    assert_eq!(
        fs::read(file["target"].as_str().unwrap()).unwrap(),
        vec![7u8; 1 << 20]
    );
}

/// PATH resolved when the session opened; a link swapped in for one of its directories
/// afterwards (the wizard waits while the user browses) is refused, never followed.
#[test]
fn a_link_swapped_in_after_the_session_opened_is_refused_not_followed() {
    if !privileged() {
        return;
    }
    let (vol, id) = volume(|data| {
        fs::create_dir_all(data.join("proj/sub")).unwrap();
        fs::write(data.join("proj/sub/b.txt"), "b").unwrap();
    });
    let sub = vol.path("data/proj/sub");
    fs::remove_dir_all(&sub).unwrap();
    let session = snaprescue::session::Session::open(&sub, &Default::default()).unwrap();
    let snap = session.snapshot(&id).unwrap().clone();
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let (opened, _) = session.diff(&snap, &cancel).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    fs::rename(vol.path("data/proj"), vol.path("data/proj.real")).unwrap();
    symlink(elsewhere.path(), vol.path("data/proj")).unwrap();
    let restored = session.restore(
        &opened,
        &[std::path::PathBuf::new()],
        None,
        snaprescue::engine::restore_plan::ConflictPolicy::Skip,
        &cancel,
        &mut |_| {},
    );
    assert!(all_names(elsewhere.path()).is_empty(), "{restored:?}");
    let err = restored.unwrap_err().to_string();
    assert!(err.contains("is a symbolic link"), "{err}");
    // The link is swapped in below an existing directory after planning: the restore
    // opens the resolved path without following links and refuses the same way.
    fs::remove_file(vol.path("data/proj")).unwrap();
    fs::rename(vol.path("data/proj.real"), vol.path("data/proj")).unwrap();
    let planned = snaprescue::engine::restore_plan::plan(
        &opened.dir,
        &sub,
        &[std::path::PathBuf::new()],
        snaprescue::engine::restore_plan::ConflictPolicy::Skip,
        "t",
    )
    .unwrap();
    fs::rename(vol.path("data/proj"), vol.path("data/proj.real")).unwrap();
    symlink(elsewhere.path(), vol.path("data/proj")).unwrap();
    let report = snaprescue::engine::restore::execute(&planned, &cancel, &mut |_| {});
    assert!(all_names(elsewhere.path()).is_empty(), "{report:?}");
    assert!(report.restored.is_empty(), "{report:?}");
    assert_eq!(report.failed.len(), 1, "one clear failure: {report:?}");
    assert!(
        report.failed[0].reason.contains("symbolic link"),
        "{report:?}"
    );
}
