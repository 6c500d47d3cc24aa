//! The data of one file copied and proven: only its data regions (holes stay holes), read
//! ahead while each chunk is hashed and written, and every written chunk read back from the
//! copy and hashed again on a second thread, so verification overlaps the copy.

use super::copy::{CopyError, io};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

const CHUNK: usize = 1 << 20;

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
pub(super) fn copy_sparse(
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
