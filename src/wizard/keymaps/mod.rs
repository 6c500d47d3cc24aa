//! The keymaps themselves, one per [`Mode`]: the only place a key is given a meaning, a
//! footer word and a help line. One file per part of the panic path; the shared pieces here.

use super::keymap::{Action as A, Binding, Keymap, Mode, Unbound};
use super::keys::Key::{self, *};
use super::model::Model;

mod picker;
mod recovery;
mod writers;

use picker::*;
use recovery::*;
use writers::*;

pub(super) const MOVES: &[Key] = &[
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
pub(super) const ARROWS: &[Key] = &[Up, Down, PageUp, PageDown, Home, End];
pub(super) const NEXT: &[Key] = &[Enter, Tab, Char('n')];
pub(super) const BACK: &[Key] = &[Esc, BackTab];
pub(super) const YES: &[Key] = &[Char('y'), Char('Y')];

pub(super) const fn bind(
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

pub(super) const fn bind_when(binding: Binding, when: fn(&Model) -> bool) -> Binding {
    Binding {
        when: Some(when),
        ..binding
    }
}

pub(super) const fn screen(about: &'static str, bindings: &'static [Binding]) -> Keymap {
    Keymap {
        about,
        prompt: "",
        bindings,
        unbound: Unbound::Ignored,
        common: true,
    }
}

pub(super) const fn question(
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

pub(super) const fn field(
    about: &'static str,
    prompt: &'static str,
    bindings: &'static [Binding],
) -> Keymap {
    Keymap {
        about,
        prompt,
        bindings,
        unbound: Unbound::Typed,
        common: false,
    }
}

/// Step 1 lists processes: the keys that act on them.
pub(super) fn listed(m: &Model) -> bool {
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
pub(super) const ERASE: Binding = bind(&[Backspace], A::Erase, "⌫", "", "");
pub(super) const CTRL_C: Binding = bind(&[CtrlC], A::Quit, "Ctrl-C", "", "quit (asks first)");

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
        bind_when(
            bind(
                &[Char('u')],
                A::Unpin,
                "u",
                "unpin",
                "unpin the snapshot this run pinned (its policy may delete it again; what \
                 cannot be undone is said)",
            ),
            |m| !m.snapshots.pins.unpinnable().is_empty(),
        ),
        bind_when(
            bind(
                &[Char('p')],
                A::ApplyPolicy,
                "p",
                "protect",
                "create and bind the recommended automatic snapshot policy for this disk \
                 (asks first)",
            ),
            |m| m.finish.protection.policy_fixable(),
        ),
        bind_when(
            bind(
                &[Char('s')],
                A::PreRunSnapshot,
                "s",
                "pre-run snapshot",
                "take a snapshot of this disk now, before the next run (asks first)",
            ),
            |m| m.finish.protection.can_snapshot(),
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

static FINISH_ASK: Keymap = question(
    "",
    &[bind(&[Enter, Char('y')], A::Yes, "Enter/y", "yes", "do it")],
    "no",
);

static HELP: Keymap = question("", &[], "close");

static QUIT_CONFIRM: Keymap = question(
    "Work is still running.",
    &[bind(YES, A::Yes, "y", "quit and cancel it", "quit")],
    "stay",
);

/// `h` in the questions about files only a process holds.
const SAVE_FIRST: Binding = bind(
    &[Char('h')],
    A::Harvest,
    "h",
    "save them first",
    "save them",
);

static AT_RISK_NEXT: Keymap = question(
    "Deleted files are held only by a running process.",
    &[SAVE_FIRST, bind(YES, A::Yes, "y", "go on anyway", "go on")],
    "stay",
);

static AT_RISK_QUIT: Keymap = question(
    "Deleted files are held only by a process.",
    &[SAVE_FIRST, bind(YES, A::Yes, "y", "quit anyway", "quit")],
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
        Mode::FinishAsk => &FINISH_ASK,
    }
}
