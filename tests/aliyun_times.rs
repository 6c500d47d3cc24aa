//! Alibaba snapshot times as ECS sends them: `CreationTime` with minute precision
//! (`2025-04-05T02:00Z`, as `aliyun ecs DescribeSnapshots` shows) is read to the minute, and a
//! time that cannot be read is "time unknown" (JSON null), never 1970 and never recommended.

mod common;

use common::ecs_stand_in::EcsStandIn;
use serde_json::{Value, json};

const AK: &str = "LTAI5tTestAccessKey";
const SECRET: &str = "test-secret-Zq9";
const DISK: &str = "d-bp1datadisk0001";

fn snapshot(id: &str, created: &str) -> Value {
    json!({
        "SnapshotId": id,
        "SnapshotName": id,
        "Description": "daily",
        "Status": "accomplished",
        "Progress": "100%",
        "CreationTime": created,
        "SourceDiskId": DISK,
        "SourceDiskSize": 40,
        "SourceDiskType": "data",
        "Encrypted": false,
        "Tags": {"Tag": []},
    })
}

fn stand_in() -> Option<EcsStandIn> {
    EcsStandIn::start(
        &json!({
            "access_key_id": AK,
            "secret": SECRET,
            "disks": [{"DiskId": DISK, "Size": 500, "ZoneId": "cn-hangzhou-i", "Status": "In_use",
                       "Type": "data", "InstanceId": "i-bp1gpu"}],
            "snapshots": [
                snapshot("s-bp1minute01", "2025-04-05T02:00Z"),
                snapshot("s-bp1minute02", "2025-04-06T02:07Z"),
                snapshot("s-bp1garbled1", "sometime on Tuesday"),
                snapshot("s-bp1offset01", "2025-04-04T10:00+08:00"),
            ],
        }),
        None,
    )
}

fn snapshots(server: &EcsStandIn, json: bool) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let lost = tempfile::tempdir().unwrap();
    let mut cmd = common::isolated(home.path());
    cmd.args(["snapshots", lost.path().to_str().unwrap()])
        .args(["--source", "aliyun", "--region", "cn-hangzhou"])
        .args(["--instance", "i-bp1gpu", "--disk", DISK])
        .env("SNAPRESCUE_ALIYUN_ECS_ENDPOINT", &server.url)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn minute_precision_times_are_read_and_unreadable_ones_are_unknown() {
    let Some(server) = stand_in() else { return };
    let (code, stdout, stderr) = snapshots(&server, true);
    assert_eq!(code, 0, "{stdout} {stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    let by_id = |id: &str| {
        doc["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing: {doc}"))
            .clone()
    };
    assert_eq!(
        by_id("s-bp1minute01")["created"],
        "2025-04-05T02:00:00+00:00"
    );
    assert_eq!(
        by_id("s-bp1minute02")["created"],
        "2025-04-06T02:07:00+00:00"
    );
    assert_eq!(
        by_id("s-bp1offset01")["created"],
        "2025-04-04T02:00:00+00:00"
    );
    let garbled = by_id("s-bp1garbled1");
    assert!(garbled["created"].is_null(), "{garbled}");
    assert_eq!(garbled["recommended"], false);
    assert!(!stdout.contains("1970"), "{stdout}");
    let recommended: Vec<&Value> = doc["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["recommended"] == true)
        .collect();
    assert_eq!(recommended.len(), 1, "{doc}");
    assert_eq!(recommended[0]["id"], "s-bp1minute02");
    let reason = recommended[0]["recommend_reason"].as_str().unwrap();
    assert!(reason.contains("not looked into"), "{reason}");
}

#[test]
fn an_unreadable_time_is_shown_as_time_unknown() {
    let Some(server) = stand_in() else { return };
    let (code, stdout, stderr) = snapshots(&server, false);
    assert_eq!(code, 0, "{stdout} {stderr}");
    let line = stdout
        .lines()
        .find(|l| l.contains("s-bp1garbled1"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("time unknown"), "{line}");
    assert!(!line.starts_with('*'), "{line}");
    let minute = stdout
        .lines()
        .find(|l| l.contains("s-bp1minute01"))
        .unwrap();
    assert!(minute.contains("2025-04-05 02:00:00 UTC"), "{minute}");
}
