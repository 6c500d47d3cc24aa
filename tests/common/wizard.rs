//! The wizard's `update` driven by hand: a listed process and key presses.

use snaprescue::ports::processes::ProcessUse;
use snaprescue::wizard::{Effect, Key, Model, Msg, update};

/// A training job as step 1 lists it.
pub fn process(pid: i32) -> ProcessUse {
    ProcessUse {
        pid,
        start_time: 1000 + pid as u64,
        uid: 0,
        command: format!("python train.py --job {pid}"),
        state: 'S',
        exe: None,
        usages: vec![],
        deleted_open: vec![],
        write_bytes: Some(1000),
        ppid: 1,
        cgroup: None,
        container: None,
        python_env: vec![],
        gpu_files: vec![],
        python: None,
        other_root: false,
        launcher: false,
    }
}

/// Presses `keys` in order and collects the effects.
pub fn keys(model: &mut Model, keys: &[Key]) -> Vec<Effect> {
    keys.iter()
        .flat_map(|k| update(model, Msg::Key(*k)))
        .collect()
}
