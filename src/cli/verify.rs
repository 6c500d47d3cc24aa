//! `verify` without a terminal: every file's verdict, then the torch check. A PATH that
//! does not exist, is not a file, or holds nothing to check is a failure that says why.

use super::Outcome;
use crate::engine::torch_check::{CheckpointLoad, JobPython, torch_check_job};
use crate::engine::verify::{Targets, verify_all};
use serde_json::json;
use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which interpreter checks torch: `--job PID`'s (inside its container when it runs in
/// one), else `--python`, else python3.
pub enum Interpreter<'a> {
    Job(i32),
    Path(Option<&'a Path>),
}

pub fn verify(
    paths: &[PathBuf],
    load: bool,
    interpreter: Interpreter,
    timeout: u64,
) -> anyhow::Result<Outcome> {
    // An interpreter named asks for the torch check as `--torch` does.
    let load = load || !matches!(interpreter, Interpreter::Path(None));
    let job = match interpreter {
        Interpreter::Job(pid) => JobPython::running(pid)?,
        Interpreter::Path(python) => JobPython::here(python),
    };
    let Targets { files, unchecked } = Targets::collect(paths);
    let mut verdicts = verify_all(&files, &HashMap::new(), &|done, total| {
        if total > 20 && (done % 20 == 0 || done == total) {
            eprint!("\rverified {done}/{total}");
        }
    });
    let torch = load.then(|| {
        let checkpoints: Vec<PathBuf> = files
            .iter()
            .filter(|f| crate::engine::verify::is_checkpoint(f))
            .cloned()
            .collect();
        torch_check_job(&job, &checkpoints, Duration::from_secs(timeout))
    });
    // A legacy-format checkpoint is checked only by loading it.
    if let Some(t) = &torch {
        crate::engine::verify::confirm_legacy_by_loads(&mut verdicts, &t.facts.loads);
    }
    let mut human = String::new();
    for v in &verdicts {
        let _ = writeln!(
            human,
            "{} {}: {}",
            if v.ok { "ok  " } else { "FAIL" },
            crate::engine::shown(&v.path),
            v.detail
        );
    }
    for u in &unchecked {
        let _ = writeln!(
            human,
            "FAIL {}: {}",
            crate::engine::shown(&u.path),
            u.reason
        );
    }
    let files_ok = verdicts.iter().all(|v| v.ok) && unchecked.is_empty();
    let loads_ok = match &torch {
        Some(t) => describe_torch(&mut human, t),
        None => {
            let _ = writeln!(
                human,
                "torch.cuda not checked and nothing loaded with torch: add --torch (with \
                 --job PID or --python EXE for the training job's interpreter)"
            );
            true
        }
    };
    Ok(Outcome {
        json: json!({ "files": verdicts, "unchecked": unchecked, "torch": torch }),
        human,
        ok: files_ok && loads_ok,
    })
}

/// The torch check's lines; true when torch imported and every load that ran succeeded.
fn describe_torch(human: &mut String, torch: &crate::engine::torch_check::TorchReport) -> bool {
    let f = &torch.facts;
    match &torch.diagnosis {
        None => {
            let _ = writeln!(
                human,
                "torch {} (CUDA {}) on {}: {} GPU(s) {}{}",
                f.torch.as_deref().unwrap_or("?"),
                f.cuda_build.as_deref().unwrap_or("?"),
                torch.place(),
                f.count,
                f.names.join(", "),
                f.proven()
            );
        }
        Some(d) => {
            let _ = writeln!(
                human,
                "torch check: {d} (--job PID or --python EXE names the interpreter)"
            );
        }
    }
    for l in &f.loads {
        if let Some(why) = &l.skipped {
            let _ = writeln!(
                human,
                "not loaded by torch ({why}): {}",
                crate::engine::shown(&l.path)
            );
        } else if !l.ok {
            let _ = writeln!(
                human,
                "FAIL torch.load {}: {}",
                crate::engine::shown(&l.path),
                l.error.as_deref().unwrap_or("")
            );
        }
    }
    for path in &torch.not_loaded {
        let _ = writeln!(
            human,
            "not loaded by torch (the job's container does not see it at this path): {}",
            crate::engine::shown(path)
        );
    }
    !f.loads.iter().any(CheckpointLoad::failed) && f.import_error.is_none() && f.torch.is_some()
}
