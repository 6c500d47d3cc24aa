//! Runs the wizard: draws the model, turns terminal input into messages, and hands effects
//! to the [`executor`]. The terminal is restored on exit, on panic and on Ctrl-C.

mod executor;
mod finish_effects;
pub mod jobs;
mod pin_effects;
mod protect_effects;
pub mod self_check;
pub mod state;

pub use state::{init_logging, state_dir};

use crate::ports::gpu::{GpuProbe, Nvml};
use crate::wizard::{Key, Model, Msg, init, update};
use executor::Executor;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// Opens the wizard on `path`. `gpu` replaces NVML (tests, demos).
/// The wizard on `path`; restores go to `to` when given (PATH's disk full or read-only).
pub fn run_wizard(
    path: &Path,
    to: Option<&Path>,
    gpu: Option<Arc<dyn GpuProbe>>,
    cloud: crate::sources::CloudOptions,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(wizard_loop(
        path,
        to,
        gpu.unwrap_or_else(|| Arc::new(Nvml)),
        cloud,
    ));
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

async fn wizard_loop(
    path: &Path,
    to: Option<&Path>,
    gpu: Arc<dyn GpuProbe>,
    cloud: crate::sources::CloudOptions,
) -> anyhow::Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let absolute = crate::ports::fs_meta::resolve_lost(path).unwrap_or(path.to_path_buf());
    let to = to.map(|t| crate::ports::fs_meta::resolve_lost(t).unwrap_or(t.to_path_buf()));
    let executor = Executor {
        path: absolute.clone(),
        to: to.clone(),
        cloud,
        tx: tx.clone(),
        gpu,
        session: Arc::default(),
        opened: Arc::default(),
        jobs: Arc::default(),
        last_scan: Arc::new(Mutex::new(Instant::now())),
        probing: Arc::default(),
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
    let mut model = Model::new(absolute.clone());
    model.restore_to = to;
    model.writers.self_warning = self_check::notice(&absolute);
    model.writers.earlier =
        crate::engine::harvest::earlier(std::path::Path::new(crate::wizard::DEFAULT_HARVEST_DIR));
    crate::wizard::update_writers::adopt_still_frozen(
        &mut model,
        &crate::engine::freeze_journal::still_frozen(),
    );
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
    // Only what is true now: a process that ended (or whose pid was reused) since the last
    // scan is not named as frozen.
    model
        .writers
        .frozen
        .retain(|(pid, start, _)| crate::ports::processes::stopped(*pid, *start));
    for line in crate::wizard::exit_summary::exit_summary(&model) {
        eprintln!("snaprescue: {line}");
    }
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
