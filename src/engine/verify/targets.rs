//! What `verify PATH…` checks: each PATH and everything under it that is a regular file or a
//! link to one. Verification only reads, so links to files are followed (a Hugging Face cache
//! is `snapshots/<rev>/` of links into `blobs/`) and the file is named by its link; links to
//! directories are not followed below a PATH (they may lead anywhere). Fifos, sockets and
//! devices are never opened. A PATH that yields nothing to check says why, as a failure.

use serde::Serialize;
use std::fs::FileType;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// A PATH, or something under it, that could not be checked, and why: a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unchecked {
    #[serde(serialize_with = "crate::engine::restore::ser_path")]
    pub path: PathBuf,
    pub reason: String,
}

/// The files to verify and what could not be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    pub files: Vec<PathBuf>,
    pub unchecked: Vec<Unchecked>,
}

/// "a fifo", "a socket", … for a file that is neither a regular file, a directory nor a link.
pub fn special_kind(kind: &FileType) -> Option<&'static str> {
    if kind.is_fifo() {
        Some("a fifo")
    } else if kind.is_socket() {
        Some("a socket")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else {
        None
    }
}

fn link_text(path: &Path) -> String {
    std::fs::read_link(path)
        .map(|t| t.display().to_string())
        .unwrap_or_else(|e| format!("(unreadable link: {e})"))
}

/// What was found under one directory, besides the files.
#[derive(Default)]
struct Skipped {
    directory_links: usize,
    special: usize,
}

impl Targets {
    /// Everything to check under `paths`.
    pub fn collect(paths: &[PathBuf]) -> Self {
        let mut targets = Self::default();
        for path in paths {
            targets.add_named(path);
        }
        targets
    }

    fn fail(&mut self, path: &Path, reason: String) {
        self.unchecked.push(Unchecked {
            path: path.to_path_buf(),
            reason,
        });
    }

    /// A PATH as the user named it: a link to a file or directory is followed.
    fn add_named(&mut self, path: &Path) {
        let own = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return self.fail(path, "does not exist".into());
            }
            Err(e) => return self.fail(path, format!("cannot be read: {e}")),
        };
        let target = if own.file_type().is_symlink() {
            match std::fs::metadata(path) {
                Ok(m) => m,
                Err(e) => {
                    return self.fail(
                        path,
                        format!("a link to {} that leads nowhere ({e})", link_text(path)),
                    );
                }
            }
        } else {
            own
        };
        let kind = target.file_type();
        if kind.is_file() {
            self.files.push(path.to_path_buf());
        } else if kind.is_dir() {
            self.add_directory(path);
        } else {
            let what = special_kind(&kind).unwrap_or("not a regular file");
            self.fail(
                path,
                format!("not a checkpoint: {what}, not a regular file (not opened)"),
            );
        }
    }

    fn add_directory(&mut self, dir: &Path) {
        let before = self.files.len();
        let failed_before = self.unchecked.len();
        let mut skipped = Skipped::default();
        let walk = walkdir::WalkDir::new(dir)
            .follow_links(false)
            .follow_root_links(true)
            .sort_by_file_name();
        for entry in walk {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let at = e.path().unwrap_or(dir).to_path_buf();
                    self.fail(&at, format!("cannot be read: {e}"));
                    continue;
                }
            };
            let kind = entry.file_type();
            if kind.is_file() {
                self.files.push(entry.into_path());
            } else if kind.is_symlink() {
                match std::fs::metadata(entry.path()) {
                    Ok(m) if m.is_file() => self.files.push(entry.into_path()),
                    Ok(m) if m.is_dir() => skipped.directory_links += 1,
                    Ok(_) => skipped.special += 1,
                    // A link whose file is gone: in a Hugging Face cache, a missing blob.
                    Err(e) => self.fail(
                        entry.path(),
                        format!(
                            "a link to {} that leads nowhere ({e})",
                            link_text(entry.path())
                        ),
                    ),
                }
            } else if !kind.is_dir() {
                skipped.special += 1;
            }
        }
        if self.files.len() == before && self.unchecked.len() == failed_before {
            let mut reason =
                "nothing to check: no regular file and no link to one under it".to_string();
            if skipped.directory_links > 0 {
                reason += &format!(
                    "; {} to directories not followed (name their targets to check them)",
                    crate::engine::counted(skipped.directory_links, "link")
                );
            }
            if skipped.special > 0 {
                reason += &format!(
                    "; {} fifo(s), socket(s) or device(s) not opened",
                    skipped.special
                );
            }
            self.fail(dir, reason);
        }
    }
}
