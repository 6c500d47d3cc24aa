//! The Tencent Cloud API 3.0 client for CBS and CVM (version 2017-03-12): JSON POSTs signed
//! with TC3-HMAC-SHA256, retried on throttling (`RequestLimitExceeded*`), internal errors and
//! lost answers, and errors — which arrive as HTTP 200 with `Response.Error` — turned into
//! advice. Endpoints: `SNAPRESCUE_TENCENT_CBS_ENDPOINT` (or `--endpoint`) and
//! `SNAPRESCUE_TENCENT_CVM_ENDPOINT`, else the public ones. Role keys are refreshed before
//! they expire.

use super::creds::TencentCredentials;
use super::metadata::Metadata;
use super::sign::{Tc3Request, authorization};
use crate::providers::{Answer, CloudError, Retry, RetryPolicy, send_with_retries};
use serde_json::Value;
use std::sync::Mutex;
use std::time::Duration;

const VERSION: &str = "2017-03-12";
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Which API a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Cbs,
    Cvm,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Cbs => "cbs",
            Service::Cvm => "cvm",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Service::Cbs => "CBS",
            Service::Cvm => "CVM",
        }
    }
}

fn is_throttling(code: &str) -> bool {
    code.starts_with("RequestLimitExceeded")
}

/// What a Tencent Cloud error code means here and what to do.
pub fn advice(code: &str, action: &str, origin: &str) -> String {
    match code {
        "AuthFailure.SignatureFailure"
        | "AuthFailure.SecretIdNotFound"
        | "AuthFailure.InvalidSecretId"
        | "AuthFailure.TokenFailure" => format!(
            "The SecretId or SecretKey (or token) is wrong (credentials from {origin}); check them"
        ),
        "AuthFailure.SignatureExpire" => {
            "The system clock is more than 5 minutes off: fix it (chronyc makestep) and retry"
                .into()
        }
        "AuthFailure.UnauthorizedOperation" | "UnauthorizedOperation" => format!(
            "These credentials may not call {action}: allow it in the CAM policy of {origin}"
        ),
        "ResourceNotFound"
        | "InvalidDiskId.NotFound"
        | "InvalidSnapshotId.NotFound"
        | "InvalidInstanceId.NotFound" => {
            "It does not exist in this region: check --region, --instance and --disk".into()
        }
        c if is_throttling(c) => {
            "Tencent Cloud is throttling these API calls: wait a minute and run again".into()
        }
        "InvalidDisk.Busy" | "ResourceBusy" => {
            "The disk is busy with another operation: wait until it finishes and run again".into()
        }
        "ResourceInUse.DiskRollbacking" => "The disk is still being rolled back to a snapshot: \
             wait until DescribeDisks shows Rollbacking false, then run again"
            .into(),
        c if c.starts_with("LimitExceeded")
            || c == "InsufficientSnapshotQuota"
            || c.ends_with("OutOfQuota") =>
        {
            "A quota of this account is used up: free some (or raise it in the console) and run again".into()
        }
        "InvalidAccount.InsufficientBalance" => {
            "The account's balance is too low for a new pay-as-you-go resource: top it up and run again".into()
        }
        "InternalError" => format!(
            "Tencent Cloud had an internal error for {action} (also on every retry): wait a few minutes and run again"
        ),
        _ => format!("See the Tencent Cloud API error codes for {code}"),
    }
}

fn error_code(body: &str) -> Option<String> {
    serde_json::from_str::<Value>(body).ok()?["Response"]["Error"]["Code"]
        .as_str()
        .map(str::to_string)
}

fn classify(answer: &Answer) -> Retry {
    match error_code(&answer.body) {
        Some(c) if is_throttling(&c) => Retry::Throttled,
        Some(c) if c == "InternalError" => Retry::Transient,
        None if answer.status >= 500 => Retry::Transient,
        _ => Retry::Never,
    }
}

