//! Processes that "freeze all" leaves running. On a root filesystem every daemon is a user
//! of the disk, and freezing the SSH daemon, a terminal multiplexer or the system logger cuts
//! the user off from the machine or hangs every login, and freezing the GPU driver's daemons
//! (NVML and CUDA clients talk to nvidia-persistenced's socket; NVSwitch machines need
//! the fabric manager) stalls the GPU checks: worse than the few writes it stops.
//! They are still listed, and can be frozen one at a time, with the reason shown.

use crate::ports::processes::ProcessUse;
use std::path::Path;

/// Why freezing `p` along with the others would do more harm than good, if it would.
pub fn keep_running(p: &ProcessUse) -> Option<&'static str> {
    if p.launcher {
        return Some("it started snaprescue: freezing it would hang this session");
    }
    match program(p).as_str() {
        "sshd" | "sshd-session" | "sshd-auth" | "dropbear" | "mosh-server" => {
            Some("serves SSH logins: freezing it can cut you off")
        }
        "tmux" | "screen" | "zellij" => {
            Some("a terminal multiplexer: your terminal may run inside it")
        }
        "nvidia-persistenced" | "nv-fabricmanager" => Some(
            "a GPU driver daemon: while it is frozen, NVML, nvidia-smi and CUDA start-up can hang",
        ),
        "systemd" | "init" | "systemd-journald" | "systemd-logind" | "systemd-udevd"
        | "dbus-daemon" | "dbus-broker" | "rsyslogd" | "syslog-ng" => {
            Some("a system service: freezing it can hang logins and logging")
        }
        _ => None,
    }
}

/// The program's file name: the executable's (less a ` (deleted)` suffix after an
/// upgrade), else the first word of the command line.
fn program(p: &ProcessUse) -> String {
    let from_exe = p.exe.as_deref().and_then(Path::file_name).map(|name| {
        let name = name.to_string_lossy();
        name.strip_suffix(" (deleted)").unwrap_or(&name).to_string()
    });
    from_exe.unwrap_or_else(|| {
        let first = p.command.split_whitespace().next().unwrap_or("");
        let first = first.trim_end_matches(':');
        Path::new(first)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
}

/// The processes of `all` to freeze when the user asks for all of them (or a tree):
/// everything except zombies and those to keep running.
pub fn freezable<'a>(all: impl IntoIterator<Item = &'a ProcessUse>) -> Vec<&'a ProcessUse> {
    all.into_iter()
        .filter(|p| p.state != 'Z' && keep_running(p).is_none())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn process(exe: Option<&str>, command: &str) -> ProcessUse {
        ProcessUse {
            exe: exe.map(PathBuf::from),
            command: command.into(),
            state: 'S',
            ..Default::default()
        }
    }

    #[test]
    fn session_and_system_programs_are_kept_and_jobs_are_not() {
        let sshd = process(Some("/usr/sbin/sshd"), "sshd: root@pts/0");
        assert!(keep_running(&sshd).unwrap().contains("SSH"));
        let upgraded = process(Some("/usr/bin/tmux (deleted)"), "tmux new -s train");
        assert!(keep_running(&upgraded).unwrap().contains("multiplexer"));
        // Another user's process: its exe link cannot be read, the command line can.
        let journald = process(None, "/usr/lib/systemd/systemd-journald");
        assert!(keep_running(&journald).unwrap().contains("logins"));
        let persistenced = process(
            Some("/usr/bin/nvidia-persistenced"),
            "/usr/bin/nvidia-persistenced --user nvidia-persistenced",
        );
        assert!(keep_running(&persistenced).unwrap().contains("CUDA"));
        let job = process(Some("/usr/bin/python3.11"), "python train.py");
        assert_eq!(keep_running(&job), None);
        // A training script named like a daemon is judged by its interpreter.
        let named = process(Some("/usr/bin/python3.11"), "sshd train.py");
        assert_eq!(keep_running(&named), None);
        let zombie = ProcessUse {
            state: 'Z',
            ..job.clone()
        };
        let all = [job.clone(), sshd, journald, zombie];
        let chosen: Vec<&str> = freezable(&all).iter().map(|p| p.command.as_str()).collect();
        assert_eq!(chosen, ["python train.py"]);
    }
}
