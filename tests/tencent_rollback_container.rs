//! The online rollback refuses while another mount namespace (a container) still has the
//! disk mounted: detaching it would pull it from under that container. Alone in its test
//! binary, so that the namespace it makes never holds another test's disk.

mod common;

use common::cbs_lab::*;
use common::{Children, privileged};
use serde_json::json;

#[test]
fn a_container_still_holding_the_disk_stops_the_online_rollback() {
    if !privileged() {
        return;
    }
    let Some(cbs) = start(json!({})) else { return };
    // A new mount namespace; the loop mounts it copied other than our disk are let go at
    // once (with nsenter, argv only).
    let container = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sleep", "60"])
        .current_dir("/")
        .spawn()
        .unwrap();
    let pid = container.id();
    let _container = Children(vec![container]);
    let ours = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    while std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .ok()
        .as_ref()
        == Some(&ours)
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let copied = std::fs::read_to_string(format!("/proc/{pid}/mounts")).unwrap();
    let others: Vec<&str> = copied
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (device, point) = (f.next()?, f.next()?);
            (device.starts_with("/dev/loop") && point != cbs.live.to_str()?).then_some(point)
        })
        .collect();
    for point in others.iter().rev() {
        let pid = pid.to_string();
        let _ = std::process::Command::new("nsenter")
            .args(["-t", &pid, "-m", "umount", "-l", point])
            .status();
    }
    let theirs = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    assert!(theirs.contains(cbs.live.to_str().unwrap()), "{theirs}");
    let mut args = vec![
        "rollback",
        cbs.live.to_str().unwrap(),
        "--snapshot",
        SNAPSHOT,
        "--confirm",
        DISK,
        "--json",
    ];
    args.extend(cloud_args());
    let (code, doc, _) = cbs.run_here(&args, &[]);
    assert_eq!(code, Some(1));
    let error = doc["error"].as_str().unwrap();
    assert!(
        error.contains("another mount namespace") && error.contains(&format!("pid {pid}")),
        "{error}"
    );
    assert!(mounted(&cbs.live));
    assert!(
        !cbs.actions()
            .iter()
            .any(|a| a == "DetachDisks" || a == "CreateSnapshot")
    );
}
