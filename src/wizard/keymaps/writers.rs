//! Steps 1 to 3: the writers (and their questions), the GPUs, the snapshots.

use super::*;
use crate::wizard::keymap::{Action as A, Keymap};

pub(super) static WRITERS: Keymap = screen(
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

pub(super) static WRITERS_FOLDER: Keymap = field(
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

pub(super) static WRITERS_CONFIRM: Keymap = question(
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

pub(super) static WRITERS_TERMINATE_UNSAVED: Keymap = question(
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

pub(super) static GPU: Keymap = screen(
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

pub(super) static SNAPSHOTS: Keymap = screen(
    "Step 3, pick a snapshot taken before the deletion. ★ marks the one that brings back \
     the most (in the cloud: the newest before the deletion, X on the timeline).",
    &[
        bind_when(
            bind(MOVES, A::Move, "↑↓", "choose", "choose a snapshot"),
            listed_snapshots,
        ),
        bind_when(
            bind(
                NEXT,
                A::Next,
                "Enter",
                "use this snapshot",
                "use the chosen snapshot",
            ),
            listed_snapshots,
        ),
        bind(BACK, A::Back, "Esc", "back", "back to step 2"),
    ],
);

/// Step 3 has snapshots to choose from.
fn listed_snapshots(m: &Model) -> bool {
    m.snapshots
        .listing
        .as_ref()
        .is_some_and(|l| !l.snapshots.is_empty())
}
