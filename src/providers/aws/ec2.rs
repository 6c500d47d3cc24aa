//! The EC2 Query API client: form-encoded POSTs signed with SigV4, retried on throttling
//! and 5xx, every error turned into advice. The endpoint honours `AWS_ENDPOINT_URL_EC2`
//! and `AWS_ENDPOINT_URL` as the official SDKs do.

use super::creds::AwsCredentials;
use super::xml::{self, Ec2Snapshot, Ec2Volume};
use crate::providers::{Answer, CloudError, Retry, RetryPolicy, send_with_retries};
use std::time::{Duration, SystemTime};

const THROTTLING: &[&str] = &[
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

pub struct Ec2Client {
    pub endpoint: String,
    pub region: String,
    creds: AwsCredentials,
    http: reqwest::blocking::Client,
}

/// What an EC2 error code means here and what to do.
pub fn advice(code: &str, action: &str, creds: &str) -> String {
    match code {
        "AuthFailure" | "SignatureDoesNotMatch" | "InvalidClientTokenId" | "IncompleteSignature" => {
            format!("The access key or its secret is wrong (credentials from {creds}); check them, or the system clock")
        }
        "UnauthorizedOperation" | "AccessDenied" => format!("These credentials may not call {action}: allow ec2:{action} in the IAM policy of {creds}"),
        "RequestExpired" => "The system clock is more than 15 minutes off: fix it (chronyc makestep / timedatectl) and retry".into(),
        "InvalidVolume.NotFound" | "InvalidSnapshot.NotFound" | "InvalidInstanceID.NotFound" => {
            "It does not exist in this region: check --region, --instance and --disk".into()
        }
        c if THROTTLING.contains(&c) => "AWS is throttling this account's API calls: wait a minute and run again".into(),
        "Unavailable" | "ServiceUnavailable" => format!("EC2 was unavailable for {action} (503, also on every retry): the service is down or overloaded, not limiting this account; wait a few minutes and run again"),
        _ => format!("See the EC2 API error codes for {code}"),
    }
}

/// Which Query API a call goes to.
pub struct QueryApi<'a> {
    /// How errors name it (`EC2`, `STS`).
    pub label: &'static str,
    /// The SigV4 signing name.
    pub service: &'a str,
    pub version: &'a str,
    pub endpoint: &'a str,
}

