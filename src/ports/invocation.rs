//! The processes that make up snaprescue's own invocation: the chain that started it (the
//! shell, `sudo`, the SSH session, tmux, a notebook kernel) and the other commands of its
//! pipeline (`| jq`). Each waits on snaprescue or carries the user's terminal: step 1 must
//! never freeze them, or the session being rescued from hangs.

use std::collections::HashMap;
use std::path::Path;

/// This process's ancestors, parent first: the shell that started snaprescue, `sudo`, the
/// SSH session, a tmux server, init. Each waits on what it started, and some carry the
/// user's terminal: freezing one would hang the session the user is rescuing from.
pub fn ancestors() -> Vec<i32> {
    let mut chain = Vec::new();
    let mut pid = nix::unistd::getppid().as_raw();
    while pid > 0 && !chain.contains(&pid) {
        chain.push(pid);
        pid = match procfs::process::Process::new(pid).and_then(|p| p.stat()) {
            Ok(stat) => stat.ppid,
            Err(_) => break,
        };
    }
    chain
}

/// A process that started snaprescue, as the user knows it: "`bash` (pid 812)".
pub fn describe(pid: i32) -> String {
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    format!("`{}` (pid {pid})", name.trim())
}

/// The inode of the pipe a `/proc/PID/fd/N` link points to, if it is a pipe.
fn pipe_inode(link: &Path) -> Option<u64> {
    let target = std::fs::read_link(link).ok()?;
    target
        .to_str()?
        .strip_prefix("pipe:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The pipes on this process's stdin, stdout and stderr, each with whether we write to it:
/// in `snaprescue writers --json | jq`, jq is part of the user's own command, and frozen it
/// would hang that command.
pub fn own_pipes() -> HashMap<u64, bool> {
    (0..3)
        .filter_map(|fd| {
            let inode = pipe_inode(Path::new(&format!("/proc/self/fd/{fd}")))?;
            Some((inode, fd != 0))
        })
        .collect()
}

/// Whether `pid` is at the other end of one of our `pipes`: it reads what we write, or
/// writes what we read. (A job that inherited our stdout writes to it as we do: not one.)
pub fn at_other_end(pid: i32, pipes: &HashMap<u64, bool>) -> bool {
    if pipes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        let Some(&we_write) = pipe_inode(&fd.path()).and_then(|inode| pipes.get(&inode)) else {
            return false;
        };
        let number = fd.file_name().to_string_lossy().parse().unwrap_or(-1);
        super::processes::fd_writing(pid, number) != we_write
    })
}
