//! Picker at scale, for scripts/bench: a snapshot tree with one directory of N entries
//! (default 1,000,000), 10% of them deleted. Prints how long the list takes to be ready,
//! keypress-to-frame times (move, page, expand, filter, search) on an 80x24 TestBackend,
//! and the peak RSS. Run: cargo run --release --example picker_bench [N]

use ratatui::{Terminal, backend::TestBackend};
use snaprescue::engine::diff::{DiffEntry, EntryKind, EntryStatus, TreeDiff};
use snaprescue::wizard::picker::Picker;
use snaprescue::wizard::{Key, Model, Msg, Step, update};
use std::time::{Duration, Instant};

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        / 1024
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let mut entries = Vec::with_capacity(n + 1);
    entries.push(DiffEntry {
        path: "dataset".into(),
        kind: EntryKind::Dir,
        size: 0,
        mtime: 0,
        status: EntryStatus::Same,
    });
    for i in 0..n {
        let status = if i % 10 == 0 {
            EntryStatus::Deleted
        } else {
            EntryStatus::Same
        };
        entries.push(DiffEntry {
            path: format!("dataset/sample{i:07}.jpg").into(),
            kind: EntryKind::File,
            size: 40_000 + i as u64 % 5000,
            mtime: 0,
            status,
        });
    }
    let tree = TreeDiff {
        entries,
        unreadable: vec![],
    };
    let started = Instant::now();
    let picker = Picker::new("1".into(), tree, "/data".into(), 1 << 40);
    let ready = started.elapsed();
    let mut model = Model::new("/data".into());
    model.step = Step::Restore;
    model.picker = Some(picker);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let mut press = |model: &mut Model, key: Key| {
        let t = Instant::now();
        update(model, Msg::Key(key));
        terminal.draw(|f| snaprescue::ui::draw(f, model)).unwrap();
        t.elapsed()
    };
    let expand = press(&mut model, Key::Right);
    let moves: Vec<Duration> = (0..200).map(|_| press(&mut model, Key::Down)).collect();
    let pages: Vec<Duration> = (0..50).map(|_| press(&mut model, Key::PageDown)).collect();
    let end = press(&mut model, Key::End);
    let filter = press(&mut model, Key::Char('d'));
    // Searches are timed five times each (a fresh search, then one more key), medians kept.
    let (mut searches, mut narrowings) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        press(&mut model, Key::Char('/'));
        searches.push(press(&mut model, Key::Char('7')));
        narrowings.push(press(&mut model, Key::Char('7')));
        press(&mut model, Key::Esc);
    }
    let (search, search_more) = (median(searches), median(narrowings));
    let select_all = press(&mut model, Key::Char('a'));
    println!("picker_entries {n}");
    println!("picker_list_ready_ms {:.1}", ready.as_secs_f64() * 1000.0);
    println!("picker_expand_ms {:.1}", expand.as_secs_f64() * 1000.0);
    println!(
        "picker_move_frame_ms {:.2}",
        median(moves).as_secs_f64() * 1000.0
    );
    println!(
        "picker_page_frame_ms {:.2}",
        median(pages).as_secs_f64() * 1000.0
    );
    println!("picker_end_frame_ms {:.2}", end.as_secs_f64() * 1000.0);
    println!(
        "picker_filter_frame_ms {:.1}",
        filter.as_secs_f64() * 1000.0
    );
    println!(
        "picker_search_frame_ms {:.1}",
        search.as_secs_f64() * 1000.0
    );
    println!(
        "picker_search_second_key_frame_ms {:.1}",
        search_more.as_secs_f64() * 1000.0
    );
    println!(
        "picker_select_all_deleted_ms {:.1}",
        select_all.as_secs_f64() * 1000.0
    );
    println!("picker_peak_rss_mib {}", peak_rss_mib());
}
