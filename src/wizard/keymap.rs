//! One keymap per screen and mode: which key asks for what ([`Action`]), with the word the
//! footer shows and the line the help shows. `update`, the footer and the help all read the
//! same table (see `keymaps.rs`), so what a key does and what the screen says it does cannot
//! drift apart: raw keys become actions before `update`, as in ratatui's Elm guidance.

pub use super::keymaps::COMMON;
use super::keys::Key;
use super::model::*;

/// What a key asks for, once the mode has given it a meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Up/down by the key's movement (arrows, j/k, pages, g/G).
    Move,
    Next,
    Back,
    Quit,
    Help,
    Yes,
    No,
    /// A character typed into the field that has the keyboard.
    Type(char),
    Erase,
    Cancel,
    Freeze,
    FreezeTree,
    FreezeAll,
    Thaw,
    ThawAll,
    Harvest,
    Terminate,
    TerminateAnyway,
    Remount,
    Refresh,
    /// From a refused rollback to step 1, to freeze or end what refused it.
    FixWriters,
    CheckAgain,
    Open,
    Close,
    Select,
    SelectAllDeleted,
    FilterDeleted,
    Search,
    KeepSearch,
    ClearSearch,
    SwitchConflict,
    CopyBack,
    ThawFrozen,
    /// Takes back the pins this run made.
    Unpin,
    /// Asks to apply the recommended automatic snapshot policy.
    ApplyPolicy,
    /// Asks to take a pre-run snapshot now.
    PreRunSnapshot,
}

/// One key (or several keys that do the same) in one mode.
pub struct Binding {
    pub keys: &'static [Key],
    pub action: Action,
    /// How the footer and the help write the keys.
    pub shown: &'static str,
    /// The footer's word; neighbours with the same word share it (`f/P/F:freeze`); empty:
    /// not in the footer.
    pub label: &'static str,
    /// The help's line; empty when a neighbour with the same label explains it.
    pub help: &'static str,
    /// Bound only while this holds (`b` only while harvested copies wait).
    pub when: Option<fn(&Model) -> bool>,
}

/// What a key that no binding names does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unbound {
    Ignored,
    /// A text field has the keyboard: characters are typed into it.
    Typed,
    /// A question: any other key answers it this way (the footer says `other:WORD`).
    Answers(Action, &'static str),
}

pub struct Keymap {
    /// What the screen is for, first in the help.
    pub about: &'static str,
    /// Said before the keys in the footer (`type the folder,`).
    pub prompt: &'static str,
    pub bindings: &'static [Binding],
    pub unbound: Unbound,
    /// `?` help and `q` quit work here (not while typing, not in a popup's question).
    pub common: bool,
}

/// The screen and what it waits for: each has its own keymap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Help,
    QuitConfirm,
    AtRiskNext,
    AtRiskQuit,
    Writers,
    WritersFolder,
    WritersConfirm,
    WritersTerminateUnsaved,
    Gpu,
    Snapshots,
    Recovery,
    RecoveryRefused,
    RecoveryTyping,
    RecoveryRunning,
    PickerLoading,
    Picker,
    PickerSearching,
    PickerSearched,
    PickerConfirm,
    PickerLeaving,
    PickerRunning,
    Finish,
    /// The finish screen's question before `p` or `s` acts.
    FinishAsk,
}

impl Mode {
    /// The popup's mode when one is open, else the screen's.
    pub fn of(m: &Model) -> Mode {
        match m.overlay {
            Overlay::Help => Mode::Help,
            Overlay::QuitConfirm => Mode::QuitConfirm,
            Overlay::AtRisk(Leaving::NextStep) => Mode::AtRiskNext,
            Overlay::AtRisk(Leaving::Quit) => Mode::AtRiskQuit,
            Overlay::None => Mode::of_screen(m),
        }
    }

    /// The mode of the screen, under any popup.
    pub fn of_screen(m: &Model) -> Mode {
        match m.step {
            Step::Writers => match &m.writers.confirm {
                None => Mode::Writers,
                Some(Pending::HarvestTo(_)) => Mode::WritersFolder,
                Some(Pending::Terminate { unharvested, .. }) if *unharvested > 0 => {
                    Mode::WritersTerminateUnsaved
                }
                Some(_) => Mode::WritersConfirm,
            },
            Step::Gpu => Mode::Gpu,
            Step::Snapshots => Mode::Snapshots,
            Step::Recovery => match m.recovery.phase {
                RecoveryPhase::Choosing => Mode::Recovery,
                RecoveryPhase::Running => Mode::RecoveryRunning,
                RecoveryPhase::Confirming if matches!(m.recovery.refusal, Some(Err(_))) => {
                    Mode::RecoveryRefused
                }
                RecoveryPhase::Confirming => Mode::RecoveryTyping,
            },
            Step::Restore => match (m.restore.phase, &m.picker) {
                (phase, _) if phase.restoring() => Mode::PickerRunning,
                (_, None) => Mode::PickerLoading,
                (RestorePhase::Leaving, _) => Mode::PickerLeaving,
                (_, Some(p)) if p.searching => Mode::PickerSearching,
                (RestorePhase::Confirming, _) => Mode::PickerConfirm,
                (_, Some(p)) if !p.query.is_empty() => Mode::PickerSearched,
                _ => Mode::Picker,
            },
            Step::Finish if m.finish.protection.asking.is_some() => Mode::FinishAsk,
            Step::Finish => Mode::Finish,
        }
    }

