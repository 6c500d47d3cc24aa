//! The Alibaba Cloud source against the ECS stand-in of tests/servers/aliyun_ecs.py on
//! 127.0.0.1: signatures checked by the server's own implementation, NextToken paging,
//! faults that must end in a successful retry or a clear message, credentials from a
//! profile file.

mod common;

use common::ecs_stand_in::EcsStandIn;
use serde_json::{Value, json};
use std::path::Path;

const AK: &str = "LTAI5tTestAccessKey";
const SECRET: &str = "test-secret-Zq9";

type Server = EcsStandIn;

fn snapshot(i: u32, disk: &str) -> Value {
    json!({
        "SnapshotId": format!("s-bp1snap{i:04}"),
        "SnapshotName": format!("auto-2026-11-{:02}", 20 + i),
        "Description": "daily",
        "Status": if i == 6 { "progressing" } else { "accomplished" },
        "Progress": if i == 6 { "42%" } else { "100%" },
        "CreationTime": format!("2026-11-{:02}T02:00:00Z", 20 + i),
        "SourceDiskId": disk,
        "SourceDiskSize": if i.is_multiple_of(2) { json!(40) } else { json!("40") },
        "SourceDiskType": "data",
        "Encrypted": false,
        "Tags": {"Tag": [{"TagKey": "acs:ecs:auto", "TagValue": "true"}]},
    })
}

fn start(faults: &[&str]) -> Option<Server> {
    start_with(&initial_state(faults))
}

fn initial_state(faults: &[&str]) -> Value {
    let mut snapshots: Vec<Value> = (0..7).map(|i| snapshot(i, "d-bp1datadisk0001")).collect();
    snapshots.push(snapshot(9, "d-bp1systemdisk01"));
    json!({
        "access_key_id": AK,
        "secret": SECRET,
        "page_size": 3,
        "faults": faults,
        "disks": [
            {"DiskId": "d-bp1systemdisk01", "Size": 40, "ZoneId": "cn-hangzhou-i", "Status": "In_use", "Type": "system", "InstanceId": "i-bp1gpu"},
            {"DiskId": "d-bp1datadisk0001", "Size": "500", "ZoneId": "cn-hangzhou-i", "Status": "In_use", "Type": "data", "InstanceId": "i-bp1gpu"},
        ],
        "snapshots": snapshots,
        "metadata": {
            "meta-data/instance-id": "i-bp1gpu",
            "meta-data/region-id": "cn-hangzhou",
            "meta-data/ram/security-credentials/": "GpuRecoveryRole",
            "meta-data/ram/security-credentials/GpuRecoveryRole": {"Code": "Success", "AccessKeyId": AK, "AccessKeySecret": SECRET, "SecurityToken": "sts-token-1", "Expiration": "2099-01-01T00:00:00Z"},
        },
    })
}

fn start_with(initial: &Value) -> Option<Server> {
    EcsStandIn::start(initial, None)
}

struct Run {
    code: i32,
    doc: Value,
    stderr: String,
}

fn run(server: &Server, env: &[(&str, &str)], home: &Path, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = common::isolated(home);
    cmd.args([
        "snapshots",
        dir.path().to_str().unwrap(),
        "--source",
        "aliyun",
        "--region",
        "cn-hangzhou",
        "--instance",
        "i-bp1gpu",
        "--json",
    ])
    .args(extra)
    .env("SNAPRESCUE_ALIYUN_ECS_ENDPOINT", &server.url)
    .env("SNAPRESCUE_HTTP_TIMEOUT_SECS", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        doc: serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout))),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn keys() -> [(&'static str, &'static str); 2] {
    [
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", AK),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET),
    ]
}

fn requests(server: &Server, action: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r["action"] == action)
        .count()
}

#[test]
fn lists_every_page_of_the_disk_snapshots_newest_first() {
    let Some(server) = start(&[]) else { return };
    let home = tempfile::tempdir().unwrap();
    let r = run(
        &server,
        &keys(),
        home.path(),
        &["--disk", "d-bp1datadisk0001"],
    );
    assert_eq!(r.code, 0, "{} {}", r.doc, r.stderr);
    let ids: Vec<&str> = r.doc["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "s-bp1snap0006",
            "s-bp1snap0005",
            "s-bp1snap0004",
            "s-bp1snap0003",
            "s-bp1snap0002",
            "s-bp1snap0001",
            "s-bp1snap0000"
        ]
    );
    assert_eq!(
        requests(&server, "DescribeSnapshots"),
        3,
        "7 snapshots in pages of 3"
    );
    let newest = &r.doc["snapshots"][0];
    assert_eq!(newest["status"], "in_progress");
    assert_eq!(newest["progress"], "42%");
    assert_eq!(
        r.doc["snapshots"][1]["size_gib"], 40,
        "a size sent as the string \"40\" is read"
    );
    assert_eq!(newest["created"], "2026-11-26T02:00:00+00:00");
    assert_eq!(newest["source"], "aliyun");
}

