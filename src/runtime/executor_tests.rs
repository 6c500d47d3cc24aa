//! The executor's guards, with fakes for the ports.

use super::*;
use crate::ports::gpu::GpuStatus;
use std::sync::atomic::AtomicUsize;

/// A driver that hangs until told to answer, counting how often it was asked.
struct WedgedGpu {
    asked: AtomicUsize,
    answer: Mutex<bool>,
    wake: std::sync::Condvar,
}

impl GpuProbe for WedgedGpu {
    fn probe(&self) -> GpuStatus {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let mut go = self.answer.lock().unwrap();
        while !*go {
            go = self.wake.wait(go).unwrap();
        }
        GpuStatus::Unavailable {
            reason: "answered".into(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_gpu_probe_is_not_started_again_on_every_tick() {
    let gpu = Arc::new(WedgedGpu {
        asked: AtomicUsize::new(0),
        answer: Mutex::new(false),
        wake: std::sync::Condvar::new(),
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let executor = Executor {
        to: None,
        path: "/".into(),
        cloud: Default::default(),
        tx,
        gpu: gpu.clone(),
        session: Arc::default(),
        opened: Arc::default(),
        jobs: Arc::default(),
        last_scan: Arc::new(Mutex::new(Instant::now())),
        probing: Arc::default(),
    };
    for _ in 0..5 {
        executor.run(Effect::ProbeGpu);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(gpu.asked.load(Ordering::SeqCst), 1, "one probe at a time");
    *gpu.answer.lock().unwrap() = true;
    gpu.wake.notify_all();
    assert!(matches!(rx.recv().await, Some(Msg::GpuProbed(_))));
    executor.run(Effect::ProbeGpu);
    assert!(matches!(rx.recv().await, Some(Msg::GpuProbed(_))));
    assert_eq!(
        gpu.asked.load(Ordering::SeqCst),
        2,
        "asked again once answered"
    );
}
