//! Pinning on Alibaba Cloud ECS against the stand-in (tests/servers/aliyun_ecs.py, every
//! signature checked): `RetentionDays` from CreationTime is `expires`, the automatic policy
//! `expiry_rule`; `pin` extends the retention (ModifySnapshotAttribute), journaled; `unpin`
//! cannot shorten it again and says so; a snapshot kept forever or long enough needs no pin.

mod common;

use chrono::{Duration, SecondsFormat, Utc};
use common::ecs_stand_in::EcsStandIn;
use serde_json::{Value, json};

const AK: &str = "LTAI5tTestAccessKey";
const SECRET: &str = "test-secret-Zq9";
const DISK: &str = "d-bp1datadisk0001";

fn snapshot(id: &str, created: &str, extra: Value) -> Value {
    let mut s = json!({
        "SnapshotId": id, "SnapshotName": id, "Description": "", "Status": "accomplished",
        "Progress": "100%", "CreationTime": created, "SourceDiskId": DISK, "SourceDiskSize": 500,
        "SourceDiskType": "data", "Encrypted": false, "Tags": {"Tag": []},
    });
    s.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    s
}

struct Lab {
    server: EcsStandIn,
    home: tempfile::TempDir,
    dir: tempfile::TempDir,
    auto_created: chrono::DateTime<Utc>,
}

fn lab() -> Option<Lab> {
    let auto_created = Utc::now() - Duration::days(2);
    let created = auto_created.to_rfc3339_opts(SecondsFormat::Secs, true);
    let server = EcsStandIn::start(
        &json!({
            "access_key_id": AK,
            "secret": SECRET,
            "disks": [{"DiskId": DISK, "Size": 500, "ZoneId": "cn-hangzhou-i", "Status": "In_use", "Type": "data", "InstanceId": "i-bp1gpu"}],
            "snapshots": [
                snapshot("s-bp1auto0001", &created, json!({"AutoSnapshotPolicyId": "sp-bp1daily", "RetentionDays": 3})),
                snapshot("s-bp1keep0001", "2026-11-20T02:00:00Z", json!({"RetentionDays": null})),
                snapshot("s-bp1long0001", &created, json!({"RetentionDays": 365})),
            ],
        }),
        None,
    )?;
    Some(Lab {
        server,
        home: tempfile::tempdir().unwrap(),
        dir: tempfile::tempdir().unwrap(),
        auto_created,
    })
}

impl Lab {
    fn run(&self, args: &[&str]) -> (i32, Value) {
        let out = common::isolated(self.home.path())
            .args(args)
            .arg(self.dir.path())
            .args(["--source", "aliyun", "--region", "cn-hangzhou"])
            .args(["--instance", "i-bp1gpu", "--disk", DISK, "--json"])
            .env("SNAPRESCUE_ALIYUN_ECS_ENDPOINT", &self.server.url)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
            .output()
            .unwrap();
        let doc = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
        (out.status.code().unwrap_or(-1), doc)
    }

    fn listed(&self, id: &str) -> Value {
        let (code, doc) = self.run(&["snapshots"]);
        assert_eq!(code, 0, "{doc}");
        doc["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in {doc}"))
            .clone()
    }

    fn retention_days(&self, id: &str) -> Value {
        self.server.state()["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["SnapshotId"] == id)
            .unwrap()["RetentionDays"]
            .clone()
    }

    fn modifications(&self) -> usize {
        self.server
            .requests()
            .iter()
            .filter(|r| r["action"] == "ModifySnapshotAttribute")
            .count()
    }
}

