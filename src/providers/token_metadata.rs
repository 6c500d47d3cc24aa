//! The token-first instance metadata protocol both clouds use: PUT `/latest/api/token`
//! with a TTL header, then GETs under `/latest/` carrying the token; 2 s timeouts.

use super::CloudError;
use std::time::Duration;

pub struct TokenMetadata {
    service: &'static str,
    base: String,
    client: reqwest::blocking::Client,
    token_header: &'static str,
    token: String,
}

impl TokenMetadata {
    /// Gets a token from `base` (`ttl_header` asks for 6 hours).
    pub fn connect(
        service: &'static str,
        base: &str,
        ttl_header: &str,
        token_header: &'static str,
    ) -> Result<Self, CloudError> {
        let client = super::http_client(Duration::from_secs(2))?;
        let unreachable = |e: reqwest::Error| CloudError::Unreachable {
            service,
            endpoint: base.into(),
            attempts: 1,
            reason: e.to_string(),
        };
        let token = client
            .put(format!("{base}/latest/api/token"))
            .header(ttl_header, "21600")
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .map_err(unreachable)?;
        Ok(Self {
            service,
            base: base.to_string(),
            client,
            token_header,
            token,
        })
    }

    /// The text at `/latest/{path}`, trimmed.
    pub fn get(&self, path: &str) -> Result<String, CloudError> {
        self.client
            .get(format!("{}/latest/{path}", self.base))
            .header(self.token_header, &self.token)
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .map(|t| t.trim().to_string())
            .map_err(|e| CloudError::Unreachable {
                service: self.service,
                endpoint: self.base.clone(),
                attempts: 1,
                reason: e.to_string(),
            })
    }

    /// The JSON document at `/latest/{path}`.
    pub fn json(&self, path: &str) -> Result<serde_json::Value, CloudError> {
        let body = self.get(path)?;
        serde_json::from_str(&body).map_err(|e| CloudError::Malformed {
            service: self.service,
            reason: e.to_string(),
            head: super::head(&body),
        })
    }
}
