//! The file picker's state over a snapshot's tree: expand/collapse, the "deleted only"
//! filter, search, selection. Entries are in depth-first order, so a subtree is a range.

use crate::engine::diff::{DiffEntry, EntryKind, EntryStatus, TreeDiff};
use std::path::PathBuf;

#[derive(Debug, Clone)]
struct Node {
    depth: u16,
    parent: Option<u32>,
    /// One past the last index of this node's subtree.
    end: u32,
    has_deleted: bool,
    bytes: u64,
}

#[derive(Debug, Clone)]
pub struct Picker {
    pub snapshot_id: String,
    pub dest: PathBuf,
    pub free_bytes: u64,
    /// The snapshot and the destination share a btrfs filesystem: files are reflinked and
    /// need no space.
    pub reflink: bool,
    /// What the snapshot copy may lack (a rescue mount's unreplayed journal), if anything.
    pub caveat: Option<String>,
    pub entries: Vec<DiffEntry>,
    nodes: Vec<Node>,
    expanded: Vec<bool>,
    selected: Vec<bool>,
    matches: Vec<bool>,
    pub deleted_only: bool,
    pub query: String,
    pub searching: bool,
    pub cursor: usize,
    visible: Vec<u32>,
    totals: (usize, u64),
    /// Entries whose own name matches the query.
    hits: Vec<u32>,
    /// The hits and their ancestors, in entry order: what a search can show.
    marked: Vec<u32>,
    index: super::name_index::NameIndex,
}

/// One row to draw.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub entry: &'a DiffEntry,
    pub depth: u16,
    pub expanded: bool,
    pub selected: bool,
    pub bytes: u64,
}

