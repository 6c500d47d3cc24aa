//! Verifies a reflink without reading the data: FIEMAP of source and copy must list the
//! same physical extents, all marked shared. Inline or unknown extents prove nothing, so
//! the caller falls back to hashing.

use std::fs::File;
use std::os::fd::AsRawFd;

const FIEMAP_FLAG_SYNC: u32 = 0x1;
const FIEMAP_EXTENT_LAST: u32 = 0x1;
const FIEMAP_EXTENT_UNKNOWN: u32 = 0x2;
const FIEMAP_EXTENT_DELALLOC: u32 = 0x4;
const FIEMAP_EXTENT_ENCODED: u32 = 0x8;
const FIEMAP_EXTENT_NOT_ALIGNED: u32 = 0x100;
const FIEMAP_EXTENT_DATA_INLINE: u32 = 0x200;
const FIEMAP_EXTENT_SHARED: u32 = 0x2000;
const BATCH: usize = 256;

#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
struct Extent {
    logical: u64,
    physical: u64,
    length: u64,
    reserved64: [u64; 2],
    flags: u32,
    reserved: [u32; 3],
}

#[repr(C)]
struct Request {
    start: u64,
    length: u64,
    flags: u32,
    mapped: u32,
    count: u32,
    reserved: u32,
    extents: [Extent; BATCH],
}

// FS_IOC_FIEMAP encodes the size of the header (32 bytes), not of our extent buffer.
nix::ioctl_readwrite_bad!(fiemap, nix::request_code_readwrite!(b'f', 11, 32), Request);

/// (logical, physical, length, flags) of every extent, or None when FIEMAP is unsupported.
fn extents(file: &File) -> Option<Vec<(u64, u64, u64, u32)>> {
    let mut out = Vec::new();
    let mut start = 0u64;
    loop {
        let mut request = Request {
            start,
            length: u64::MAX - start,
            flags: FIEMAP_FLAG_SYNC,
            mapped: 0,
            count: BATCH as u32,
            reserved: 0,
            extents: [Extent::default(); BATCH],
        };
        // SAFETY: the request is a properly sized fiemap buffer for BATCH extents.
        unsafe { fiemap(file.as_raw_fd(), &mut request) }.ok()?;
        let mapped = &request.extents[..request.mapped as usize];
        let Some(last) = mapped.last() else {
            return Some(out);
        };
        out.extend(
            mapped
                .iter()
                .map(|e| (e.logical, e.physical, e.length, e.flags)),
        );
        if last.flags & FIEMAP_EXTENT_LAST != 0 {
            return Some(out);
        }
        start = last.logical + last.length;
    }
}

/// True when `copy` provably shares every data extent of `source`.
pub fn shares_all_extents(source: &File, copy: &File) -> bool {
    let unprovable = FIEMAP_EXTENT_UNKNOWN
        | FIEMAP_EXTENT_DELALLOC
        | FIEMAP_EXTENT_ENCODED
        | FIEMAP_EXTENT_NOT_ALIGNED
        | FIEMAP_EXTENT_DATA_INLINE;
    let (Some(a), Some(b)) = (extents(source), extents(copy)) else {
        return false;
    };
    let strip = |v: &[(u64, u64, u64, u32)]| v.iter().map(|e| (e.0, e.1, e.2)).collect::<Vec<_>>();
    !b.is_empty()
        && strip(&a) == strip(&b)
        && b.iter()
            .all(|e| e.3 & FIEMAP_EXTENT_SHARED != 0 && e.3 & unprovable == 0)
}
