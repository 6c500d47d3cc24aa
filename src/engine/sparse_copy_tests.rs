//! The copy's own tests: bytes, hashes and holes through both paths, and cancel.

use super::*;
use std::os::unix::fs::MetadataExt;

/// A file of `len` bytes with data at each (offset, byte, size) and holes elsewhere.
fn sparse_source(dir: &Path, len: u64, data: &[(u64, u8, usize)]) -> File {
    let path = dir.join("source");
    let file = File::create(&path).unwrap();
    file.set_len(len).unwrap();
    for &(offset, byte, size) in data {
        file.write_all_at(&vec![byte; size], offset).unwrap();
    }
    File::open(path).unwrap()
}

/// The copy of a sparse file checked for bytes, hashes and holes: cold (read directly),
/// then warm (read through the page cache).
fn copied(len: u64, data: &[(u64, u8, usize)]) {
    let dir = tempfile::tempdir().unwrap();
    let input = sparse_source(dir.path(), len, data);
    crate::engine::direct_read::tests::drop_cache(&input);
    copied_from(dir.path(), &input, len, data, "cold");
    copied_from(dir.path(), &input, len, data, "warm");
}

fn copied_from(dir: &Path, input: &File, len: u64, data: &[(u64, u8, usize)], name: &str) {
    let output = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(dir.join(name))
        .unwrap();
    let mut seen = 0;
    let allocated = input.metadata().unwrap().blocks() * 512;
    let (source, copy) = copy_sparse(
        input,
        &output,
        (len, allocated),
        &AtomicBool::new(false),
        &mut |n| seen += n,
    )
    .unwrap();
    let original = std::fs::read(dir.join("source")).unwrap();
    let restored = std::fs::read(dir.join(name)).unwrap();
    assert!(original == restored, "bytes differ ({len}, {name})");
    let expected = blake3::hash(&original).to_hex().to_string();
    assert_eq!((source.as_str(), copy.as_str()), (&*expected, &*expected));
    let written: u64 = data.iter().map(|d| d.2 as u64).sum();
    assert!(seen <= len && seen >= written.min(len), "{seen}");
    let blocks = output.metadata().unwrap().blocks() * 512;
    assert!(
        blocks <= allocated + (64 << 10),
        "holes stay holes: {blocks} bytes allocated, the source has {allocated}"
    );
}

#[test]
fn small_files_are_copied_inline_with_their_holes() {
    copied(0, &[]);
    copied(5, &[(0, 7, 5)]);
    copied(1 << 20, &[(4096, 1, 4096)]);
}

#[test]
fn large_files_go_through_the_pipeline_with_their_holes() {
    let mib = 1u64 << 20;
    copied(
        40 * mib,
        &[
            (0, 3, 5 << 20),
            (12 * mib, 9, (9 << 20) + 17),
            (39 * mib, 1, 100),
        ],
    );
    copied(8 * mib, &[(3 * mib, 5, 4096)]);
    // Dense, with an end off the block grid: the last direct read comes back short.
    copied((5 << 20) + 123, &[(0, 4, (5 << 20) + 123)]);
}

#[test]
fn a_cancel_stops_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let input = sparse_source(dir.path(), 64 << 20, &[(0, 1, 64 << 20)]);
    let output = File::create(dir.path().join("copy")).unwrap();
    let cancel = AtomicBool::new(false);
    let result = copy_sparse(&input, &output, (64 << 20, 64 << 20), &cancel, &mut |_| {
        cancel.store(true, Ordering::Relaxed)
    });
    assert!(matches!(result, Err(CopyError::Cancelled)), "{result:?}");
}

#[test]
fn a_source_that_ends_before_its_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (len, claimed) in [(1000u64, 4096u64), (3 << 20, 5 << 20)] {
        let input = sparse_source(dir.path(), len, &[(0, 2, len as usize)]);
        crate::engine::direct_read::tests::drop_cache(&input);
        let output = File::create(dir.path().join(format!("copy{len}"))).unwrap();
        let result = copy_sparse(
            &input,
            &output,
            (claimed, claimed),
            &AtomicBool::new(false),
            &mut |_| {},
        );
        assert!(
            matches!(result, Err(CopyError::Shrank)),
            "{len}: {result:?}"
        );
    }
}
