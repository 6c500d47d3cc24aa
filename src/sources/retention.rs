//! How long a snapshot is kept, and pins: every source says when a policy will delete each
//! snapshot (a fixed time, or a rule without one) and can pin one so that the snapshot a
//! rescue reads from is not deleted in the middle. A pin is two steps so the state before it
//! is journaled before anything changes: the source reads that state ([`PinPrior`]), the
//! caller records it, then the source pins; `unpin` gets the record back and undoes only
//! what the pin changed, saying what it could not undo.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The days a pin lasts when none are asked for.
pub const DEFAULT_PIN_DAYS: u32 = 14;

/// When a snapshot is deleted by its policy, and whether it is pinned. Serialized at the
/// top level of a snapshot (`expires`, `expiry_rule`, `pinned`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Retention {
    /// When a policy deletes it, when a fixed time is known.
    pub expires: Option<DateTime<Utc>>,
    /// What may delete it without a fixed time (`snapper timeline cleanup`, `auto policy
    /// sp-… keeps 3 days`, `DLM policy …`).
    pub expiry_rule: Option<String>,
    /// Held beyond its policy: a lock or hold on it, or a pin snaprescue made and did not undo.
    pub pinned: bool,
}

impl Retention {
    /// Whether a policy may delete it (a time or a rule) and nothing holds it.
    pub fn at_risk(&self) -> bool {
        !self.pinned && (self.expires.is_some() || self.expiry_rule.is_some())
    }

    /// What threatens it, for a narrow column: "deleted by policy in 5 h", "subject to
    /// snapper cleanup"; `None` when nothing does (or it is pinned).
    pub fn risk_text(&self, now: DateTime<Utc>) -> Option<String> {
        if self.pinned {
            return None;
        }
        if let Some(at) = self.expires {
            let left = at - now;
            return Some(if left <= chrono::Duration::zero() {
                "due for deletion by policy now".into()
            } else {
                format!("deleted by policy in {}", short_duration(left))
            });
        }
        let rule = self.expiry_rule.as_deref()?;
        Some(match rule.strip_suffix(" cleanup") {
            Some(snapper) if snapper.starts_with("snapper") => "subject to snapper cleanup".into(),
            _ => format!("subject to {rule}"),
        })
    }
}

/// `5 h`, `3 d`, `40 min`: the largest whole unit.
pub fn short_duration(d: chrono::Duration) -> String {
    let minutes = d.num_minutes().max(1);
    match minutes {
        m if m < 120 => format!("{m} min"),
        m if m < 48 * 60 => format!("{} h", m / 60),
        m => format!("{} d", m / (24 * 60)),
    }
}

/// What a source found before pinning: the state to journal (so `unpin` can put it back)
/// and, when no pin is needed, why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PinPrior {
    /// The snapshot's state in the source's own terms (a lock, a retention, a deadline, a
    /// cleanup algorithm).
    pub state: Value,
    /// Why nothing needs to change (kept forever already, no policy); `None`: a pin changes
    /// something.
    pub not_needed: Option<String>,
}

/// What a pin changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PinDone {
    /// In words: "locked in governance mode until …".
    pub did: String,
    /// When the pin ends by itself; `None`: until unpinned.
    pub until: Option<DateTime<Utc>>,
    /// What was set, in the source's terms (so `unpin` can tell it is still ours).
    pub state: Value,
}

/// What `unpin` put back, and what it could not (with why).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Unpinned {
    pub undone: Vec<String>,
    pub not_undone: Vec<String>,
}

impl Unpinned {
    pub fn undone(text: impl Into<String>) -> Self {
        Self {
            undone: vec![text.into()],
            not_undone: vec![],
        }
    }

    pub fn not_undone(text: impl Into<String>) -> Self {
        Self {
            undone: vec![],
            not_undone: vec![text.into()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn risk_is_said_in_the_largest_unit_and_never_for_a_pinned_snapshot() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let mut r = Retention {
            expires: Some(now + chrono::Duration::minutes(5 * 60 + 10)),
            ..Default::default()
        };
        assert_eq!(
            r.risk_text(now).as_deref(),
            Some("deleted by policy in 5 h")
        );
        r.expires = Some(now + chrono::Duration::days(3));
        assert_eq!(
            r.risk_text(now).as_deref(),
            Some("deleted by policy in 3 d")
        );
        r.expires = Some(now - chrono::Duration::minutes(1));
        assert_eq!(
            r.risk_text(now).as_deref(),
            Some("due for deletion by policy now")
        );
        r.pinned = true;
        assert_eq!(r.risk_text(now), None);
        assert!(!r.at_risk());
        let snapper = Retention {
            expiry_rule: Some("snapper timeline cleanup".into()),
            ..Default::default()
        };
        assert_eq!(
            snapper.risk_text(now).as_deref(),
            Some("subject to snapper cleanup")
        );
        assert!(snapper.at_risk());
        assert_eq!(Retention::default().risk_text(now), None);
    }
}
