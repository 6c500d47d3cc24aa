//! moto's EC2 server for the tests: started on 127.0.0.1 with signature checking on (and the
//! disk harness when `harness` is given), an IAM user whose key signs the calls, and signed
//! Query API calls for seeding.

use snaprescue::providers::aws::creds::{AwsCredentials, Secret};
use snaprescue::providers::aws::ec2::form_urlencoded;
use snaprescue::providers::aws::sign::{Unsigned, sign};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::SystemTime;

/// The moto server of this test, killed (by PID) on drop.
pub struct Moto {
    pub child: Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn python() -> Option<String> {
    match std::env::var("SNAPRESCUE_TEST_PYTHON") {
        Ok(p) => Some(p),
        Err(_) if std::env::var_os("SNAPRESCUE_REQUIRE_MOTO").is_some() => {
            panic!("SNAPRESCUE_TEST_PYTHON (a venv with moto) is required")
        }
        Err(_) => {
            eprintln!("skipped: SNAPRESCUE_TEST_PYTHON (a venv with moto[server]) not set");
            None
        }
    }
}

pub fn start_moto(python: &str) -> Moto {
    start_moto_with(python, None)
}

pub fn start_moto_with(python: &str, harness: Option<&Path>) -> Moto {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/servers/moto_ec2.py");
    let mut command = Command::new(python);
    if let Some(dir) = harness {
        command.env("SNAPRESCUE_HARNESS_DIR", dir);
    }
    let mut child = command
        .arg(script)
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
        .env("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        .stdout(Stdio::piped())
        .stderr(match harness {
            Some(dir) => std::fs::File::create(dir.join("server.log"))
                .unwrap()
                .into(),
            None => Stdio::null(),
        })
        .spawn()
        .unwrap();
    let port = super::announced_port(&mut child, "moto");
    Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

pub fn creds(id: &str, secret: &str) -> AwsCredentials {
    AwsCredentials {
        access_key_id: id.into(),
        secret_access_key: Secret::new(secret),
        session_token: None,
        origin: "test".into(),
    }
}

/// A signed Query API call; returns (status, body).
pub fn call(
    moto: &Moto,
    creds: &AwsCredentials,
    service: &str,
    params: &[(&str, &str)],
) -> (u16, String) {
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let body = form_urlencoded(&owned);
    let url = format!("{}/", moto.url);
    let ct = "application/x-www-form-urlencoded; charset=utf-8";
    let headers = sign(
        creds,
        "us-east-1",
        service,
        &Unsigned {
            method: "POST",
            url: &url,
            headers: &[("content-type", ct)],
            body: body.as_bytes(),
        },
        SystemTime::now(),
    )
    .unwrap();
    let mut request = reqwest::blocking::Client::new()
        .post(&url)
        .header("content-type", ct)
        .body(body);
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let response = request.send().unwrap();
    (response.status().as_u16(), response.text().unwrap())
}

/// An EC2 call that must succeed; its body.
pub fn ec2(moto: &Moto, creds: &AwsCredentials, params: &[(&str, &str)]) -> String {
    let mut all = params.to_vec();
    all.push(("Version", "2016-11-15"));
    let (status, body) = call(moto, creds, "ec2", &all);
    assert_eq!(status, 200, "{:?}: {body}", params[0]);
    body
}

/// An instance in us-east-1a with a 100 GiB data volume attached at /dev/sdf: (instance,
/// volume).
pub fn instance_with_volume(moto: &Moto, creds: &AwsCredentials) -> (String, String) {
    let run = ec2(
        moto,
        creds,
        &[
            ("Action", "RunInstances"),
            ("ImageId", "ami-760aaa0f"),
            ("MinCount", "1"),
            ("MaxCount", "1"),
            ("Placement.AvailabilityZone", "us-east-1a"),
        ],
    );
    let instance = between(&run, "instanceId").to_string();
    let created = ec2(
        moto,
        creds,
        &[
            ("Action", "CreateVolume"),
            ("AvailabilityZone", "us-east-1a"),
            ("Size", "100"),
        ],
    );
    let volume = between(&created, "volumeId").to_string();
    ec2(
        moto,
        creds,
        &[
            ("Action", "AttachVolume"),
            ("VolumeId", &volume),
            ("InstanceId", &instance),
            ("Device", "/dev/sdf"),
        ],
    );
    (instance, volume)
}

pub fn between<'a>(body: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = body
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {body}"))
        + open.len();
    &body[start..start + body[start..].find('<').unwrap()]
}

/// Creates an IAM user with ec2:* and returns its key (the first three calls are
/// unauthenticated, as INITIAL_NO_AUTH_ACTION_COUNT allows).
pub fn access_key(moto: &Moto) -> AwsCredentials {
    access_key_with(
        moto,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#,
    )
}

/// [`access_key`] for a user whose policy is `policy`.
pub fn access_key_with(moto: &Moto, policy: &str) -> AwsCredentials {
    let bootstrap = creds("AKIDBOOTSTRAP", "bootstrap");
    let iam = |params: &[(&str, &str)]| {
        let mut all = params.to_vec();
        all.push(("Version", "2010-05-08"));
        let (status, body) = call(moto, &bootstrap, "iam", &all);
        assert_eq!(status, 200, "{body}");
        body
    };
    iam(&[("Action", "CreateUser"), ("UserName", "rescuer")]);
    iam(&[
        ("Action", "PutUserPolicy"),
        ("UserName", "rescuer"),
        ("PolicyName", "ec2"),
        ("PolicyDocument", policy),
    ]);
    let body = iam(&[("Action", "CreateAccessKey"), ("UserName", "rescuer")]);
    creds(
        between(&body, "AccessKeyId"),
        between(&body, "SecretAccessKey"),
    )
}
