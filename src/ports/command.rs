//! Runs external programs (btrfs-progs, losetup, mkfs) with an explicit argv and never a
//! shell (safety rule 9), turning failures into errors that name the program and the fix.

use std::ffi::OsStr;
use std::process::{Command, Stdio};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CommandError {
    #[error("`{program}` is not installed; {hint}")]
    Missing { program: String, hint: String },
    #[error("`{cmdline}` failed (exit status {code}): {stderr}")]
    Failed {
        cmdline: String,
        code: i32,
        stderr: String,
    },
    #[error("could not run `{program}`: {source}")]
    Io {
        program: String,
        source: std::io::Error,
    },
}

/// What to tell the user when a program is missing.
fn install_hint(program: &str) -> String {
    let package = match program {
        "btrfs" | "mkfs.btrfs" => "btrfs-progs",
        "zfs" | "zpool" => "zfsutils-linux",
        "mkfs.xfs" => "xfsprogs",
        "mkfs.ext4" => "e2fsprogs",
        _ => "util-linux",
    };
    format!("install it with `apt-get install {package}` (or your distribution's {package})")
}

/// Runs `program args…` with `TZ=UTC` and returns its stdout; a non-zero exit is an error
/// carrying stderr.
pub fn run<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Result<String, CommandError> {
    let output = Command::new(program)
        .args(args)
        .env("TZ", "UTC")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                CommandError::Missing {
                    program: program.to_string(),
                    hint: install_hint(program),
                }
            } else {
                CommandError::Io {
                    program: program.to_string(),
                    source,
                }
            }
        })?;
    if !output.status.success() {
        let cmdline = std::iter::once(program.to_string())
            .chain(
                args.iter()
                    .map(|a| a.as_ref().to_string_lossy().into_owned()),
            )
            .collect::<Vec<_>>()
            .join(" ");
        return Err(CommandError::Failed {
            cmdline,
            code: output.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// True when `program` can be found on PATH.
pub fn exists(program: &str) -> bool {
    locate(program).is_some()
}

/// Where `program` is on PATH.
pub fn locate(program: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// `text` quoted for the shell a user pastes a suggested command into (left bare when it
/// needs no quotes).
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:@,".contains(&b))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}
