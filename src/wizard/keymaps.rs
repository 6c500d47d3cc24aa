//! The keymaps themselves, one per [`Mode`]: the only place a key is given a meaning, a
//! footer word and a help line.

use super::keymap::{Action as A, Binding, Keymap, Mode, Unbound};
use super::keys::Key::{self, *};
use super::model::Model;

const MOVES: &[Key] = &[
    Up,
    Down,
    Char('k'),
    Char('j'),
    PageUp,
    PageDown,
    Home,
    End,
    Char('g'),
    Char('G'),
];
/// Movement while a field has the keyboard: letters are text then.
const ARROWS: &[Key] = &[Up, Down, PageUp, PageDown, Home, End];
const NEXT: &[Key] = &[Enter, Tab, Char('n')];
const BACK: &[Key] = &[Esc, BackTab];
const YES: &[Key] = &[Char('y'), Char('Y')];

const fn bind(
    keys: &'static [Key],
    action: A,
    shown: &'static str,
    label: &'static str,
    help: &'static str,
) -> Binding {
    Binding {
        keys,
        action,
        shown,
        label,
        help,
        when: None,
    }
}

const fn bind_when(binding: Binding, when: fn(&Model) -> bool) -> Binding {
    Binding {
        when: Some(when),
        ..binding
    }
}

const fn screen(about: &'static str, bindings: &'static [Binding]) -> Keymap {
    Keymap {
        about,
        prompt: "",
        bindings,
        unbound: Unbound::Ignored,
        common: true,
    }
}

const fn question(
    about: &'static str,
    bindings: &'static [Binding],
    other: &'static str,
) -> Keymap {
    Keymap {
        about,
        prompt: "",
        bindings,
        unbound: Unbound::Answers(A::No, other),
        common: false,
    }
}

const fn field(about: &'static str, prompt: &'static str, bindings: &'static [Binding]) -> Keymap {
    Keymap {
        about,
        prompt,
        bindings,
        unbound: Unbound::Typed,
        common: false,
    }
}

/// Step 1 lists processes: the keys that act on them.
fn listed(m: &Model) -> bool {
    !m.writers.processes.is_empty()
}

/// `?` and `q`, on every screen that is not typing or asking.
pub const COMMON: &[Binding] = &[
    bind(&[Char('?')], A::Help, "?", "help", "this help"),
    bind(
        &[Char('q'), CtrlC],
        A::Quit,
        "q",
        "quit",
        "quit (asks first while work runs or deleted files are unsaved)",
    ),
];

/// While a field has the keyboard: Backspace erases, Ctrl-C asks to quit.
const ERASE: Binding = bind(&[Backspace], A::Erase, "⌫", "", "");
const CTRL_C: Binding = bind(&[CtrlC], A::Quit, "Ctrl-C", "", "quit (asks first)");

static WRITERS: Keymap = screen(
    "Step 1, stop the writers: a process that keeps writing can overwrite the deleted \
     blocks, and a deleted file still open in a process is lost when it closes.",
    &[
        bind(
            MOVES,
            A::Move,
            "↑↓",
            "",
            "choose a process (j/k, PgUp/PgDn, g/G too)",
        ),
        bind_when(
            bind(
                &[Char('f')],
                A::Freeze,
                "f",
                "freeze",
                "freeze (SIGSTOP): f the selected process, P it and its children, F all that \
                 write",
            ),
            listed,
        ),
        bind_when(bind(&[Char('P')], A::FreezeTree, "P", "freeze", ""), listed),
        bind_when(bind(&[Char('F')], A::FreezeAll, "F", "freeze", ""), listed),
        bind_when(
            bind(
                &[Char('t')],
                A::Thaw,
                "t",
                "thaw",
                "thaw (SIGCONT): t the selected process, T every stopped one",
            ),
            listed,
        ),
        bind_when(bind(&[Char('T')], A::ThawAll, "T", "thaw", ""), listed),
        bind(
            &[Char('h')],
            A::Harvest,
            "h",
            "harvest",
            "save deleted-but-open files to another disk (RAM by default)",
        ),
        bind_when(
            bind(
                &[Char('K')],
                A::Terminate,
                "K",
                "kill",
                "end the selected process (asks; warns when it holds unsaved files)",
            ),
            listed,
        ),
        bind(
            &[Char('R')],
            A::Remount,
            "R",
            "read-only",
            "remount the filesystem read-only",
        ),
        bind(&[Char('r')], A::Refresh, "r", "", "scan again now"),
        bind(
            NEXT,
            A::Next,
            "Enter",
            "next",
            "next step (asks first while a running process holds unsaved files)",
        ),
    ],
);

