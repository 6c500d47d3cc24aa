//! Copies one file safely: into a short temporary name in the target's directory (by
//! descriptor), reflinked when the filesystem allows or copied hole by hole (sparse stays
//! sparse), hashed, verified, given the source's metadata, then renamed into place without
//! ever replacing an entry.

use nix::fcntl::OFlag;
use nix::unistd::{UnlinkatFlags, unlinkat};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use thiserror::Error;

const CHUNK: usize = 1 << 20;

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
    #[error("{0} appeared while copying; nothing was overwritten")]
    Exists(PathBuf),
    #[error("cancelled")]
    Cancelled,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CopyError {
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
/// UTF-8) so the result fits NAME_MAX.
pub fn suffixed(name: &OsStr, suffix: &str) -> OsString {
    const NAME_MAX: usize = 255;
    let bytes = name.as_bytes();
    let room = NAME_MAX.saturating_sub(suffix.len());
    let mut cut = bytes.len().min(room);
    if let Ok(text) = std::str::from_utf8(bytes) {
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
    }
    let mut out = OsStr::from_bytes(&bytes[..cut]).to_os_string();
    out.push(suffix);
    out
}

/// Renames `from` to `to` in `dir` only if `to` does not exist (renameat2 RENAME_NOREPLACE).
pub fn rename_noreplace(dir: BorrowedFd<'_>, from: &OsStr, to: &OsStr) -> Result<(), CopyError> {
    nix::fcntl::renameat2(
        dir,
        from,
        dir,
        to,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    )
    .map_err(|errno| match errno {
        nix::errno::Errno::EEXIST => CopyError::Exists(to.into()),
        e => CopyError::Io {
            action: "cannot rename into",
            path: to.into(),
            source: e.into(),
        },
    })
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
        let base = self.copied.name.clone();
        let mut attempt = 0;
        loop {
            let name = if attempt == 0 {
                base.clone()
            } else {
                suffixed(&base, &format!("-{}", attempt + 1))
            };
            match rename_noreplace(self.temp.dir.as_fd(), &self.temp.name, &name) {
                Ok(()) => {
                    self.temp.armed = false;
                    self.copied.name = name;
                    return Ok(self.copied.clone());
                }
                Err(CopyError::Exists(_)) if attempt < alternatives => attempt += 1,
                Err(e) => return Err(e),
            }
        }
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
                hash_file(&mut input, cancel)?,
                hash_file(&mut check, cancel)?,
            )
        } else {
            copy_sparse(&input, &output, meta.len(), cancel, on_bytes)?
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

/// BLAKE3 of a whole file.
pub fn hash_file(file: &mut File, cancel: &AtomicBool) -> Result<String, CopyError> {
    file.seek(SeekFrom::Start(0))
        .map_err(io("cannot seek", Path::new("file")))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(CopyError::Cancelled);
        }
        let n = file
            .read(&mut buf)
            .map_err(io("cannot read", Path::new("file")))?;
        if n == 0 {
            break;
        }
        hasher.update_rayon(&buf[..n]);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// Next data region at or after `offset` (SEEK_DATA/SEEK_HOLE), or None past the end.
fn next_data(file: &File, offset: u64, len: u64) -> Option<(u64, u64)> {
    let fd = file.as_raw_fd();
    // SAFETY: lseek on an owned descriptor.
    let start = unsafe { libc::lseek(fd, offset as i64, libc::SEEK_DATA) };
    if start < 0 {
        // ENXIO: no data after offset; other errors: treat the rest as data.
        let e = std::io::Error::last_os_error();
        return (e.raw_os_error() != Some(libc::ENXIO) && offset < len).then_some((offset, len));
    }
    // SAFETY: as above.
    let end = unsafe { libc::lseek(fd, start, libc::SEEK_HOLE) };
    let end = if end < 0 { len } else { (end as u64).min(len) };
    ((start as u64) < len).then_some((start as u64, end))
}

/// What the verifier hashes, in file order.
enum Span {
    /// Bytes just written at this offset: read them back from the copy.
    Written(u64, usize),
    /// A hole (or the zero tail) of this length.
    Zeros(u64),
}

fn hash_zeros(hasher: &mut blake3::Hasher, zeros: &[u8], mut len: u64) {
    while len > 0 {
        let n = len.min(zeros.len() as u64) as usize;
        hasher.update(&zeros[..n]);
        len -= n as u64;
    }
}

/// Copies data regions only (holes stay holes), hashing what is read; a second thread reads
/// each written chunk back from the copy and hashes it, so verification runs on the other
/// core while copying goes on. Returns (hash of the source, hash of the copy).
fn copy_sparse(
    input: &File,
    output: &File,
    len: u64,
    cancel: &AtomicBool,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<(String, String), CopyError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Span>(8);
    std::thread::scope(|scope| {
        let verifier = scope.spawn(move || -> Result<String, CopyError> {
            let mut hasher = blake3::Hasher::new();
            let zeros = vec![0u8; CHUNK];
            let mut buf = vec![0u8; CHUNK];
            for span in rx {
                match span {
                    Span::Zeros(n) => hash_zeros(&mut hasher, &zeros, n),
                    Span::Written(offset, n) => {
                        output
                            .read_exact_at(&mut buf[..n], offset)
                            .map_err(io("cannot read back", Path::new("restored file")))?;
                        hasher.update(&buf[..n]);
                    }
                }
            }
            Ok(hasher.finalize().to_hex().to_string())
        });
        let copied = (|| {
            advise(input, 0, 0, libc::POSIX_FADV_SEQUENTIAL);
            let mut hasher = blake3::Hasher::new();
            let zeros = vec![0u8; CHUNK];
            let mut buf = vec![0u8; CHUNK];
            let mut pos = 0u64;
            while let Some((start, end)) = next_data(input, pos, len) {
                hash_zeros(&mut hasher, &zeros, start - pos);
                let _ = tx.send(Span::Zeros(start - pos));
                let mut offset = start;
                while offset < end {
                    if cancel.load(Ordering::Relaxed) {
                        return Err(CopyError::Cancelled);
                    }
                    // Keep the disk reading ahead while this chunk is hashed and written.
                    advise(
                        input,
                        offset + PREFETCH,
                        CHUNK as u64,
                        libc::POSIX_FADV_WILLNEED,
                    );
                    let want = ((end - offset) as usize).min(CHUNK);
                    let n = input
                        .read_at(&mut buf[..want], offset)
                        .map_err(io("cannot read", Path::new("snapshot file")))?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                    output
                        .write_all_at(&buf[..n], offset)
                        .map_err(io("cannot write", Path::new("restored file")))?;
                    let _ = tx.send(Span::Written(offset, n));
                    start_writeback(output, offset, n as u64);
                    offset += n as u64;
                    on_bytes(n as u64);
                }
                pos = offset.max(end);
            }
            let tail = len.saturating_sub(pos);
            hash_zeros(&mut hasher, &zeros, tail);
            let _ = tx.send(Span::Zeros(tail));
            output
                .set_len(len)
                .map_err(io("cannot size", Path::new("restored file")))?;
            Ok(hasher.finalize().to_hex().to_string())
        })();
        drop(tx);
        let verified = verifier.join().unwrap_or(Err(CopyError::Mismatch));
        Ok((copied?, verified?))
    })
}

/// How far ahead of the copy the source is read (asynchronously, by the kernel).
const PREFETCH: u64 = 16 << 20;

/// posix_fadvise; failure only loses the hint.
fn advise(file: &File, offset: u64, len: u64, advice: libc::c_int) {
    // SAFETY: plain syscall on an owned descriptor.
    unsafe { libc::posix_fadvise(file.as_raw_fd(), offset as i64, len as i64, advice) };
}

/// Starts writing each 8 MiB to disk as soon as it is written (sync_file_range, async), so
/// the fsync at the end of the file does not find the whole file still dirty.
fn start_writeback(file: &File, offset: u64, len: u64) {
    const WINDOW: u64 = 8 << 20;
    let end = offset + len;
    if end / WINDOW != offset / WINDOW {
        let from = (end / WINDOW - 1) * WINDOW;
        // SAFETY: plain syscall on an owned descriptor; failure only loses the hint.
        unsafe {
            libc::sync_file_range(
                file.as_raw_fd(),
                from as i64,
                WINDOW as i64,
                libc::SYNC_FILE_RANGE_WRITE,
            )
        };
    }
}

/// Blocks actually allocated by a file, in bytes (what a sparse copy needs).
pub fn allocated_bytes(meta: &std::fs::Metadata) -> u64 {
    meta.blocks() * 512
}
