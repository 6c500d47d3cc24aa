//! Signals sent through a pidfd: the pidfd pins the process, then its start time is checked
//! against the one we listed, so a recycled PID is never hit, and a process that exited
//! since the scan (a zombie included) is reported gone. Terminate waits on the pidfd.

use nix::sys::signal::Signal;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProcessError {
    #[error("process {pid} has exited")]
    Gone { pid: i32 },
    #[error("process {pid} is no longer the one listed (its PID was reused); rescan")]
    Recycled { pid: i32 },
    #[error("not allowed to signal process {pid}: {errno}; run snaprescue as root")]
    Denied { pid: i32, errno: std::io::Error },
    #[error("signal to process {pid} failed: {errno}")]
    Signal { pid: i32, errno: std::io::Error },
    #[error(
        "this kernel has no pidfd (Linux 5.3 or newer is needed): snaprescue does not signal \
         process {pid} by number alone (a reused PID would be hit); check `ps -o lstart -p \
         {pid}` and use `kill -STOP {pid}` yourself"
    )]
    NoPidfd { pid: i32 },
    #[error("process {pid} did not exit after SIGKILL")]
    Unkillable { pid: i32 },
}

/// A process pinned by a pidfd and checked to be the one that started at `start_time`.
pub struct Pidfd {
    pid: i32,
    fd: OwnedFd,
}

impl Pidfd {
    pub fn open(pid: i32, start_time: u64) -> Result<Self, ProcessError> {
        // SAFETY: plain syscall with integer arguments.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if raw < 0 {
            return Err(match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::ENOSYS) => ProcessError::NoPidfd { pid },
                _ => ProcessError::Gone { pid },
            });
        }
        // SAFETY: the syscall returned a fresh descriptor that we now own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
        let current = procfs::process::Process::new(pid)
            .and_then(|p| p.stat())
            .map_err(|_| ProcessError::Gone { pid })?;
        if current.starttime != start_time {
            return Err(ProcessError::Recycled { pid });
        }
        // A zombie has exited; only its parent has not reaped it. A signal to it "succeeds"
        // and does nothing, so freezing it would be reported done. (A leader that exited
        // while its threads run is a zombie too, and they still take the signal.)
        if current.state == 'X' || current.state == 'Z' && current.num_threads <= 1 {
            return Err(ProcessError::Gone { pid });
        }
        Ok(Self { pid, fd })
    }

    pub fn send(&self, signal: Signal) -> Result<(), ProcessError> {
        let pid = self.pid;
        // SAFETY: the pidfd is valid; a null siginfo is allowed.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                signal as i32,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let errno = std::io::Error::last_os_error();
        Err(match errno.raw_os_error() {
            Some(libc::ESRCH) => ProcessError::Gone { pid },
            Some(libc::EPERM) => ProcessError::Denied { pid, errno },
            _ => ProcessError::Signal { pid, errno },
        })
    }

    /// Waits until the process exits (the pidfd becomes readable), at most `timeout`.
    pub fn wait_exit(&self, timeout: Duration) -> bool {
        let mut poll = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut poll, 1, ms) > 0 }
    }
}

/// Sends `signal` to `pid` if it is still the process that started at `start_time`.
pub fn signal(pid: i32, start_time: u64, signal: Signal) -> Result<(), ProcessError> {
    Pidfd::open(pid, start_time)?.send(signal)
}

/// SIGTERM, then SIGKILL when the process is still there after `grace`. A frozen process
/// is continued first so it can act on SIGTERM.
pub fn terminate(pid: i32, start_time: u64, grace: Duration) -> Result<(), ProcessError> {
    let process = Pidfd::open(pid, start_time)?;
    process.send(Signal::SIGTERM)?;
    let _ = process.send(Signal::SIGCONT);
    if process.wait_exit(grace) {
        return Ok(());
    }
    process.send(Signal::SIGKILL)?;
    if process.wait_exit(Duration::from_secs(5)) {
        Ok(())
    } else {
        Err(ProcessError::Unkillable { pid })
    }
}