static WRITERS_FOLDER: Keymap = field(
    "Harvest: the deleted-but-open files are copied to this folder. Use another disk than \
     the one that lost the files; /dev/shm is RAM (lost at reboot).",
    "type the folder,",
    &[
        bind(
            &[Enter],
            A::Yes,
            "Enter",
            "save there",
            "save the files there",
        ),
        bind(&[Esc], A::No, "Esc", "cancel", "cancel"),
        ERASE,
        CTRL_C,
    ],
);

static WRITERS_CONFIRM: Keymap = question(
    "Step 1 asks before it signals a process or remounts.",
    &[bind(
        &[Char('y'), Char('Y'), Enter],
        A::Yes,
        "y/Enter",
        "yes",
        "do it",
    )],
    "no",
);

static WRITERS_TERMINATE_UNSAVED: Keymap = question(
    "The process holds deleted files that were not saved: ending it destroys them.",
    &[
        bind(
            &[Char('h')],
            A::Harvest,
            "h",
            "save them first",
            "save them to another disk first",
        ),
        bind(
            &[Char('!')],
            A::TerminateAnyway,
            "!",
            "terminate anyway",
            "end it anyway: the files are lost",
        ),
    ],
    "cancel",
);

static GPU: Keymap = screen(
    "Step 2, the GPUs and the processes that use them.",
    &[
        bind(
            &[Char('r')],
            A::Refresh,
            "r",
            "refresh",
            "read the GPUs again",
        ),
        bind(NEXT, A::Next, "Enter", "next", "next step: pick a snapshot"),
        bind(BACK, A::Back, "Esc", "back", "back to step 1"),
    ],
);

static SNAPSHOTS: Keymap = screen(
    "Step 3, pick a snapshot taken before the deletion. ★ marks the one that brings back \
     the most (in the cloud: the newest before the deletion, X on the timeline).",
    &[
        bind(MOVES, A::Move, "↑↓", "choose", "choose a snapshot"),
        bind(
            NEXT,
            A::Next,
            "Enter",
            "use this snapshot",
            "use the chosen snapshot",
        ),
        bind(BACK, A::Back, "Esc", "back", "back to step 2"),
    ],
);

static RECOVERY: Keymap = screen(
    "Step 4. Rescue browses a read-only copy: nothing live changes but what you restore. \
     Rollback puts the whole subvolume or disk back to the snapshot after you type its name; \
     what it replaces is kept.",
    &[
        bind(MOVES, A::Move, "↑↓", "choose", "choose rescue or rollback"),
        bind(&[Enter], A::Next, "Enter", "go", "go on with the choice"),
        bind(BACK, A::Back, "Esc", "back", "back to the snapshots"),
    ],
);

static RECOVERY_REFUSED: Keymap = screen(
    "The rollback cannot run now; the reason is on the screen.",
    &[
        bind(
            &[Char('f')],
            A::FixWriters,
            "f",
            "step 1 (freeze or end them)",
            "go to step 1 to freeze or end the processes; leaving it comes back here",
        ),
        bind(
            &[Char('r')],
            A::CheckAgain,
            "r",
            "check again",
            "check again",
        ),
        bind(BACK, A::Back, "Esc", "back", "back to the choice"),
    ],
);

static RECOVERY_TYPING: Keymap = field(
    "Rollback: type the name shown to confirm. What it replaces is kept.",
    "type the name shown,",
    &[
        bind(&[Enter], A::Yes, "Enter", "roll back", "roll back"),
        bind(&[Esc], A::Back, "Esc", "cancel", "cancel"),
        ERASE,
        CTRL_C,
    ],
);

static RECOVERY_RUNNING: Keymap = Keymap {
    prompt: "rolling back, wait for it to finish;",
    ..screen(
        "The rollback is running; it cannot be stopped halfway.",
        &[],
    )
};

static PICKER_LOADING: Keymap = screen(
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
            |m| m.restore.phase == super::model::RestorePhase::Loading,
        ),
        bind_when(
            bind(
                &[Esc, BackTab, Char('x')],
                A::Back,
                "Esc",
                "back",
                "back to step 4",
            ),
            |m| m.restore.phase != super::model::RestorePhase::Loading,
        ),
    ],
);

static PICKER: Keymap = screen(
    "Step 5, pick what to copy back. Nothing is overwritten: conflicts are skipped or kept \
     beside. Within one btrfs filesystem files are reflinked (no space needed).",
    &[
        bind(MOVES, A::Move, "↑↓", "", "move (j/k, PgUp/PgDn, g/G too)"),
        bind(
            &[Char(' ')],
            A::Select,
            "space",
            "select",
            "select or unselect",
        ),
        bind(
            &[Char('a')],
            A::SelectAllDeleted,
            "a",
            "all-deleted",
            "select everything deleted",
        ),
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
        bind(
            &[Enter],
            A::Next,
            "Enter",
            "restore",
            "restore the selection (asks)",
        ),
        bind(
            BACK,
            A::Back,
            "Esc",
            "back",
            "back to step 4 (asks when something is selected)",
        ),
    ],
);

