//! Keys as the wizard sees them, independent of the terminal library.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Up,
    Down,
    Left,
    Right,
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    PageUp,
    PageDown,
    Home,
    End,
    CtrlC,
}

impl Key {
    /// Translates a crossterm key press; releases and unknown keys give None.
    pub fn from_crossterm(event: crossterm::event::KeyEvent) -> Option<Self> {
        use crossterm::event::{KeyCode, KeyEventKind, KeyModifiers};
        if event.kind == KeyEventKind::Release {
            return None;
        }
        Some(match event.code {
            KeyCode::Char('c') if event.modifiers.contains(KeyModifiers::CONTROL) => Key::CtrlC,
            // Other Ctrl combinations (Ctrl-U, Ctrl-W…) mean nothing here: never typed as
            // their letter into a field.
            KeyCode::Char(_)
                if event
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                return None;
            }
            KeyCode::Char(c) => Key::Char(c),
            KeyCode::Up => Key::Up,
            KeyCode::Down => Key::Down,
            KeyCode::Left => Key::Left,
            KeyCode::Right => Key::Right,
            KeyCode::Enter => Key::Enter,
            KeyCode::Esc => Key::Esc,
            KeyCode::Tab => Key::Tab,
            KeyCode::BackTab => Key::BackTab,
            KeyCode::Backspace => Key::Backspace,
            KeyCode::PageUp => Key::PageUp,
            KeyCode::PageDown => Key::PageDown,
            KeyCode::Home => Key::Home,
            KeyCode::End => Key::End,
            _ => return None,
        })
    }

    /// Up/down movement from arrows and vim keys: -1, +1, a page, or None.
    pub fn movement(self) -> Option<isize> {
        match self {
            Key::Up | Key::Char('k') => Some(-1),
            Key::Down | Key::Char('j') => Some(1),
            Key::PageUp => Some(-10),
            Key::PageDown => Some(10),
            Key::Home | Key::Char('g') => Some(isize::MIN / 2),
            Key::End | Key::Char('G') => Some(isize::MAX / 2),
            _ => None,
        }
    }
}

/// Moves `cursor` by `delta` within `len` items.
pub fn moved(cursor: usize, delta: isize, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    (cursor as isize)
        .saturating_add(delta)
        .clamp(0, len as isize - 1) as usize
}

#[cfg(test)]
mod tests {
    use super::Key;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    #[test]
    fn control_letters_are_not_typed() {
        let ctrl = |c| Key::from_crossterm(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
        assert_eq!(ctrl('c'), Some(Key::CtrlC));
        assert_eq!(ctrl('u'), None);
        let plain = Key::from_crossterm(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::NONE));
        assert_eq!(plain, Some(Key::Char('u')));
    }
}
