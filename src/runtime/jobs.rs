//! The runtime's small job table: every background job of a kind gets its own cancel token
//! when it starts, and a cancel ends exactly the job it was meant for. (With one shared
//! flag, Esc while a snapshot loaded left a cancel set that made a later cloud rollback give
//! up at its first wait.)

use crate::wizard::Job;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
pub struct Jobs {
    running: Mutex<HashMap<Job, Arc<AtomicBool>>>,
}

impl Jobs {
    /// A fresh token for a new job of `kind` (the previous job of that kind keeps its own).
    pub fn start(&self, kind: Job) -> Arc<AtomicBool> {
        let token = Arc::new(AtomicBool::new(false));
        if let Ok(mut running) = self.running.lock() {
            running.insert(kind, token.clone());
        }
        token
    }

    /// Cancels the latest job of `kind`, and only it.
    pub fn cancel(&self, kind: Job) {
        if let Ok(running) = self.running.lock()
            && let Some(token) = running.get(&kind)
        {
            token.store(true, Ordering::Relaxed);
        }
    }

    /// Cancels every job (leaving the wizard).
    pub fn cancel_all(&self) {
        if let Ok(running) = self.running.lock() {
            for token in running.values() {
                token.store(true, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_ends_only_the_job_it_names() {
        let jobs = Jobs::default();
        let diff = jobs.start(Job::Diff);
        jobs.cancel(Job::Diff);
        assert!(diff.load(Ordering::Relaxed));
        // A rollback started after a cancelled load is not born cancelled.
        let rollback = jobs.start(Job::Rollback);
        assert!(!rollback.load(Ordering::Relaxed));
        let restore = jobs.start(Job::Restore);
        jobs.cancel(Job::Restore);
        assert!(restore.load(Ordering::Relaxed));
        assert!(!rollback.load(Ordering::Relaxed));
        // A new load gets a new token; the old one stays cancelled.
        let again = jobs.start(Job::Diff);
        assert!(!again.load(Ordering::Relaxed));
        jobs.cancel_all();
        assert!(again.load(Ordering::Relaxed) && rollback.load(Ordering::Relaxed));
    }
}
