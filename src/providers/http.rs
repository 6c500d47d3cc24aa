//! Talking to cloud APIs, the same for every provider: one HTTP client with short timeouts,
//! retries with capped exponential backoff and full jitter on throttling, 5xx and timeouts
//! (honouring retry-after).

use super::CloudError;
use std::time::Duration;

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// Seconds the server asked us to wait (Retry-After, x-amz-retry-after in ms).
    pub retry_after: Option<Duration>,
}

/// Why a failed attempt may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Throttled,
    Transient,
    Never,
}

/// Attempts and delays: `delay = rand(0,1) * min(cap, base * 2^attempt)` (botocore's
/// "standard" mode), or what the server asked for.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let fast = std::env::var_os("SNAPRESCUE_FAST_RETRIES").is_some();
        Self {
            attempts: 6,
            base: if fast {
                Duration::from_millis(5)
            } else {
                Duration::from_millis(500)
            },
            cap: if fast {
                Duration::from_millis(50)
            } else {
                Duration::from_secs(20)
            },
        }
    }
}

impl RetryPolicy {
    pub fn delay(&self, attempt: u32, asked: Option<Duration>) -> Duration {
        if let Some(asked) = asked {
            return asked.min(self.cap.max(Duration::from_secs(60)));
        }
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.cap);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// The shared blocking client: rustls, 5 s to connect, 30 s per request, no proxies from
/// the environment for metadata addresses (they are link-local).
pub fn http_client(timeout: Duration) -> Result<reqwest::blocking::Client, CloudError> {
    reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .timeout(timeout)
        .user_agent(concat!("snaprescue/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| CloudError::Config(format!("cannot build the HTTP client: {e}")))
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("x-amz-retry-after")
        .or_else(|| headers.get("x-acs-retry-after"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        return Some(Duration::from_millis(ms));
    }
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(Duration::from_secs_f64)
}

/// Sends what `build` makes (called again for each attempt, so signatures and timestamps
/// are fresh) until `classify` says the answer is final.
pub fn send_with_retries(
    service: &'static str,
    endpoint: &str,
    policy: RetryPolicy,
    mut build: impl FnMut() -> Result<reqwest::blocking::RequestBuilder, CloudError>,
    classify: impl Fn(&Answer) -> Retry,
) -> Result<Answer, CloudError> {
    let mut last_error = String::new();
    for attempt in 0..policy.attempts {
        match build()?.send() {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = retry_after(response.headers());
                let body = match response.text() {
                    Ok(body) => body,
                    Err(e) => {
                        // The connection broke mid-answer (a truncated body): ask again.
                        last_error = format!("answer cut short ({e})");
                        tracing::info!(service, attempt, error = %last_error, "request failed");
                        if attempt + 1 < policy.attempts {
                            std::thread::sleep(policy.delay(attempt, None));
                        }
                        continue;
                    }
                };
                let answer = Answer {
                    status,
                    body,
                    retry_after,
                };
                let verdict = classify(&answer);
                if verdict == Retry::Never || attempt + 1 == policy.attempts {
                    return Ok(answer);
                }
                tracing::info!(service, status, attempt, "retrying");
                std::thread::sleep(policy.delay(attempt, answer.retry_after));
            }
            Err(e) => {
                last_error = if e.is_timeout() {
                    format!("timed out ({})", with_causes(&e))
                } else {
                    with_causes(&e)
                };
                tracing::info!(service, attempt, error = %last_error, "request failed");
                if attempt + 1 < policy.attempts {
                    std::thread::sleep(policy.delay(attempt, None));
                }
            }
        }
    }
    Err(CloudError::Unreachable {
        service,
        endpoint: endpoint.to_string(),
        attempts: policy.attempts,
        reason: last_error,
    })
}

/// An error with the causes under it (`error sending request: … invalid peer certificate:
/// UnknownIssuer`): the top line alone does not say what went wrong.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let line = c.to_string();
        if !text.contains(&line) {
            text = format!("{text}: {line}");
        }
        cause = c.source();
    }
    text
}

/// The first bytes of a body, for error messages.
pub fn head(body: &str) -> String {
    body.chars().take(120).collect()
}

/// Warns when a file holding secrets is readable by group or others.
pub fn warn_if_exposed(path: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        let warning = format!("warning: {} holds secrets but is readable by group or others (mode {:o}); run chmod 600 on it", path.display(), mode & 0o777);
        tracing::warn!("{warning}");
        eprintln!("{warning}");
        warning
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_jittered_and_obeys_the_server() {
        let p = RetryPolicy {
            attempts: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(20),
        };
        for attempt in 0..10 {
            let d = p.delay(attempt, None);
            assert!(d <= Duration::from_secs(20).min(Duration::from_secs(1 << attempt.min(16))));
        }
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
    }
}
