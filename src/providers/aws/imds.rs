//! IMDSv2: a token first, then metadata with it. The endpoint comes from
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT`, as in the official SDKs.

use super::creds::{AwsCredentials, Secret};
use crate::providers::CloudError;
use crate::providers::token_metadata::TokenMetadata;

pub struct Imds(TokenMetadata);

impl Imds {
    /// The configured endpoint, or the link-local default when `on_aws` (DMI said so).
    pub fn endpoint(on_aws: bool) -> Option<String> {
        std::env::var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
            .ok()
            .or_else(|| on_aws.then(|| "http://169.254.169.254".to_string()))
            .map(|e| e.trim_end_matches('/').to_string())
    }

    pub fn connect(base: &str) -> Result<Self, CloudError> {
        TokenMetadata::connect(
            "AWS instance metadata",
            base,
            "x-aws-ec2-metadata-token-ttl-seconds",
            "x-aws-ec2-metadata-token",
        )
        .map(Self)
    }

    pub fn instance_id(&self) -> Result<String, CloudError> {
        self.0.get("meta-data/instance-id")
    }

    pub fn region(&self) -> Result<String, CloudError> {
        self.0.get("meta-data/placement/region")
    }

    pub fn zone(&self) -> Result<String, CloudError> {
        self.0.get("meta-data/placement/availability-zone")
    }

    /// Credentials of the instance's IAM role.
    pub fn role_credentials(&self) -> Result<AwsCredentials, CloudError> {
        let roles = self.0.get("meta-data/iam/security-credentials/")?;
        let role = roles.lines().next().unwrap_or_default().to_string();
        let doc = self
            .0
            .json(&format!("meta-data/iam/security-credentials/{role}"))?;
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
