//! The ECS metadata service, token first. The endpoint is
//! `SNAPRESCUE_ALIYUN_METADATA_ENDPOINT`, else 100.100.100.200 only when DMI says Alibaba
//! Cloud.

use super::creds::AliyunCredentials;
use crate::providers::CloudError;
use crate::providers::secret::Secret;
use crate::providers::token_metadata::TokenMetadata;

pub struct Metadata(TokenMetadata);

impl Metadata {
    pub fn endpoint(on_aliyun: bool) -> Option<String> {
        std::env::var("SNAPRESCUE_ALIYUN_METADATA_ENDPOINT")
            .ok()
            .or_else(|| on_aliyun.then(|| "http://100.100.100.200".to_string()))
            .map(|e| e.trim_end_matches('/').to_string())
    }

    pub fn connect(base: &str) -> Result<Self, CloudError> {
        TokenMetadata::connect(
            "ECS metadata",
            base,
            "X-aliyun-ecs-metadata-token-ttl-seconds",
            "X-aliyun-ecs-metadata-token",
        )
        .map(Self)
    }

    pub fn get(&self, path: &str) -> Result<String, CloudError> {
        self.0.get(path)
    }

    /// Credentials of the instance's RAM role (`role` or the one attached).
    pub fn role_credentials(&self, role: Option<&str>) -> Result<AliyunCredentials, CloudError> {
        let role = match role.filter(|r| !r.is_empty()) {
            Some(r) => r.to_string(),
            None => self
                .get("meta-data/ram/security-credentials/")?
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        };
        let doc = self
            .0
            .json(&format!("meta-data/ram/security-credentials/{role}"))?;
        let field = |k: &str| doc[k].as_str().map(str::to_string);
        Ok(AliyunCredentials {
            access_key_id: field("AccessKeyId").ok_or_else(super::creds::missing)?,
            access_key_secret: Secret::new(
                field("AccessKeySecret").ok_or_else(super::creds::missing)?,
            ),
            security_token: field("SecurityToken").map(Secret::new),
            origin: format!("instance RAM role {role}"),
        })
    }
}
