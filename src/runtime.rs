//! Runs the wizard: draws the model, turns terminal input into messages, and carries out
//! effects on tokio (blocking work on `spawn_blocking`), sending results back as messages
//! with progress throttled. The terminal is restored on exit, on panic and on Ctrl-C.

use crate::engine::restore::execute;
use crate::engine::restore_plan::plan;
use crate::ports::gpu::{GpuProbe, Nvml};
use crate::ports::processes::{filesystem_devices, processes_using};
use crate::ports::signals::signal;
use crate::session::Session;
use crate::sources::OpenedSnapshot;
use crate::wizard::{
    DiffLoaded, Effect, Key, Model, Msg, SignalAction, SnapshotListing, init, update,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// Where reports and the log go: `SNAPRESCUE_STATE_DIR`, else `$XDG_STATE_HOME/snaprescue`,
/// else `~/.local/state/snaprescue`.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SNAPRESCUE_STATE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into()))
                .join(".local/state")
        });
    base.join("snaprescue")
}

/// Logs go to `state_dir()/snaprescue.log`, never to the screen.
pub fn init_logging() {
    let dir = state_dir();
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("snaprescue.log"))
    else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .try_init();
}

/// Carries out effects and reports back through `tx`.
struct Executor {
    path: PathBuf,
    tx: UnboundedSender<Msg>,
    gpu: Arc<dyn GpuProbe>,
    session: Arc<Mutex<Option<Arc<Session>>>>,
    opened: Arc<Mutex<Option<(String, OpenedSnapshot)>>>,
    cancel: Arc<AtomicBool>,
    last_scan: Arc<Mutex<Instant>>,
}

impl Executor {
    fn session(&self) -> Option<Arc<Session>> {
        self.session.lock().ok()?.clone()
    }

