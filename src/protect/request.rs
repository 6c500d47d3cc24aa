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

    /// Refuses names and tags a source could not store or would misread.
    pub fn validate(&self) -> Result<(), String> {
        let bad = |s: &str| s.is_empty() || s.chars().any(char::is_control);
        if bad(&self.name) || self.name.len() > 128 {
            return Err(format!(
                "snapshot name {:?} must be 1 to 128 characters, none of them control characters",
                self.name
            ));
        }
        for (k, v) in &self.tags {
            if bad(k) || v.chars().any(char::is_control) || k.contains('=') {
                return Err(format!(
                    "tag {k:?}={v:?}: a key and value without control characters"
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
}

/// What `protect --apply` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyApplied {
    /// `false`: the policy was already there, nothing changed.
    pub changed: bool,
    /// What was created or bound, or why nothing needed to be.
    pub said: Vec<String>,
}
