//! Prevention on Alibaba Cloud ECS against the stand-in (tests/servers/aliyun_ecs.py and
//! aliyun_policies.py, every signature checked): `protect` reads the disk's bound automatic
//! policy, encryption (the disk's and the region's default), cross-region copy and type;
//! `snapshot` takes a tagged CreateSnapshot and waits for it; `--apply` creates and binds a
//! policy with the lower-camel parameters ECS wants, and a second `--apply` changes nothing.

mod common;
use common::check;

use chrono::{Duration, SecondsFormat, Utc};
use common::ecs_stand_in::EcsStandIn;
use serde_json::{Value, json};

const AK: &str = "LTAI5tTestAccessKey";
const SECRET: &str = "test-secret-Zq9";
const DISK: &str = "d-bp1datadisk0001";

fn snapshot(id: &str, hours_ago: i64) -> Value {
    json!({
        "SnapshotId": id, "SnapshotName": id, "Description": "", "Status": "accomplished",
        "Progress": "100%",
        "CreationTime": (Utc::now() - Duration::hours(hours_ago)).to_rfc3339_opts(SecondsFormat::Secs, true),
        "SourceDiskId": DISK, "SourceDiskSize": 500, "SourceDiskType": "data", "Encrypted": false,
        "Tags": {"Tag": []},
    })
}

struct Lab {
    server: EcsStandIn,
    home: tempfile::TempDir,
    dir: tempfile::TempDir,
}

fn start(disk: Value, extra: Value) -> Option<Lab> {
    let mut state = json!({
        "access_key_id": AK,
        "secret": SECRET,
        "disks": [disk],
        "snapshots": [snapshot("s-bp1old0001", 48)],
        "instances": [{"InstanceId": "i-bp1gpu", "Status": "Running"}],
    });
    state
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    Some(Lab {
        server: EcsStandIn::start(&state, None)?,
        home: tempfile::tempdir().unwrap(),
        dir: tempfile::tempdir().unwrap(),
    })
}

fn data_disk(extra: Value) -> Value {
    let mut d = json!({"DiskId": DISK, "Size": 500, "ZoneId": "cn-hangzhou-i", "Status": "In_use",
        "Type": "data", "InstanceId": "i-bp1gpu", "Encrypted": false});
    d.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    d
}

impl Lab {
    fn run(&self, args: &[&str]) -> (i32, Value, String) {
        let out = common::isolated(self.home.path())
            .arg(args[0])
            .arg(self.dir.path())
            .args(&args[1..])
            .args(["--source", "aliyun", "--region", "cn-hangzhou"])
            .args(["--instance", "i-bp1gpu", "--disk", DISK, "--json"])
            .env("SNAPRESCUE_ALIYUN_ECS_ENDPOINT", &self.server.url)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
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

    fn calls(&self, action: &str) -> Vec<Value> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| r["action"] == action)
            .map(|r| r["params"].clone())
            .collect()
    }
}

#[test]
fn an_unprotected_disk_fails_and_apply_creates_and_binds_a_policy_once() {
    let Some(lab) = start(data_disk(json!({})), json!({})) else {
        return;
    };
    let (code, doc, err) = lab.run(&["protect"]);
    assert_eq!(code, 1, "{doc} {err}");
    assert_eq!(check(&doc, "auto-policy")["status"], "fail");
    assert_eq!(check(&doc, "policy-schedule")["status"], "fail");
    assert_eq!(
        check(&doc, "snapshot-recent")["status"],
        "warn",
        "48 h old, no policy: a day"
    );
    assert_eq!(
        check(&doc, "data-on-system-disk")["status"],
        "ok",
        "Type data"
    );
    let enc = check(&doc, "encryption");
    assert_eq!(enc["status"], "warn", "{enc}");
    assert_eq!(check(&doc, "cross-region-copy")["status"], "warn");
    assert_eq!(check(&doc, "pre-run-snapshot")["status"], "warn");

    // The pre-run marker: tagged, waited for until accomplished.
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
    assert_eq!(made[0]["SnapshotName"], "pre-run-7");
    let state = lab.server.state();
    let ours = state["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["SnapshotId"] == taken["id"])
        .unwrap();
    let tags = &ours["Tags"]["Tag"];
    assert!(
        tags.as_array()
            .unwrap()
            .contains(&json!({"TagKey": "snaprescue", "TagValue": "pre-run"})),
        "{tags}"
    );
    // A name ECS refuses is refused here, before any call.
    let (code, _, err) = lab.run(&["snapshot", "--name", "1st"]);
    assert_eq!(code, 1);
    assert!(err.contains("starting with a letter"), "{err}");
    assert_eq!(lab.calls("CreateSnapshot").len(), 1);

    let (_, doc, _) = lab.run(&["protect"]);
    assert_eq!(check(&doc, "pre-run-snapshot")["status"], "ok", "{doc}");
    assert_eq!(check(&doc, "snapshot-recent")["status"], "ok");

    let (code, doc, err) = lab.run(&["protect", "--apply"]);
    assert_eq!(code, 1, "{doc} {err}");
    assert!(err.contains(&format!("--confirm {DISK}")), "{err}");
    assert!(lab.calls("CreateAutoSnapshotPolicy").is_empty());

    let (_, doc, err) = lab.run(&["protect", "--apply", "--confirm", DISK]);
    assert_eq!(doc["applied"]["changed"], true, "{doc} {err}");
    assert_eq!(check(&doc, "auto-policy")["status"], "ok", "{doc}");
    assert_eq!(check(&doc, "policy-schedule")["status"], "ok", "{doc}");
    let created = lab.calls("CreateAutoSnapshotPolicy");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["regionId"], "cn-hangzhou");
    assert_eq!(created[0]["timePoints"], "[\"0\",\"12\"]");
    assert_eq!(created[0]["retentionDays"], "3");
    assert!(created[0].get("RegionId").is_none(), "{}", created[0]);
    let applied = lab.calls("ApplyAutoSnapshotPolicy");
    assert_eq!(applied[0]["diskIds"], format!("[\"{DISK}\"]"));
    let state = lab.server.state();
    assert_eq!(
        state["disks"][0]["AutoSnapshotPolicyId"],
        state["policies"][0]["AutoSnapshotPolicyId"]
    );

    let (_, again, _) = lab.run(&["protect", "--apply", "--confirm", DISK]);
    assert_eq!(again["applied"]["changed"], false, "{again}");
    assert_eq!(lab.calls("CreateAutoSnapshotPolicy").len(), 1);
    assert_eq!(lab.calls("ApplyAutoSnapshotPolicy").len(), 1);
}