    fn blocking(&self, work: impl FnOnce() -> Msg + Send + 'static) {
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let _ = tx.send(work());
        });
    }

    fn with_session(
        &self,
        work: impl FnOnce(&Session) -> Msg + Send + 'static,
        missing: impl FnOnce(String) -> Msg,
    ) {
        match self.session() {
            Some(s) => self.blocking(move || work(&s)),
            None => {
                let _ = self.tx.send(missing("snapshots are not listed yet".into()));
            }
        }
    }

    fn run(&self, effect: Effect) {
        match effect {
            Effect::ScanWriters => {
                let path = self.path.clone();
                let last = self.last_scan.clone();
                self.blocking(move || {
                    let devices = filesystem_devices(&path).unwrap_or_default();
                    let (processes, unreadable) = processes_using(&devices);
                    let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
                    let elapsed_secs = last.elapsed().as_secs_f64();
                    *last = Instant::now();
                    Msg::WritersScanned {
                        processes,
                        unreadable,
                        elapsed_secs,
                    }
                });
            }
            Effect::Signal { action, targets } => self.blocking(move || {
                let sig = match action {
                    SignalAction::Freeze => nix::sys::signal::Signal::SIGSTOP,
                    SignalAction::Thaw => nix::sys::signal::Signal::SIGCONT,
                };
                let results = targets
                    .into_iter()
                    .map(|(pid, start)| (pid, signal(pid, start, sig).map_err(|e| e.to_string())))
                    .collect();
                std::thread::sleep(Duration::from_millis(30));
                Msg::Signalled { action, results }
            }),
            Effect::ProbeGpu => {
                let gpu = self.gpu.clone();
                self.blocking(move || Msg::GpuProbed(gpu.probe()));
            }
            Effect::ListSnapshots => {
                let path = self.path.clone();
                let slot = self.session.clone();
                self.blocking(move || match Session::open(&path, None) {
                    Ok(session) => {
                        let listing = SnapshotListing {
                            source: session.source.describe(),
                            rollback_target: session.source.rollback_target(),
                            snapshots: session.snapshots.clone(),
                            deleted_at: session.deleted_at,
                            recommended: session.recommended,
                        };
                        if let Ok(mut s) = slot.lock() {
                            *s = Some(Arc::new(session));
                        }
                        Msg::SnapshotsListed(Ok(listing))
                    }
                    Err(e) => Msg::SnapshotsListed(Err(e.to_string())),
                });
            }
            Effect::CountLost { id } => {
                let id2 = id.clone();
                self.with_session(
                    move |s| {
                        let lost = s
                            .snapshot(&id)
                            .map_err(Into::into)
                            .and_then(|snap| s.lost_in(snap))
                            .map_err(|e| e.to_string());
                        Msg::LostCounted { id, lost }
                    },
                    |e| Msg::LostCounted {
                        id: id2,
                        lost: Err(e),
                    },
                );
            }
            Effect::ScanNewer { id } => self.with_session(
                move |s| {
                    let result = s.snapshot(&id).map_err(|e| e.to_string()).and_then(|snap| {
                        let root = s
                            .source
                            .live_root()
                            .ok_or("the live subvolume is not reachable")?;
                        Ok(crate::engine::newer::files_newer_than(
                            &root,
                            snap.created.timestamp(),
                            8,
                        ))
                    });
                    Msg::NewerScanned(result)
                },
                |e| Msg::NewerScanned(Err(e)),
            ),
            Effect::LoadDiff { id } => {
                self.cancel.store(false, Ordering::Relaxed);
                let (opened, cancel) = (self.opened.clone(), self.cancel.clone());
                self.with_session(
                    move |s| {
                        let result = s
                            .snapshot(&id)
                            .map_err(Into::into)
                            .and_then(|snap| s.diff(snap, &cancel));
                        match result {
                            Ok((snapshot_dir, tree)) => {
                                if let Ok(mut slot) = opened.lock() {
                                    *slot = Some((id.clone(), snapshot_dir));
                                }
                                let free_bytes =
                                    crate::ports::fs_meta::free_bytes(&s.path).unwrap_or(0);
                                Msg::DiffReady(Ok(DiffLoaded {
                                    snapshot_id: id,
                                    tree,
                                    dest: s.path.clone(),
                                    free_bytes,
                                }))
                            }
                            Err(e) => Msg::DiffReady(Err(e.to_string())),
                        }
                    },
                    |e| Msg::DiffReady(Err(e)),
                );
            }
            Effect::Restore {
                id,
                selection,
                policy,
            } => {
                self.cancel.store(false, Ordering::Relaxed);
                let (opened, cancel, tx) =
                    (self.opened.clone(), self.cancel.clone(), self.tx.clone());
                self.with_session(
                    move |s| {
                        let guard = opened.lock().unwrap_or_else(|e| e.into_inner());
                        let Some((opened_id, snapshot)) = guard.as_ref().filter(|(o, _)| *o == id)
                        else {
                            return Msg::RestoreRefused(format!(
                                "snapshot {id} is not open; go back and choose it again"
                            ));
                        };
                        let _ = opened_id;
                        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
                        let planned = match plan(&snapshot.dir, &s.path, &selection, policy, &stamp)
                        {
                            Ok(p) => p,
                            Err(e) => return Msg::RestoreRefused(e.to_string()),
                        };
                        let mut last = Instant::now() - Duration::from_secs(1);
                        let report = execute(&planned, &cancel, &mut |p| {
                            if last.elapsed() >= Duration::from_millis(100) {
                                last = Instant::now();
                                let _ = tx.send(Msg::RestoreProgress(p.clone()));
                            }
                        });
                        Msg::RestoreDone(report)
                    },
                    Msg::RestoreRefused,
                );
            }
            Effect::Cancel => self.cancel.store(true, Ordering::Relaxed),
            Effect::Rollback { id, confirm } => {
                let opened = self.opened.clone();
                self.with_session(
                    move |s| {
                        // Release our own view of the snapshot before swapping subvolumes.
                        if let Ok(mut slot) = opened.lock() {
                            *slot = None;
                        }
                        let result = s
                            .snapshot(&id)
                            .and_then(|snap| s.source.rollback(snap, &confirm, true));
                        Msg::RollbackDone(result.map_err(|e| e.to_string()))
                    },
                    |e| Msg::RollbackDone(Err(e)),
                );
            }
            Effect::WriteReport(report) => {
                self.blocking(move || Msg::ReportWritten(write_report(&report)))
            }
            Effect::Quit => {}
        }
    }
}

