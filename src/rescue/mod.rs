//! Cloud rescue disks and cloud rollbacks, crash-safe. A rescue makes a disk from the
//! snapshot, attaches it here, finds it by serial and mounts it read-only; every step is
//! written to a journal first, and the disk is always detached and deleted afterwards, also
//! after a crash (`snaprescue cleanup`). The clouds differ only behind
//! [`crate::providers::CloudProvider`].

pub mod cleanup;
pub mod disk;
pub mod guard;
pub mod journal;
pub mod online_checks;
pub mod online_rollback;

use crate::ports::mounts::MountError;
use crate::providers::CloudError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;

/// The tag every resource snaprescue creates carries, valued with the run id.
pub const RUN_TAG: &str = "snaprescue-run";

#[derive(Debug, Error)]
pub enum RescueError {
    #[error(transparent)]
    Cloud(#[from] CloudError),
    #[error(transparent)]
    Mount(#[from] MountError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("gave up waiting after {secs} s for {what}. {hint}")]
    Timeout {
        what: String,
        secs: u64,
        hint: String,
    },
    #[error("cancelled while {0}; what was created is being removed")]
    Cancelled(String),
    #[error("{0}")]
    Refused(String),
    /// A rescue run that failed, and what became of the disk it made.
    #[error("{cause}; {cleanup}")]
    AfterCleanup {
        cause: Box<RescueError>,
        cleanup: String,
    },
}

impl RescueError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| RescueError::Io { context, source }
    }
}

/// How a long operation reports where it is, and learns that the user cancelled it.
pub struct Watch<'a> {
    pub cancel: &'a AtomicBool,
    pub stage: &'a (dyn Fn(&str) + Sync),
}

static NEVER: AtomicBool = AtomicBool::new(false);

impl<'a> Watch<'a> {
    /// The same reports, but deaf to cancel: cleaning up must finish even after Ctrl-C.
    pub fn uncancellable(&self) -> Watch<'a> {
        Watch {
            cancel: &NEVER,
            stage: self.stage,
        }
    }

    pub fn say(&self, text: &str) {
        tracing::info!("{text}");
        (self.stage)(text);
    }
}

/// A `Watch` that reports nowhere and is never cancelled.
pub fn quiet_watch() -> Watch<'static> {
    Watch {
        cancel: &NEVER,
        stage: &|_| {},
    }
}

/// Seconds to wait for a cloud state change: `SNAPRESCUE_CLOUD_WAIT_SECS`, else `default`.
pub fn cloud_wait(default: u64) -> Duration {
    Duration::from_secs(
        std::env::var("SNAPRESCUE_CLOUD_WAIT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default),
    )
}

/// Polls `poll` with a growing delay (0.2 s up to 5 s; fast under
/// `SNAPRESCUE_FAST_RETRIES`) until it answers `Some`, the time is up, or the user cancels.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    hint: &str,
    watch: &Watch,
    mut poll: impl FnMut() -> Result<Option<T>, RescueError>,
) -> Result<T, RescueError> {
    let fast = std::env::var_os("SNAPRESCUE_FAST_RETRIES").is_some();
    let (mut delay, cap) = if fast {
        (Duration::from_millis(20), Duration::from_millis(200))
    } else {
        (Duration::from_millis(200), Duration::from_secs(5))
    };
    let started = Instant::now();
    loop {
        if watch.cancel.load(Ordering::Relaxed) {
            return Err(RescueError::Cancelled(format!("waiting for {what}")));
        }
        if let Some(v) = poll()? {
            return Ok(v);
        }
        if started.elapsed() >= timeout {
            return Err(RescueError::Timeout {
                what: what.to_string(),
                secs: timeout.as_secs(),
                hint: hint.to_string(),
            });
        }
        watch.say(&format!(
            "waiting for {what} ({} s)",
            started.elapsed().as_secs()
        ));
        std::thread::sleep(delay.min(timeout.saturating_sub(started.elapsed())));
        delay = (delay * 3 / 2).min(cap);
    }
}

/// One request parameter (`Name=value`) as the API clients take them.
pub fn param(name: &str, value: &str) -> (String, String) {
    (name.to_string(), value.to_string())
}

/// A run id: time and randomness, usable as a tag value and an idempotency token.
pub fn new_run_id() -> String {
    format!(
        "sr-{}-{:08x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S"),
        fastrand::u32(..)
    )
}
