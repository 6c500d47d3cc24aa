//! The picker's search index: every entry's name, ASCII-lowercased, in one contiguous buffer
//! with an offset per entry. A query scans the buffer once with `memchr::memmem` (no pointer
//! chasing through a million paths) and maps each occurrence to its entry in one forward
//! pass, since both are in entry order.

use crate::engine::diff::DiffEntry;
use memchr::memmem;

#[derive(Clone)]
pub struct NameIndex {
    /// Names separated by `/`, which no name contains, so no match spans two entries.
    names: Vec<u8>,
    /// Where each entry's name starts; one extra at the end.
    starts: Vec<u32>,
}

/// The last component of a relative path, as bytes.
fn name_bytes(path: &std::path::Path) -> &[u8] {
    let bytes = path.as_os_str().as_encoded_bytes();
    match bytes.iter().rposition(|&b| b == b'/') {
        Some(slash) => &bytes[slash + 1..],
        None => bytes,
    }
}

impl std::fmt::Debug for NameIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NameIndex({} names, {} bytes)",
            self.starts.len().saturating_sub(1),
            self.names.len()
        )
    }
}

impl NameIndex {
    pub fn new(entries: &[DiffEntry]) -> Self {
        let mut names = Vec::with_capacity(entries.len() * 16);
        let mut starts = Vec::with_capacity(entries.len() + 1);
        for e in entries {
            starts.push(names.len() as u32);
            names.extend(name_bytes(&e.path).iter().map(u8::to_ascii_lowercase));
            names.push(b'/');
        }
        starts.push(names.len() as u32);
        Self { names, starts }
    }

    /// Entries whose name contains `needle` (lower case), in order. The buffer is split
    /// into ranges of entries searched on all cores.
    pub fn search(&self, needle: &[u8]) -> Vec<u32> {
        use rayon::prelude::*;
        if needle.is_empty() || needle.contains(&b'/') {
            return Vec::new();
        }
        let n = self.starts.len() - 1;
        let chunk = n.div_ceil(rayon::current_num_threads() * 4).max(1 << 14);
        let finder = memmem::Finder::new(needle);
        let parts: Vec<Vec<u32>> = (0..n.div_ceil(chunk))
            .into_par_iter()
            .map(|c| {
                let (first, last) = (c * chunk, ((c + 1) * chunk).min(n));
                let base = self.starts[first] as usize;
                let slice = &self.names[base..self.starts[last] as usize];
                let mut hits = Vec::new();
                let mut entry = first;
                for at in finder.find_iter(slice) {
                    while self.starts[entry + 1] as usize <= base + at {
                        entry += 1;
                    }
                    if hits.last() != Some(&(entry as u32)) {
                        hits.push(entry as u32);
                    }
                }
                hits
            })
            .collect();
        parts.concat()
    }

    /// The entries of `within` whose name contains `needle` (narrowing a previous search).
    pub fn narrow(&self, within: &[u32], needle: &[u8]) -> Vec<u32> {
        let finder = memmem::Finder::new(needle);
        within
            .iter()
            .copied()
            .filter(|&i| {
                let (a, b) = (self.starts[i as usize], self.starts[i as usize + 1]);
                finder.find(&self.names[a as usize..b as usize]).is_some()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::diff::{EntryKind, EntryStatus};

    #[test]
    fn finds_each_entry_once_and_never_across_names() {
        let e = |p: &str| DiffEntry {
            path: p.into(),
            kind: EntryKind::File,
            size: 0,
            mtime: 0,
            status: EntryStatus::Same,
        };
        let entries = vec![
            e("run"),
            e("run/Epoch_77.PT"),
            e("run/ab"),
            e("run/cd"),
            e("x7"),
        ];
        let index = NameIndex::new(&entries);
        assert_eq!(index.search(b"7"), vec![1, 4]);
        assert_eq!(index.search(b"epoch"), vec![1], "case-insensitive");
        assert_eq!(
            index.search(b"bc"),
            Vec::<u32>::new(),
            "no match across ab/cd"
        );
        assert_eq!(index.search(b"run"), vec![0], "the name, not the path");
        assert_eq!(index.narrow(&[1, 4], b"77"), vec![1]);
    }
}
