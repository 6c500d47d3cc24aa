//! An EC2 "account" for the rescue and rollback tests: moto with the disk harness, an
//! instance, data volumes whose snapshots hold the images of loop-mounted filesystems, and the
//! binary run against it.

use super::LoopFs;
use super::disk_harness::DiskHarness;
use super::moto::{Moto, access_key, between, call, start_moto_with};
use serde_json::Value;
use snaprescue::providers::aws::creds::AwsCredentials;

pub struct Cloud {
    pub harness: DiskHarness,
    pub moto: Moto,
    pub key: AwsCredentials,
    pub instance: String,
    pub home: tempfile::TempDir,
}

impl Cloud {
    pub fn start(python: &str) -> Self {
        let harness = DiskHarness::new();
        let moto = start_moto_with(python, Some(harness.path()));
        let key = access_key(&moto);
        let mut cloud = Self {
            harness,
            moto,
            key,
            instance: String::new(),
            home: tempfile::tempdir().unwrap(),
        };
        let run = cloud.ec2(&[
            ("Action", "RunInstances"),
            ("ImageId", "ami-760aaa0f"),
            ("MinCount", "1"),
            ("MaxCount", "1"),
            ("Placement.AvailabilityZone", "us-east-1a"),
        ]);
        cloud.instance = between(&run, "instanceId").to_string();
        cloud
    }

    pub fn ec2(&self, params: &[(&str, &str)]) -> String {
        let mut all = params.to_vec();
        all.push(("Version", "2016-11-15"));
        let (status, body) = call(&self.moto, &self.key, "ec2", &all);
        assert_eq!(status, 200, "{:?}: {body}", params[0]);
        body
    }

    /// A data volume attached at /dev/sdf, and a snapshot of it whose image is `live`'s.
    pub fn volume_with_snapshot(&self, live: &LoopFs) -> (String, String) {
        let volume = self.ec2(&[
            ("Action", "CreateVolume"),
            ("AvailabilityZone", "us-east-1a"),
            ("Size", "1"),
        ]);
        let volume = between(&volume, "volumeId").to_string();
        self.ec2(&[
            ("Action", "AttachVolume"),
            ("VolumeId", &volume),
            ("InstanceId", &self.instance),
            ("Device", "/dev/sdf"),
        ]);
        let snapshot = self.ec2(&[
            ("Action", "CreateSnapshot"),
            ("VolumeId", &volume),
            ("Description", "nightly"),
        ]);
        let snapshot = between(&snapshot, "snapshotId").to_string();
        nix::unistd::sync();
        // XFS is frozen for its snapshot (as AWS advises): mounted norecovery, a dirty log's
        // last writes would not be visible. ext4 and btrfs are copied live (crash-consistent).
        let frozen = live_fs_type(live) == "xfs";
        if frozen {
            super::sh("fsfreeze", &["-f", live.mount.to_str().unwrap()]);
        }
        self.harness.add_snapshot_image(&snapshot, &live.image);
        if frozen {
            super::sh("fsfreeze", &["-u", live.mount.to_str().unwrap()]);
        }
        (volume, snapshot)
    }

    /// The binary with moto's endpoint, the key, and the harness's by-id directory.
    pub fn command<S: AsRef<std::ffi::OsStr>>(
        &self,
        args: &[S],
        env: &[(&str, &str)],
    ) -> std::process::Command {
        let mut cmd = super::isolated(self.home.path());
        cmd.args(args)
            .env("AWS_ENDPOINT_URL", &self.moto.url)
            .env("AWS_ACCESS_KEY_ID", &self.key.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", self.key.secret_access_key.expose())
            .env("SNAPRESCUE_BY_ID_DIR", self.harness.by_id());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn snaprescue<S: AsRef<std::ffi::OsStr>>(
        &self,
        args: &[S],
        env: &[(&str, &str)],
    ) -> (Option<i32>, Value, String) {
        let out = self.command(args, env).output().unwrap();
        let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (
            out.status.code(),
            doc,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn cloud_args<'a>(&'a self, volume: &'a str) -> Vec<&'a str> {
        vec![
            "--source",
            "aws",
            "--region",
            "us-east-1",
            "--instance",
            &self.instance,
            "--disk",
            volume,
            "--attach-to",
            &self.instance,
        ]
    }

    /// `VERB PATH --snapshot SNAPSHOT --json EXTRA…` with this account's cloud flags for
    /// `volume`.
    pub fn args(
        &self,
        verb: &str,
        path: &std::path::Path,
        snapshot: &str,
        volume: &str,
        extra: &[&str],
    ) -> Vec<String> {
        let path = path.to_str().unwrap();
        [verb, path, "--snapshot", snapshot, "--json"]
            .into_iter()
            .chain(extra.iter().copied())
            .chain(self.cloud_args(volume))
            .map(String::from)
            .collect()
    }

    /// Volumes carrying snaprescue's run tag (rescue volumes left behind).
    pub fn tagged_volumes(&self) -> Vec<String> {
        let body = self.ec2(&[
            ("Action", "DescribeVolumes"),
            ("Filter.1.Name", "tag-key"),
            ("Filter.1.Value.1", "snaprescue-run"),
        ]);
        volume_ids(&body)
    }

    /// Nothing the tool made is left: no tagged volume, no harness mount or loop device.
    pub fn assert_nothing_left(&self, context: &str) {
        assert_eq!(
            self.tagged_volumes(),
            Vec::<String>::new(),
            "{context}: volumes left"
        );
        assert_eq!(
            self.harness.mounts(),
            Vec::<std::path::PathBuf>::new(),
            "{context}: mounts left"
        );
        assert_eq!(
            self.harness.lingering_loop_devices(),
            Vec::<String>::new(),
            "{context}: devices left"
        );
    }
}

fn live_fs_type(live: &LoopFs) -> String {
    super::sh(
        "findmnt",
        &["-n", "-o", "FSTYPE", live.mount.to_str().unwrap()],
    )
    .trim()
    .to_string()
}

/// The distinct volume ids in a DescribeVolumes answer.
pub fn volume_ids(body: &str) -> Vec<String> {
    body.split("<volumeId>")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}
