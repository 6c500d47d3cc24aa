//! Amazon Data Lifecycle Manager, the automatic snapshot policies of EBS: a REST-JSON API
//! (2018-01-12, SigV4 signing name `dlm`) at `AWS_ENDPOINT_URL_DLM`, then
//! `AWS_ENDPOINT_URL`, then the regional endpoint, as the AWS SDKs do. A policy covers a
//! volume that carries one of its target tags; its schedules say how often and how long.

use super::creds::AwsCredentials;
use crate::protect::{Keep, Policy};
use crate::providers::{Answer, CloudError, Retry, RetryPolicy, send_with_retries};
use chrono::Duration;
use serde_json::Value;
use std::time::SystemTime;

pub struct DlmClient {
    pub endpoint: String,
    region: String,
    creds: AwsCredentials,
    http: reqwest::blocking::Client,
}

fn classify(answer: &Answer) -> Retry {
    match answer.status {
        200..=299 => Retry::Never,
        429 => Retry::Throttled,
        500.. => Retry::Transient,
        _ => Retry::Never,
    }
}

/// What a DLM error means here and what to do.
fn advice(code: &str, message: &str) -> String {
    if message.contains("ExecutionRoleArn") || message.to_lowercase().contains("role") {
        return "DLM's default role is missing: create it once with `aws dlm create-default-role \
                --resource-type snapshot`, then run this again"
            .into();
    }
    match code {
        "AccessDeniedException" | "UnrecognizedClientException" => {
            "These credentials may not use DLM: allow dlm:GetLifecyclePolicies, \
             dlm:GetLifecyclePolicy and dlm:CreateLifecyclePolicy (and iam:PassRole for the \
             DLM role)"
                .into()
        }
        "LimitExceededException" => "DLM's policy limit is reached: delete an unused policy".into(),
        _ => format!("See the DLM API error codes for {code}"),
    }
}

