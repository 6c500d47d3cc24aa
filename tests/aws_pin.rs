//! Pinning on AWS against moto's EC2 server with signature checking on, its snapshot locks
//! added by tests/servers/moto_ec2.py in the real shapes: DLM's tags give `expires` and
//! `expiry_rule`, a lock `pinned`; `pin` sets a governance lock for N days, journaled, and
//! `unpin` removes only that lock: never one that was there before, nor one changed since.

mod common;

use common::moto::{Moto, access_key, access_key_with, between, call, python, start_moto};
use serde_json::Value;
use snaprescue::providers::aws::creds::AwsCredentials;

struct Lab {
    moto: Moto,
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

    fn snapshot(&self, description: &str) -> String {
        let body = self.ec2(&[
            ("Action", "CreateSnapshot"),
            ("VolumeId", &self.volume),
            ("Description", description),
        ]);
        between(&body, "snapshotId").to_string()
    }

    fn run(&self, args: &[&str]) -> (i32, Value) {
        let out = common::isolated(self.home.path())
            .args(args)
            .arg(self.dir.path())
            .args(["--source", "aws", "--region", "us-east-1"])
            .args([
                "--instance",
                &self.instance,
                "--disk",
                &self.volume,
                "--json",
            ])
            .env("AWS_ENDPOINT_URL", &self.moto.url)
            .env("AWS_ACCESS_KEY_ID", &self.key.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", self.key.secret_access_key.expose())
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

    /// The lock state of `id` as EC2 describes it, if locked.
    fn lock(&self, id: &str) -> Option<(String, String)> {
        let body = self.ec2(&[("Action", "DescribeLockedSnapshots"), ("SnapshotId.1", id)]);
        body.contains("<lockState>").then(|| {
            (
                between(&body, "lockState").to_string(),
                between(&body, "lockDuration").to_string(),
            )
        })
    }
}

fn lab() -> Option<Lab> {
    lab_for(None)
}

/// The lab with a user whose IAM policy is `policy` (default: ec2:*).
fn lab_for(policy: Option<&str>) -> Option<Lab> {
    let python = python()?;
    let moto = start_moto(&python);
    let key = match policy {
        Some(policy) => access_key_with(&moto, policy),
        None => access_key(&moto),
    };
    let mut lab = Lab {
        moto,
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
fn dlm_tags_and_locks_are_listed_and_unpin_removes_only_its_own_lock() {
    let Some(lab) = lab() else { return };
    let plain = lab.snapshot("manual before the run");
    let by_dlm = lab.snapshot("Created for policy: policy-0abc");
    let expires = (chrono::Utc::now() + chrono::Duration::hours(5))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    lab.ec2(&[
        ("Action", "CreateTags"),
        ("ResourceId.1", &by_dlm),
        ("Tag.1.Key", "aws:dlm:lifecycle-policy-id"),
        ("Tag.1.Value", "policy-0abc"),
        ("Tag.2.Key", "aws:dlm:expirationTime"),
        ("Tag.2.Value", &expires),
    ]);
    let locked_before = lab.snapshot("locked by the team");
    lab.ec2(&[
        ("Action", "LockSnapshot"),
        ("SnapshotId", &locked_before),
        ("LockMode", "governance"),
        ("LockDuration", "30"),
    ]);

    let plain_row = lab.listed(&plain);
    assert_eq!(plain_row["expires"], Value::Null, "{plain_row}");
    assert_eq!(plain_row["expiry_rule"], Value::Null);
    assert_eq!(plain_row["pinned"], false);
    let dlm_row = lab.listed(&by_dlm);
    assert_eq!(
        dlm_row["expiry_rule"], "DLM policy policy-0abc",
        "{dlm_row}"
    );
    let listed_expiry =
        chrono::DateTime::parse_from_rfc3339(dlm_row["expires"].as_str().unwrap()).unwrap();
    assert!(
        (listed_expiry.timestamp()
            - chrono::DateTime::parse_from_rfc3339(&expires)
                .unwrap()
                .timestamp())
        .abs()
            < 2
    );
    assert_eq!(dlm_row["pinned"], false);
    assert_eq!(lab.listed(&locked_before)["pinned"], true);

    // pin: a governance lock for 14 days (the default), past DLM's expiry.
    let (code, pinned) = lab.run(&["pin", "--snapshot", &by_dlm]);
    assert_eq!(code, 0, "{pinned}");
    assert_eq!(pinned["changed"], true);
    assert!(
        pinned["said"]
            .as_str()
            .unwrap()
            .contains("governance mode for 14 days"),
        "{pinned}"
    );
    assert_eq!(lab.lock(&by_dlm), Some(("governance".into(), "14".into())));
    let dlm_row = lab.listed(&by_dlm);
    assert_eq!(dlm_row["pinned"], true);
    assert_eq!(
        dlm_row["expires"].as_str().map(|e| e > expires.as_str()),
        Some(true),
        "{dlm_row}"
    );
    let (code, unpinned) = lab.run(&["unpin", "--snapshot", &by_dlm]);
    assert_eq!(code, 0, "{unpinned}");
    assert_eq!(unpinned["fully_undone"], true, "{unpinned}");
    assert_eq!(lab.lock(&by_dlm), None, "snaprescue's own lock is removed");

    // A lock that was there before: no pin needed, and unpin never removes it.
    let (code, none) = lab.run(&["pin", "--snapshot", &locked_before]);
    assert_eq!(code, 0);
    assert_eq!(none["changed"], false);
    assert!(
        none["said"].as_str().unwrap().contains("already locked"),
        "{none}"
    );
    let (_, unpinned) = lab.run(&["unpin", "--snapshot", &locked_before]);
    assert_eq!(unpinned["fully_undone"], false);
    assert_eq!(
        lab.lock(&locked_before),
        Some(("governance".into(), "30".into()))
    );

    // A lock changed since snaprescue set it is left as it is, with the command to remove it.
    let (_, _) = lab.run(&["pin", "--snapshot", &plain, "--days", "3"]);
    assert_eq!(lab.lock(&plain), Some(("governance".into(), "3".into())));
    lab.ec2(&[
        ("Action", "LockSnapshot"),
        ("SnapshotId", &plain),
        ("LockMode", "governance"),
        ("LockDuration", "60"),
    ]);
    let (_, unpinned) = lab.run(&["unpin", "--snapshot", &plain]);
    let why = unpinned["not_undone"][0].as_str().unwrap();
    assert!(
        why.contains("changed since") && why.contains("unlock-snapshot"),
        "{why}"
    );
    assert_eq!(lab.lock(&plain), Some(("governance".into(), "60".into())));

    // The lock keeps the snapshot: the stand-in refuses to delete it, as EC2 does.
    let mut all = vec![("Action", "DeleteSnapshot"), ("SnapshotId", plain.as_str())];
    all.push(("Version", "2016-11-15"));
    let (status, body) = call(&lab.moto, &lab.key, "ec2", &all);
    assert_ne!(status, 200, "{body}");
    assert!(body.contains("SnapshotLocked"), "{body}");
}

#[test]
fn without_permission_to_read_locks_the_listing_works_and_pin_names_the_permission() {
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"ec2:*","Resource":"*"},
        {"Effect":"Deny","Action":"ec2:DescribeLockedSnapshots","Resource":"*"}]}"#;
    let Some(lab) = lab_for(Some(policy)) else {
        return;
    };
    let snapshot = lab.snapshot("nightly");
    let row = lab.listed(&snapshot);
    assert_eq!(row["pinned"], false, "locks unknown: listed all the same");
    let (code, doc) = lab.run(&["pin", "--snapshot", &snapshot]);
    assert_eq!(code, 1, "{doc}");
    let error = doc["error"].as_str().unwrap();
    assert!(
        // moto says AccessDenied where EC2 says UnauthorizedOperation: both get the advice.
        error.contains("allow ec2:DescribeLockedSnapshots"),
        "{error}"
    );
}
