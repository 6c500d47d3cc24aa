//! Bad usage caught before any work starts, and output that survives its reader going away:
//! the wizard without a terminal, a mistyped subcommand taken for PATH, and stdout closed
//! under a `--json` document (a broken pipe is a quiet exit, never a panic).

use std::io::{IsTerminal, Write};
use std::path::Path;

/// Every subcommand a user may type, for suggestions and the no-terminal message.
pub const SUBCOMMANDS: [&str; 10] = [
    "writers",
    "gpu",
    "snapshots",
    "deleted",
    "restore",
    "rollback",
    "verify",
    "cleanup",
    "drill",
    "help",
];

/// Writes `text` to stdout. A reader that went away (`| head`, a closed pipe) is not an
/// error worth a word: Ok(false). Any other failure is returned.
pub fn write_stdout(text: &str) -> std::io::Result<bool> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes to stderr, never panicking when it is closed.
pub fn write_stderr(text: &str) {
    let _ = std::io::stderr()
        .lock()
        .write_all(for_terminal(text).as_bytes());
}

/// `text` with control characters other than newline escaped: an error may quote a file
/// name, and a name holding an escape sequence must not drive the user's terminal.
pub fn for_terminal(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// An error and its causes, each cause left out when the message already says it (many
/// errors quote their source, and `{:#}` would say it twice).
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let cause = cause.to_string();
        if text.is_empty() {
            text = cause;
        } else if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Why the wizard cannot start here (stdin or stdout is not a terminal), naming the
/// subcommands that work without one.
pub fn wizard_needs_terminal() -> Option<String> {
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        return None;
    }
    Some(format!(
        "the wizard needs a terminal (stdin and stdout must be a tty). Without one, use the \
         subcommands: {} (snaprescue --help)",
        SUBCOMMANDS[..9].join(", ")
    ))
}

/// A bare word given as PATH (no `/`, not starting with `.`) that names nothing here and is
/// not held by any snapshot is a mistyped subcommand: the message, with the nearest one.
/// `./name` and absolute paths are always PATHs.
pub fn mistyped_subcommand(given: &Path, in_a_snapshot: impl FnOnce() -> bool) -> Option<String> {
    let word = given.to_str()?;
    if word.contains('/') || word.starts_with('.') || given.symlink_metadata().is_ok() {
        return None;
    }
    if in_a_snapshot() {
        return None;
    }
    let nearest = SUBCOMMANDS
        .iter()
        .min_by_key(|c| edit_distance(word, c))
        .copied()
        .unwrap_or("snapshots");
    Some(format!(
        "`{word}` is not a subcommand, and no file or folder of that name exists here or in \
         a snapshot of this filesystem. Did you mean `snaprescue {nearest}`? To open the \
         wizard on something deleted under that name, write it as a path: ./{word}"
    ))
}

/// Levenshtein distance (insertions, deletions, substitutions) between two short words.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_subcommand_is_suggested() {
        let message = |w: &str| mistyped_subcommand(Path::new(w), || false).unwrap();
        assert!(message("snapshot").contains("snaprescue snapshots"));
        assert!(message("restor").contains("snaprescue restore"));
        assert!(message("frobnicate").contains("./frobnicate"));
    }

    #[test]
    fn paths_and_words_held_by_a_snapshot_are_paths() {
        assert_eq!(
            mistyped_subcommand(Path::new("./frobnicate"), || false),
            None
        );
        assert_eq!(
            mistyped_subcommand(Path::new("/frobnicate"), || false),
            None
        );
        assert_eq!(mistyped_subcommand(Path::new("frobnicate"), || true), None);
        assert_eq!(mistyped_subcommand(Path::new("src"), || false), None);
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("restor", "restore"), 1);
        assert_eq!(edit_distance("gpu", "gpu"), 0);
        assert_eq!(edit_distance("wirters", "writers"), 2);
    }
}

#[cfg(test)]
mod terminal_tests {
    #[test]
    fn escapes_control_characters_but_not_newlines() {
        assert_eq!(
            super::for_terminal("a\x1b]0;x\x07\nb"),
            "a\\u{1b}]0;x\\u{7}\nb"
        );
    }

    #[test]
    fn a_cause_already_quoted_is_not_repeated() {
        let inner = std::io::Error::from(std::io::ErrorKind::NotFound);
        let text = inner.to_string();
        let e = anyhow::Error::new(inner).context(format!("cannot open x: {text}"));
        assert_eq!(super::error_text(&e), format!("cannot open x: {text}"));
    }
}
