//! Stages many small files at once. Reading a small file from a cold snapshot is one wait on
//! the disk after another; a few worker threads, each opening, copying and verifying a file
//! under its temporary name, keep several of those reads in flight where a single thread (as
//! `cp`) waits on each. The restore loop hands out jobs in plan order and takes back what was
//! staged, in any order; batching, committing and the report stay on the loop's thread.

use super::copy::{CopyError, Place, StagedFile, stage_file};
use super::restore_entries::open_source;
use super::restore_plan::PlannedItem;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Files up to this size (those the copy does inline, without threads of its own) go to the
/// workers; larger ones are copied by the loop's own thread (each is already a pipeline of
/// its own, and shows its progress as it goes).
pub(super) const POOLED_MAX: u64 = super::sparse_copy::INLINE_MAX;
/// Workers: enough reads in flight to cover the disk's latency, few enough to stay in cache.
const WORKERS: usize = 4;

/// Why a file did not reach its batch.
pub(super) enum NotStaged {
    Cancelled,
    Failed(String),
}

/// A file staged (or not) by a worker.
pub(super) struct Done<'p> {
    pub item: &'p PlannedItem,
    pub outcome: Result<StagedFile, NotStaged>,
}

struct Job<'p> {
    item: &'p PlannedItem,
    place: Place,
}

/// Opens the snapshot's file and stages its copy at `place`, verified.
pub(super) fn stage(
    item: &PlannedItem,
    place: Place,
    reflink: bool,
    cancel: &AtomicBool,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<StagedFile, NotStaged> {
    let input = open_source(&item.source).map_err(NotStaged::Failed)?;
    stage_file(input, place, reflink, cancel, on_bytes).map_err(|e| match e {
        CopyError::Cancelled => NotStaged::Cancelled,
        e => NotStaged::Failed(e.to_string()),
    })
}

pub(super) struct StagePool<'p> {
    jobs: Option<SyncSender<Job<'p>>>,
    done: Receiver<Done<'p>>,
    /// Bytes the workers copied so far (for progress).
    bytes: Arc<AtomicU64>,
    pending: usize,
}

impl<'p> StagePool<'p> {
    /// Starts the workers in `scope`; they end when the pool is finished.
    pub fn start<'scope, 'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        reflink: bool,
        cancel: &'env AtomicBool,
    ) -> Self
    where
        'p: 'scope,
    {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job<'p>>(WORKERS * 2);
        let queue = Arc::new(Mutex::new(queue));
        let (report, done) = std::sync::mpsc::channel();
        let bytes = Arc::new(AtomicU64::new(0));
        for _ in 0..WORKERS {
            let (queue, report, bytes) = (queue.clone(), report.clone(), bytes.clone());
            scope.spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job.
                    let next = queue.lock().map(|q| q.recv());
                    let Ok(Ok(job)) = next else { return };
                    let mut on_bytes = |n: u64| {
                        bytes.fetch_add(n, Ordering::Relaxed);
                    };
                    let outcome = stage(job.item, job.place, reflink, cancel, &mut on_bytes);
                    if report
                        .send(Done {
                            item: job.item,
                            outcome,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
        Self {
            jobs: Some(jobs),
            done,
            bytes,
            pending: 0,
        }
    }

    /// Bytes the workers have copied so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Hands `item` to a worker, waiting while all are busy; returns what finished meanwhile.
    pub fn submit(&mut self, item: &'p PlannedItem, place: Place) -> Vec<Done<'p>> {
        let mut finished = Vec::new();
        let Some(jobs) = &self.jobs else {
            return finished;
        };
        let mut job = Job { item, place };
        loop {
            match jobs.try_send(job) {
                Ok(()) => {
                    self.pending += 1;
                    break;
                }
                Err(TrySendError::Full(back)) => {
                    job = back;
                    if let Ok(d) = self.done.recv_timeout(Duration::from_millis(50)) {
                        self.pending -= 1;
                        finished.push(d);
                    }
                }
                // Every worker is gone (a panic): the file is reported as not staged.
                Err(TrySendError::Disconnected(back)) => {
                    finished.push(Done {
                        item: back.item,
                        outcome: Err(NotStaged::Failed("the copying thread stopped".into())),
                    });
                    break;
                }
            }
        }
        while let Ok(d) = self.done.try_recv() {
            self.pending -= 1;
            finished.push(d);
        }
        finished
    }

    /// Closes the queue and hands every file still in flight to `on` as it finishes, and
    /// `None` every 100 ms while it waits (progress), with the bytes copied so far.
    pub fn finish(mut self, on: &mut dyn FnMut(Option<Done<'p>>, u64)) {
        self.jobs = None;
        while self.pending > 0 {
            match self.done.recv_timeout(Duration::from_millis(100)) {
                Ok(d) => {
                    self.pending -= 1;
                    on(Some(d), self.bytes());
                }
                Err(RecvTimeoutError::Timeout) => on(None, self.bytes()),
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
    }
}
