//! The data of one file copied and proven: only its data regions (holes stay holes), every
//! byte hashed as read from the snapshot and again as read back from the copy.
//!
//! A large file runs as a pipeline joined by bounded queues, so a cold read never waits on
//! the hash or the write: two readers ([`super::read_ahead`]) fill a pool of buffers with
//! the source's data regions (1 MiB direct reads around the page cache, see
//! [`super::direct_read`], or 256 KiB plain ones when the file is cached), the calling
//! thread takes them in file order, hashes and writes each and starts its writeback, and a
//! verifier reads each written span back from the copy and hashes it. A small file is done
//! inline on the calling thread (no threads to start).

use super::copy::{CopyError, io};
use super::direct_read::DirectReader;
use super::read_ahead;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// The unit of plain reads and of reading back. Small enough that what the kernel copied
/// out of the page cache is still in the CPU's cache when it is hashed and written (4 MiB
/// buffers cost twice the system time and 1.5x the wall time here: every copy missed).
const CHUNK: usize = 256 << 10;
/// The unit of direct reads: nothing is copied by the kernel, and fewer, larger requests
/// keep the disk busy without read-ahead (2 GiB cold: 256 KiB 1.8-2.0 s, 1 MiB 1.2-1.7 s).
const DIRECT_CHUNK: usize = 1 << 20;
/// What the readers may have read ahead of the writer.
const LEAD: usize = 8 << 20;
/// The unit of each write into the copy. The page cache gives a write a folio of about its
/// size: 256 KiB writes got 256 KiB folios, and on a VM that returns freed memory to its
/// host (free page reporting) those cost 2-3x the system time of 64 KiB ones, warm; cold,
/// the reads stay [`CHUNK`] long.
const WRITE_PIECE: usize = 64 << 10;
/// Files up to this size are copied inline.
pub(super) const INLINE_MAX: u64 = 2 << 20;
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// BLAKE3 of a whole file.
pub fn hash_file(file: &mut File, cancel: &AtomicBool) -> Result<String, CopyError> {
    file.seek(SeekFrom::Start(0))
        .map_err(io("cannot seek", Path::new("file")))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
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

/// The source in file order: data regions cut into pieces of at most `chunk`, and the holes
/// between them (and the zero tail up to `len`). A `dense` file (every block allocated) has
/// no hole to look for: one region, no SEEK_DATA/SEEK_HOLE.
fn pieces(input: &File, len: u64, chunk: usize, dense: bool) -> impl Iterator<Item = Span> + '_ {
    let mut pos = 0u64;
    let mut region: Option<(u64, u64)> = None;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        if let Some((offset, end)) = region {
            if offset < end {
                let n = ((end - offset) as usize).min(chunk);
                region = Some((offset + n as u64, end));
                pos = offset + n as u64;
                return Some(Span::Written(offset, n));
            }
            region = None;
        }
        let next = if dense {
            (pos < len).then_some((pos, len))
        } else {
            next_data(input, pos, len)
        };
        match next {
            Some((start, end)) => {
                region = Some((start, end));
                let gap = start - pos;
                pos = start;
                Some(Span::Zeros(gap))
            }
            None => {
                done = true;
                Some(Span::Zeros(len.saturating_sub(pos)))
            }
        }
    })
    .filter(|span| !matches!(span, Span::Zeros(0)))
}

/// A piece of the file: data at an offset (read from the source, or written to the copy),
/// or a hole of this length.
#[derive(Debug, Clone, Copy)]
pub(super) enum Span {
    Written(u64, usize),
    Zeros(u64),
}

fn hash_zeros(hasher: &mut blake3::Hasher, mut len: u64) {
    while len > 0 {
        let n = len.min(ZEROS.len() as u64) as usize;
        hasher.update(&ZEROS[..n]);
        len -= n as u64;
    }
}