fn rfc3339(v: &Value) -> chrono::DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn pin_extends_the_retention_and_unpin_says_it_cannot_shorten_it() {
    let Some(lab) = lab() else { return };
    let auto = lab.listed("s-bp1auto0001");
    assert_eq!(
        auto["expiry_rule"], "auto policy sp-bp1daily keeps 3 days",
        "{auto}"
    );
    let auto_created = lab.auto_created.timestamp();
    assert_eq!(
        rfc3339(&auto["expires"]).timestamp() - auto_created,
        3 * 86_400
    );
    assert_eq!(auto["pinned"], false);
    let forever = lab.listed("s-bp1keep0001");
    assert_eq!(forever["expires"], Value::Null);
    assert_eq!(forever["expiry_rule"], Value::Null);

    let (code, pinned) = lab.run(&["pin", "--snapshot", "s-bp1auto0001"]);
    assert_eq!(code, 0, "{pinned}");
    assert_eq!(pinned["changed"], true, "{pinned}");
    let days = lab.retention_days("s-bp1auto0001").as_u64().unwrap();
    assert!((16..=17).contains(&days), "2 days old + 14 days: {days}");
    let until = rfc3339(&pinned["until"]);
    assert!(
        until >= Utc::now() + Duration::days(14) - Duration::minutes(1),
        "{until}"
    );
    let auto = lab.listed("s-bp1auto0001");
    assert_eq!(auto["pinned"], true);
    assert_eq!(rfc3339(&auto["expires"]), until);

    let (code, unpinned) = lab.run(&["unpin", "--snapshot", "s-bp1auto0001"]);
    assert_eq!(code, 0, "{unpinned}");
    assert_eq!(unpinned["fully_undone"], false);
    let why = unpinned["not_undone"][0].as_str().unwrap();
    assert!(
        why.contains("only extend") && why.contains("it was 3 days before"),
        "{why}"
    );
    assert_eq!(
        lab.retention_days("s-bp1auto0001").as_u64(),
        Some(days),
        "not shortened"
    );
    assert_eq!(lab.listed("s-bp1auto0001")["pinned"], false);
    assert_eq!(lab.modifications(), 1);

    // Kept forever, or long enough already: no pin, nothing sent.
    for (id, reason) in [
        ("s-bp1keep0001", "kept until someone deletes it"),
        ("s-bp1long0001", "already kept until"),
    ] {
        let (code, none) = lab.run(&["pin", "--snapshot", id]);
        assert_eq!(code, 0, "{none}");
        assert_eq!(none["changed"], false);
        assert!(none["said"].as_str().unwrap().contains(reason), "{none}");
    }
    assert_eq!(lab.modifications(), 1);
}

fn lab_with(extra: Value) -> Option<Lab> {
    let lab = lab()?;
    let mut state = lab.server.state();
    state
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let server = EcsStandIn::start(&state, None)?;
    Some(Lab { server, ..lab })
}

#[test]
fn a_lost_answer_retried_is_a_pin_and_a_refusal_leaves_nothing_pinned() {
    // The first ModifySnapshotAttribute is carried out but answered with throttling: the
    // retry is refused (the retention is already that long), and the pin stands.
    let Some(lab) =
        lab_with(json!({"fail_once_after": {"ModifySnapshotAttribute": [400, "Throttling.User"]}}))
    else {
        return;
    };
    let (code, pinned) = lab.run(&["pin", "--snapshot", "s-bp1auto0001"]);
    assert_eq!(code, 0, "{pinned}");
    assert_eq!(pinned["changed"], true);
    assert_eq!(lab.modifications(), 2, "retried once");
    assert_eq!(lab.listed("s-bp1auto0001")["pinned"], true);

    // Not allowed at all: the error names the code, and nothing is left pinned.
    let Some(lab) = lab_with(json!({"fail": {"ModifySnapshotAttribute": [403, "Forbidden.RAM"]}}))
    else {
        return;
    };
    let (code, doc) = lab.run(&["pin", "--snapshot", "s-bp1auto0001"]);
    assert_eq!(code, 1, "{doc}");
    assert!(
        doc["error"].as_str().unwrap().contains("Forbidden.RAM"),
        "{doc}"
    );
    assert_eq!(lab.retention_days("s-bp1auto0001"), 3);
    let (_, cleanup) = {
        let out = common::isolated(lab.home.path())
            .args(["cleanup", "--json"])
            .output()
            .unwrap();
        (
            out.status.code(),
            serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        )
    };
    assert_eq!(cleanup["pins_kept"], json!([]), "{cleanup}");
    assert_eq!(lab.listed("s-bp1auto0001")["pinned"], false);
}