#[test]
fn throttling_errors_timeouts_and_cut_answers_are_retried() {
    let Some(server) = start(&["throttle", "500", "timeout", "truncated"]) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let r = run(
        &server,
        &keys(),
        home.path(),
        &["--disk", "d-bp1datadisk0001"],
    );
    assert_eq!(r.code, 0, "{} {}", r.doc, r.stderr);
    assert_eq!(r.doc["snapshots"].as_array().unwrap().len(), 7);
    assert!(
        requests(&server, "DescribeSnapshots") >= 7,
        "four faults, then three pages"
    );
}

#[test]
fn a_wrong_type_or_a_wrong_secret_gets_a_clear_message() {
    let Some(server) = start(&["badtype"]) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let r = run(
        &server,
        &keys(),
        home.path(),
        &["--disk", "d-bp1datadisk0001"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.doc["error"]
            .as_str()
            .unwrap()
            .contains("SourceDiskSize should be a number"),
        "{}",
        r.doc
    );
    let r = run(
        &server,
        &[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", AK),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "wrong"),
        ],
        home.path(),
        &["--disk", "d-bp1datadisk0001"],
    );
    assert_eq!(r.code, 1);
    let message = r.doc["error"].as_str().unwrap();
    assert!(
        message.contains("SignatureDoesNotMatch") && message.contains("secret is wrong"),
        "{message}"
    );
    assert!(!message.contains(SECRET));
}

#[test]
fn a_profile_file_works_and_is_warned_about_when_readable_by_others() {
    let Some(server) = start(&[]) else { return };
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".aliyun")).unwrap();
    let config = home.path().join(".aliyun/config.json");
    std::fs::write(
        &config,
        json!({"current": "gpu", "profiles": [{"name": "gpu", "mode": "AK", "access_key_id": AK, "access_key_secret": SECRET, "region_id": "cn-hangzhou"}]}).to_string(),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let r = run(&server, &[], home.path(), &["--disk", "d-bp1datadisk0001"]);
    assert_eq!(r.code, 0, "{} {}", r.doc, r.stderr);
    assert!(
        r.stderr.contains("readable by group or others"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(SECRET));
}

#[test]
fn without_a_disk_the_instance_disks_are_offered() {
    let Some(server) = start(&[]) else { return };
    let home = tempfile::tempdir().unwrap();
    let r = run(&server, &keys(), home.path(), &[]);
    assert_eq!(r.code, 1);
    let message = r.doc["error"].as_str().unwrap();
    assert!(
        message.contains("choose one with --disk")
            && message.contains("d-bp1datadisk0001 (500 GiB, data)"),
        "{message}"
    );
}

#[test]
fn on_the_instance_the_metadata_service_gives_region_instance_and_role_credentials() {
    let Some(server) = start(&[]) else { return };
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = common::isolated(home.path())
        .args([
            "snapshots",
            dir.path().to_str().unwrap(),
            "--source",
            "aliyun",
            "--json",
        ])
        .env("SNAPRESCUE_ALIYUN_ECS_ENDPOINT", &server.url)
        .env("SNAPRESCUE_ALIYUN_METADATA_ENDPOINT", &server.url)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    // No --region, --instance or keys: all three came from the metadata service (token
    // first), so the instance's two disks are offered.
    let message = doc["error"].as_str().unwrap_or_else(|| panic!("{doc}"));
    assert!(
        message.contains("d-bp1systemdisk01") && message.contains("d-bp1datadisk0001"),
        "{message}"
    );
    let log = std::fs::read_to_string(server.state.with_extension("json.log")).unwrap();
    assert!(
        log.contains("\"SecurityToken\": \"sts-token-1\""),
        "the RAM role's STS token signs the calls: {log}"
    );
    assert!(
        log.contains("\"RegionId\": \"cn-hangzhou\"")
            && log.contains("\"InstanceId\": \"i-bp1gpu\"")
    );
}

#[test]
fn a_ram_role_arn_profile_assumes_the_role_through_sts() {
    let Some(server) = start(&[]) else { return };
    // The plain keys may only assume the role; ECS answers them Forbidden.RAM.
    let mut state = server.state();
    state["require_sts"] = json!(true);
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".aliyun")).unwrap();
    let config = home.path().join(".aliyun/config.json");
    let profile = json!({"current": "role", "profiles": [{"name": "role", "mode": "RamRoleArn", "access_key_id": AK, "access_key_secret": SECRET,
        "ram_role_arn": "acs:ram::1234567890:role/recovery", "ram_session_name": "rescue", "expired_seconds": 900, "region_id": "cn-hangzhou"}]});
    std::fs::write(&config, profile.to_string()).unwrap();
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    // The server reads its state at start: restart it with require_sts set.
    drop(server);
    let Some(server) = start_with(&state) else {
        return;
    };
    let r = run(
        &server,
        &[("SNAPRESCUE_ALIYUN_STS_ENDPOINT", &server.url)],
        home.path(),
        &["--disk", "d-bp1datadisk0001"],
    );
    assert_eq!(r.code, 0, "{} {}", r.doc, r.stderr);
    assert_eq!(r.doc["snapshots"].as_array().unwrap().len(), 7);
    assert!(
        !r.stderr.contains("readable by group"),
        "a 0600 file gets no warning"
    );
    let log = std::fs::read_to_string(server.state.with_extension("json.log")).unwrap();
    assert!(
        log.contains("\"action\": \"AssumeRole\"") && log.contains("\"AccessKeyId\": \"STS.0001\""),
        "{log}"
    );
}