#[test]
fn a_weak_policy_fails_the_schedule_and_a_protected_encrypted_copied_disk_passes() {
    let weak = json!({"AutoSnapshotPolicyId": "sp-bp1weak", "AutoSnapshotPolicyName": "weekly",
        "TimePoints": "[\"3\"]", "RepeatWeekdays": "[\"1\"]", "RetentionDays": 2, "Status": "Normal",
        "EnableCrossRegionCopy": false, "TargetCopyRegions": "[]"});
    let Some(lab) = start(
        data_disk(
            json!({"AutoSnapshotPolicyId": "sp-bp1weak", "EnableAutomatedSnapshotPolicy": true}),
        ),
        json!({"policies": [weak]}),
    ) else {
        return;
    };
    let (_, doc, _) = lab.run(&["protect"]);
    assert_eq!(check(&doc, "auto-policy")["status"], "ok", "{doc}");
    let schedule = check(&doc, "policy-schedule");
    assert_eq!(schedule["status"], "fail", "{schedule}");
    assert!(
        schedule["message"].as_str().unwrap().contains("every 7 d"),
        "{schedule}"
    );

    let good = json!({"AutoSnapshotPolicyId": "sp-bp1good", "AutoSnapshotPolicyName": "twice-daily",
        "TimePoints": "[\"0\",\"12\"]", "RepeatWeekdays": "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\"]",
        "RetentionDays": 7, "Status": "Normal", "EnableCrossRegionCopy": true,
        "TargetCopyRegions": "[\"cn-shanghai\"]"});
    let Some(lab) = start(
        data_disk(
            json!({"AutoSnapshotPolicyId": "sp-bp1good", "EnableAutomatedSnapshotPolicy": true,
            "Encrypted": true}),
        ),
        json!({"policies": [good], "encryption_by_default": true,
            "snapshots": [snapshot("s-bp1new0001", 2)]}),
    ) else {
        return;
    };
    let (_, doc, _) = lab.run(&["protect"]);
    for id in [
        "auto-policy",
        "policy-schedule",
        "encryption",
        "cross-region-copy",
        "snapshot-recent",
    ] {
        assert_eq!(check(&doc, id)["status"], "ok", "{id}: {doc}");
    }
    assert!(
        check(&doc, "cross-region-copy")["message"]
            .as_str()
            .unwrap()
            .contains("cn-shanghai")
    );
    // A system disk is said so.
    let Some(lab) = start(data_disk(json!({"Type": "system"})), json!({})) else {
        return;
    };
    let (_, doc, _) = lab.run(&["protect"]);
    assert_eq!(
        check(&doc, "data-on-system-disk")["status"],
        "warn",
        "{doc}"
    );
}