static PICKER_SEARCHING: Keymap = field(
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

static PICKER_SEARCHED: Keymap = screen(
    "Search results: every match, folders open; select what to restore, Esc shows \
     everything again.",
    &[
        bind(MOVES, A::Move, "↑↓", "", "move"),
        bind(
            &[Char(' ')],
            A::Select,
            "space",
            "select",
            "select or unselect",
        ),
        bind(
            &[Char('a')],
            A::SelectAllDeleted,
            "a",
            "all-deleted",
            "select everything deleted",
        ),
        bind(
            &[Char('/')],
            A::Search,
            "/",
            "search again",
            "change the search",
        ),
        bind(
            &[Enter],
            A::Next,
            "Enter",
            "restore",
            "restore the selection (asks)",
        ),
        bind(
            BACK,
            A::ClearSearch,
            "Esc",
            "clear the search",
            "clear the search",
        ),
    ],
);

static PICKER_CONFIRM: Keymap = question(
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

static PICKER_LEAVING: Keymap = question(
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

static PICKER_RUNNING: Keymap = screen(
    "The restore is copying; a cancel leaves no partial file.",
    &[bind_when(
        bind(
            &[Char('x'), Esc],
            A::Cancel,
            "x",
            "cancel the restore",
            "cancel the restore",
        ),
        |m| m.restore.phase == super::model::RestorePhase::Running,
    )],
);

static FINISH: Keymap = screen(
    "Step 6: what came back, what is still missing, the checks and the report.",
    &[
        bind(MOVES, A::Move, "↑↓", "scroll", "scroll"),
        bind_when(
            bind(
                &[Char('b')],
                A::CopyBack,
                "b",
                "copy harvested back",
                "copy the harvested files back into place (verified, never over a file)",
            ),
            |m| !m.harvested_to_copy_back().is_empty(),
        ),
        bind_when(
            bind(
                &[Char('t')],
                A::ThawFrozen,
                "t",
                "thaw frozen",
                "thaw what this run froze",
            ),
            |m| !m.writers.frozen.is_empty(),
        ),
        bind(&[Enter], A::Next, "Enter", "quit", "quit"),
        bind(
            BACK,
            A::Back,
            "Esc",
            "back",
            "back to the picker (compared again)",
        ),
    ],
);

static HELP: Keymap = question("", &[], "close");

static QUIT_CONFIRM: Keymap = question(
    "Work is still running.",
    &[bind(YES, A::Yes, "y", "quit and cancel it", "quit")],
    "stay",
);

static AT_RISK_NEXT: Keymap = question(
    "Deleted files are held only by a running process.",
    &[
        bind(
            &[Char('h')],
            A::Harvest,
            "h",
            "save them first",
            "save them",
        ),
        bind(YES, A::Yes, "y", "go on anyway", "go on"),
    ],
    "stay",
);

static AT_RISK_QUIT: Keymap = question(
    "Deleted files are held only by a process.",
    &[
        bind(
            &[Char('h')],
            A::Harvest,
            "h",
            "save them first",
            "save them",
        ),
        bind(YES, A::Yes, "y", "quit anyway", "quit"),
    ],
    "stay",
);

pub fn of(mode: Mode) -> &'static Keymap {
    match mode {
        Mode::Help => &HELP,
        Mode::QuitConfirm => &QUIT_CONFIRM,
        Mode::AtRiskNext => &AT_RISK_NEXT,
        Mode::AtRiskQuit => &AT_RISK_QUIT,
        Mode::Writers => &WRITERS,
        Mode::WritersFolder => &WRITERS_FOLDER,
        Mode::WritersConfirm => &WRITERS_CONFIRM,
        Mode::WritersTerminateUnsaved => &WRITERS_TERMINATE_UNSAVED,
        Mode::Gpu => &GPU,
        Mode::Snapshots => &SNAPSHOTS,
        Mode::Recovery => &RECOVERY,
        Mode::RecoveryRefused => &RECOVERY_REFUSED,
        Mode::RecoveryTyping => &RECOVERY_TYPING,
        Mode::RecoveryRunning => &RECOVERY_RUNNING,
        Mode::PickerLoading => &PICKER_LOADING,
        Mode::Picker => &PICKER,
        Mode::PickerSearching => &PICKER_SEARCHING,
        Mode::PickerSearched => &PICKER_SEARCHED,
        Mode::PickerConfirm => &PICKER_CONFIRM,
        Mode::PickerLeaving => &PICKER_LEAVING,
        Mode::PickerRunning => &PICKER_RUNNING,
        Mode::Finish => &FINISH,
    }
}