    pub fn keymap(self) -> &'static Keymap {
        super::keymaps::of(self)
    }
}

impl Keymap {
    pub fn types(&self) -> bool {
        self.unbound == Unbound::Typed
    }

    /// The bindings that hold now, the common ones last.
    fn active<'a>(&'a self, model: &'a Model) -> impl Iterator<Item = &'a Binding> {
        let common: &'static [Binding] = if self.common { COMMON } else { &[] };
        self.bindings
            .iter()
            .chain(common)
            .filter(move |b| b.when.is_none_or(|holds| holds(model)))
    }

    /// Bindings grouped by their label, in order (`f/P/F:freeze` is one group).
    fn groups(&self, model: &Model) -> Vec<Group> {
        let mut groups: Vec<Group> = Vec::new();
        for b in self.active(model) {
            match groups.last_mut() {
                Some(last) if !b.label.is_empty() && last.label == b.label => {
                    last.shown = format!("{}/{}", last.shown, b.shown);
                    if last.help.is_empty() {
                        last.help = b.help;
                    }
                    last.keys.extend_from_slice(b.keys);
                }
                _ => groups.push(Group {
                    shown: b.shown.to_string(),
                    label: b.label,
                    help: b.help,
                    keys: b.keys.to_vec(),
                }),
            }
        }
        groups
    }
}

/// Neighbouring bindings with one label: their keys as shown, the word, the help line, and
/// every key they bind.
struct Group {
    shown: String,
    label: &'static str,
    help: &'static str,
    keys: Vec<Key>,
}

/// What `key` asks for in the mode the model is in, if anything.
pub fn action(model: &Model, key: Key) -> Option<Action> {
    let map = Mode::of(model).keymap();
    if let Some(b) = map.active(model).find(|b| b.keys.contains(&key)) {
        return Some(b.action);
    }
    match (map.unbound, key) {
        (Unbound::Typed, Key::Char(c)) => Some(Action::Type(c)),
        (Unbound::Answers(answer, _), _) => Some(answer),
        _ => None,
    }
}

/// The footer: the keys that work now, with their words.
pub fn footer(model: &Model) -> String {
    let map = Mode::of(model).keymap();
    let mut parts: Vec<String> = map
        .groups(model)
        .into_iter()
        .filter(|g| !g.label.is_empty())
        .map(|g| format!("{}:{}", g.shown, g.label))
        .collect();
    if let Unbound::Answers(_, word) = map.unbound {
        let other = if parts.is_empty() { "any key" } else { "other" };
        parts.push(format!("{other}:{word}"));
    }
    let keys = parts.join(" ");
    match (map.prompt, keys.is_empty()) {
        ("", _) => keys,
        (prompt, true) => prompt.to_string(),
        (prompt, false) => format!("{prompt} {keys}"),
    }
}

/// The help for the screen under the help popup: what it is for, then a row per key
/// (keys as shown, padded to one width; what they do).
pub fn help(model: &Model) -> (String, Vec<(String, String)>) {
    let map = Mode::of_screen(model).keymap();
    let groups: Vec<Group> = map
        .groups(model)
        .into_iter()
        .filter(|g| !g.help.is_empty())
        .collect();
    let width = groups
        .iter()
        .map(|g| g.shown.chars().count())
        .max()
        .unwrap_or(0);
    let mut rows: Vec<(String, String)> = groups
        .into_iter()
        .map(|g| {
            // Keys bound beside the one shown are said too: no key works that the help
            // does not name.
            let also = if g.keys.contains(&Key::Tab) {
                " (Tab and n too)"
            } else if g.keys.contains(&Key::BackTab) {
                " (Shift-Tab too)"
            } else {
                ""
            };
            let pad = width - g.shown.chars().count();
            (
                format!("{}{}", g.shown, " ".repeat(pad)),
                format!("{}{also}", g.help),
            )
        })
        .collect();
    if map.types() {
        rows.push((
            " ".repeat(width),
            "other keys are typed into the field".into(),
        ));
    }
    (map.about.to_string(), rows)
}
