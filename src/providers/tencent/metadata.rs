//! The CVM metadata service (plain GETs, no token): instance id, region and zone, and the
//! temporary keys of the instance's CAM role. The endpoint is
//! `SNAPRESCUE_TENCENT_METADATA_ENDPOINT`, else metadata.tencentyun.com only when DMI says
//! Tencent Cloud.

use super::creds::TencentCredentials;
use crate::providers::CloudError;
use crate::providers::secret::Secret;
use std::time::Duration;

pub struct Metadata {
    base: String,
    client: reqwest::blocking::Client,
}

impl Metadata {
    pub fn endpoint(on_tencent: bool) -> Option<String> {
        std::env::var("SNAPRESCUE_TENCENT_METADATA_ENDPOINT")
            .ok()
            .or_else(|| on_tencent.then(|| "http://metadata.tencentyun.com".to_string()))
            .map(|e| e.trim_end_matches('/').to_string())
    }

    /// A client for `base`, checked by asking for the instance id.
    pub fn connect(base: &str) -> Result<Self, CloudError> {
        let metadata = Self {
            base: base.to_string(),
            client: crate::providers::http_client(Duration::from_secs(2))?,
        };
        metadata.get("meta-data/instance-id")?;
        Ok(metadata)
    }

    /// The text at `/latest/{path}`, trimmed.
    pub fn get(&self, path: &str) -> Result<String, CloudError> {
        self.client
            .get(format!("{}/latest/{path}", self.base))
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .map(|t| t.trim().to_string())
            .map_err(|e| CloudError::Unreachable {
                service: "CVM metadata",
                endpoint: self.base.clone(),
                attempts: 1,
                reason: e.to_string(),
            })
    }

    /// Temporary keys of the instance's CAM role.
    pub fn role_credentials(&self) -> Result<TencentCredentials, CloudError> {
        let role = self.get("meta-data/cam/security-credentials/")?;
        let role = role.lines().next().unwrap_or_default().trim().to_string();
        if role.is_empty() {
            return Err(super::creds::missing());
        }
        let body = self.get(&format!("meta-data/cam/security-credentials/{role}"))?;
        let doc: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| CloudError::Malformed {
                service: "CVM metadata",
                reason: e.to_string(),
                head: crate::providers::head(&body),
            })?;
        let field = |k: &str| doc[k].as_str().map(str::to_string);
        if doc["Code"].as_str().is_some_and(|c| c != "Success") {
            return Err(CloudError::Config(format!(
                "the CVM role {role} gave no keys: {}",
                crate::providers::head(&body)
            )));
        }
        Ok(TencentCredentials {
            secret_id: field("TmpSecretId").ok_or_else(super::creds::missing)?,
            secret_key: Secret::new(field("TmpSecretKey").ok_or_else(super::creds::missing)?),
            token: field("Token").map(Secret::new),
            origin: format!("CVM role {role}"),
            expires: doc["ExpiredTime"].as_i64(),
        })
    }
}
