//! The AWS source against moto's EC2 server on 127.0.0.1 with signature checking on:
//! seeded with an instance, a data volume and its snapshots, listed through the real
//! binary (all pages), and refused with advice for a wrong secret or an ambiguous disk.

mod common;

use common::moto::{Moto, access_key, between, call, creds, python, start_moto};
use snaprescue::providers::aws::creds::AwsCredentials;

struct Seeded {
    instance: String,
    data_volume: String,
    snapshots: Vec<String>,
}

fn seed(moto: &Moto, key: &AwsCredentials) -> Seeded {
    let ec2 = |params: &[(&str, &str)]| {
        let mut all = params.to_vec();
        all.push(("Version", "2016-11-15"));
        let (status, body) = call(moto, key, "ec2", &all);
        assert_eq!(status, 200, "{:?}: {body}", params[0]);
        body
    };
    // moto attaches its default root volume (a BlockDeviceMapping with a device path
    // fails moto's own signature check).
    let run = ec2(&[
        ("Action", "RunInstances"),
        ("ImageId", "ami-760aaa0f"),
        ("MinCount", "1"),
        ("MaxCount", "1"),
        ("InstanceType", "g5.xlarge"),
        ("Placement.AvailabilityZone", "us-east-1a"),
    ]);
    let instance = between(&run, "instanceId").to_string();
    let volume = ec2(&[
        ("Action", "CreateVolume"),
        ("AvailabilityZone", "us-east-1a"),
        ("Size", "100"),
        ("VolumeType", "gp3"),
    ]);
    let data_volume = between(&volume, "volumeId").to_string();
    ec2(&[
        ("Action", "AttachVolume"),
        ("VolumeId", &data_volume),
        ("InstanceId", &instance),
        ("Device", "/dev/sdf"),
    ]);
    let mut snapshots = Vec::new();
    for i in 0..7 {
        let description = format!("checkpoints day {i}");
        let body = ec2(&[
            ("Action", "CreateSnapshot"),
            ("VolumeId", &data_volume),
            ("Description", &description),
            ("TagSpecification.1.ResourceType", "snapshot"),
            ("TagSpecification.1.Tag.1.Key", "purpose"),
            ("TagSpecification.1.Tag.1.Value", "training"),
        ]);
        snapshots.push(between(&body, "snapshotId").to_string());
    }
    // A snapshot of another volume, which must not be listed.
    let other = ec2(&[
        ("Action", "CreateVolume"),
        ("AvailabilityZone", "us-east-1a"),
        ("Size", "1"),
    ]);
    ec2(&[
        ("Action", "CreateSnapshot"),
        ("VolumeId", between(&other, "volumeId")),
    ]);
    Seeded {
        instance,
        data_volume,
        snapshots,
    }
}

fn snaprescue(moto: &Moto, key: &AwsCredentials, args: &[&str]) -> (i32, serde_json::Value) {
    let home = tempfile::tempdir().unwrap();
    let out = common::isolated(home.path())
        .args(args)
        .arg("--json")
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_ACCESS_KEY_ID", &key.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", key.secret_access_key.expose())
        .env("SNAPRESCUE_EC2_PAGE_SIZE", "5")
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap_or(-1), doc)
}

#[test]
fn lists_every_snapshot_of_the_volume_across_pages_and_refuses_bad_input() {
    let Some(python) = python() else { return };
    let moto = start_moto(&python);
    let key = access_key(&moto);
    let seeded = seed(&moto, &key);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let base = [
        "snapshots",
        path,
        "--source",
        "aws",
        "--region",
        "us-east-1",
        "--instance",
        &seeded.instance,
    ];

    let mut args = base.to_vec();
    args.extend(["--disk", &seeded.data_volume]);
    let (code, doc) = snaprescue(&moto, &key, &args);
    assert_eq!(code, 0, "{doc}");
    let listed: Vec<&str> = doc["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = seeded.snapshots.iter().map(String::as_str).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(
        sorted, expected,
        "all 7 snapshots over two pages of 5, and none of the other volume"
    );
    let first = &doc["snapshots"][0];
    assert_eq!(first["source"], "aws");
    assert_eq!(first["status"], "completed");
    assert_eq!(first["disk_id"], seeded.data_volume.as_str());
    assert_eq!(first["progress"], "100%");
    assert_eq!(first["tags"][0], serde_json::json!(["purpose", "training"]));
    assert!(
        first["name"]
            .as_str()
            .unwrap()
            .starts_with("checkpoints day")
    );
    assert!(
        doc["source"]
            .as_str()
            .unwrap()
            .contains(&seeded.data_volume)
    );

    // Which disk? The instance has a root and a data volume: the user must choose.
    let (code, doc) = snaprescue(&moto, &key, &base);
    assert_eq!(code, 1);
    let message = doc["error"].as_str().unwrap();
    assert!(
        message.contains("choose one with --disk") && message.contains(&seeded.data_volume),
        "{message}"
    );

    // A wrong secret: the API code and what to do.
    let wrong = creds(&key.access_key_id, "not-the-secret");
    let mut args = base.to_vec();
    args.extend(["--disk", &seeded.data_volume]);
    let (code, doc) = snaprescue(&moto, &wrong, &args);
    assert_eq!(code, 1);
    let message = doc["error"].as_str().unwrap();
    assert!(
        message.contains("AuthFailure") && message.contains("secret is wrong"),
        "{message}"
    );
    assert!(
        !message.contains("not-the-secret"),
        "the secret is never printed"
    );
}

#[test]
fn on_the_instance_imdsv2_gives_region_instance_and_role_credentials() {
    let Some(python) = python() else { return };
    let moto = start_moto(&python);
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = common::isolated(home.path())
        .args([
            "snapshots",
            dir.path().to_str().unwrap(),
            "--source",
            "aws",
            "--json",
        ])
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &moto.url)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // No --region, --instance or keys: moto's metadata service (token first) named the
    // instance `i-fake` in us-east-1 and lent the role credentials the calls were signed with.
    let message = doc["error"].as_str().unwrap_or_else(|| panic!("{doc}"));
    assert!(
        message.contains("none attached to instance i-fake"),
        "{message}"
    );
    assert!(!message.contains("test-secret-key"));
}
