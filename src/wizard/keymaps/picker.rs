//! Step 5: comparing, browsing, searching, the restore and leave questions, the copy.

use super::*;
use crate::wizard::keymap::{Action as A, Binding, Keymap};

pub(super) static PICKER_LOADING: Keymap = screen(
    "The snapshot is opened read-only and compared with the live tree.",
    &[
        bind_when(
            bind(
                &[Esc, BackTab, Char('x')],
                A::Back,
                "Esc",
                "cancel",
                "stop comparing and go back to step 4",
            ),
            |m| m.restore.phase == crate::wizard::RestorePhase::Loading,
        ),
        bind_when(
            bind(
                &[Esc, BackTab, Char('x')],
                A::Back,
                "Esc",
                "back",
                "back to step 4",
            ),
            |m| m.restore.phase != crate::wizard::RestorePhase::Loading,
        ),
    ],
);

const SELECT: Binding = bind(
    &[Char(' ')],
    A::Select,
    "space",
    "select",
    "select or unselect",
);
const SELECT_ALL_DELETED: Binding = bind(
    &[Char('a')],
    A::SelectAllDeleted,
    "a",
    "all-deleted",
    "select everything deleted",
);

const RESTORE: Binding = bind(
    &[Enter],
    A::Next,
    "Enter",
    "restore",
    "restore the selection (asks)",
);

pub(super) static PICKER: Keymap = screen(
    "Step 5, pick what to copy back. Nothing is overwritten: conflicts are skipped or kept \
     beside. Within one btrfs filesystem files are reflinked (no space needed).",
    &[
        bind(MOVES, A::Move, "↑↓", "", "move (j/k, PgUp/PgDn, g/G too)"),
        SELECT,
        SELECT_ALL_DELETED,
        bind(
            &[Char('d')],
            A::FilterDeleted,
            "d",
            "filter",
            "show only what is deleted, or everything",
        ),
        bind(&[Char('/')], A::Search, "/", "find", "search by name"),
        bind(
            &[Right, Char('l')],
            A::Open,
            "→",
            "open",
            "open or close a folder (l and h too)",
        ),
        bind(&[Left, Char('h')], A::Close, "←", "open", ""),
        RESTORE,
        bind(
            BACK,
            A::Back,
            "Esc",
            "back",
            "back to step 4 (asks when something is selected)",
        ),
    ],
);

pub(super) static PICKER_SEARCHING: Keymap = field(
    "Search: the list shows the names that contain what you type.",
    "type to search,",
    &[
        bind(ARROWS, A::Move, "↑↓", "", "move in the results"),
        bind(
            &[Enter],
            A::KeepSearch,
            "Enter",
            "keep the search",
            "keep the search and browse the results (space selects)",
        ),
        bind(
            &[Esc],
            A::ClearSearch,
            "Esc",
            "clear the search",
            "clear the search",
        ),
        ERASE,
        CTRL_C,
    ],
);

pub(super) static PICKER_SEARCHED: Keymap = screen(
    "Search results: every match, folders open; select what to restore, Esc shows \
     everything again.",
    &[
        bind(MOVES, A::Move, "↑↓", "", "move"),
        SELECT,
        SELECT_ALL_DELETED,
        bind(
            &[Char('/')],
            A::Search,
            "/",
            "search again",
            "change the search",
        ),
        RESTORE,
        bind(
            BACK,
            A::ClearSearch,
            "Esc",
            "clear the search",
            "clear the search",
        ),
    ],
);

pub(super) static PICKER_CONFIRM: Keymap = question(
    "Restore the selection? Existing files are never overwritten: they are skipped, or the \
     restored copy is kept beside them (name.restored-<time>).",
    &[
        bind(
            &[Enter, Char('y')],
            A::Yes,
            "Enter",
            "restore",
            "restore now",
        ),
        bind(
            &[Char('c')],
            A::SwitchConflict,
            "c",
            "skip/keep both",
            "switch between skipping existing files and keeping both",
        ),
    ],
    "cancel",
);

pub(super) static PICKER_LEAVING: Keymap = question(
    "Leaving the picker forgets the selection.",
    &[bind(
        YES,
        A::Yes,
        "y",
        "leave",
        "leave and forget the selection",
    )],
    "stay",
);

pub(super) static PICKER_RUNNING: Keymap = screen(
    "The restore is copying; a cancel leaves no partial file.",
    &[bind_when(
        bind(
            &[Char('x'), Esc],
            A::Cancel,
            "x",
            "cancel the restore",
            "cancel the restore",
        ),
        |m| m.restore.phase == crate::wizard::RestorePhase::Running,
    )],
);