#[test]
fn all_audits_every_disk_of_the_answering_regions_and_names_the_one_that_failed() {
    let spare = json!({"DiskId": "d-bp1spare0002", "Size": 100, "ZoneId": "cn-hangzhou-i",
        "Status": "Available", "Type": "data", "InstanceId": "", "Encrypted": false});
    let both = json!({"fail_regions": ["cn-beijing"], "disks": [data_disk(json!({})), spare]});
    let Some(lab) = start(data_disk(json!({})), both) else {
        return;
    };
    let out = common::isolated(lab.home.path())
        .args([
            "protect",
            "--all",
            "--source",
            "aliyun",
            "--region",
            "cn-hangzhou,cn-beijing",
            "--json",
        ])
        .env("SNAPRESCUE_ALIYUN_ECS_ENDPOINT", &lab.server.url)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(out.status.code(), Some(1), "{doc}");
    assert_eq!(doc["ok"], false);
    let regions = doc["regions"].as_array().unwrap();
    let hangzhou = regions
        .iter()
        .find(|r| r["region"] == "cn-hangzhou")
        .unwrap();
    assert_eq!(
        (hangzhou["disks"].as_u64(), &hangzhou["error"]),
        (Some(2), &Value::Null),
        "{doc}"
    );
    let beijing = regions
        .iter()
        .find(|r| r["region"] == "cn-beijing")
        .unwrap();
    assert!(
        beijing["error"]
            .as_str()
            .unwrap()
            .contains("ServiceUnavailable"),
        "{beijing}"
    );
    let disks = doc["disks"].as_array().unwrap();
    assert_eq!(disks.len(), 2, "{doc}");
    for d in disks {
        let failing: Vec<&str> = d["failing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert!(failing.contains(&"auto-policy"), "{d}");
        let fix = d["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "auto-policy")
            .unwrap()["fix"]
            .clone();
        assert_eq!(
            fix,
            format!(
                "snaprescue protect PATH --apply --source aliyun --region cn-hangzhou --disk {}",
                d["disk"].as_str().unwrap()
            )
        );
    }
    let attached = disks.iter().find(|d| d["disk"] == DISK).unwrap();
    assert_eq!(attached["instances"], json!(["i-bp1gpu"]));
    // The table: one row per disk, and the region that failed.
    let out = common::isolated(lab.home.path())
        .args([
            "protect",
            "--all",
            "--source",
            "aliyun",
            "--region",
            "cn-hangzhou,cn-beijing",
        ])
        .env("SNAPRESCUE_ALIYUN_ECS_ENDPOINT", &lab.server.url)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("REGION"), "{table}");
    assert!(
        table.contains("d-bp1spare0002") && table.contains("region cn-beijing: NOT AUDITED"),
        "{table}"
    );
    // Without --region, or on a local source, it is bad usage.
    let out = common::isolated(lab.home.path())
        .args(["protect", "--all", "--source", "aliyun"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_copy_made_with_copy_snapshot_in_another_region_passes_cross_region_copy() {
    let Some(lab) = start(
        data_disk(json!({})),
        json!({"regions": ["cn-hangzhou", "cn-shanghai", "cn-beijing"],
            "snapshots": [snapshot("s-bp1new0001", 2)]}),
    ) else {
        return;
    };
    let (_, doc, _) = lab.run(&["protect"]);
    assert_eq!(check(&doc, "cross-region-copy")["status"], "warn", "{doc}");
    // The copy, as a user makes it: CopySnapshot sent to the source region, signed.
    let creds = snaprescue::providers::aliyun::creds::AliyunCredentials {
        access_key_id: AK.into(),
        access_key_secret: snaprescue::providers::secret::Secret::new(SECRET),
        security_token: None,
        origin: "test".into(),
    };
    let ecs = snaprescue::providers::aliyun::ecs::EcsClient::new(
        lab.server.url.clone(),
        "cn-hangzhou",
        creds,
    )
    .unwrap();
    ecs.call(
        "CopySnapshot",
        &[
            ("SnapshotId".into(), "s-bp1new0001".into()),
            ("DestinationRegionId".into(), "cn-shanghai".into()),
            ("DestinationSnapshotName".into(), "offsite".into()),
            ("DestinationSnapshotDescription".into(), "copy".into()),
        ],
    )
    .unwrap();
    let (_, doc, _) = lab.run(&["protect"]);
    let copy = check(&doc, "cross-region-copy");
    assert_eq!(copy["status"], "ok", "{doc}");
    assert!(
        copy["message"].as_str().unwrap().contains("cn-shanghai"),
        "{copy}"
    );
    // The copy is not one of the disk's own snapshots in its region.
    let (_, listed, _) = lab.run(&["snapshots"]);
    assert_eq!(listed["snapshots"].as_array().unwrap().len(), 1, "{listed}");
}

#[test]
fn keep_days_is_ecs_retention_set_as_the_snapshot_is_made() {
    let Some(lab) = start(data_disk(json!({})), json!({})) else {
        return;
    };
    let (code, taken, err) = lab.run(&["snapshot", "--name", "pre-run-8", "--keep-days", "10"]);
    assert_eq!(code, 0, "{taken} {err}");
    assert_eq!(lab.calls("CreateSnapshot")[0]["RetentionDays"], "10");
    assert!(
        lab.calls("ModifySnapshotAttribute").is_empty(),
        "set at creation, not after"
    );
    assert!(
        taken["kept"].as_str().unwrap().contains("RetentionDays 10"),
        "{taken}"
    );
    let (_, listed, _) = lab.run(&["snapshots"]);
    let row = listed["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == taken["id"])
        .unwrap()
        .clone();
    assert!(row["expires"].as_str().is_some(), "{row}");
}
