//! Pin and unpin through a [`Session`], the one path of the `pin`/`unpin` commands and the
//! wizard: the snapshot's prior state is journaled before its source changes anything, what
//! the pin did after; `unpin` hands the journal back to the source, which undoes only that
//! change and says what it could not undo. Listings mark the snapshots snaprescue holds.

use crate::engine::pin_journal::{self, PinRecord};
use crate::session::{Session, SessionError};
use crate::sources::{Snapshot, SnapshotSource, SourceError};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// What `pin` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PinOutcome {
    pub snapshot: String,
    pub source: String,
    /// Whether this call changed the snapshot.
    pub changed: bool,
    /// What it did, or why nothing was needed.
    pub said: String,
    /// When the pin ends by itself; `None`: until unpinned (or nothing was pinned).
    pub until: Option<DateTime<Utc>>,
    /// How to take it back (when there is a pin to take back).
    pub unpin: Option<String>,
}

/// What `unpin` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnpinOutcome {
    pub snapshot: String,
    pub source: String,
    pub undone: Vec<String>,
    /// What could not be undone, each with why.
    pub not_undone: Vec<String>,
}

/// Who pins: the `pin` command or the wizard (named in the journal and by `cleanup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinnedBy {
    Command,
    Wizard,
}

fn journal_error(e: std::io::Error) -> SourceError {
    SourceError::Io {
        context: format!(
            "the pin was not made: its journal in {} could not be written",
            pin_journal::pins_dir().display()
        ),
        source: e,
    }
}

/// Marks the snapshots that snaprescue holds pinned (its journal), beside what each source
/// reported (a lock).
pub fn mark_pinned(sources: &[Box<dyn SnapshotSource>], snapshots: &mut [Snapshot]) {
    for snapshot in snapshots {
        if let Some(source) = sources.iter().find(|s| s.name() == snapshot.source)
            && pin_journal::find(source.name(), &source.pin_place(), &snapshot.id)
                .is_some_and(|r| r.done.is_some())
        {
            snapshot.retention.pinned = true;
        }
    }
}

impl Session {
    /// Pins snapshot `id` for `days`, journaled; a snapshot already pinned by snaprescue
    /// keeps its first record (the state before the first pin is the one to restore).
    pub fn pin(&self, id: &str, days: u32, by: PinnedBy) -> Result<PinOutcome, SessionError> {
        let snapshot = self.snapshot(id)?.clone();
        let source = self.source_of(&snapshot)?;
        let place = source.pin_place();
        let outcome = |changed, said: String, until, record: Option<&PinRecord>| PinOutcome {
            snapshot: snapshot.id.clone(),
            source: snapshot.source.clone(),
            changed,
            said,
            until,
            unpin: record.map(PinRecord::unpin_command),
        };
        let earlier = pin_journal::find(source.name(), &place, &snapshot.id);
        if let Some((record, Some(done))) = earlier.as_ref().map(|r| (r, &r.done)) {
            let said = format!(
                "already pinned by snaprescue at {}: {}",
                record.at, done.did
            );
            return Ok(outcome(false, said, done.until, Some(record)));
        }
        let mut record = match earlier {
            Some(interrupted) => interrupted,
            None => {
                let prior = source.pin_prior(&snapshot, days)?;
                if let Some(reason) = prior.not_needed {
                    return Ok(outcome(
                        false,
                        format!("no pin needed: {reason}"),
                        None,
                        None,
                    ));
                }
                let pid = std::process::id();
                PinRecord {
                    source: source.name().into(),
                    place,
                    snapshot: snapshot.id.clone(),
                    snapshot_name: snapshot.name.clone(),
                    path: self.path.clone(),
                    days,
                    prior,
                    done: None,
                    at: Utc::now().to_rfc3339(),
                    by: match by {
                        PinnedBy::Command => "the pin command",
                        PinnedBy::Wizard => "the wizard",
                    }
                    .into(),
                    by_pid: pid,
                    by_start: crate::ports::processes::start_time(pid as i32).unwrap_or(0),
                }
            }
        };
        pin_journal::write(&record).map_err(journal_error)?;
        crate::rescue::journal::crash_point("pin", "start");
        let done = match source.pin(&snapshot, days, &record.prior) {
            Ok(done) => done,
            Err(e) => {
                // Unchanged (the state is still the one journaled): no pin to remember.
                if source
                    .pin_prior(&snapshot, days)
                    .is_ok_and(|now| now.state == record.prior.state)
                {
                    let _ = pin_journal::retire(&record);
                }
                return Err(e.into());
            }
        };
        record.done = Some(done.clone());
        pin_journal::write(&record).map_err(|e| SourceError::Io {
            context: format!(
                "the pin of {} was made ({}), but could not be journaled in {}; `snaprescue \
                 cleanup` names it, and `unpin` checks the snapshot before undoing anything",
                snapshot.id,
                done.did,
                pin_journal::pins_dir().display()
            ),
            source: e,
        })?;
        crate::rescue::journal::crash_point("pin", "done");
        Ok(outcome(true, done.did, done.until, Some(&record)))
    }

