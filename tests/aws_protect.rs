//! Prevention on AWS: moto's EC2 server (signatures checked) for the volume, its
//! encryption and snapshots, and the DLM stand-in (tests/servers/aws_dlm.py, SigV4 checked
//! by botocore) for the automatic policies. `protect` fails an untagged volume with the
//! `--apply` fix; `snapshot` makes a tagged snapshot; `--apply` is refused while DLM's
//! default role is missing (saying how to create it, nothing changed), then creates a DLM
//! policy targeting a tag it puts on the volume, once.

mod common;
use common::check;

use common::moto::{Moto, access_key, between, python, start_moto};
use serde_json::{Value, json};
use snaprescue::providers::aws::creds::AwsCredentials;
use std::process::{Child, Command, Stdio};

struct Dlm {
    child: Child,
    url: String,
    state: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Dlm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dlm {
    fn start(python: &str, key: &AwsCredentials) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("dlm.json");
        let doc = json!({"access_key_id": key.access_key_id, "secret": key.secret_access_key.expose(),
            "roles": [], "policies": []});
        std::fs::write(&state, doc.to_string()).unwrap();
        let mut child = Command::new(python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/servers/aws_dlm.py"
            ))
            .arg(&state)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let port = common::announced_port(&mut child, "the DLM stand-in");
        Dlm {
            child,
            url: format!("http://127.0.0.1:{port}"),
            state,
            _dir: dir,
        }
    }

    fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&self.state).unwrap()).unwrap()
    }

    fn edit(&self, change: impl FnOnce(&mut Value)) {
        let mut s = self.state();
        change(&mut s);
        std::fs::write(&self.state, s.to_string()).unwrap();
    }
}

struct Lab {
    moto: Moto,
    dlm: Dlm,
    key: AwsCredentials,
    home: tempfile::TempDir,
    dir: tempfile::TempDir,
    instance: String,
    volume: String,
}

impl Lab {
    fn ec2(&self, params: &[(&str, &str)]) -> String {
        common::moto::ec2(&self.moto, &self.key, params)
    }

