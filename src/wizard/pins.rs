//! The pin of the snapshot being recovered from, as the wizard keeps it: picking a snapshot
//! in step 3 pins it (an effect), step 4 says in one line what the pin did and how to undo
//! it, and the finish screen offers to unpin what this run pinned. A pin left in place is
//! named by `cleanup` later, never undone silently.

use super::message::Effect;
use crate::pinning::{PinOutcome, UnpinOutcome};
use crate::sources::retention::DEFAULT_PIN_DAYS;

/// Where the pin of one snapshot is.
#[derive(Debug, Clone, PartialEq)]
pub enum PinState {
    Pinning,
    Pinned(PinOutcome),
    Failed(String),
    Unpinning,
    Unpinned(UnpinOutcome),
    UnpinFailed(String),
}

/// The pins of this run, by snapshot id, in the order the snapshots were picked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pins {
    pub states: Vec<(String, PinState)>,
}

impl Pins {
    fn state(&self, id: &str) -> Option<&PinState> {
        self.states.iter().find(|(s, _)| s == id).map(|(_, p)| p)
    }

    fn set(&mut self, id: &str, state: PinState) {
        match self.states.iter_mut().find(|(s, _)| s == id) {
            Some(entry) => entry.1 = state,
            None => self.states.push((id.to_string(), state)),
        }
    }

    /// Snapshot `id` was picked: pin it, unless this run already did (or is doing so).
    pub fn on_chosen(&mut self, id: &str) -> Vec<Effect> {
        if matches!(
            self.state(id),
            Some(PinState::Pinning | PinState::Pinned(_) | PinState::Unpinning)
        ) {
            return vec![];
        }
        self.set(id, PinState::Pinning);
        vec![Effect::Pin {
            id: id.to_string(),
            days: DEFAULT_PIN_DAYS,
        }]
    }

    pub fn on_pinned(&mut self, id: &str, result: Result<PinOutcome, String>) {
        self.set(
            id,
            match result {
                Ok(outcome) => PinState::Pinned(outcome),
                Err(e) => PinState::Failed(e),
            },
        );
    }

    pub fn on_unpinned(&mut self, id: &str, result: Result<UnpinOutcome, String>) {
        self.set(
            id,
            match result {
                Ok(outcome) => PinState::Unpinned(outcome),
                Err(e) => PinState::UnpinFailed(e),
            },
        );
    }

    /// Snapshots snaprescue holds pinned that this run can take back.
    pub fn unpinnable(&self) -> Vec<String> {
        self.states
            .iter()
            .filter(|(_, p)| matches!(p, PinState::Pinned(o) if o.unpin.is_some()))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Unpins every snapshot [`Self::unpinnable`] names.
    pub fn unpin_all(&mut self) -> Vec<Effect> {
        let ids = self.unpinnable();
        ids.into_iter()
            .map(|id| {
                self.set(&id, PinState::Unpinning);
                Effect::Unpin { id }
            })
            .collect()
    }

    /// The line step 4 shows about the pin of `id`, and whether it is a warning.
    pub fn line(&self, id: &str) -> Option<(String, bool)> {
        Some(match self.state(id)? {
            PinState::Pinning => (format!("Pinning {id} so no policy deletes it…"), false),
            PinState::Pinned(o) => match (&o.unpin, o.until) {
                (Some(_), Some(until)) => (
                    format!(
                        "Pinned until {} (kept from its policy); u at the end unpins",
                        until.format("%Y-%m-%d")
                    ),
                    false,
                ),
                (Some(_), None) => (
                    "Pinned: no policy can delete it now; u at the end unpins".into(),
                    false,
                ),
                (None, _) => (format!("Pin: {}", o.said), false),
            },
            PinState::Failed(e) => (
                format!("Not pinned (a policy may still delete it): {e}"),
                true,
            ),
            PinState::Unpinning => (format!("Unpinning {id}…"), false),
            PinState::Unpinned(o) => (unpinned_text(o), !o.not_undone.is_empty()),
            PinState::UnpinFailed(e) => (format!("Unpin failed: {e}"), true),
        })
    }

    /// One line per pin of this run, for the finish screen.
    pub fn finish_lines(&self) -> Vec<(String, bool)> {
        self.states
            .iter()
            .filter_map(|(id, state)| match state {
                PinState::Pinned(PinOutcome { unpin: Some(_), .. }) => Some((
                    format!("Pinned: {id} (safe from its policy); u unpins it"),
                    false,
                )),
                _ => self.line(id),
            })
            .collect()
    }
}

impl Pins {
    /// For the terminal after the wizard: each pin left in place and the command to undo it.
    pub fn exit_lines(&self) -> Vec<String> {
        self.states
            .iter()
            .filter_map(|(id, state)| match state {
                PinState::Pinned(PinOutcome {
                    unpin: Some(unpin), ..
                }) => Some(format!(
                    "still pinned: {id} (kept from its policy); unpin: {unpin}"
                )),
                _ => None,
            })
            .collect()
    }
}

fn unpinned_text(o: &UnpinOutcome) -> String {
    let mut parts: Vec<String> = o.undone.iter().map(|u| format!("undone: {u}")).collect();
    parts.extend(o.not_undone.iter().map(|n| format!("not undone: {n}")));
    format!("Unpinned {}: {}", o.snapshot, parts.join("; "))
}