impl DlmClient {
    pub fn endpoint_for(region: &str) -> String {
        std::env::var("AWS_ENDPOINT_URL_DLM")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|_| format!("https://dlm.{region}.amazonaws.com"))
            .trim_end_matches('/')
            .to_string()
    }

    pub fn new(region: &str, creds: AwsCredentials) -> Result<Self, CloudError> {
        Ok(Self {
            endpoint: Self::endpoint_for(region),
            region: region.into(),
            creds,
            http: crate::providers::http_client(std::time::Duration::from_secs(30))?,
        })
    }

    /// One signed request; the JSON of a success.
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, CloudError> {
        let url = format!("{}{path}", self.endpoint);
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let answer = send_with_retries(
            "DLM",
            &self.endpoint,
            RetryPolicy::default(),
            || {
                let headers: &[(&str, &str)] = if body.is_some() {
                    &[("content-type", "application/json")]
                } else {
                    &[]
                };
                let signed = super::sign::sign(
                    &self.creds,
                    &self.region,
                    "dlm",
                    &super::sign::Unsigned {
                        method,
                        url: &url,
                        headers,
                        body: bytes.as_bytes(),
                    },
                    SystemTime::now(),
                )
                .map_err(|e| CloudError::Config(format!("cannot sign the request: {e}")))?;
                let mut request = match method {
                    "POST" => self.http.post(&url).body(bytes.clone()),
                    _ => self.http.get(&url),
                };
                for (k, v) in headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .chain(signed)
                {
                    request = request.header(k, v);
                }
                Ok(request)
            },
            classify,
        )?;
        let doc: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        if (200..300).contains(&answer.status) {
            return Ok(doc);
        }
        let message = doc["Message"]
            .as_str()
            .or_else(|| doc["message"].as_str())
            .unwrap_or("")
            .to_string();
        let code = doc["Code"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP {}", answer.status));
        Err(CloudError::Api {
            service: "DLM",
            advice: advice(&code, &message),
            code,
            message,
        })
    }

    /// The whole policies whose target tags `tags` (a volume's) carry one of.
    pub fn covering(&self, tags: &[(String, String)]) -> Result<Vec<Value>, CloudError> {
        let list = self.send("GET", "/policies?resourceTypes=VOLUME", None)?;
        let mut found = Vec::new();
        for summary in list["Policies"].as_array().cloned().unwrap_or_default() {
            let Some(id) = summary["PolicyId"].as_str() else {
                continue;
            };
            let whole = self.send("GET", &format!("/policies/{id}"), None)?;
            let policy = whole["Policy"].clone();
            let targets = policy["PolicyDetails"]["TargetTags"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let covers = targets.iter().any(|t| {
                tags.iter()
                    .any(|(k, v)| t["Key"].as_str() == Some(k) && t["Value"].as_str() == Some(v))
            });
            if covers {
                found.push(policy);
            }
        }
        Ok(found)
    }

    /// CreateLifecyclePolicy; its id.
    pub fn create(&self, body: &Value) -> Result<String, CloudError> {
        let doc = self.send("POST", "/policies", Some(body))?;
        doc["PolicyId"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| CloudError::Malformed {
                service: "DLM",
                reason: "CreateLifecyclePolicy answered without PolicyId".into(),
                head: crate::providers::head(&doc.to_string()),
            })
    }
}

fn span(interval: &Value, unit: &Value) -> Option<Duration> {
    let n = interval.as_i64()?;
    Some(match unit.as_str()? {
        "HOURS" => Duration::hours(n),
        "DAYS" => Duration::days(n),
        "WEEKS" => Duration::weeks(n),
        "MONTHS" => Duration::days(30 * n),
        "YEARS" => Duration::days(365 * n),
        _ => return None,
    })
}

/// One schedule of a policy as the audit sees it (a cron expression: period unknown).
pub fn policy_from(policy: &Value) -> Vec<Policy> {
    let id = policy["PolicyId"].as_str().unwrap_or_default();
    let state = policy["State"].as_str().unwrap_or("ENABLED");
    let schedules = policy["PolicyDetails"]["Schedules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    schedules
        .iter()
        .map(|s| {
            let create = &s["CreateRule"];
            let retain = &s["RetainRule"];
            let keep = match retain["Count"].as_u64() {
                Some(n) => Keep::Newest(n as u32),
                None => span(&retain["Interval"], &retain["IntervalUnit"])
                    .map(Keep::For)
                    .unwrap_or(Keep::Forever),
            };
            Policy {
                name: format!(
                    "DLM policy {id} schedule {}",
                    s["Name"].as_str().unwrap_or("-")
                ),
                every: span(&create["Interval"], &create["IntervalUnit"]),
                keep,
                disabled: (state != "ENABLED").then(|| format!("its state is {state}")),
            }
        })
        .collect()
}

/// The regions a policy copies its snapshots to.
pub fn copy_regions(policy: &Value) -> Vec<String> {
    policy["PolicyDetails"]["Schedules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| {
            s["CrossRegionCopyRules"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|r| {
            r["TargetRegion"]
                .as_str()
                .or_else(|| r["Target"].as_str())
                .map(str::to_string)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schedules_are_policies_with_their_period_and_retention() {
        let p = json!({"PolicyId": "policy-1", "State": "ENABLED", "PolicyDetails": {"Schedules": [
            {"Name": "a", "CreateRule": {"Interval": 12, "IntervalUnit": "HOURS"}, "RetainRule": {"Count": 6},
             "CrossRegionCopyRules": [{"TargetRegion": "eu-west-1"}]},
            {"Name": "b", "CreateRule": {"CronExpression": "cron(0 3 * * ? *)"}, "RetainRule": {"Interval": 2, "IntervalUnit": "WEEKS"}}]}});
        let all = policy_from(&p);
        assert_eq!(all[0].every, Some(Duration::hours(12)));
        assert_eq!(all[0].kept_for(), Some(Duration::days(3)));
        assert_eq!(all[1].every, None);
        assert_eq!(all[1].keep, Keep::For(Duration::weeks(2)));
        assert_eq!(copy_regions(&p), ["eu-west-1"]);
        let off =
            json!({"PolicyId": "p", "State": "DISABLED", "PolicyDetails": {"Schedules": [{}]}});
        assert!(policy_from(&off)[0].disabled.is_some());
    }
}