    fn run(&self, args: &[&str]) -> (i32, Value, String) {
        let out = common::isolated(self.home.path())
            .arg(args[0])
            .arg(self.dir.path())
            .args(&args[1..])
            .args(["--source", "aws", "--region", "us-east-1"])
            .args([
                "--instance",
                &self.instance,
                "--disk",
                &self.volume,
                "--json",
            ])
            .env("AWS_ENDPOINT_URL", &self.moto.url)
            .env("AWS_ENDPOINT_URL_DLM", &self.dlm.url)
            .env("AWS_ACCESS_KEY_ID", &self.key.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", self.key.secret_access_key.expose())
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
}

fn lab() -> Option<Lab> {
    let python = python()?;
    let moto = start_moto(&python);
    let key = access_key(&moto);
    let dlm = Dlm::start(&python, &key);
    let mut lab = Lab {
        moto,
        dlm,
        key,
        home: tempfile::tempdir().unwrap(),
        dir: tempfile::tempdir().unwrap(),
        instance: String::new(),
        volume: String::new(),
    };
    (lab.instance, lab.volume) = common::moto::instance_with_volume(&lab.moto, &lab.key);
    Some(lab)
}

#[test]
fn an_untargeted_volume_fails_and_apply_creates_a_dlm_policy_once_the_role_exists() {
    let Some(lab) = lab() else { return };
    let (code, doc, err) = lab.run(&["protect"]);
    assert_eq!(code, 1, "{doc} {err}");
    assert_eq!(check(&doc, "auto-policy")["status"], "fail", "{doc}");
    assert_eq!(check(&doc, "snapshot-recent")["status"], "fail");
    assert_eq!(check(&doc, "encryption")["status"], "warn");
    assert_eq!(
        check(&doc, "data-on-system-disk")["status"],
        "ok",
        "attached at /dev/sdf, not the root"
    );
    assert_eq!(check(&doc, "cross-region-copy")["status"], "warn");

    let (code, taken, err) = lab.run(&[
        "snapshot",
        "--name",
        "pre-run-9",
        "--tag",
        "run=9",
        "--wait",
    ]);
    assert_eq!(code, 0, "{taken} {err}");
    let id = taken["id"].as_str().unwrap();
    let described = lab.ec2(&[("Action", "DescribeSnapshots"), ("SnapshotId.1", id)]);
    for tag in [
        "<key>Name</key>",
        "<value>pre-run-9</value>",
        "<key>snaprescue</key>",
        "<value>pre-run</value>",
        "<key>run</key>",
    ] {
        assert!(described.contains(tag), "{tag} in {described}");
    }
    let (_, doc, _) = lab.run(&["protect"]);
    assert_eq!(check(&doc, "pre-run-snapshot")["status"], "ok", "{doc}");

    // No DLM default role yet: refused with how to make it, and nothing changed.
    let (code, doc, err) = lab.run(&["protect", "--apply", "--confirm", &lab.volume]);
    assert_eq!(code, 1, "{doc} {err}");
    assert!(err.contains("aws dlm create-default-role"), "{err}");
    assert!(lab.dlm.state()["policies"].as_array().unwrap().is_empty());
    let volumes = lab.ec2(&[("Action", "DescribeVolumes"), ("VolumeId.1", &lab.volume)]);
    assert!(!volumes.contains("snaprescue-protect"), "{volumes}");

    lab.dlm.edit(|s| {
        s["roles"] = json!(["arn:aws:iam::123456789012:role/AWSDataLifecycleManagerDefaultRole"])
    });
    let (code, doc, err) = lab.run(&["protect", "--apply", "--confirm", &lab.volume]);
    assert_eq!(doc["applied"]["changed"], true, "{doc} {err}");
    assert_eq!(check(&doc, "auto-policy")["status"], "ok", "{doc}");
    assert_eq!(check(&doc, "policy-schedule")["status"], "ok", "{doc}");
    assert_eq!(
        code, 0,
        "encryption and copies still warn, and nothing fails: {doc}"
    );
    let policies = lab.dlm.state()["policies"].clone();
    assert_eq!(policies.as_array().unwrap().len(), 1);
    let details = &policies[0]["PolicyDetails"];
    assert_eq!(
        details["TargetTags"][0],
        json!({"Key": "snaprescue-protect", "Value": lab.volume})
    );
    assert_eq!(details["Schedules"][0]["CreateRule"]["Interval"], 12);
    let volumes = lab.ec2(&[("Action", "DescribeVolumes"), ("VolumeId.1", &lab.volume)]);
    assert!(volumes.contains("snaprescue-protect"), "{volumes}");

    let (_, again, _) = lab.run(&["protect", "--apply", "--confirm", &lab.volume]);
    assert_eq!(again["applied"]["changed"], false, "{again}");
    assert_eq!(lab.dlm.state()["policies"].as_array().unwrap().len(), 1);
}

#[test]
fn a_copying_policy_an_encrypted_default_and_a_root_volume_are_reported() {
    let Some(lab) = lab() else { return };
    lab.ec2(&[("Action", "EnableEbsEncryptionByDefault")]);
    lab.ec2(&[
        ("Action", "CreateTags"),
        ("ResourceId.1", &lab.volume),
        ("Tag.1.Key", "backup"),
        ("Tag.1.Value", "daily"),
    ]);
    lab.dlm.edit(|s| {
        s["policies"] = json!([{"PolicyId": "policy-0copies", "Description": "daily", "State": "ENABLED",
            "PolicyDetails": {"PolicyType": "EBS_SNAPSHOT_MANAGEMENT", "ResourceTypes": ["VOLUME"],
                "TargetTags": [{"Key": "backup", "Value": "daily"}],
                "Schedules": [{"Name": "daily", "CreateRule": {"Interval": 24, "IntervalUnit": "HOURS"},
                    "RetainRule": {"Count": 7}, "CrossRegionCopyRules": [{"TargetRegion": "eu-west-1", "Encrypted": false}]}]}}])
    });
    let (_, doc, _) = lab.run(&["protect"]);
    assert_eq!(check(&doc, "auto-policy")["status"], "ok", "{doc}");
    let schedule = check(&doc, "policy-schedule");
    assert_eq!(
        schedule["status"], "fail",
        "daily is not every 12 h: {schedule}"
    );
    let copy = check(&doc, "cross-region-copy");
    assert_eq!(copy["status"], "ok", "{copy}");
    assert!(copy["message"].as_str().unwrap().contains("eu-west-1"));
    let enc = check(&doc, "encryption");
    assert!(
        enc["message"].as_str().unwrap().contains("not encrypted"),
        "made before the default: {enc}"
    );

    // The instance's root volume is said to be the system disk.
    let described = lab.ec2(&[
        ("Action", "DescribeInstances"),
        ("InstanceId.1", &lab.instance),
    ]);
    let root = between(&described, "rootDeviceName").to_string();
    lab.ec2(&[
        ("Action", "DetachVolume"),
        ("VolumeId", &lab.volume),
        ("InstanceId", &lab.instance),
    ]);
    // moto has no device-in-use check: the volume stands at the root device beside the old one.
    lab.ec2(&[
        ("Action", "AttachVolume"),
        ("VolumeId", &lab.volume),
        ("InstanceId", &lab.instance),
        ("Device", &root),
    ]);
    let (_, doc, _) = lab.run(&["protect"]);
    assert_eq!(
        check(&doc, "data-on-system-disk")["status"],
        "warn",
        "{doc}"
    );
}

#[test]
fn all_audits_every_volume_of_the_region() {
    let Some(lab) = lab() else { return };
    let out = common::isolated(lab.home.path())
        .args([
            "protect",
            "--all",
            "--source",
            "aws",
            "--region",
            "us-east-1",
            "--json",
        ])
        .env("AWS_ENDPOINT_URL", &lab.moto.url)
        .env("AWS_ENDPOINT_URL_DLM", &lab.dlm.url)
        .env("AWS_ACCESS_KEY_ID", &lab.key.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", lab.key.secret_access_key.expose())
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(out.status.code(), Some(1), "{doc}");
    let disks = doc["disks"].as_array().unwrap();
    let ours = disks
        .iter()
        .find(|d| d["disk"] == lab.volume)
        .unwrap_or_else(|| panic!("{} not in {doc}", lab.volume));
    assert_eq!(ours["instances"], json!([lab.instance]));
    assert!(
        ours["failing"]
            .as_array()
            .unwrap()
            .contains(&json!("auto-policy")),
        "{ours}"
    );
    assert_eq!(doc["regions"][0]["error"], Value::Null, "{doc}");
}

#[test]
fn keep_days_locks_the_ebs_snapshot_in_governance_mode_once_complete() {
    let Some(lab) = lab() else { return };
    let (code, taken, err) = lab.run(&["snapshot", "--name", "pre-run-8", "--keep-days", "10"]);
    assert_eq!(code, 0, "{taken} {err}");
    let kept = taken["kept"].as_str().unwrap();
    assert!(
        kept.contains("governance") && kept.contains("no retention of their own"),
        "{kept}"
    );
    let id = taken["id"].as_str().unwrap();
    let locks = lab.ec2(&[("Action", "DescribeLockedSnapshots"), ("SnapshotId.1", id)]);
    assert_eq!(between(&locks, "lockState"), "governance", "{locks}");
}
