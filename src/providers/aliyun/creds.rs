//! Alibaba Cloud credentials as the aliyun CLI finds them: environment variables, then the
//! profile of `~/.aliyun/config.json` (AK, StsToken, EcsRamRole), then the instance's RAM
//! role through the metadata service.

use crate::providers::CloudError;
use crate::providers::secret::Secret;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliyunCredentials {
    pub access_key_id: String,
    pub access_key_secret: Secret,
    pub security_token: Option<Secret>,
    pub origin: String,
}

/// What the profile says, when it names a way we support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileCredentials {
    Keys(AliyunCredentials),
    /// EcsRamRole: ask the metadata service for this role's credentials.
    EcsRole(String),
    /// RamRoleArn: these keys assume the role through STS.
    AssumeRole {
        keys: AliyunCredentials,
        role_arn: String,
        session: String,
        seconds: u64,
    },
}

fn env_first(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

pub fn from_env() -> Option<AliyunCredentials> {
    let id = env_first(&[
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABACLOUD_ACCESS_KEY_ID",
        "ALICLOUD_ACCESS_KEY_ID",
        "ACCESS_KEY_ID",
    ])?;
    let secret = env_first(&[
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABACLOUD_ACCESS_KEY_SECRET",
        "ALICLOUD_ACCESS_KEY_SECRET",
        "ACCESS_KEY_SECRET",
    ])?;
    Some(AliyunCredentials {
        access_key_id: id,
        access_key_secret: Secret::new(secret),
        security_token: env_first(&[
            "ALIBABA_CLOUD_SECURITY_TOKEN",
            "ALIBABACLOUD_SECURITY_TOKEN",
            "ALICLOUD_SECURITY_TOKEN",
            "SECURITY_TOKEN",
        ])
        .map(Secret::new),
        origin: "environment (ALIBABA_CLOUD_ACCESS_KEY_ID)".into(),
    })
}

pub fn config_path() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
        .join(".aliyun/config.json")
}

/// The selected profile of `~/.aliyun/config.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub credentials: ProfileCredentials,
    pub region: Option<String>,
    pub endpoint: Option<String>,
}

/// The selected profile (ALIBABA_CLOUD_PROFILE, else `current`).
pub fn from_config() -> Result<Option<Profile>, CloudError> {
    let path = config_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    crate::providers::warn_if_exposed(&path);
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CloudError::Config(format!("{} is not valid JSON: {e}", path.display())))?;
    let wanted = env_first(&[
        "ALIBABA_CLOUD_PROFILE",
        "ALIBABACLOUD_PROFILE",
        "ALICLOUD_PROFILE",
    ])
    .or_else(|| doc["current"].as_str().map(str::to_string))
    .unwrap_or_else(|| "default".into());
    let Some(profile) = doc["profiles"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == wanted.as_str()))
    else {
        return Ok(None);
    };
    let field = |k: &str| {
        profile[k]
            .as_str()
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let region = field("region_id");
    let origin = format!("profile {wanted} in {}", path.display());
    let creds = match profile["mode"].as_str().unwrap_or("AK") {
        "AK" | "StsToken" => {
            ProfileCredentials::Keys(AliyunCredentials {
                access_key_id: field("access_key_id")
                    .ok_or_else(|| CloudError::Config(format!("{origin} has no access_key_id")))?,
                access_key_secret: Secret::new(field("access_key_secret").ok_or_else(|| {
                    CloudError::Config(format!("{origin} has no access_key_secret"))
                })?),
                security_token: field("sts_token").map(Secret::new),
                origin,
            })
        }
        "EcsRamRole" => ProfileCredentials::EcsRole(field("ram_role_name").unwrap_or_default()),
        "RamRoleArn" => ProfileCredentials::AssumeRole {
            keys: AliyunCredentials {
                access_key_id: field("access_key_id")
                    .ok_or_else(|| CloudError::Config(format!("{origin} has no access_key_id")))?,
                access_key_secret: Secret::new(field("access_key_secret").ok_or_else(|| {
                    CloudError::Config(format!("{origin} has no access_key_secret"))
                })?),
                security_token: None,
                origin: origin.clone(),
            },
            role_arn: field("ram_role_arn")
                .ok_or_else(|| CloudError::Config(format!("{origin} has no ram_role_arn")))?,
            session: field("ram_session_name").unwrap_or_else(|| "snaprescue".into()),
            seconds: profile["expired_seconds"].as_u64().unwrap_or(3600),
        },
        other => {
            return Err(CloudError::Config(format!(
                "{origin} uses mode {other}, which snaprescue does not read; use an AK, StsToken, RamRoleArn or EcsRamRole profile, or ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET"
            )));
        }
    };
    Ok(Some(Profile {
        credentials: creds,
        region,
        endpoint: field("endpoint"),
    }))
}

pub fn missing() -> CloudError {
    CloudError::NoCredentials {
        service: "Alibaba Cloud",
        advice: "Set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or configure a profile with `aliyun configure`, or attach a RAM role allowing ecs:DescribeDisks and ecs:DescribeSnapshots to the instance".into(),
    }
}
