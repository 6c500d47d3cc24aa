//! `restore` refusals and failures on real filesystems: a destination without the space is
//! refused before anything is copied, a read-only one is refused, and files that cannot be
//! written are listed with the reason while the rest is restored.

mod common;
use common::restore_lab::*;
use common::*;
use std::fs;

#[test]
fn a_full_destination_is_refused_before_anything_is_copied() {
    if !privileged() {
        return;
    }
    let lab = lab();
    fs::write(lab.live().join("big.bin"), vec![0x5A; 40 << 20]).unwrap();
    let data = lab.fs.path("data");
    snapshot(&data, &lab.fs.path("snaps/s2"));
    let state = tempfile::tempdir().unwrap();
    let (_, doc, _) = json(state.path(), args!["snapshots", lab.live()]);
    let s2 = doc["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"] == "snaps/s2")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let small = LoopFs::new("ext4", 16);
    let dest = small.path("out");
    let (code, doc, _) = json(
        state.path(),
        args!["restore", lab.live(), "--snapshot", s2, "--to", dest],
    );
    assert_eq!(code, 1);
    let message = doc["error"].as_str().unwrap();
    assert!(
        message.contains("not enough space") && message.contains("nothing was copied"),
        "{message}"
    );
    assert!(
        !dest.exists() || fs::read_dir(&dest).unwrap().next().is_none(),
        "something was written"
    );
}

#[test]
fn a_read_only_destination_is_refused() {
    if !privileged() {
        return;
    }
    let lab = lab();
    let mut ro = LoopFs::new("ext4", 32);
    fs::create_dir(ro.path("out")).unwrap();
    ro.unmount();
    ro.mount_with("ro");
    let (code, doc, _) = lab.restore(args!["--to", ro.path("out")]);
    assert_eq!(code, 1);
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("read-only filesystem"),
        "{doc}"
    );
}

#[test]
fn failures_are_listed_and_the_rest_goes_on() {
    if !privileged() {
        return;
    }
    let lab = lab();
    let ext4 = LoopFs::new("ext4", 200);
    let dest = ext4.path("out");
    fs::create_dir_all(dest.join("ckpt")).unwrap();
    sh("chattr", &["+i", dest.join("ckpt").to_str().unwrap()]);
    let (code, report, _) = lab.restore(args!["--to", dest]);
    sh("chattr", &["-i", dest.join("ckpt").to_str().unwrap()]);
    assert_eq!(code, 1, "failures make the exit status 1");
    let failed: Vec<&str> = report["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(failed.contains(&"ckpt/e1.pth"), "{report}");
    assert!(
        report["failed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("Operation not permitted"),
        "{report}"
    );
    assert_same_file(&lab.snap().join("mode.txt"), &dest.join("mode.txt"));
    no_temp_files(&dest);
}
