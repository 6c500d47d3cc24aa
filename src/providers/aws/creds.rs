//! AWS credentials found the way the official CLIs find them: environment, then the shared
//! config and credentials files (profile from `AWS_PROFILE`), then the instance role through
//! IMDSv2. Secrets are wrapped so that Debug and logs never show them.

use crate::providers::CloudError;
pub use crate::providers::secret::Secret;
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    /// Where they came from, for messages ("environment", "profile default in ~/.aws/credentials").
    pub origin: String,
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

fn config_file() -> PathBuf {
    std::env::var_os("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".aws/config"))
}

fn credentials_file() -> PathBuf {
    std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".aws/credentials"))
}

pub fn profile_name() -> String {
    std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into())
}

/// Parses an INI file into sections of lower-cased keys. In the config file sections are
/// `[default]` or `[profile NAME]` (`[profile default]` wins over `[default]`); in the
/// credentials file `[NAME]`.
fn parse_ini(text: &str, config_style: bool) -> HashMap<String, HashMap<String, String>> {
    let mut sections: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut explicit_default = false;
    let mut current: Option<String> = None;
    for raw in text.lines() {
        let line = raw.split(['#', ';']).next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            current = if config_style {
                match name.strip_prefix("profile ") {
                    Some(p) => {
                        let p = p.trim().to_string();
                        if p == "default" {
                            explicit_default = true;
                            sections.remove("default");
                        }
                        Some(p)
                    }
                    None if name == "default" && !explicit_default => Some("default".into()),
                    None => None,
                }
            } else {
                Some(name.to_string())
            };
            if let Some(c) = &current {
                sections.entry(c.clone()).or_default();
            }
            continue;
        }
        if let (Some(section), Some((k, v))) = (&current, line.split_once('=')) {
            sections
                .entry(section.clone())
                .or_default()
                .insert(k.trim().to_lowercase(), v.trim().to_string());
        }
    }
    sections
}

/// The merged settings of `profile`: config first, credentials over it.
pub fn profile_settings(profile: &str) -> HashMap<String, String> {
    let mut merged = HashMap::new();
    if let Ok(text) = std::fs::read_to_string(config_file()) {
        merged.extend(parse_ini(&text, true).remove(profile).unwrap_or_default());
    }
    let path = credentials_file();
    if let Ok(text) = std::fs::read_to_string(&path) {
        crate::providers::warn_if_exposed(&path);
        merged.extend(parse_ini(&text, false).remove(profile).unwrap_or_default());
    }
    merged
}

/// Environment, then the profile. `None` when neither has keys (the caller may then try the
/// instance role).
pub fn from_env_or_profile() -> Option<AwsCredentials> {
    if let (Ok(id), Ok(secret)) = (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        return Some(AwsCredentials {
            access_key_id: id,
            secret_access_key: Secret::new(secret),
            session_token: std::env::var("AWS_SESSION_TOKEN").ok().map(Secret::new),
            origin: "environment (AWS_ACCESS_KEY_ID)".into(),
        });
    }
    let profile = profile_name();
    let settings = profile_settings(&profile);
    Some(AwsCredentials {
        access_key_id: settings.get("aws_access_key_id")?.clone(),
        secret_access_key: Secret::new(settings.get("aws_secret_access_key")?.clone()),
        session_token: settings.get("aws_session_token").cloned().map(Secret::new),
        origin: format!("profile {profile} in {}", credentials_file().display()),
    })
}

/// The region: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's `region`.
pub fn region_from_env_or_profile() -> Option<String> {
    std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .ok()
        .or_else(|| profile_settings(&profile_name()).remove("region"))
}

pub fn missing() -> CloudError {
    CloudError::NoCredentials {
        service: "AWS",
        advice: "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials (AWS_PROFILE), or give the instance an IAM role allowing ec2:DescribeVolumes and ec2:DescribeSnapshots".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_rules_of_the_official_clis() {
        let config = "[default]\nregion = us-east-1\n[profile default]\nregion=eu-west-1\n[recovery]\nregion=x\n[profile recovery]\nREGION = ap-south-1 ; comment\n";
        let parsed = parse_ini(config, true);
        assert_eq!(
            parsed["default"]["region"], "eu-west-1",
            "[profile default] wins"
        );
        assert_eq!(
            parsed["recovery"]["region"], "ap-south-1",
            "[recovery] is ignored in config; keys are case-insensitive"
        );
        let creds = parse_ini(
            "[recovery]\naws_access_key_id = AKID\naws_secret_access_key = s3cr3t\n",
            false,
        );
        assert_eq!(creds["recovery"]["aws_access_key_id"], "AKID");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let c = AwsCredentials {
            access_key_id: "AKID".into(),
            secret_access_key: Secret::new("s3cr3t"),
            session_token: Some(Secret::new("tok")),
            origin: "x".into(),
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t") && !shown.contains("tok\"") && shown.contains("***"));
    }
}
