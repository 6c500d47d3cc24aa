//! The ECS metadata service: a token first (PUT /latest/api/token), then metadata with it.
//! The endpoint is `SNAPRESCUE_ALIYUN_METADATA_ENDPOINT`, else 100.100.100.200 only when DMI
//! says Alibaba Cloud.

use super::creds::AliyunCredentials;
use crate::cloud::CloudError;
use crate::cloud::aws::creds::Secret;
use std::time::Duration;

pub struct Metadata {
    base: String,
    client: reqwest::blocking::Client,
    token: String,
}

impl Metadata {
    pub fn endpoint(on_aliyun: bool) -> Option<String> {
        std::env::var("SNAPRESCUE_ALIYUN_METADATA_ENDPOINT")
            .ok()
            .or_else(|| on_aliyun.then(|| "http://100.100.100.200".to_string()))
            .map(|e| e.trim_end_matches('/').to_string())
    }

    pub fn connect(base: &str) -> Result<Self, CloudError> {
        let client = crate::cloud::http_client(Duration::from_secs(2))?;
        let token = client
            .put(format!("{base}/latest/api/token"))
            .header("X-aliyun-ecs-metadata-token-ttl-seconds", "21600")
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .map_err(|e| CloudError::Unreachable {
                service: "ECS metadata",
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
            .header("X-aliyun-ecs-metadata-token", &self.token)
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .map(|t| t.trim().to_string())
            .map_err(|e| CloudError::Unreachable {
                service: "ECS metadata",
                endpoint: self.base.clone(),
                attempts: 1,
                reason: e.to_string(),
            })
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
        let body = self.get(&format!("meta-data/ram/security-credentials/{role}"))?;
        let doc: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| CloudError::Malformed {
                service: "ECS metadata",
                reason: e.to_string(),
                head: crate::cloud::head(&body),
            })?;
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