/// `host[:port]` of an endpoint URL, as the Host header carries it.
fn host_of(endpoint: &str) -> Result<String, CloudError> {
    let url = reqwest::Url::parse(endpoint)
        .map_err(|e| CloudError::Config(format!("bad endpoint {endpoint}: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| CloudError::Config(format!("endpoint {endpoint} has no host")))?;
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

pub struct TencentClient {
    pub cbs_endpoint: String,
    pub cvm_endpoint: String,
    pub region: String,
    credentials: Mutex<TencentCredentials>,
    /// Where role keys are refreshed from, when they came from there.
    metadata: Option<Metadata>,
    http: reqwest::blocking::Client,
}

impl TencentClient {
    pub fn new(
        region: &str,
        cbs_endpoint: Option<&str>,
        credentials: TencentCredentials,
        metadata: Option<Metadata>,
    ) -> Result<Self, CloudError> {
        let endpoint = |var: &str, flag: Option<&str>, service: &str| {
            flag.map(str::to_string)
                .or_else(|| std::env::var(var).ok())
                .unwrap_or_else(|| format!("https://{service}.tencentcloudapi.com"))
                .trim_end_matches('/')
                .to_string()
        };
        Ok(Self {
            cbs_endpoint: endpoint("SNAPRESCUE_TENCENT_CBS_ENDPOINT", cbs_endpoint, "cbs"),
            cvm_endpoint: endpoint("SNAPRESCUE_TENCENT_CVM_ENDPOINT", None, "cvm"),
            region: region.to_string(),
            credentials: Mutex::new(credentials),
            metadata,
            http: crate::providers::http_client(Duration::from_secs(30))?,
        })
    }

    /// The keys to sign with; role keys within 5 minutes of expiry are fetched again.
    fn fresh_credentials(&self) -> Result<TencentCredentials, CloudError> {
        let mut held = self.credentials.lock().unwrap_or_else(|e| e.into_inner());
        let expiring = held
            .expires
            .is_some_and(|at| at - chrono::Utc::now().timestamp() < 300);
        if expiring && let Some(metadata) = &self.metadata {
            *held = metadata.role_credentials()?;
        }
        Ok(held.clone())
    }

    /// Calls `action` with `body`; returns the `Response` object of a success.
    pub fn call(&self, service: Service, action: &str, body: &Value) -> Result<Value, CloudError> {
        let endpoint = match service {
            Service::Cbs => &self.cbs_endpoint,
            Service::Cvm => &self.cvm_endpoint,
        };
        let host = host_of(endpoint)?;
        let payload = body.to_string();
        let credentials = self.fresh_credentials()?;
        let answer = send_with_retries(
            service.label(),
            endpoint,
            RetryPolicy::default(),
            || {
                let timestamp = chrono::Utc::now().timestamp();
                let signed = Tc3Request {
                    service: service.name(),
                    host: &host,
                    content_type: CONTENT_TYPE,
                    body: payload.as_bytes(),
                    timestamp,
                };
                let mut request = self
                    .http
                    .post(format!("{endpoint}/"))
                    .header("Host", &host)
                    .header("Content-Type", CONTENT_TYPE)
                    .header("X-TC-Action", action)
                    .header("X-TC-Version", VERSION)
                    .header("X-TC-Timestamp", timestamp.to_string())
                    .header("X-TC-Region", &self.region)
                    .header(
                        "Authorization",
                        authorization(
                            &signed,
                            &credentials.secret_id,
                            credentials.secret_key.expose(),
                        ),
                    )
                    .body(payload.clone());
                if let Some(token) = &credentials.token {
                    request = request.header("X-TC-Token", token.expose());
                }
                Ok(request)
            },
            classify,
        )?;
        let malformed = |reason: String| CloudError::Malformed {
            service: service.label(),
            reason,
            head: crate::providers::head(&answer.body),
        };
        let doc: Value = serde_json::from_str(&answer.body)
            .map_err(|e| malformed(format!("HTTP {}: {e}", answer.status)))?;
        let response = doc
            .get("Response")
            .cloned()
            .ok_or_else(|| malformed(format!("HTTP {} without a Response", answer.status)))?;
        if let Some(error) = response.get("Error") {
            let code = error["Code"].as_str().unwrap_or("Unknown").to_string();
            return Err(CloudError::Api {
                service: service.label(),
                advice: advice(&code, action, &credentials.origin),
                message: error["Message"].as_str().unwrap_or_default().to_string(),
                code,
            });
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_in_a_200_answer_are_classified_and_advised() {
        let answer = |body: &str| Answer {
            status: 200,
            body: body.into(),
            retry_after: None,
        };
        let error = |code: &str| {
            format!(
                r#"{{"Response":{{"Error":{{"Code":"{code}","Message":"m"}},"RequestId":"r"}}}}"#
            )
        };
        assert_eq!(
            classify(&answer(&error("RequestLimitExceeded.UinLimitExceeded"))),
            Retry::Throttled
        );
        assert_eq!(classify(&answer(&error("InternalError"))), Retry::Transient);
        assert_eq!(classify(&answer(&error("InvalidDisk.Busy"))), Retry::Never);
        assert_eq!(
            classify(&answer(r#"{"Response":{"RequestId":"r"}}"#)),
            Retry::Never
        );
        assert!(
            advice("ResourceInUse.DiskRollbacking", "ApplySnapshot", "env").contains("Rollbacking")
        );
        assert!(
            advice("InvalidAccount.InsufficientBalance", "CreateDisks", "env").contains("balance")
        );
        assert!(
            advice("LimitExceeded.InstanceAttachedDisk", "AttachDisks", "env").contains("quota")
        );
        assert!(advice("AuthFailure.SignatureFailure", "DescribeDisks", "env").contains("env"));
        assert_eq!(host_of("http://127.0.0.1:8123").unwrap(), "127.0.0.1:8123");
        assert_eq!(
            host_of("https://cbs.tencentcloudapi.com").unwrap(),
            "cbs.tencentcloudapi.com"
        );
    }
}