fn write_report(report: &crate::wizard::FinishReport) -> Result<PathBuf, String> {
    let dir = state_dir().join("reports");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let json_path = dir.join(format!("report-{stamp}.json"));
    let json = serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?;
    std::fs::write(&json_path, json)
        .map_err(|e| format!("cannot write {}: {e}", json_path.display()))?;
    let mut text = format!("snaprescue report\npath: {}\n", report.path);
    text += &format!(
        "snapshot: {}\n",
        report.snapshot.as_deref().unwrap_or("none")
    );
    text += &format!(
        "deletion estimated at: {}\n",
        report.deleted_at.as_deref().unwrap_or("unknown")
    );
    text += &format!(
        "restored: {} entries, {} bytes\n",
        report.restored, report.restored_bytes
    );
    for line in report
        .skipped
        .iter()
        .map(|s| format!("skipped: {s}\n"))
        .chain(report.failed.iter().map(|f| format!("FAILED: {f}\n")))
    {
        text += &line;
    }
    if let Some(r) = &report.rollback {
        text += &format!("rollback: {r}\n");
    }
    std::fs::write(json_path.with_extension("txt"), text).map_err(|e| e.to_string())?;
    Ok(json_path)
}

/// Opens the wizard on `path`. `gpu` replaces NVML (tests, demos).
pub fn run_wizard(path: &Path, gpu: Option<Arc<dyn GpuProbe>>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(wizard_loop(path, gpu.unwrap_or_else(|| Arc::new(Nvml))));
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

async fn wizard_loop(path: &Path, gpu: Arc<dyn GpuProbe>) -> anyhow::Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let absolute = crate::ports::fs_meta::resolve_lost(path).unwrap_or(path.to_path_buf());
    let executor = Executor {
        path: absolute.clone(),
        tx: tx.clone(),
        gpu,
        session: Arc::default(),
        opened: Arc::default(),
        cancel: Arc::default(),
        last_scan: Arc::new(Mutex::new(Instant::now())),
    };
    let mut terminal = ratatui::try_init()?;
    let stop = Arc::new(AtomicBool::new(false));
    let input = spawn_input(tx.clone(), stop.clone());
    let ticker = tokio::spawn({
        let tx = tx.clone();
        async move {
            let mut every = tokio::time::interval(Duration::from_secs(2));
            loop {
                every.tick().await;
                if tx.send(Msg::Tick).is_err() {
                    break;
                }
            }
        }
    });
    let interrupt = tokio::spawn({
        let tx = tx.clone();
        async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                let _ = tx.send(Msg::Key(Key::CtrlC));
            }
        }
    });
    let mut model = Model::new(absolute);
    for effect in init(&model) {
        executor.run(effect);
    }
    let result = async {
        loop {
            terminal.draw(|frame| crate::ui::draw(frame, &model))?;
            let Some(msg) = rx.recv().await else { break };
            let mut effects = update(&mut model, msg);
            for _ in 0..64 {
                match rx.try_recv() {
                    Ok(more) => effects.extend(update(&mut model, more)),
                    Err(_) => break,
                }
            }
            for effect in effects {
                executor.run(effect);
            }
            if model.quitting {
                break;
            }
        }
        anyhow::Ok(())
    }
    .await;
    stop.store(true, Ordering::Relaxed);
    ticker.abort();
    interrupt.abort();
    ratatui::restore();
    let _ = input.join();
    result
}

fn spawn_input(tx: UnboundedSender<Msg>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        use crossterm::event::{Event, poll, read};
        while !stop.load(Ordering::Relaxed) {
            if !poll(Duration::from_millis(100)).unwrap_or(false) {
                continue;
            }
            let msg = match read() {
                Ok(Event::Key(k)) => Key::from_crossterm(k).map(Msg::Key),
                Ok(Event::Resize(..)) => Some(Msg::Tick),
                _ => None,
            };
            if let Some(msg) = msg
                && tx.send(msg).is_err()
            {
                break;
            }
        }
    })
}