impl Ec2Client {
    /// `AWS_ENDPOINT_URL_EC2`, then `AWS_ENDPOINT_URL`, then the regional endpoint.
    pub fn endpoint_for(region: &str) -> String {
        std::env::var("AWS_ENDPOINT_URL_EC2")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|_| format!("https://ec2.{region}.amazonaws.com"))
            .trim_end_matches('/')
            .to_string()
    }

    pub fn new(region: &str, creds: AwsCredentials) -> Result<Self, CloudError> {
        Ok(Self {
            endpoint: Self::endpoint_for(region),
            region: region.to_string(),
            creds,
            http: crate::providers::http_client(Duration::from_secs(30))?,
        })
    }

    /// Calls `action` with `params`; returns the XML body of a success.
    pub fn call(&self, action: &str, params: &[(String, String)]) -> Result<String, CloudError> {
        let api = QueryApi {
            label: "EC2",
            service: "ec2",
            version: "2016-11-15",
            endpoint: &self.endpoint,
        };
        self.call_api(&api, action, params)
    }

    /// The credentials calls are signed with (DLM and STS calls use them too).
    pub fn credentials(&self) -> &AwsCredentials {
        &self.creds
    }

    /// Calls `action` of another Query API (STS) with these credentials.
    pub fn call_api(
        &self,
        api: &QueryApi,
        action: &str,
        params: &[(String, String)],
    ) -> Result<String, CloudError> {
        let mut form = form_urlencoded(&[
            ("Action".to_string(), action.to_string()),
            ("Version".into(), api.version.into()),
        ]);
        if !params.is_empty() {
            form.push('&');
            form.push_str(&form_urlencoded(params));
        }
        let url = format!("{}/", api.endpoint);
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let answer = send_with_retries(
            api.label,
            api.endpoint,
            RetryPolicy::default(),
            || {
                let signed = super::sign::sign(
                    &self.creds,
                    &self.region,
                    api.service,
                    &super::sign::Unsigned {
                        method: "POST",
                        url: &url,
                        headers: &[("content-type", content_type)],
                        body: form.as_bytes(),
                    },
                    SystemTime::now(),
                )
                .map_err(|e| CloudError::Config(format!("cannot sign the request: {e}")))?;
                let mut request = self
                    .http
                    .post(&url)
                    .header("content-type", content_type)
                    .body(form.clone());
                for (k, v) in signed {
                    request = request.header(k, v);
                }
                Ok(request)
            },
            classify,
        )?;
        if answer.status == 200 {
            return Ok(answer.body);
        }
        match xml::error(&answer.body) {
            Some((code, message)) => Err(CloudError::Api {
                service: api.label,
                advice: advice(&code, action, &self.creds.origin),
                code,
                message,
            }),
            None => Err(CloudError::Malformed {
                service: api.label,
                reason: format!("HTTP {} without an error document", answer.status),
                head: crate::providers::head(&answer.body),
            }),
        }
    }

    /// Calls a paginated `action` until the last page; `parse` reads one page.
    fn all_pages<T>(
        &self,
        action: &str,
        params: Vec<(String, String)>,
        parse: fn(&str) -> xml::Page<T>,
    ) -> Result<Vec<T>, CloudError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut page_params = params.clone();
            if let Some(t) = &token {
                page_params.push(("NextToken".into(), t.clone()));
            }
            let body = self.call(action, &page_params)?;
            let (page, next) = parse(&body).map_err(|reason| CloudError::Malformed {
                service: "EC2",
                reason,
                head: crate::providers::head(&body),
            })?;
            all.extend(page);
            match next {
                Some(t) if Some(&t) != token.as_ref() => token = Some(t),
                _ => return Ok(all),
            }
        }
    }

    /// Every snapshot of `volume_id` owned by this account, all pages.
    pub fn describe_snapshots(&self, volume_id: &str) -> Result<Vec<Ec2Snapshot>, CloudError> {
        let params = vec![
            ("Filter.1.Name".to_string(), "volume-id".to_string()),
            ("Filter.1.Value.1".into(), volume_id.to_string()),
            ("Owner.1".into(), "self".into()),
            ("MaxResults".into(), page_size()),
        ];
        self.all_pages("DescribeSnapshots", params, xml::snapshots)
    }

    /// The snapshot `id`, `None` when it does not exist.
    pub fn snapshot(&self, id: &str) -> Result<Option<Ec2Snapshot>, CloudError> {
        let params = vec![("SnapshotId.1".to_string(), id.to_string())];
        match self.all_pages("DescribeSnapshots", params, xml::snapshots) {
            Ok(found) => Ok(found.into_iter().next()),
            Err(e) if e.has_code(&["InvalidSnapshot.NotFound"]) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Volumes attached to `instance_id` (or the one with `volume_id`), all pages.
    pub fn describe_volumes(
        &self,
        instance_id: Option<&str>,
        volume_id: Option<&str>,
    ) -> Result<Vec<Ec2Volume>, CloudError> {
        let mut params = Vec::new();
        if let Some(v) = volume_id {
            params.push(("VolumeId.1".to_string(), v.to_string()));
        }
        if let Some(i) = instance_id {
            params.push(("Filter.1.Name".into(), "attachment.instance-id".into()));
            params.push(("Filter.1.Value.1".into(), i.to_string()));
        }
        self.volumes_where(params)
    }

    /// Volumes matching raw DescribeVolumes parameters (filters), all pages.
    pub fn volumes_where(
        &self,
        params: Vec<(String, String)>,
    ) -> Result<Vec<Ec2Volume>, CloudError> {
        self.all_pages("DescribeVolumes", params, xml::volumes)
    }

    /// The same client talking to `endpoint` (a journal's, when cleaning up).
    pub fn with_endpoint(mut self, endpoint: &str) -> Self {
        self.endpoint = endpoint.trim_end_matches('/').to_string();
        self
    }
}

fn classify(answer: &Answer) -> Retry {
    if answer.status == 200 {
        return Retry::Never;
    }
    match xml::error(&answer.body) {
        Some((code, _)) if THROTTLING.contains(&code.as_str()) => Retry::Throttled,
        Some(_) if answer.status >= 500 => Retry::Transient,
        Some(_) => Retry::Never,
        // A 5xx that is not XML (an HTML error page) is not worth hammering.
        None if answer.status >= 500
            && answer.body.trim_start().starts_with('<')
            && !answer.body.contains("<html") =>
        {
            Retry::Transient
        }
        None => Retry::Never,
    }
}

/// Results per page: 1000, or `SNAPRESCUE_EC2_PAGE_SIZE` (5 to 1000).
fn page_size() -> String {
    std::env::var("SNAPRESCUE_EC2_PAGE_SIZE")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .map(|n| n.clamp(5, 1000))
        .unwrap_or(1000)
        .to_string()
}

/// `application/x-www-form-urlencoded`: everything but `A-Z a-z 0-9 - _ . ~` escaped, spaces
/// as `+` (what botocore sends, and what moto recomputes signatures over).
pub fn form_urlencoded(params: &[(String, String)]) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SET: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b' ');
    let enc = |s: &str| utf8_percent_encode(s, SET).to_string().replace(' ', "+");
    params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `vol0123…` (an NVMe serial) → `vol-0123…`.
pub fn volume_id_from_serial(serial: &str) -> Option<String> {
    let s = serial.trim();
    let rest = s.strip_prefix("vol")?;
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    (!rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit())).then(|| format!("vol-{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvme_serials_become_volume_ids() {
        assert_eq!(
            volume_id_from_serial("vol0123456789abcdef0   ").as_deref(),
            Some("vol-0123456789abcdef0")
        );
        assert_eq!(
            volume_id_from_serial("vol-0123").as_deref(),
            Some("vol-0123")
        );
        assert_eq!(volume_id_from_serial("BTLJ12345").as_deref(), None);
    }

    #[test]
    fn throttling_retries_and_client_errors_do_not() {
        let a = |status, body: &str| Answer {
            status,
            body: body.into(),
            retry_after: None,
        };
        let e = |code: &str| {
            format!(
                "<Response><Errors><Error><Code>{code}</Code><Message>m</Message></Error></Errors></Response>"
            )
        };
        assert_eq!(
            classify(&a(503, &e("RequestLimitExceeded"))),
            Retry::Throttled
        );
        assert_eq!(classify(&a(500, &e("InternalError"))), Retry::Transient);
        assert_eq!(classify(&a(401, &e("AuthFailure"))), Retry::Never);
        assert_eq!(
            classify(&a(500, "<html><body>Internal Server Error</body></html>")),
            Retry::Never
        );
        assert!(
            advice("UnauthorizedOperation", "DescribeSnapshots", "env")
                .contains("ec2:DescribeSnapshots")
        );
    }
}