impl Picker {
    pub fn new(snapshot_id: String, tree: TreeDiff, dest: PathBuf, free_bytes: u64) -> Self {
        let entries = tree.entries;
        let n = entries.len();
        let mut nodes: Vec<Node> = Vec::with_capacity(n);
        let mut stack: Vec<u32> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let depth = e.path.components().count().saturating_sub(1) as u16;
            while stack.len() > depth as usize {
                stack.pop();
            }
            nodes.push(Node {
                depth,
                parent: stack.last().copied(),
                end: i as u32 + 1,
                has_deleted: e.status == EntryStatus::Deleted,
                bytes: if e.kind == EntryKind::Dir { 0 } else { e.size },
            });
            if e.kind == EntryKind::Dir {
                stack.push(i as u32);
            }
        }
        for i in (0..n).rev() {
            if let Some(p) = nodes[i].parent {
                let (end, deleted, bytes) = (nodes[i].end, nodes[i].has_deleted, nodes[i].bytes);
                let parent = &mut nodes[p as usize];
                parent.end = parent.end.max(end);
                parent.has_deleted |= deleted;
                parent.bytes += bytes;
            }
        }
        let index = super::name_index::NameIndex::new(&entries);
        let mut picker = Self {
            caveat: None,
            index,
            marked: Vec::new(),
            snapshot_id,
            dest,
            free_bytes,
            reflink: false,
            entries,
            nodes,
            expanded: vec![false; n],
            selected: vec![false; n],
            matches: vec![true; n],
            deleted_only: true,
            query: String::new(),
            searching: false,
            cursor: 0,
            visible: Vec::new(),
            totals: (0, 0),
            hits: Vec::new(),
        };
        picker.refresh();
        picker
    }

    fn shown(&self, i: usize) -> bool {
        (!self.deleted_only || self.nodes[i].has_deleted) && self.matches[i]
    }

    /// Recomputes the visible rows after any change of expansion, filter or query.
    pub fn refresh(&mut self) {
        let searching = !self.query.is_empty();
        self.visible.clear();
        if searching {
            // Nothing is collapsed while searching: the marked entries are the candidates.
            let visible: Vec<u32> = self
                .marked
                .iter()
                .copied()
                .filter(|&i| self.shown(i as usize))
                .collect();
            self.visible = visible;
            self.cursor = self.cursor.min(self.visible.len().saturating_sub(1));
            return;
        }
        let mut i = 0;
        while i < self.entries.len() {
            if !self.shown(i) {
                i = self.nodes[i].end as usize;
                continue;
            }
            self.visible.push(i as u32);
            let collapsed =
                self.entries[i].kind == EntryKind::Dir && !self.expanded[i] && !searching;
            i = if collapsed {
                self.nodes[i].end as usize
            } else {
                i + 1
            };
        }
        self.cursor = self.cursor.min(self.visible.len().saturating_sub(1));
    }

    pub fn set_query(&mut self, query: String) {
        let query = query.to_lowercase();
        let n = self.entries.len();
        // Typing one more character can only narrow the previous hits.
        let narrowing = !self.query.is_empty() && query.starts_with(&self.query);
        self.hits = if query.is_empty() {
            Vec::new()
        } else if narrowing {
            self.index.narrow(&self.hits, query.as_bytes())
        } else {
            self.index.search(query.as_bytes())
        };
        self.query = query;
        self.matches.clear();
        self.matches.resize(n, self.query.is_empty());
        self.marked.clear();
        for &hit in &self.hits {
            // Mark the hit and its unmarked ancestors. In depth-first order those ancestors
            // come after everything marked before, so `marked` stays sorted once each
            // chain (hit, parent, grandparent…) is reversed.
            let chain = self.marked.len();
            self.matches[hit as usize] = true;
            self.marked.push(hit);
            let mut parent = self.nodes[hit as usize].parent;
            while let Some(p) = parent {
                if std::mem::replace(&mut self.matches[p as usize], true) {
                    break;
                }
                self.marked.push(p);
                parent = self.nodes[p as usize].parent;
            }
            if self.marked.len() - chain > 1 {
                self.marked[chain..].reverse();
            }
        }
        self.cursor = 0;
        self.refresh();
    }

    pub fn visible_len(&self) -> usize {
        self.visible.len()
    }

    /// Rows `start..start+count` of the visible list.
    pub fn rows(&self, start: usize, count: usize) -> Vec<Row<'_>> {
        self.visible
            .iter()
            .skip(start)
            .take(count)
            .map(|&i| {
                let i = i as usize;
                Row {
                    entry: &self.entries[i],
                    depth: self.nodes[i].depth,
                    expanded: self.expanded[i] || !self.query.is_empty(),
                    selected: self.is_selected(i),
                    bytes: self.nodes[i].bytes,
                }
            })
            .collect()
    }

    fn current(&self) -> Option<usize> {
        self.visible.get(self.cursor).map(|&i| i as usize)
    }

    /// Selected itself or through an ancestor.
    fn is_selected(&self, mut i: usize) -> bool {
        loop {
            if self.selected[i] {
                return true;
            }
            match self.nodes[i].parent {
                Some(p) => i = p as usize,
                None => return false,
            }
        }
    }

    pub fn set_expanded(&mut self, open: bool) {
        if let Some(i) = self.current() {
            if self.entries[i].kind == EntryKind::Dir && self.expanded[i] != open {
                self.expanded[i] = open;
                self.refresh();
            } else if !open && let Some(p) = self.nodes[i].parent {
                // Left on a leaf or closed directory goes to the parent.
                if let Some(pos) = self.visible.iter().position(|&v| v == p) {
                    self.cursor = pos;
                }
            }
        }
    }

    pub fn toggle_selected(&mut self) {
        self.toggle_selected_inner();
        self.recount();
    }

    fn toggle_selected_inner(&mut self) {
        if let Some(i) = self.current() {
            let on = !self.is_selected(i);
            // Clear the subtree so the node alone decides.
            for s in &mut self.selected[i..self.nodes[i].end as usize] {
                *s = false;
            }
            if on {
                self.selected[i] = true;
            } else {
                // Deselecting inside a selected directory: select the siblings instead.
                let mut child = i;
                while let Some(p) = self.nodes[child].parent {
                    let p = p as usize;
                    if self.selected[p] || self.is_selected(p) {
                        let was_direct = self.selected[p];
                        self.selected[p] = false;
                        let mut c = p + 1;
                        while c < self.nodes[p].end as usize {
                            if c != child {
                                self.selected[c] = true;
                            }
                            c = self.nodes[c].end as usize;
                        }
                        if was_direct {
                            break;
                        }
                    }
                    child = p;
                }
            }
        }
    }

    /// Selects every deleted entry (by their topmost deleted directory); again clears them.
    pub fn toggle_all_deleted(&mut self) {
        let roots: Vec<usize> = (0..self.entries.len())
            .filter(|&i| {
                self.entries[i].status == EntryStatus::Deleted
                    && self.nodes[i]
                        .parent
                        .is_none_or(|p| self.entries[p as usize].status != EntryStatus::Deleted)
            })
            .collect();
        let all = roots.iter().all(|&i| self.is_selected(i));
        for i in roots {
            self.selected[i] = !all;
        }
        self.recount();
    }

    /// The selection as paths: each selected node without a selected ancestor.
    pub fn selection(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.entries.len() {
            if self.selected[i] {
                out.push(self.entries[i].path.clone());
                i = self.nodes[i].end as usize;
            } else {
                i += 1;
            }
        }
        out
    }

    /// (entries, bytes) of the selection, counting files and links; kept up to date by the
    /// selection changes so drawing a frame does not walk the tree.
    pub fn selection_totals(&self) -> (usize, u64) {
        self.totals
    }

    fn recount(&mut self) {
        self.totals = self.count_selection();
    }

    fn count_selection(&self) -> (usize, u64) {
        let mut count = 0;
        let mut bytes = 0;
        let mut i = 0;
        while i < self.entries.len() {
            if self.selected[i] {
                let end = self.nodes[i].end as usize;
                count += self.files_in(i);
                bytes += self.nodes[i].bytes;
                i = end;
            } else {
                i += 1;
            }
        }
        (count, bytes)
    }

    /// The number of files and links in each subtree, for the totals.
    fn files_in(&self, i: usize) -> usize {
        self.entries[i..self.nodes[i].end as usize]
            .iter()
            .filter(|e| e.kind != EntryKind::Dir)
            .count()
    }

    pub fn move_cursor(&mut self, delta: isize) {
        self.cursor = super::keys::moved(self.cursor, delta, self.visible.len());
    }
}
