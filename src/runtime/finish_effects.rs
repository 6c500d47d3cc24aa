//! The executor's step-6 work: verifying what came back (restored files against their
//! restore hashes, or every checkpoint under PATH after a rollback) and the torch check with
//! the job's interpreter, each on a blocking thread, its result sent back as a message.

use super::executor::Executor;
use crate::engine::torch_check::{JobPython, torch_check_job};
use crate::wizard::Msg;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

impl Executor {
    /// Every checkpoint below `root` (after a rollback), verified by format.
    pub(super) fn verify_under(&self, root: PathBuf) {
        self.blocking(move || {
            let started = Instant::now();
            let targets = crate::engine::verify::Targets::collect(&[root]);
            let files: Vec<PathBuf> = targets
                .files
                .into_iter()
                .filter(|f| crate::engine::verify::is_checkpoint(f))
                .collect();
            let verdicts = crate::engine::verify::verify_all(&files, &HashMap::new(), &|_, _| {});
            Msg::Verified {
                verdicts,
                elapsed_ms: started.elapsed().as_millis(),
            }
        });
    }

    /// The restored `files`, against the hashes `recorded` at restore time; progress
    /// throttled to ten messages a second.
    pub(super) fn verify(&self, files: Vec<PathBuf>, recorded: HashMap<PathBuf, String>) {
        let tx = self.tx.clone();
        self.blocking(move || {
            let started = Instant::now();
            let progress = Mutex::new((tx, Instant::now() - Duration::from_secs(1)));
            let verdicts = crate::engine::verify::verify_all(&files, &recorded, &|done, total| {
                let mut guard = progress.lock().unwrap_or_else(|e| e.into_inner());
                if guard.1.elapsed() >= Duration::from_millis(100) || done == total {
                    guard.1 = Instant::now();
                    let _ = guard.0.send(Msg::VerifyProgress { done, total });
                }
            });
            Msg::Verified {
                verdicts,
                elapsed_ms: started.elapsed().as_millis(),
            }
        });
    }

    /// torch.cuda and the `checkpoints` loaded with the job's interpreter (else python3).
    pub(super) fn torch_check(&self, python: Option<JobPython>, checkpoints: Vec<PathBuf>) {
        self.blocking(move || {
            let job = python.unwrap_or_else(|| JobPython::here(None));
            Msg::TorchChecked(torch_check_job(
                &job,
                &checkpoints,
                Duration::from_secs(120),
            ))
        });
    }
}