    /// Undoes snaprescue's pin of snapshot `id`: only what the pin changed, and only where
    /// it is still the pin's; the rest is said with why.
    pub fn unpin(&self, id: &str) -> Result<UnpinOutcome, SessionError> {
        let snapshot = match self.snapshot(id) {
            Ok(snapshot) => snapshot.clone(),
            Err(unknown) => return self.forget_pin_of_gone(id).ok_or(unknown.into()),
        };
        let source = self.source_of(&snapshot)?;
        let mut outcome = UnpinOutcome {
            snapshot: snapshot.id.clone(),
            source: snapshot.source.clone(),
            undone: vec![],
            not_undone: vec![],
        };
        if let Some(damaged) =
            pin_journal::unreadable(source.name(), &source.pin_place(), &snapshot.id)
        {
            return Err(SourceError::Refused(format!(
                "the record of the pin of {} ({}) cannot be read: nothing was undone. Look at \
                 {} (it says what the pin changed), undo that by hand, then remove it",
                snapshot.id,
                snapshot.name,
                damaged.display()
            ))
            .into());
        }
        let Some(record) = pin_journal::find(source.name(), &source.pin_place(), &snapshot.id)
        else {
            outcome.not_undone.push(format!(
                "snaprescue holds no pin of {} ({}): nothing to undo (a lock or setting made \
                 by someone else is left as it is)",
                snapshot.id, snapshot.name
            ));
            return Ok(outcome);
        };
        // An interrupted pin: the source finds nothing it recognises as the pin's and says so.
        let done = record.done.clone().unwrap_or(crate::sources::PinDone {
            did: "unknown (the pin was interrupted)".into(),
            until: None,
            state: serde_json::Value::Null,
        });
        let unpinned = source.unpin(&snapshot, &record.prior, &done)?;
        outcome.undone = unpinned.undone;
        outcome.not_undone = unpinned.not_undone;
        pin_journal::retire(&record).map_err(|e| SourceError::Io {
            context: "the pin was undone, but its journal could not be filed away".into(),
            source: e,
        })?;
        Ok(outcome)
    }

    /// A snapshot that no longer exists keeps nothing to unpin: its pin record (if
    /// snaprescue holds one) is filed away, so `cleanup` stops naming it.
    fn forget_pin_of_gone(&self, id: &str) -> Option<UnpinOutcome> {
        self.sources.iter().find_map(|source| {
            let record = pin_journal::find(source.name(), &source.pin_place(), id)?;
            pin_journal::retire(&record).ok()?;
            Some(UnpinOutcome {
                snapshot: id.to_string(),
                source: source.name().to_string(),
                undone: vec![],
                not_undone: vec![format!(
                    "{id} ({}) no longer exists: there is nothing to unpin, and its pin is \
                     forgotten",
                    record.snapshot_name
                )],
            })
        })
    }
}
