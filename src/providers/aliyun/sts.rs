//! RamRoleArn profiles: the profile's keys call STS AssumeRole (2015-04-01) and the
//! temporary credentials it returns sign the ECS calls. The endpoint is
//! `SNAPRESCUE_ALIYUN_STS_ENDPOINT`, else `https://sts.aliyuncs.com`.

use super::creds::AliyunCredentials;
use super::rpc::{Api, rpc_call};
use crate::providers::CloudError;
use crate::providers::secret::Secret;
use std::time::Duration;

pub fn assume_role(
    keys: &AliyunCredentials,
    role_arn: &str,
    session: &str,
    seconds: u64,
) -> Result<AliyunCredentials, CloudError> {
    let endpoint = std::env::var("SNAPRESCUE_ALIYUN_STS_ENDPOINT")
        .unwrap_or_else(|_| "https://sts.aliyuncs.com".into());
    let http = crate::providers::http_client(Duration::from_secs(30))?;
    let api = Api {
        service: "STS",
        endpoint: endpoint.trim_end_matches('/'),
        version: "2015-04-01",
        region: None,
    };
    let params = vec![
        ("RoleArn".to_string(), role_arn.to_string()),
        ("RoleSessionName".into(), session.to_string()),
        (
            "DurationSeconds".into(),
            seconds.clamp(900, 43_200).to_string(),
        ),
    ];
    let doc = rpc_call(&http, &api, keys, "AssumeRole", &params)?;
    let c = &doc["Credentials"];
    let field = |k: &str| {
        c[k].as_str()
            .map(str::to_string)
            .ok_or_else(|| CloudError::Malformed {
                service: "STS",
                reason: format!("no Credentials.{k} in the AssumeRole answer"),
                head: crate::providers::head(&doc.to_string()),
            })
    };
    Ok(AliyunCredentials {
        access_key_id: field("AccessKeyId")?,
        access_key_secret: Secret::new(field("AccessKeySecret")?),
        security_token: Some(Secret::new(field("SecurityToken")?)),
        origin: format!("role {role_arn} assumed with {}", keys.origin),
    })
}
