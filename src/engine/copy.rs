//! Copies one file safely: into a short temporary name in the target's directory (by
//! descriptor), reflinked when the filesystem allows or copied hole by hole (sparse stays
//! sparse), hashed, verified, given the source's metadata, then renamed into place without
//! ever replacing an entry.

use nix::fcntl::OFlag;
use nix::unistd::{UnlinkatFlags, unlinkat};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use thiserror::Error;

pub use super::sparse_copy::hash_file;

#[derive(Debug, Error)]
pub enum CopyError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("verification failed: the copy's hash differs from the snapshot's")]
    Mismatch,
    #[error("the snapshot file ended before its size while it was copied; nothing was kept")]
    Shrank,
    #[error("{0} appeared while copying; nothing was overwritten")]
    Exists(PathBuf),
    #[error("cancelled")]
    Cancelled,
}

pub(super) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CopyError {
    let path = path.to_path_buf();
    move |source| CopyError::Io {
        action,
        path,
        source,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyMethod {
    Reflink,
    Copy,
    /// A hard link to another restored file (they were one inode in the snapshot).
    HardLink,
}

#[derive(Debug, Clone)]
pub struct CopiedFile {
    pub method: CopyMethod,
    /// BLAKE3 of the content, checked on the copy; None when a reflink was verified by
    /// its shared extents instead (no data read).
    pub hash: Option<String>,
    /// The name it was given in its directory (keep-both may have had to pick another).
    pub name: OsString,
}

/// Where a restored entry goes: a directory opened without following links (see
/// [`super::beneath`]) and a name in it. Creation is always relative to `dir`, so the
/// directory being renamed or a link planted meanwhile cannot redirect it.
#[derive(Debug, Clone)]
pub struct Place {
    pub dir: Arc<OwnedFd>,
    pub name: OsString,
}

/// A temporary name in a directory, removed (by descriptor) unless it was renamed into place.
struct TempFile {
    dir: Arc<OwnedFd>,
    name: OsString,
    armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = unlinkat(
                self.dir.as_fd(),
                self.name.as_os_str(),
                UnlinkatFlags::NoRemoveDir,
            );
        }
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// This process's tag in temporary names: random, so a name planted in advance never
/// matches, and recorded in the restore journal before any temporary file is made.
pub fn run_tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| format!("{:016x}", fastrand::u64(..)))
}

/// The prefix every temporary name of the run tagged `tag` starts with.
pub fn temp_prefix(tag: &str) -> String {
    format!(".snaprescue-{tag}-")
}

/// A temporary name nothing else uses; short, so it fits whatever the final name's length
/// (a 255-byte name is legal, and a temp name built from it would not be).
pub fn temp_name() -> OsString {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    OsString::from(format!("{}{n}.tmp", temp_prefix(run_tag())))
}

/// `name` with `suffix` appended, the name shortened (at a character boundary when it is
/// UTF-8) so the result fits NAME_MAX; a short extension (`.pth`) is kept when the stem is
/// shortened, so the copy is still checked as what it is.
pub fn suffixed(name: &OsStr, suffix: &str) -> OsString {
    const NAME_MAX: usize = 255;
    let bytes = name.as_bytes();
    let room = NAME_MAX.saturating_sub(suffix.len());
    let (stem, ext): (&[u8], &[u8]) = match bytes.iter().rposition(|&b| b == b'.') {
        Some(dot) if bytes.len() > room && dot > 0 && bytes.len() - dot <= 16 => {
            bytes.split_at(dot)
        }
        _ => (bytes, &[]),
    };
    let mut cut = stem.len().min(room.saturating_sub(ext.len()));
    if let Ok(text) = std::str::from_utf8(stem) {
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
    }
    let mut out = OsStr::from_bytes(&stem[..cut]).to_os_string();
    out.push(OsStr::from_bytes(ext));
    out.push(suffix);
    out
}

/// Renames `from` to `to` in `dir` only if `to` does not exist (renameat2 RENAME_NOREPLACE).
/// A filesystem without RENAME_NOREPLACE (FUSE ones such as zfs-fuse answer EINVAL) gets
/// the same guarantee from a hard link (which never replaces) and an unlink; a directory,
/// which cannot be linked, is renamed after checking the name is free.
pub fn rename_noreplace(dir: BorrowedFd<'_>, from: &OsStr, to: &OsStr) -> Result<(), CopyError> {
    use nix::errno::Errno;
    let failed = |e: Errno| match e {
        Errno::EEXIST => CopyError::Exists(to.into()),
        e => CopyError::Io {
            action: "cannot rename into",
            path: to.into(),
            source: e.into(),
        },
    };
    match nix::fcntl::renameat2(
        dir,
        from,
        dir,
        to,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    ) {
        Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {}
        other => return other.map_err(failed),
    }
    match nix::unistd::linkat(dir, from, dir, to, nix::fcntl::AtFlags::empty()) {
        Ok(()) => nix::unistd::unlinkat(dir, from, nix::unistd::UnlinkatFlags::NoRemoveDir)
            .map_err(failed),
        Err(Errno::EPERM | Errno::EISDIR) => {
            match nix::sys::stat::fstatat(dir, to, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(_) => Err(CopyError::Exists(to.into())),
                Err(Errno::ENOENT) => nix::fcntl::renameat(dir, from, dir, to).map_err(failed),
                Err(e) => Err(failed(e)),
            }
        }
        Err(e) => Err(failed(e)),
    }
}

