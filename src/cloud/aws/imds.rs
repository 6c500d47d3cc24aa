//! IMDSv2: a token first (PUT /latest/api/token), then metadata with it; 1 s timeouts. The
//! endpoint comes from `AWS_EC2_METADATA_SERVICE_ENDPOINT`, as in the official SDKs.

use super::creds::{AwsCredentials, Secret};
use crate::cloud::CloudError;
use std::time::Duration;

pub struct Imds {
    base: String,
    client: reqwest::blocking::Client,
    token: String,
}

impl Imds {
    /// The configured endpoint, or the link-local default when `on_aws` (DMI said so).
    pub fn endpoint(on_aws: bool) -> Option<String> {
        std::env::var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
            .ok()
            .or_else(|| on_aws.then(|| "http://169.254.169.254".to_string()))
            .map(|e| e.trim_end_matches('/').to_string())
    }

    pub fn connect(base: &str) -> Result<Self, CloudError> {
        let client = crate::cloud::http_client(Duration::from_secs(2))?;
        let token = client
            .put(format!("{base}/latest/api/token"))
            .header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .map_err(|e| CloudError::Unreachable {
                service: "AWS instance metadata",
                endpoint: base.into(),
                attempts: 1,
                reason: e.to_string(),
            })?;
        Ok(Self {
            base: base.to_string(),
            client,
            token,
        })
    }

    pub fn get(&self, path: &str) -> Result<String, CloudError> {
        self.client
            .get(format!("{}/latest/{path}", self.base))
            .header("x-aws-ec2-metadata-token", &self.token)
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .map(|t| t.trim().to_string())
            .map_err(|e| CloudError::Unreachable {
                service: "AWS instance metadata",
                endpoint: self.base.clone(),
                attempts: 1,
                reason: e.to_string(),
            })
    }

    pub fn instance_id(&self) -> Result<String, CloudError> {
        self.get("meta-data/instance-id")
    }

    pub fn region(&self) -> Result<String, CloudError> {
        self.get("meta-data/placement/region")
    }

    /// Credentials of the instance's IAM role.
    pub fn role_credentials(&self) -> Result<AwsCredentials, CloudError> {
        let role = self.get("meta-data/iam/security-credentials/")?;
        let role = role.lines().next().unwrap_or_default().to_string();
        let body = self.get(&format!("meta-data/iam/security-credentials/{role}"))?;
        let doc: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| CloudError::Malformed {
                service: "AWS instance metadata",
                reason: e.to_string(),
                head: crate::cloud::head(&body),
            })?;
        let field = |k: &str| doc[k].as_str().map(str::to_string);
        Ok(AwsCredentials {
            access_key_id: field("AccessKeyId").ok_or_else(super::creds::missing)?,
            secret_access_key: Secret::new(
                field("SecretAccessKey").ok_or_else(super::creds::missing)?,
            ),
            session_token: field("Token").map(Secret::new),
            origin: format!("instance role {role}"),
        })
    }
}
