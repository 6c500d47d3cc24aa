//! Pinning on Tencent Cloud CBS through the real binary against the stand-in: a snapshot's
//! deadline is its `expires`; `pin` makes it permanent (ModifySnapshotAttribute
//! IsPermanent), journaled; `unpin` puts the deadline back while it is ahead, and keeps the
//! snapshot permanent (saying why) when it has passed; a permanent snapshot needs no pin;
//! a run killed after pinning leaves a pin that `cleanup` names and does not undo.

mod common;

use common::cbs_lab::*;
use common::privileged;
use serde_json::{Value, json};

fn cbs_snapshot(id: &str, deadline: Option<&str>) -> Value {
    json!({"SnapshotId": id, "SnapshotName": format!("nightly {id}"), "SnapshotState": "NORMAL", "Percent": 100,
           "DiskId": DISK, "DiskSize": 50, "DiskUsage": "DATA_DISK", "Encrypt": false,
           "CreateTime": "2026-11-27 10:00:00", "DeadlineTime": deadline, "IsPermanent": deadline.is_none(), "Tags": []})
}

/// A deadline `seconds` from now, as CBS writes it (UTC+8).
fn cbs_time_in(seconds: i64) -> String {
    let china = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    (chrono::Utc::now() + chrono::Duration::seconds(seconds))
        .with_timezone(&china)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn lab() -> Option<Cbs> {
    start(json!({"snapshots": [
        cbs_snapshot(SNAPSHOT, Some("2026-12-27 10:00:00")),
        cbs_snapshot("snap-data0002", None),
        cbs_snapshot("snap-data0005", Some(&cbs_time_in(20))),
    ]}))
}

fn run(cbs: &Cbs, command: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Value, String) {
    let mut args = command.to_vec();
    args.push(cbs.live.to_str().unwrap());
    args.extend(["--json"]);
    args.extend(cloud_args());
    cbs.run(&args, env)
}

fn server_snapshot(cbs: &Cbs, id: &str) -> Value {
    cbs.server_state()["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["SnapshotId"] == id)
        .unwrap()
        .clone()
}

fn listed(cbs: &Cbs, id: &str) -> Value {
    let (code, doc, stderr) = run(cbs, &["snapshots"], &[]);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    doc["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed: {doc}"))
        .clone()
}

#[test]
fn pin_makes_it_permanent_and_unpin_puts_the_deadline_back() {
    if !privileged() {
        return;
    }
    let Some(cbs) = lab() else { return };
    let before = listed(&cbs, SNAPSHOT);
    assert_eq!(before["expires"], "2026-12-27T02:00:00Z", "{before}");
    assert_eq!(before["expiry_rule"], Value::Null);
    assert_eq!(before["pinned"], false);
    let permanent = listed(&cbs, "snap-data0002");
    assert_eq!(permanent["expires"], Value::Null);
    assert_eq!(permanent["pinned"], false);

    let (code, pinned, stderr) = run(&cbs, &["pin", "--snapshot", SNAPSHOT], &[]);
    assert_eq!(code, Some(0), "{pinned} {stderr}");
    assert_eq!(pinned["changed"], true, "{pinned}");
    assert!(
        pinned["unpin"]
            .as_str()
            .unwrap()
            .contains("snaprescue unpin"),
        "{pinned}"
    );
    let on_server = server_snapshot(&cbs, SNAPSHOT);
    assert_eq!(on_server["IsPermanent"], true);
    assert_eq!(on_server["DeadlineTime"], Value::Null);
    let after = listed(&cbs, SNAPSHOT);
    assert_eq!(after["pinned"], true, "{after}");
    assert_eq!(after["expires"], Value::Null);
    // Pinned twice: the first record stays (its prior state is the one to restore).
    let (_, again, _) = run(&cbs, &["pin", "--snapshot", SNAPSHOT], &[]);
    assert_eq!(again["changed"], false, "{again}");
    assert!(
        again["said"].as_str().unwrap().contains("already pinned"),
        "{again}"
    );

    let (code, unpinned, stderr) = run(&cbs, &["unpin", "--snapshot", SNAPSHOT], &[]);
    assert_eq!(code, Some(0), "{unpinned} {stderr}");
    assert_eq!(unpinned["fully_undone"], true, "{unpinned}");
    let on_server = server_snapshot(&cbs, SNAPSHOT);
    assert_eq!(on_server["IsPermanent"], false);
    assert_eq!(on_server["DeadlineTime"], "2026-12-27 10:00:00");
    assert_eq!(listed(&cbs, SNAPSHOT)["pinned"], false);
    let modify = cbs.calls("ModifySnapshotAttribute");
    assert_eq!(modify.len(), 2, "{modify:?}");

    // A permanent snapshot needs no pin, and nothing is sent.
    let (code, none, _) = run(&cbs, &["pin", "--snapshot", "snap-data0002"], &[]);
    assert_eq!(code, Some(0));
    assert_eq!(none["changed"], false);
    assert!(
        none["said"]
            .as_str()
            .unwrap()
            .contains("permanently already"),
        "{none}"
    );
    assert_eq!(cbs.calls("ModifySnapshotAttribute").len(), 2);
}

#[test]
fn a_deadline_that_passed_is_not_restored_and_unknown_ids_are_refused() {
    if !privileged() {
        return;
    }
    let Some(cbs) = lab() else { return };
    let (code, pinned, stderr) = run(&cbs, &["pin", "--snapshot", "snap-data0005"], &[]);
    assert_eq!(code, Some(0), "{pinned} {stderr}");
    assert_eq!(pinned["changed"], true);
    // Its deadline (20 s after the lab started) is now less than a minute away.
    let (code, unpinned, _) = run(&cbs, &["unpin", "--snapshot", "snap-data0005"], &[]);
    assert_eq!(code, Some(0));
    assert_eq!(unpinned["fully_undone"], false, "{unpinned}");
    let why = unpinned["not_undone"][0].as_str().unwrap();
    assert!(
        why.contains("stays permanent") && why.contains("delete the snapshot at once"),
        "{why}"
    );
    assert_eq!(server_snapshot(&cbs, "snap-data0005")["IsPermanent"], true);

    let (code, doc, _) = run(&cbs, &["pin", "--snapshot", "snap-nope"], &[]);
    assert_eq!(code, Some(1));
    let error = doc["error"].as_str().unwrap();
    assert!(
        error.contains("unknown snapshot id `snap-nope`") && error.contains(SNAPSHOT),
        "{error}"
    );
    let (code, _, _) = run(&cbs, &["pin", "--snapshot", SNAPSHOT, "--days", "0"], &[]);
    assert_eq!(code, Some(2), "--days 0 is bad usage");
}

#[test]
fn a_run_killed_after_pinning_leaves_a_pin_that_cleanup_names_and_keeps() {
    if !privileged() {
        return;
    }
    let Some(cbs) = lab() else { return };
    let (code, _, _) = run(
        &cbs,
        &["pin", "--snapshot", SNAPSHOT],
        &[("SNAPRESCUE_CRASH_AT", "pin:done")],
    );
    assert_eq!(code, None, "killed by SIGKILL");
    assert_eq!(server_snapshot(&cbs, SNAPSHOT)["IsPermanent"], true);
    let (code, doc, stderr) = cbs.run(&["cleanup", "--json"], &[]);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    let kept = &doc["pins_kept"];
    assert_eq!(kept.as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(kept[0]["snapshot"], SNAPSHOT);
    assert_eq!(kept[0]["source"], "tencent");
    assert!(
        kept[0]["unpin"]
            .as_str()
            .unwrap()
            .contains(&format!("--snapshot {SNAPSHOT} --source tencent"))
    );
    assert_eq!(
        server_snapshot(&cbs, SNAPSHOT)["IsPermanent"],
        true,
        "cleanup never unpins"
    );
    assert_eq!(listed(&cbs, SNAPSHOT)["pinned"], true);
}

#[test]
fn a_pin_killed_before_its_request_is_finished_by_the_next_pin_with_the_first_prior_state() {
    if !privileged() {
        return;
    }
    let Some(cbs) = lab() else { return };
    let (code, _, _) = run(
        &cbs,
        &["pin", "--snapshot", SNAPSHOT],
        &[("SNAPRESCUE_CRASH_AT", "pin:start")],
    );
    assert_eq!(code, None, "killed by SIGKILL");
    assert!(
        cbs.calls("ModifySnapshotAttribute").is_empty(),
        "killed before the request"
    );
    let (_, doc, _) = cbs.run(&["cleanup", "--json"], &[]);
    assert!(
        doc["pins_kept"][0]["did"].is_null(),
        "named as asked for, answer not recorded: {doc}"
    );
    let (code, pinned, stderr) = run(&cbs, &["pin", "--snapshot", SNAPSHOT], &[]);
    assert_eq!(code, Some(0), "{pinned} {stderr}");
    assert_eq!(pinned["changed"], true, "{pinned}");
    assert_eq!(server_snapshot(&cbs, SNAPSHOT)["IsPermanent"], true);
    let (_, unpinned, _) = run(&cbs, &["unpin", "--snapshot", SNAPSHOT], &[]);
    assert_eq!(unpinned["fully_undone"], true, "{unpinned}");
    assert_eq!(
        server_snapshot(&cbs, SNAPSHOT)["DeadlineTime"],
        "2026-12-27 10:00:00",
        "the deadline from before the first, interrupted pin"
    );
}