/// Renames `temp` to `name` in `dir`, never over an existing entry; with `alternatives` > 0
/// a name taken meanwhile is retried as `name-2`, `name-3`… (keep-both). Returns the name
/// given.
pub fn rename_free(
    dir: BorrowedFd<'_>,
    temp: &OsStr,
    name: &OsStr,
    alternatives: usize,
) -> Result<OsString, CopyError> {
    let mut attempt = 0;
    loop {
        let candidate = if attempt == 0 {
            name.to_os_string()
        } else {
            suffixed(name, &format!("-{}", attempt + 1))
        };
        match rename_noreplace(dir, temp, &candidate) {
            Ok(()) => return Ok(candidate),
            Err(CopyError::Exists(_)) if attempt < alternatives => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Copies `src` to `target` (which must not exist), fsynced, then renamed into place: for
/// harvested files, whose source is a `/proc/PID/fd` handle and whose directory
/// snaprescue made itself. `on_bytes` hears about progress.
pub fn copy_file(
    src: &Path,
    target: &Path,
    try_reflink: bool,
    cancel: &AtomicBool,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<CopiedFile, CopyError> {
    let parent = target.parent().unwrap_or(Path::new("."));
    let dir = nix::fcntl::open(
        parent,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| CopyError::Io {
        action: "cannot open",
        path: parent.into(),
        source: e.into(),
    })?;
    let place = Place {
        dir: Arc::new(dir),
        name: target.file_name().unwrap_or_default().to_os_string(),
    };
    let input = File::open(src).map_err(io("cannot read", src))?;
    let staged = stage_file(input, place, try_reflink, cancel, on_bytes)?;
    staged.file.sync_all().map_err(io("cannot fsync", target))?;
    staged.commit(0)
}

/// A verified copy under its temporary name, with its metadata, not yet durable nor
/// visible: [`StagedFile::commit`] renames it into place once its filesystem was synced
/// (one syncfs for a whole batch instead of one fsync per file). Dropped, it is removed.
pub struct StagedFile {
    temp: TempFile,
    file: File,
    pub copied: CopiedFile,
}

impl StagedFile {
    /// The open copy (for syncfs on its filesystem).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Renames the copy into place, never over an existing entry. With `alternatives` > 0,
    /// a name taken meanwhile is retried as `name-2`, `name-3`… (keep-both).
    pub fn commit(mut self, alternatives: usize) -> Result<CopiedFile, CopyError> {
        let name = rename_free(
            self.temp.dir.as_fd(),
            &self.temp.name,
            &self.copied.name,
            alternatives,
        )?;
        self.temp.armed = false;
        self.copied.name = name;
        Ok(self.copied.clone())
    }
}

/// Copies and verifies `input` into `place` under a temporary name, with the source's
/// metadata; see [`StagedFile`].
pub fn stage_file(
    mut input: File,
    place: Place,
    try_reflink: bool,
    cancel: &AtomicBool,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<StagedFile, CopyError> {
    let shown = PathBuf::from(&place.name);
    let meta = input.metadata().map_err(io("cannot stat", &shown))?;
    let temp = TempFile {
        dir: place.dir.clone(),
        name: temp_name(),
        armed: false,
    };
    let output = nix::fcntl::openat(
        place.dir.as_fd(),
        temp.name.as_os_str(),
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| CopyError::Io {
        action: "cannot create a temporary file beside",
        path: shown.clone(),
        source: e.into(),
    })?;
    let mut temp = temp;
    temp.armed = true;
    let output = File::from(output);
    let reflinked = try_reflink && reflink(&input, &output);
    let hash = if reflinked && super::extents::shares_all_extents(&input, &output) {
        on_bytes(meta.len());
        None
    } else {
        let (hash, copy_hash) = if reflinked {
            // A reflink whose extents could not be proven shared: hash both sides.
            on_bytes(meta.len());
            let mut check = output.try_clone().map_err(io("cannot reopen", &shown))?;
            (
                super::sparse_copy::hash_file(&mut input, cancel)?,
                super::sparse_copy::hash_file(&mut check, cancel)?,
            )
        } else {
            super::sparse_copy::copy_sparse(
                &input,
                &output,
                (meta.len(), allocated_bytes(&meta)),
                cancel,
                on_bytes,
            )?
        };
        if copy_hash != hash {
            return Err(CopyError::Mismatch);
        }
        Some(hash)
    };
    // Metadata first, so the sync makes data, mode, owner, times and xattrs durable
    // before the name appears.
    super::attrs::apply_to_open(&output, &meta, &input)
        .map_err(io("cannot set metadata on", &shown))?;
    Ok(StagedFile {
        temp,
        file: output,
        copied: CopiedFile {
            method: if reflinked {
                CopyMethod::Reflink
            } else {
                CopyMethod::Copy
            },
            hash,
            name: place.name,
        },
    })
}

fn reflink(input: &File, output: &File) -> bool {
    // FICLONE = _IOW(0x94, 9, int)
    nix::ioctl_write_int!(ficlone, 0x94, 9);
    // SAFETY: both descriptors are open files owned by the caller.
    unsafe { ficlone(output.as_raw_fd(), input.as_raw_fd() as u64) }.is_ok()
}

/// Blocks actually allocated by a file, in bytes (what a sparse copy needs).
pub fn allocated_bytes(meta: &std::fs::Metadata) -> u64 {
    meta.blocks() * 512
}

#[cfg(test)]
mod suffixed_tests {
    use std::ffi::OsStr;

    #[test]
    fn a_long_name_keeps_its_extension_and_fits() {
        let name = format!("{}.pth", "a".repeat(251));
        let out = super::suffixed(OsStr::new(&name), ".restored-20261202T180000Z");
        let text = out.to_str().unwrap();
        assert!(text.len() <= 255, "{}", text.len());
        assert!(text.ends_with(".pth.restored-20261202T180000Z"), "{text}");
        let short = super::suffixed(OsStr::new("epoch.pth"), "-2");
        assert_eq!(short, "epoch.pth-2");
    }
}
