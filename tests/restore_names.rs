//! Names and links that broke restores, on a real btrfs loop volume through the real binary:
//! a 255-byte name (the temporary name must still fit), names with control characters
//! (escaped in human output, exact in JSON), hard links (back as hard links), and keep-both
//! twice in one second (unique names).

mod common;

use common::snapshot_lab::*;
use common::*;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

fn long_name() -> String {
    format!("{}.pth", "w".repeat(251))
}

#[test]
fn a_255_byte_name_is_restored_and_kept_beside() {
    if !privileged() {
        return;
    }
    let name = long_name();
    assert_eq!(name.len(), 255);
    let (vol, id) = volume(|data| {
        fs::create_dir(data.join("proj")).unwrap();
        fs::write(data.join("proj").join(&name), "long").unwrap();
    });
    let live = vol.path("data/proj");
    fs::remove_file(live.join(&name)).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (code, doc, err) = json(state.path(), args!["restore", live, "--snapshot", id]);
    assert_eq!(code, 0, "{err} {doc}");
    assert_eq!(fs::read_to_string(live.join(&name)).unwrap(), "long");
    // Changed live, restored beside it: the keep-both name is shortened to fit.
    fs::write(live.join(&name), "changed").unwrap();
    let (code, doc, err) = json(
        state.path(),
        args!["restore", live, "--snapshot", id, "--conflict", "keep-both"],
    );
    assert_eq!(code, 0, "{err} {doc}");
    let beside: Vec<_> = fs::read_dir(&live)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.as_bytes().windows(10).any(|w| w == b".restored-"))
        .collect();
    assert_eq!(beside.len(), 1, "{beside:?}");
    assert!(beside[0].len() <= 255);
    assert_eq!(fs::read_to_string(live.join(&beside[0])).unwrap(), "long");
    restore_lab::no_temp_files(&live);
}

#[test]
fn control_characters_in_names_are_escaped_for_people_and_exact_in_json() {
    if !privileged() {
        return;
    }
    let evil = OsStr::from_bytes(b"x\x1b]0;owned\x07\nFAKE LINE.pth");
    let (vol, id) = volume(|data| {
        fs::create_dir(data.join("proj")).unwrap();
        fs::write(data.join("proj").join(evil), "data").unwrap();
    });
    let live = vol.path("data/proj");
    fs::remove_file(live.join(evil)).unwrap();
    let state = tempfile::tempdir().unwrap();
    for command in ["deleted", "restore"] {
        let out = snaprescue(state.path(), args![command, live, "--snapshot", id]);
        let text = [out.stdout.clone(), out.stderr.clone()].concat();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&text));
        assert!(!text.contains(&0x1b), "raw ESC printed by {command}");
        assert!(!text.contains(&0x07), "raw BEL printed by {command}");
        let shown = String::from_utf8_lossy(&text);
        assert!(
            shown.contains(r"x\u{1b}]0;owned\u{7}\nFAKE LINE.pth"),
            "{shown}"
        );
        assert!(
            !shown.lines().any(|l| l.starts_with("FAKE LINE")),
            "{shown}"
        );
        fs::remove_file(live.join(evil)).ok();
    }
    let (code, doc, _) = json(state.path(), args!["restore", live, "--snapshot", id]);
    assert_eq!(code, 0);
    let files: Vec<_> = doc["restored"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "file")
        .collect();
    assert_eq!(
        files[0]["path"], "x\u{1b}]0;owned\u{7}\nFAKE LINE.pth",
        "JSON keeps the exact name"
    );
    assert_eq!(fs::read_to_string(live.join(evil)).unwrap(), "data");
}

#[test]
fn hard_links_come_back_as_hard_links() {
    if !privileged() {
        return;
    }
    let (vol, id) = volume(|data| {
        fs::create_dir_all(data.join("proj/a")).unwrap();
        fs::create_dir_all(data.join("proj/b")).unwrap();
        fs::write(data.join("proj/a/model.pth"), vec![5u8; 300_000]).unwrap();
        fs::hard_link(
            data.join("proj/a/model.pth"),
            data.join("proj/b/latest.pth"),
        )
        .unwrap();
        fs::hard_link(data.join("proj/a/model.pth"), data.join("proj/a/best.pth")).unwrap();
    });
    let live = vol.path("data/proj");
    fs::remove_dir_all(&live).unwrap();
    let state = tempfile::tempdir().unwrap();
    let to = LoopFs::new("ext4", 64);
    for dest in [live.clone(), to.mount.clone()] {
        let (code, doc, err) = json(
            state.path(),
            args!["restore", live, "--snapshot", id, "--to", dest],
        );
        assert_eq!(code, 0, "{err} {doc}");
        let inode = |p: &str| fs::metadata(dest.join(p)).unwrap().ino();
        assert_eq!(inode("a/model.pth"), inode("b/latest.pth"), "{doc}");
        assert_eq!(inode("a/model.pth"), inode("a/best.pth"));
        assert_eq!(fs::metadata(dest.join("a/model.pth")).unwrap().nlink(), 3);
        assert_eq!(
            fs::read(dest.join("b/latest.pth")).unwrap(),
            vec![5u8; 300_000]
        );
        let methods: Vec<_> = doc["restored"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["method"].as_str())
            .collect();
        assert_eq!(
            methods.iter().filter(|m| **m == "hard_link").count(),
            2,
            "{methods:?}"
        );
    }
}

