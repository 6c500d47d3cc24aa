//! What can go wrong talking to a cloud, the same for every provider: each API error carries
//! its code and advice that says what to do.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CloudError {
    #[error("{service} API error {code}: {message}. {advice}")]
    Api {
        service: &'static str,
        code: String,
        message: String,
        advice: String,
    },
    #[error("{service} endpoint {endpoint} unreachable after {attempts} attempt(s): {reason}")]
    Unreachable {
        service: &'static str,
        endpoint: String,
        attempts: u32,
        reason: String,
    },
    #[error(
        "{service} answered something that is not a valid response ({reason}); body starts: {head}"
    )]
    Malformed {
        service: &'static str,
        reason: String,
        head: String,
    },
    #[error("no {service} credentials found. {advice}")]
    NoCredentials {
        service: &'static str,
        advice: String,
    },
    #[error("{0}")]
    Config(String),
    /// Something this cloud's API cannot do at all (not an error of the call).
    #[error("{service} cannot {what}. {instead}")]
    Unsupported {
        service: &'static str,
        what: String,
        instead: String,
    },
}

impl CloudError {
    /// The API error code, when this is an API error.
    pub fn code(&self) -> Option<&str> {
        match self {
            CloudError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether this is an API error with one of `codes` (for "already gone" / "already done").
    pub fn has_code(&self, codes: &[&str]) -> bool {
        matches!(self, CloudError::Api { code, .. } if codes.contains(&code.as_str()))
    }
}
