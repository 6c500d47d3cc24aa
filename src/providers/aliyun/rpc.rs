//! Alibaba Cloud's RPC-style call, shared by ECS and STS: signed form POSTs, JSON answers,
//! retries on throttling and 5xx (honouring `x-acs-retry-after`), and API errors turned
//! into advice that names the code and what to do.

use super::creds::AliyunCredentials;
use crate::providers::{Answer, CloudError, Retry, RetryPolicy, send_with_retries};
use chrono::Utc;
use serde_json::Value;

fn is_throttling(code: &str) -> bool {
    code.starts_with("Throttling") || code == "Rejected.Throttling"
}

/// The service itself is down or overloaded (503): not a limit on this account.
fn is_unavailable(code: &str) -> bool {
    code.starts_with("ServiceUnavailable") || code == "Unavailable"
}

pub fn advice(code: &str, action: &str, creds: &str) -> String {
    match code {
        "InvalidAccessKeyId.NotFound"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "InvalidAccessKeySecret" => {
            format!("The AccessKey or its secret is wrong (credentials from {creds}); check them")
        }
        c if c.starts_with("Forbidden") => format!(
            "These credentials may not call {action}: grant ecs:{action} to the RAM user or role ({creds})"
        ),
        "IllegalTimestamp" => "The system clock is off: fix it (chronyc makestep) and retry".into(),
        "InvalidRegionId.NotFound" | "InvalidRegion.NotFound" => {
            "That region does not exist: check --region".into()
        }
        "InvalidDiskId.NotFound" | "InvalidInstanceId.NotFound" => {
            "It does not exist in this region: check --region, --instance and --disk".into()
        }
        c if is_throttling(c) => {
            "Alibaba Cloud is throttling these API calls: wait a minute and run again".into()
        }
        c if is_unavailable(c) => format!(
            "The ECS API was unavailable for {action} (503, also on every retry): the service \
             is down or overloaded, not limiting this account; wait a few minutes and run again"
        ),
        _ => format!("See the ECS API error codes for {code}"),
    }
}

fn classify(answer: &Answer) -> Retry {
    if (200..300).contains(&answer.status) {
        return Retry::Never;
    }
    let code = serde_json::from_str::<Value>(&answer.body)
        .ok()
        .and_then(|v| v["Code"].as_str().map(str::to_string));
    match code {
        Some(c) if is_throttling(&c) => Retry::Throttled,
        _ if answer.status >= 500 => Retry::Transient,
        _ => Retry::Never,
    }
}

/// Which RPC API a call goes to.
pub struct Api<'a> {
    pub service: &'static str,
    pub endpoint: &'a str,
    pub version: &'a str,
    /// Sent as `RegionId` when the API wants it.
    pub region: Option<&'a str>,
}

/// One signed RPC call (POST, form body, JSON answer) with retries; the JSON of a success,
/// or the API error with advice.
pub fn rpc_call(
    http: &reqwest::blocking::Client,
    api: &Api,
    creds: &AliyunCredentials,
    action: &str,
    params: &[(String, String)],
) -> Result<Value, CloudError> {
    let answer = send_with_retries(
        api.service,
        api.endpoint,
        RetryPolicy::default(),
        || {
            let mut all: Vec<(String, String)> = vec![
                ("Action".into(), action.into()),
                ("Version".into(), api.version.into()),
                ("Format".into(), "JSON".into()),
                ("AccessKeyId".into(), creds.access_key_id.clone()),
                ("SignatureMethod".into(), "HMAC-SHA1".into()),
                ("SignatureVersion".into(), "1.0".into()),
                (
                    "SignatureNonce".into(),
                    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
                ),
                (
                    "Timestamp".into(),
                    Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                ),
            ];
            if let Some(region) = api.region {
                all.push(("RegionId".into(), region.into()));
            }
            if let Some(t) = &creds.security_token {
                all.push(("SecurityToken".into(), t.expose().to_string()));
            }
            all.extend(params.iter().cloned());
            let signature = super::sign::signature("POST", &all, creds.access_key_secret.expose());
            all.push(("Signature".into(), signature));
            let body = all
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        super::sign::percent_encode(k),
                        super::sign::percent_encode(v)
                    )
                })
                .collect::<Vec<_>>()
                .join("&");
            Ok(http
                .post(format!("{}/", api.endpoint))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body))
        },
        classify,
    )?;
    let doc: Value = serde_json::from_str(&answer.body).map_err(|e| CloudError::Malformed {
        service: api.service,
        reason: format!("not JSON ({e})"),
        head: crate::providers::head(&answer.body),
    })?;
    if (200..300).contains(&answer.status) {
        return Ok(doc);
    }
    let code = doc["Code"]
        .as_str()
        .or(doc["code"].as_str())
        .unwrap_or("Unknown")
        .to_string();
    let message = doc["Message"]
        .as_str()
        .or(doc["message"].as_str())
        .unwrap_or_default()
        .to_string();
    Err(CloudError::Api {
        service: api.service,
        advice: advice(&code, action, &creds.origin),
        code,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_5xx_are_retried_the_rest_is_not() {
        let a = |status, body: &str| Answer {
            status,
            body: body.into(),
            retry_after: None,
        };
        assert_eq!(
            classify(&a(400, r#"{"Code":"Throttling.User","Message":"m"}"#)),
            Retry::Throttled
        );
        assert_eq!(
            classify(&a(503, r#"{"Code":"ServiceUnavailable"}"#)),
            Retry::Transient
        );
        assert_eq!(classify(&a(500, "oops")), Retry::Transient);
        let unavailable = advice("ServiceUnavailable", "AttachDisk", "env");
        assert!(unavailable.contains("unavailable"), "{unavailable}");
        assert!(!unavailable.contains("throttling"), "{unavailable}");
        assert_eq!(
            classify(&a(404, r#"{"Code":"InvalidDiskId.NotFound"}"#)),
            Retry::Never
        );
    }
}
