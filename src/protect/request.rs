//! What `snapshot` asks of a source (the pre-run marker) and what `protect --apply` and
//! `snapshot` answer, in the JSON contract's shape.

use crate::sources::SnapshotStatus;
use serde::Serialize;

/// The tag every snapshot `snaprescue snapshot` takes carries, so `protect` can find it.
pub const PRE_RUN_TAG: (&str, &str) = ("snaprescue", "pre-run");

/// A named, tagged snapshot to take now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRequest {
    pub name: String,
    /// The user's tags (`--tag K=V`), without [`PRE_RUN_TAG`].
    pub tags: Vec<(String, String)>,
    /// Wait until it is complete.
    pub wait: bool,
    /// Keep it at least this many days, out of every policy's reach.
    pub keep_days: Option<u32>,
}

impl SnapshotRequest {
    /// The tags to write: the user's, then snaprescue's.
    pub fn all_tags(&self) -> Vec<(String, String)> {
        let mut tags = self.tags.clone();
        tags.retain(|(k, _)| k != PRE_RUN_TAG.0);
        tags.push((PRE_RUN_TAG.0.into(), PRE_RUN_TAG.1.into()));
        tags
    }

    /// Refuses names and tags a source could not store or would misread: control and
    /// direction-override characters, spaces at either end, lengths past what every source
    /// keeps (a name 128 bytes, a tag key 128, a value 256), `=` in a key, and snaprescue's
    /// own key.
    pub fn validate(&self) -> Result<(), String> {
        fn unsafe_char(c: char) -> bool {
            c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        }
        let padded = |s: &str| s.trim() != s;
        let n = &self.name;
        if n.is_empty() || n.len() > 128 || n.chars().any(unsafe_char) || padded(n) {
            return Err(format!(
                "snapshot name {n:?} must be 1 to 128 bytes, without control or direction \
                 characters or spaces at either end"
            ));
        }
        for (k, v) in &self.tags {
            let bad_key = k.is_empty()
                || k.len() > 128
                || k.contains('=')
                || k.chars().any(|c| c.is_whitespace() || unsafe_char(c));
            if bad_key {
                return Err(format!(
                    "tag key {k:?} must be 1 to 128 bytes without spaces, `=` or control characters"
                ));
            }
            if k == PRE_RUN_TAG.0 {
                return Err(format!(
                    "tag key {k:?} is snaprescue's own (it marks the pre-run snapshot): choose another"
                ));
            }
            if v.len() > 256 || v.chars().any(unsafe_char) || padded(v) {
                return Err(format!(
                    "tag {k}: the value must be at most 256 bytes, without control or direction \
                     characters or spaces at either end"
                ));
            }
        }
        Ok(())
    }
}

/// A snapshot `snapshot` took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TakenSnapshot {
    pub id: String,
    pub source: String,
    pub name: String,
    pub tags: std::collections::BTreeMap<String, String>,
    pub status: SnapshotStatus,
    /// What keeps it from cleanup (`--keep-days`), in words, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
    /// What the user should know about what it holds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// What `protect --apply` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyApplied {
    /// `false`: the policy was already there, nothing changed.
    pub changed: bool,
    /// What was created or bound, or why nothing needed to be.
    pub said: Vec<String>,
}

impl PolicyApplied {
    /// Nothing changed: `policy` (its name) already meets `schedule`.
    pub fn unchanged(policy: &str, schedule: &super::Schedule) -> Self {
        Self {
            changed: false,
            said: vec![format!(
                "{policy} already meets {}: nothing changed",
                schedule.describe()
            )],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str, tags: &[(&str, &str)]) -> SnapshotRequest {
        SnapshotRequest {
            name: name.into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            wait: false,
            keep_days: None,
        }
    }

    #[test]
    fn names_and_tags_every_source_can_keep_pass_and_the_rest_say_why() {
        assert!(
            request("pre-run 7 <&>", &[("run", "exp=1")])
                .validate()
                .is_ok()
        );
        for (name, tags, said) in [
            ("a\nb", vec![], "control"),
            (" padded", vec![], "spaces"),
            ("\u{202e}gnp.pth", vec![], "direction"),
            (&"x".repeat(129), vec![], "128 bytes"),
            ("ok", vec![("k v", "1")], "without spaces"),
            ("ok", vec![("snaprescue", "x")], "snaprescue's own"),
            ("ok", vec![("k", &*"v".repeat(257))], "256 bytes"),
        ] {
            let e = request(name, &tags).validate().unwrap_err();
            assert!(e.contains(said), "{name:?} {tags:?}: {e}");
        }
    }
}