#[test]
fn keep_both_twice_in_one_second_gives_unique_names() {
    if !privileged() {
        return;
    }
    let (vol, id) = volume(|data| {
        fs::create_dir(data.join("proj")).unwrap();
        fs::write(data.join("proj/e.pth"), "snap").unwrap();
        fs::write(data.join("proj/sub"), "a file in the snapshot").unwrap();
    });
    let live = vol.path("data/proj");
    fs::write(live.join("e.pth"), "live").unwrap();
    let state = tempfile::tempdir().unwrap();
    let beside = || -> Vec<String> {
        fs::read_dir(&live)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("e.pth.restored-"))
            .collect()
    };
    for run in 0..3 {
        let (code, doc, err) = json(
            state.path(),
            args!["restore", live, "--snapshot", id, "--conflict", "keep-both"],
        );
        assert_eq!(code, 0, "{err} {doc}");
        assert_eq!(beside().len(), run + 1, "{doc}");
        // The copy is changed afterwards, so the next run must make another: a new name.
        for name in beside() {
            fs::write(live.join(name), "edited copy").unwrap();
        }
    }
    // A copy identical to the snapshot's file already beside it: not copied again.
    let (_, _, _) = json(
        state.path(),
        args!["restore", live, "--snapshot", id, "--conflict", "keep-both"],
    );
    let (code, doc, err) = json(
        state.path(),
        args!["restore", live, "--snapshot", id, "--conflict", "keep-both"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(beside().len(), 4, "{doc}");
    let skipped = doc["skipped"].to_string();
    assert!(skipped.contains("already restored beside it"), "{skipped}");
    assert!(
        skipped.contains("identical to the live file"),
        "sub is unchanged: {skipped}"
    );
    assert_eq!(fs::read_to_string(live.join("e.pth")).unwrap(), "live");
}

/// Two long directory names that shorten to the same keep-both name get two directories,
/// and the text says where each went.
#[test]
fn keep_both_never_merges_two_directories_into_one() {
    if !privileged() {
        return;
    }
    let a = format!("{}x", "A".repeat(254));
    let b = format!("{}y", "A".repeat(254));
    let (vol, id) = volume(|data| {
        for (name, text) in [(&a, "fromX"), (&b, "fromY")] {
            fs::create_dir_all(data.join("kb").join(name)).unwrap();
            fs::write(data.join("kb").join(name).join("same.txt"), text).unwrap();
        }
    });
    let live = vol.path("data/kb");
    for name in [&a, &b] {
        fs::remove_dir_all(live.join(name)).unwrap();
        fs::write(live.join(name), "now a file").unwrap();
    }
    let state = tempfile::tempdir().unwrap();
    let out = snaprescue(
        state.path(),
        args!["restore", live, "--snapshot", id, "--conflict", "keep-both"],
    );
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    let beside: Vec<_> = fs::read_dir(&live)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(beside.len(), 2, "{beside:?}");
    let mut contents: Vec<String> = beside
        .iter()
        .map(|d| fs::read_to_string(d.join("same.txt")).unwrap())
        .collect();
    contents.sort();
    assert_eq!(contents, ["fromX", "fromY"]);
    assert!(text.contains(" → "), "says where it went: {text}");
}

#[test]
fn error_messages_and_verify_lines_never_print_raw_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join(OsStr::from_bytes(b"x\x1b]0;EVIL\x07y"));
    fs::create_dir(&evil).unwrap();
    fs::write(evil.join("f.txt"), "x").unwrap();
    let state = tempfile::tempdir().unwrap();
    for args in [
        vec![OsStr::new("verify"), dir.path().as_os_str()],
        vec![OsStr::new("verify"), evil.join("missing.pth").as_os_str()],
        vec![OsStr::new("snapshots"), evil.join("deeper").as_os_str()],
    ] {
        let out = snaprescue(state.path(), &args);
        let text = [out.stdout.clone(), out.stderr.clone()].concat();
        assert!(
            !text.contains(&0x1b) && !text.contains(&0x07),
            "{}",
            String::from_utf8_lossy(&text)
        );
        assert!(
            String::from_utf8_lossy(&text).contains(r"x\u{1b}]0;EVIL\u{7}y"),
            "{}",
            String::from_utf8_lossy(&text)
        );
    }
}
