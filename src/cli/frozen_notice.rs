//! The notice at the start of a command about processes that snaprescue froze and that are
//! still stopped, an earlier run's included (from the freeze journal, DESIGN rule 6).

use crate::engine::freeze_journal::{describe, still_frozen};

/// Says on stderr which processes are still frozen and how to thaw them; false when none.
pub fn notice_left_frozen() -> bool {
    let lines = describe(&still_frozen());
    for line in &lines {
        eprintln!("snaprescue: {line}");
    }
    !lines.is_empty()
}