/// Copies data regions only (holes stay holes), hashing what is read and what is read back
/// from the copy. Returns (hash of the source, hash of the copy).
/// `allocated` is what the source's blocks hold (st_blocks): as much as `len`, it has no holes.
pub(super) fn copy_sparse(
    input: &File,
    output: &File,
    (len, allocated): (u64, u64),
    cancel: &AtomicBool,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<(String, String), CopyError> {
    let dense = allocated >= len;
    if len <= INLINE_MAX {
        return copy_inline(input, output, len, dense, cancel, on_bytes);
    }
    advise(input, 0, 0, libc::POSIX_FADV_SEQUENTIAL);
    let reader = DirectReader::new(input, len);
    let chunk = if reader.is_direct() {
        DIRECT_CHUNK
    } else {
        CHUNK
    };
    std::thread::scope(|scope| {
        let plan = pieces(input, len, chunk, dense);
        let (in_order, readers) = read_ahead::spawn(scope, plan, reader, (chunk, LEAD), cancel);
        let (check_tx, check_rx) = sync_channel::<Span>(2 * LEAD / chunk);
        let verifier = scope.spawn(move || read_back(output, check_rx));
        // A read error comes to the writer in file order and stops it.
        let copied = write_pieces(output, len, cancel, on_bytes, in_order, check_tx);
        let read_ok = readers.into_iter().all(|r| r.join().is_ok());
        let verified = verifier.join().unwrap_or(Err(CopyError::Mismatch));
        let copied = copied?;
        if !read_ok {
            return Err(CopyError::Mismatch);
        }
        Ok((copied, verified?))
    })
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// The writer (the calling thread): hashes and writes each piece, hands the span to the
/// verifier and the buffer back to the reader.
fn write_pieces(
    output: &File,
    len: u64,
    cancel: &AtomicBool,
    on_bytes: &mut dyn FnMut(u64),
    mut pieces: read_ahead::InOrder,
    check: SyncSender<Span>,
) -> Result<String, CopyError> {
    let mut hasher = blake3::Hasher::new();
    let mut end = 0u64;
    while let Some(piece) = pieces.next_piece() {
        if cancel.load(Ordering::Relaxed) {
            return Err(CopyError::Cancelled);
        }
        let read_ahead::Piece { span, buf } = piece?;
        match (span, buf) {
            (Span::Written(offset, n), Some(buf)) => {
                end = offset + n as u64;
                hash_and_write(&mut hasher, output, &buf[..n], offset)
                    .map_err(io("cannot write", Path::new("restored file")))?;
                start_writeback(output, offset, n as u64);
                let _ = check.send(span);
                on_bytes(n as u64);
                pieces.give_back(buf);
            }
            (Span::Zeros(n), _) => {
                hash_zeros(&mut hasher, n);
                let _ = check.send(span);
            }
            (Span::Written(..), None) => return Err(CopyError::Mismatch),
        }
    }
    // Only a trailing hole needs sizing: the new file is as long as what was written.
    if end != len {
        output
            .set_len(len)
            .map_err(io("cannot size", Path::new("restored file")))?;
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// The verifier: reads each written span back from the copy and hashes it, in file order.
fn read_back(output: &File, spans: Receiver<Span>) -> Result<String, CopyError> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; CHUNK];
    for span in spans {
        match span {
            Span::Zeros(n) => hash_zeros(&mut hasher, n),
            Span::Written(offset, n) => {
                let mut at = offset;
                for n in std::iter::repeat_n(CHUNK, n / CHUNK).chain([n % CHUNK]) {
                    output
                        .read_exact_at(&mut buf[..n], at)
                        .map_err(io("cannot read back", Path::new("restored file")))?;
                    hasher.update(&buf[..n]);
                    at += n as u64;
                }
            }
        }
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// A small file on the calling thread: pieces copied and hashed, then read back and hashed.
fn copy_inline(
    input: &File,
    output: &File,
    len: u64,
    dense: bool,
    cancel: &AtomicBool,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<(String, String), CopyError> {
    let mut source = blake3::Hasher::new();
    let mut buf = vec![0u8; (len as usize).min(CHUNK)];
    let mut spans = Vec::new();
    let mut end = 0u64;
    for span in pieces(input, len, buf.len().max(1), dense) {
        if cancel.load(Ordering::Relaxed) {
            return Err(CopyError::Cancelled);
        }
        match span {
            Span::Zeros(n) => hash_zeros(&mut source, n),
            Span::Written(offset, want) => {
                let n = read_full_at(input, &mut buf[..want], offset)
                    .map_err(io("cannot read", Path::new("snapshot file")))?;
                hash_and_write(&mut source, output, &buf[..n], offset)
                    .map_err(io("cannot write", Path::new("restored file")))?;
                on_bytes(n as u64);
                spans.push(Span::Written(offset, n));
                end = offset + n as u64;
                if n < want {
                    return Err(CopyError::Shrank);
                }
                continue;
            }
        }
        spans.push(span);
    }
    // The new file is as long as what was written; only a trailing hole needs sizing.
    if end != len {
        output
            .set_len(len)
            .map_err(io("cannot size", Path::new("restored file")))?;
    }
    let mut copy = blake3::Hasher::new();
    for span in spans {
        match span {
            Span::Zeros(n) => hash_zeros(&mut copy, n),
            Span::Written(offset, n) => {
                output
                    .read_exact_at(&mut buf[..n], offset)
                    .map_err(io("cannot read back", Path::new("restored file")))?;
                copy.update(&buf[..n]);
            }
        }
    }
    Ok((
        source.finalize().to_hex().to_string(),
        copy.finalize().to_hex().to_string(),
    ))
}

/// `data` hashed and written at `offset` a [`WRITE_PIECE`] at a time, each piece hashed just
/// before it is written, while it is in the CPU's cache.
fn hash_and_write(
    hasher: &mut blake3::Hasher,
    output: &File,
    data: &[u8],
    offset: u64,
) -> std::io::Result<()> {
    let mut at = offset;
    for piece in data.chunks(WRITE_PIECE) {
        hasher.update(piece);
        output.write_all_at(piece, at)?;
        at += piece.len() as u64;
    }
    Ok(())
}

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

#[cfg(test)]
#[path = "sparse_copy_tests.rs"]
mod tests;
