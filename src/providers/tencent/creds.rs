//! Tencent Cloud credentials in the SDK's order: the environment (`TENCENTCLOUD_SECRET_ID` /
//! `TENCENTCLOUD_SECRET_KEY`, a token from `TENCENTCLOUD_TOKEN` as tccli reads it or
//! `TENCENTCLOUD_SECURITY_TOKEN` as the Terraform provider does), the `[default]` section of
//! `~/.tencentcloud/credentials` then `/etc/tencentcloud/credentials`, tccli's
//! `~/.tccli/default.credential`, then the CVM role from the metadata service (temporary
//! keys, refreshed before they expire). Secrets never show in Debug output.

use crate::providers::CloudError;
use crate::providers::secret::Secret;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TencentCredentials {
    pub secret_id: String,
    pub secret_key: Secret,
    /// Sent as `X-TC-Token` (temporary keys).
    pub token: Option<Secret>,
    /// Where they came from, for messages.
    pub origin: String,
    /// Unix seconds when temporary keys expire.
    pub expires: Option<i64>,
}

/// Where a chain link found keys, or that the CVM role must be asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Keys(TencentCredentials),
    /// tccli's `"type": "cvm-role"`, or nothing configured: the instance's CAM role.
    CvmRole,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

pub fn from_env() -> Option<TencentCredentials> {
    Some(TencentCredentials {
        secret_id: env("TENCENTCLOUD_SECRET_ID")?,
        secret_key: Secret::new(env("TENCENTCLOUD_SECRET_KEY")?),
        token: env("TENCENTCLOUD_TOKEN")
            .or_else(|| env("TENCENTCLOUD_SECURITY_TOKEN"))
            .map(Secret::new),
        origin: "environment (TENCENTCLOUD_SECRET_ID)".into(),
        expires: None,
    })
}

/// `key = value` of `[default]` in an ini text.
fn ini_default(text: &str, key: &str) -> Option<String> {
    let mut in_default = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_default = line == "[default]";
        } else if in_default
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().to_string()).filter(|v| !v.is_empty());
        }
    }
    None
}

fn from_ini(path: &Path) -> Option<TencentCredentials> {
    let text = std::fs::read_to_string(path).ok()?;
    let credentials = TencentCredentials {
        secret_id: ini_default(&text, "secret_id")?,
        secret_key: Secret::new(ini_default(&text, "secret_key")?),
        token: None,
        origin: format!("[default] in {}", path.display()),
        expires: None,
    };
    crate::providers::warn_if_exposed(path);
    Some(credentials)
}

fn from_tccli(path: &Path) -> Result<Option<Found>, CloudError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CloudError::Config(format!("{} is not valid JSON: {e}", path.display())))?;
    if doc["type"] == "cvm-role" {
        return Ok(Some(Found::CvmRole));
    }
    let field = |k: &str| {
        doc[k]
            .as_str()
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let (Some(id), Some(key)) = (field("secretId"), field("secretKey")) else {
        return Ok(None);
    };
    crate::providers::warn_if_exposed(path);
    Ok(Some(Found::Keys(TencentCredentials {
        secret_id: id,
        secret_key: Secret::new(key),
        token: field("token").map(Secret::new),
        origin: format!("tccli profile {}", path.display()),
        expires: None,
    })))
}

/// The first link of the chain that names credentials; `CvmRole` when none does.
pub fn find() -> Result<Found, CloudError> {
    if let Some(c) = from_env() {
        return Ok(Found::Keys(c));
    }
    let files = [
        home().join(".tencentcloud/credentials"),
        PathBuf::from("/etc/tencentcloud/credentials"),
    ];
    if let Some(c) = files.iter().find_map(|f| from_ini(f)) {
        return Ok(Found::Keys(c));
    }
    Ok(from_tccli(&home().join(".tccli/default.credential"))?.unwrap_or(Found::CvmRole))
}

/// The region tccli is configured for (`~/.tccli/default.configure`), if any.
pub fn tccli_region() -> Option<String> {
    let text = std::fs::read_to_string(home().join(".tccli/default.configure")).ok()?;
    let doc: serde_json::Value = serde_json::from_str(&text).ok()?;
    doc["_sys_param"]["region"]
        .as_str()
        .or_else(|| doc["region"].as_str())
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

pub fn missing() -> CloudError {
    CloudError::NoCredentials {
        service: "Tencent Cloud",
        advice: "set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY, write them to \
                 ~/.tencentcloud/credentials ([default] secret_id / secret_key), run `tccli \
                 configure`, or give this CVM a CAM role"
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_section_of_the_ini_file_is_read() {
        let text =
            "[other]\nsecret_id = AKIDother\n[default]\nsecret_id = AKIDx\n secret_key= k \n";
        assert_eq!(ini_default(text, "secret_id").as_deref(), Some("AKIDx"));
        assert_eq!(ini_default(text, "secret_key").as_deref(), Some("k"));
        assert_eq!(ini_default(text, "role_arn"), None);
    }

    #[test]
    fn a_tccli_profile_gives_keys_or_asks_for_the_cvm_role() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys.credential");
        std::fs::write(
            &keys,
            r#"{"secretId":"AKIDt","secretKey":"sk","token":"tok"}"#,
        )
        .unwrap();
        let Some(Found::Keys(c)) = from_tccli(&keys).unwrap() else {
            panic!("keys expected")
        };
        assert_eq!(c.secret_id, "AKIDt");
        assert_eq!(c.token.as_ref().map(Secret::expose), Some("tok"));
        assert!(
            !format!("{c:?}").contains("sk\""),
            "secrets redacted: {c:?}"
        );
        let role = dir.path().join("role.credential");
        std::fs::write(&role, r#"{"type":"cvm-role"}"#).unwrap();
        assert_eq!(from_tccli(&role).unwrap(), Some(Found::CvmRole));
        assert_eq!(from_tccli(&dir.path().join("none")).unwrap(), None);
    }
}
