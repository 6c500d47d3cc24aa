//! Copies one file safely: into a temporary name beside the target, reflinked when the
//! filesystem allows or copied hole by hole (sparse stays sparse), hashed, verified, fsynced,
//! given the source's metadata, then renamed into place without ever replacing a file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
}

#[derive(Debug, Clone)]
pub struct CopiedFile {
    pub method: CopyMethod,
    /// BLAKE3 of the content, checked on the copy; None when a reflink was verified by
    /// its shared extents instead (no data read).
    pub hash: Option<String>,
}

/// A temporary file that is removed unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name beside `target` that nothing else uses.
pub fn temp_name(target: &Path) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = std::ffi::OsString::from(".");
    name.push(target.file_name().unwrap_or_default());
    name.push(format!(".snaprescue-{}-{n}.tmp", std::process::id()));
    target.with_file_name(name)
}

/// Renames `from` to `to` only if `to` does not exist (renameat2 RENAME_NOREPLACE).
pub fn rename_noreplace(from: &Path, to: &Path) -> Result<(), CopyError> {
    nix::fcntl::renameat2(
        nix::fcntl::AT_FDCWD,
        from,
        nix::fcntl::AT_FDCWD,
        to,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    )
    .map_err(|errno| match errno {
        nix::errno::Errno::EEXIST => CopyError::Exists(to.to_path_buf()),
        e => CopyError::Io {
            action: "cannot rename into",
            path: to.to_path_buf(),
            source: e.into(),
        },
    })
}

/// Copies `src` to `target` (which must not exist), fsynced, then renamed into place.
/// `on_bytes` hears about progress.
pub fn copy_file(
    src: &Path,
    target: &Path,
    try_reflink: bool,
    cancel: &AtomicBool,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<CopiedFile, CopyError> {
    let staged = stage_file(src, target, try_reflink, cancel, on_bytes)?;
    staged
        .file
        .sync_all()
        .map_err(io("cannot fsync", &staged.temp.path))?;
    staged.commit()
}

/// A verified copy under its temporary name, with its metadata, not yet durable nor
/// visible: [`StagedFile::commit`] renames it into place once its filesystem was synced
/// (one syncfs for a whole batch instead of one fsync per file). Dropped, it is removed.
pub struct StagedFile {
    temp: TempFile,
    file: File,
    target: PathBuf,
    pub copied: CopiedFile,
}

impl StagedFile {
    /// The open copy (for syncfs on its filesystem).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Renames the copy into place, never over an existing file.
    pub fn commit(mut self) -> Result<CopiedFile, CopyError> {
        rename_noreplace(&self.temp.path, &self.target)?;
        self.temp.armed = false;
        Ok(self.copied)
    }
}

/// Copies and verifies `src` beside `target` under a temporary name, with the source's
/// metadata; see [`StagedFile`].
pub fn stage_file(
    src: &Path,
    target: &Path,
    try_reflink: bool,
    cancel: &AtomicBool,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<StagedFile, CopyError> {
    let mut input = File::open(src).map_err(io("cannot read", src))?;
    let meta = input.metadata().map_err(io("cannot stat", src))?;
    let temp = TempFile {
        path: temp_name(target),
        armed: true,
    };
    let output = std::fs::OpenOptions::new()
        .write(true)
        .read(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp.path)
        .map_err(io("cannot create", &temp.path))?;
    let reflinked = try_reflink && reflink(&input, &output);
    let hash = if reflinked && super::extents::shares_all_extents(&input, &output) {
        on_bytes(meta.len());
        None
    } else {
        let (hash, copy_hash) = if reflinked {
            // A reflink whose extents could not be proven shared: hash both sides.
            on_bytes(meta.len());
            let mut check = File::open(&temp.path).map_err(io("cannot reopen", &temp.path))?;
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
    super::restore::apply_metadata(&temp.path, &meta, src)
        .map_err(io("cannot set metadata on", target))?;
    Ok(StagedFile {
        temp,
        file: output,
        target: target.to_path_buf(),
        copied: CopiedFile {
            method: if reflinked {
                CopyMethod::Reflink
            } else {
                CopyMethod::Copy
            },
            hash,
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
