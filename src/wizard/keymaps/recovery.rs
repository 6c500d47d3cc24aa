//! Step 4: rescue or rollback, the rollback's refusal, its typed confirmation, its run.

use super::*;
use crate::wizard::keymap::{Action as A, Keymap};

pub(super) static RECOVERY: Keymap = screen(
    "Step 4. Rescue browses a read-only copy: nothing live changes but what you restore. \
     Rollback puts the whole subvolume or disk back to the snapshot after you type its name; \
     what it replaces is kept.",
    &[
        bind(MOVES, A::Move, "↑↓", "choose", "choose rescue or rollback"),
        bind(&[Enter], A::Next, "Enter", "go", "go on with the choice"),
        bind(BACK, A::Back, "Esc", "back", "back to the snapshots"),
    ],
);

pub(super) static RECOVERY_REFUSED: Keymap = screen(
    "The rollback cannot run now; the reason is on the screen.",
    &[
        bind(
            &[Char('f')],
            A::FixWriters,
            "f",
            "step 1 (stop them)",
            "go to step 1 to stop the processes (save what they hold open, then end them); \
             leaving it comes back here",
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

pub(super) static RECOVERY_TYPING: Keymap = field(
    "Rollback: type the name shown to confirm. What it replaces is kept.",
    "type the name shown,",
    &[
        bind(&[Enter], A::Yes, "Enter", "roll back", "roll back"),
        bind(&[Esc], A::Back, "Esc", "cancel", "cancel"),
        ERASE,
        CTRL_C,
    ],
);

pub(super) static RECOVERY_RUNNING: Keymap = Keymap {
    prompt: "rolling back, wait for it to finish;",
    ..screen(
        "The rollback is running; it cannot be stopped halfway.",
        &[],
    )
};
