//! Prevention on Tencent Cloud CBS through the real binary against the stand-in
//! (tests/servers/tencent_cbs.py and tencent_policies.py, every signature checked by
//! Tencent's official signer): `protect` reads the policies bound to the disk
//! (DescribeDiskAssociatedAutoSnapshotPolicy), its type and encryption (DescribeDisks) and a
//! policy's remote copy; `snapshot` takes a tagged CreateSnapshot and waits for it; `--apply`
//! is refused until confirmed with the disk, then creates (or reuses) a policy and binds it,
//! once. No disk is mounted: PATH is a plain directory and `--disk` names the disk.

mod common;
use common::check;

use chrono::{Duration, FixedOffset, Utc};
use common::cbs_lab::{DISK, INSTANCE, SECRET_ID, SECRET_KEY, ZONE};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

const NAME: &str = "snaprescue-every12h-keep3d";

/// A time `hours` ago as CBS writes it (UTC+8).
fn cbs_time_ago(hours: i64) -> String {
    let china = FixedOffset::east_opt(8 * 3600).unwrap();
    (Utc::now() - Duration::hours(hours))
        .with_timezone(&china)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn snapshot(id: &str, hours_ago: i64) -> Value {
    json!({"SnapshotId": id, "SnapshotName": format!("nightly {id}"), "SnapshotState": "NORMAL",
           "Percent": 100, "DiskId": DISK, "DiskSize": 50, "DiskUsage": "DATA_DISK", "Encrypt": false,
           "CreateTime": cbs_time_ago(hours_ago), "DeadlineTime": null, "IsPermanent": true, "Tags": []})
}

fn disk(extra: Value) -> Value {
    let mut d = json!({"DiskId": DISK, "DiskState": "ATTACHED", "Attached": true, "InstanceId": INSTANCE,
        "DiskUsage": "DATA_DISK", "DiskType": "CLOUD_PREMIUM", "DiskSize": 50, "Portable": true,
        "Rollbacking": false, "Placement": {"Zone": ZONE}, "Tags": [], "Encrypt": false});
    d.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    d
}

fn policy(id: &str, name: &str, hours: &[u32], weekdays: &[u32], days: u32) -> Value {
    json!({"AutoSnapshotPolicyId": id, "AutoSnapshotPolicyName": name, "AutoSnapshotPolicyState": "NORMAL",
           "IsActivated": true, "IsPermanent": false, "RetentionDays": days,
           "Policy": [{"DayOfWeek": weekdays, "Hour": hours}], "DiskIdSet": [], "IsCopyToRemote": 0,
           "CreateTime": "2026-11-01 10:00:00"})
}

struct Lab {
    child: Child,
    url: String,
    state: PathBuf,
    home: tempfile::TempDir,
    /// PATH of the commands: a plain directory (`--disk` says which disk).
    dir: tempfile::TempDir,
    _server_dir: tempfile::TempDir,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The stand-in with `disk` and `extra` merged into its state; `None` (skipped) without the
/// test Python.
fn start(disk: Value, extra: Value) -> Option<Lab> {
    let python = common::moto::python()?;
    let mut state = json!({
        "secret_id": SECRET_ID,
        "secret_key": SECRET_KEY,
        "disks": [disk],
        "instances": [{"InstanceId": INSTANCE, "InstanceState": "RUNNING"}],
        "snapshots": [snapshot("snap-old00001", 48)],
    });
    state
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let server_dir = tempfile::tempdir().unwrap();
    let path = server_dir.path().join("state.json");
    std::fs::write(&path, state.to_string()).unwrap();
    let mut child = Command::new(python)
        .args([
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/servers/tencent_cbs.py"),
            path.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(server_dir.path().join("server.log")).unwrap())
        .spawn()
        .ok()?;
    let port = common::announced_port(&mut child, "the CBS stand-in");
    Some(Lab {
        child,
        url: format!("http://127.0.0.1:{port}"),
        state: path,
        home: tempfile::tempdir().unwrap(),
        dir: tempfile::tempdir().unwrap(),
        _server_dir: server_dir,
    })
}

impl Lab {
    /// `args[0]` PATH `args[1..]` with the cloud flags; exit code, the JSON and stderr.
    fn run(&self, args: &[&str]) -> (i32, Value, String) {
        let out = common::isolated(self.home.path())
            .arg(args[0])
            .arg(self.dir.path())
            .args(&args[1..])
            .args(["--source", "tencent", "--region", "ap-guangzhou"])
            .args(["--instance", INSTANCE, "--disk", DISK, "--json"])
            .env("SNAPRESCUE_TENCENT_CBS_ENDPOINT", &self.url)
            .env("SNAPRESCUE_TENCENT_CVM_ENDPOINT", &self.url)
            .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
            .env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
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

    fn server_state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&self.state).unwrap()).unwrap()
    }

    /// The parameters of every call of `action`.
    fn calls(&self, action: &str) -> Vec<Value> {
        std::fs::read_to_string(self.state.with_extension("json.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["action"] == action)
            .map(|r| r["params"].clone())
            .collect()
    }

    /// The disks each stored policy is bound to, by policy id.
    fn bindings(&self) -> Vec<(String, Value)> {
        self.server_state()["policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["AutoSnapshotPolicyId"].as_str().unwrap().to_string(),
                    p["DiskIdSet"].clone(),
                )
            })
            .collect()
    }
}

fn said(doc: &Value) -> String {
    doc["applied"]["said"].to_string()
}

#[test]
fn an_unprotected_data_disk_fails_and_apply_creates_and_binds_a_policy_once() {
    let Some(lab) = start(disk(json!({})), json!({})) else {
        return;
    };
    let (code, doc, err) = lab.run(&["protect"]);
    assert_eq!(code, 1, "{doc} {err}");
    for id in ["auto-policy", "policy-schedule"] {
        let c = check(&doc, id);
        assert_eq!(c["status"], "fail", "{c}");
        assert!(c["fix"].as_str().unwrap().ends_with("--apply"), "{c}");
    }
    assert_eq!(check(&doc, "data-on-system-disk")["status"], "ok");
    assert_eq!(check(&doc, "encryption")["status"], "warn");
    assert_eq!(check(&doc, "cross-region-copy")["status"], "warn");
    assert_eq!(check(&doc, "pre-run-snapshot")["status"], "warn");
    assert_eq!(check(&doc, "snapshot-recent")["status"], "warn", "48 h old");
    assert_eq!(
        lab.calls("DescribeDiskAssociatedAutoSnapshotPolicy")[0]["DiskId"],
        DISK
    );

    // The pre-run marker: named, tagged (the user's tag and snaprescue's), waited for.
    let (code, taken, err) = lab.run(&[
        "snapshot",
        "--name",
        "pre-run-7",
        "--tag",
        "run=7",
        "--wait",
    ]);
    assert_eq!(code, 0, "{taken} {err}");
    assert_eq!(taken["status"], "completed", "{taken}");
    let made = lab.calls("CreateSnapshot");
    assert_eq!(made.len(), 1);
    assert_eq!(made[0]["DiskId"], DISK);
    assert_eq!(made[0]["SnapshotName"], "pre-run-7");
    assert!(made[0].get("Deadline").is_none(), "permanent: {}", made[0]);
    let state = lab.server_state();
    let ours = state["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["SnapshotId"] == taken["id"])
        .unwrap();
    let tags = ours["Tags"].as_array().unwrap();
    assert!(
        tags.contains(&json!({"Key": "snaprescue", "Value": "pre-run"})),
        "{tags:?}"
    );
    assert!(
        tags.contains(&json!({"Key": "run", "Value": "7"})),
        "{tags:?}"
    );
    assert_eq!(ours["SnapshotName"], "pre-run-7");

    let (_, doc, _) = lab.run(&["protect"]);
    let pre_run = check(&doc, "pre-run-snapshot");
    assert_eq!(pre_run["status"], "ok", "{doc}");
    assert!(
        pre_run["message"].as_str().unwrap().contains("pre-run-7"),
        "{pre_run}"
    );
    assert_eq!(check(&doc, "snapshot-recent")["status"], "ok");

    // Unconfirmed: refused, naming the disk; nothing created or bound.
    let (code, doc, err) = lab.run(&["protect", "--apply"]);
    assert_eq!(code, 1, "{doc} {err}");
    assert!(
        format!("{doc}{err}").contains(&format!("--confirm {DISK}")),
        "{doc} {err}"
    );
    assert!(lab.calls("CreateAutoSnapshotPolicy").is_empty());
    assert!(lab.calls("BindAutoSnapshotPolicy").is_empty());
    assert!(lab.bindings().is_empty());

    let (code, doc, err) = lab.run(&["protect", "--apply", "--confirm", DISK]);
    assert_eq!(code, 0, "{doc} {err}");
    assert_eq!(doc["applied"]["changed"], true, "{doc} {err}");
    assert_eq!(check(&doc, "auto-policy")["status"], "ok", "{doc}");
    assert_eq!(check(&doc, "policy-schedule")["status"], "ok", "{doc}");
    let created = lab.calls("CreateAutoSnapshotPolicy");
    assert_eq!(created.len(), 1);
    assert_eq!(
        created[0]["Policy"],
        json!([{"DayOfWeek": [0, 1, 2, 3, 4, 5, 6], "Hour": [0, 12]}])
    );
    assert_eq!(created[0]["AutoSnapshotPolicyName"], NAME);
    assert_eq!(created[0]["RetentionDays"], 3);
    assert_eq!(created[0]["IsActivated"], true);
    assert_eq!(created[0]["IsPermanent"], false);
    let bound = lab.calls("BindAutoSnapshotPolicy");
    assert_eq!(bound.len(), 1);
    let id = lab.bindings()[0].0.clone();
    assert_eq!(bound[0]["AutoSnapshotPolicyId"], id.as_str());
    assert_eq!(bound[0]["DiskIds"], json!([DISK]));
    assert_eq!(lab.bindings(), vec![(id.clone(), json!([DISK]))]);
    let words = said(&doc);
    assert!(
        words.contains(&id) && words.contains("snapshots are billed by size"),
        "{words}"
    );

    let (code, again, err) = lab.run(&["protect", "--apply", "--confirm", DISK]);
    assert_eq!(code, 0, "{again} {err}");
    assert_eq!(again["applied"]["changed"], false, "{again}");
    assert!(said(&again).contains("nothing changed"), "{again}");
    assert_eq!(lab.calls("CreateAutoSnapshotPolicy").len(), 1);
    assert_eq!(lab.calls("BindAutoSnapshotPolicy").len(), 1);
}

#[test]
fn a_weak_bound_policy_fails_the_schedule_and_apply_binds_one_that_meets_it() {
    let mut weak = policy("asp-weak0001", "weekly", &[3], &[1], 2);
    weak["DiskIdSet"] = json!([DISK]);
    // Made by an earlier --apply whose bind never happened: reused, not made again.
    let ours = policy("asp-ours0001", NAME, &[0, 12], &[0, 1, 2, 3, 4, 5, 6], 3);
    let Some(lab) = start(disk(json!({})), json!({"policies": [weak.clone(), ours]})) else {
        return;
    };
    let (code, doc, _) = lab.run(&["protect"]);
    assert_eq!(code, 1);
    assert_eq!(check(&doc, "auto-policy")["status"], "ok", "{doc}");
    let schedule = check(&doc, "policy-schedule");
    assert_eq!(schedule["status"], "fail", "{schedule}");
    let message = schedule["message"].as_str().unwrap();
    assert!(
        message.contains("asp-weak0001") && message.contains("every 7 d"),
        "{schedule}"
    );

    let (code, doc, err) = lab.run(&["protect", "--apply", "--confirm", DISK]);
    assert_eq!(code, 0, "{doc} {err}");
    assert_eq!(doc["applied"]["changed"], true);
    assert!(lab.calls("CreateAutoSnapshotPolicy").is_empty(), "reused");
    let words = said(&doc);
    assert!(
        words.contains("reused") && words.contains("asp-weak0001 stays bound"),
        "{words}"
    );
    assert_eq!(
        lab.bindings(),
        vec![
            ("asp-weak0001".into(), json!([DISK])),
            ("asp-ours0001".into(), json!([DISK]))
        ]
    );
    assert_eq!(check(&doc, "policy-schedule")["status"], "ok", "{doc}");

    // Where CBS binds one policy per disk, the refusal says to unbind the weak one first;
    // the policy made for it is reused by the next run.
    let Some(lab) = start(
        disk(json!({})),
        json!({"policies": [weak], "one_policy_per_disk": true}),
    ) else {
        return;
    };
    let (code, doc, err) = lab.run(&["protect", "--apply", "--confirm", DISK]);
    assert_eq!(code, 1, "{doc} {err}");
    let text = format!("{doc}{err}");
    assert!(
        text.contains("InvalidDisk.AlreadyBound") && text.contains("UnbindAutoSnapshotPolicy"),
        "{text}"
    );
    assert_eq!(lab.calls("CreateAutoSnapshotPolicy").len(), 1);
    let (code, _, _) = lab.run(&["protect", "--apply", "--confirm", DISK]);
    assert_eq!(code, 1);
    assert_eq!(lab.calls("CreateAutoSnapshotPolicy").len(), 1, "reused");
    assert_eq!(lab.calls("BindAutoSnapshotPolicy").len(), 2);
    assert_eq!(lab.bindings()[0], ("asp-weak0001".into(), json!([DISK])));
    assert_eq!(lab.bindings()[1].1, json!([]));
}

#[test]
fn system_disks_encryption_remote_copy_and_switched_off_policies_are_told() {
    let Some(lab) = start(disk(json!({"DiskUsage": "SYSTEM_DISK"})), json!({})) else {
        return;
    };
    let (_, doc, _) = lab.run(&["protect"]);
    assert_eq!(
        check(&doc, "data-on-system-disk")["status"],
        "warn",
        "{doc}"
    );

    let mut good = policy(
        "asp-good0001",
        "twice-daily",
        &[0, 12],
        &[0, 1, 2, 3, 4, 5, 6],
        7,
    );
    good["DiskIdSet"] = json!([DISK]);
    good["IsCopyToRemote"] = json!(1);
    good["CopyToAccountUin"] = json!("100012345678");
    let Some(lab) = start(
        disk(json!({"Encrypt": true})),
        json!({"policies": [good], "snapshots": [snapshot("snap-new00001", 2)]}),
    ) else {
        return;
    };
    let (code, doc, err) = lab.run(&["protect"]);
    assert_eq!(code, 0, "{doc} {err}");
    for id in [
        "auto-policy",
        "policy-schedule",
        "encryption",
        "snapshot-recent",
        "data-on-system-disk",
    ] {
        assert_eq!(check(&doc, id)["status"], "ok", "{id}: {doc}");
    }
    // A copy to another account stays in the region: not a cross-region copy.
    assert_eq!(check(&doc, "cross-region-copy")["status"], "warn", "{doc}");

    // A bound policy that is switched off, or isolated, covers nothing.
    for (field, value, said) in [
        ("IsActivated", json!(false), "not activated"),
        ("AutoSnapshotPolicyState", json!("ISOLATED"), "ISOLATED"),
    ] {
        let mut off = policy("asp-off00001", "off", &[0, 12], &[0, 1, 2, 3, 4, 5, 6], 7);
        off["DiskIdSet"] = json!([DISK]);
        off[field] = value;
        let Some(lab) = start(disk(json!({})), json!({"policies": [off]})) else {
            return;
        };
        let (code, doc, _) = lab.run(&["protect"]);
        assert_eq!(code, 1);
        let c = check(&doc, "auto-policy");
        assert_eq!(c["status"], "fail", "{c}");
        assert!(c["message"].as_str().unwrap().contains(said), "{c}");
    }
}

#[test]
fn all_audits_every_disk_of_the_region() {
    let mut spare = disk(json!({}));
    spare["DiskId"] = json!("disk-spare0002");
    let Some(lab) = start(disk(json!({})), json!({"disks": [disk(json!({})), spare]})) else {
        return;
    };
    let out = common::isolated(lab.home.path())
        .args([
            "protect",
            "--all",
            "--source",
            "tencent",
            "--region",
            "ap-guangzhou",
            "--json",
        ])
        .env("SNAPRESCUE_TENCENT_CBS_ENDPOINT", &lab.url)
        .env("SNAPRESCUE_TENCENT_CVM_ENDPOINT", &lab.url)
        .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
        .env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(out.status.code(), Some(1), "{doc}");
    let ids: Vec<&str> = doc["disks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["disk"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [DISK, "disk-spare0002"], "{doc}");
    for d in doc["disks"].as_array().unwrap() {
        assert!(
            d["failing"]
                .as_array()
                .unwrap()
                .contains(&json!("auto-policy")),
            "{d}"
        );
    }
}

#[test]
fn keep_days_is_a_cbs_deadline_set_as_the_snapshot_is_made() {
    let Some(lab) = start(disk(json!({})), json!({})) else {
        return;
    };
    let (code, taken, err) = lab.run(&["snapshot", "--name", "pre-run-8", "--keep-days", "10"]);
    assert_eq!(code, 0, "{taken} {err}");
    assert!(
        taken["kept"].as_str().unwrap().contains("Deadline"),
        "{taken}"
    );
    let state = lab.server_state();
    let made = state["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["SnapshotId"] == taken["id"])
        .unwrap()
        .clone();
    assert_eq!(made["IsPermanent"], false, "{made}");
    let deadline = made["DeadlineTime"].as_str().unwrap();
    let at = chrono::NaiveDateTime::parse_from_str(deadline, "%Y-%m-%d %H:%M:%S").unwrap();
    let days = (at - (chrono::Utc::now() + chrono::Duration::hours(8)).naive_utc()).num_hours();
    assert!((9 * 24..=10 * 24).contains(&days), "{deadline}: {days} h");
}
