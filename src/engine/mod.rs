//! The work itself, with no terminal code: comparing a snapshot with the live tree, choosing
//! a snapshot, copying files back with verification.

pub mod attrs;
pub mod beneath;
pub mod choose;
pub mod copy;
pub mod diff;
mod diff_walk;
mod direct_read;
pub mod extents;
pub mod freeze_journal;
pub mod harvest;
pub mod harvest_dir;
pub mod keep_running;
pub mod leftovers;
pub mod newer;
pub mod pin_journal;
mod read_ahead;
pub mod restore;
mod restore_dest;
mod restore_entries;
pub mod restore_plan;
pub mod restore_run;
pub mod roll_forward;
pub mod sparse_copy;
mod stage_pool;
pub mod torch_check;
pub mod torch_probe;
pub mod verify;

/// Paths in JSON: the lossless UTF-8 text when there is one, else the bytes in hex too.
pub fn path_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::to_value(JsonPath(path)).unwrap_or_default()
}

/// [`path_json`] written straight into a document (no `Value` built): the text, or
/// `{"hex": …, "lossy": …}` for a name that is not UTF-8.
pub struct JsonPath<'a>(pub &'a std::path::Path);

impl serde::Serialize for JsonPath<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        use std::os::unix::ffi::OsStrExt;
        match self.0.to_str() {
            Some(text) => s.serialize_str(text),
            None => {
                let bytes = self.0.as_os_str().as_bytes();
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("hex", &hex)?;
                map.serialize_entry("lossy", &self.0.to_string_lossy())?;
                map.end()
            }
        }
    }
}

/// A path for human eyes (terminal and CLI text; JSON stays exact): control characters
/// (an escape sequence in a file name could rewrite the screen) and bytes that are not
/// UTF-8 are written as escapes, `\n` → `\\n`, ESC → `\\u{1b}`, byte 0xE9 → `\\xe9`.
pub fn shown(path: &std::path::Path) -> String {
    use std::fmt::Write;
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for chunk in path.as_os_str().as_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\\' => out.push_str("\\\\"),
                // Controls, and the bidirectional overrides that make `gpj.exe` read as
                // `exe.jpg` and shift the columns after them.
                c if c.is_control()
                    || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}')
                    || ('\u{202a}'..='\u{202e}').contains(&c)
                    || ('\u{2066}'..='\u{2069}').contains(&c) =>
                {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// `text` cut to `width` characters, with `…` where it was cut (never silently).
pub fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// A path relative to PATH for human eyes; PATH itself (the empty path) by its own name.
pub fn rel_shown(rel: &std::path::Path, path: &std::path::Path) -> String {
    if rel.as_os_str().is_empty() {
        shown(std::path::Path::new(
            path.file_name().unwrap_or(path.as_os_str()),
        ))
    } else {
        shown(rel)
    }
}

/// `n` and its noun, plural when `n` is not 1: `1 file`, `3 files`.
pub fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else if ["s", "x", "ch", "sh"].iter().any(|end| noun.ends_with(end)) {
        format!("{n} {noun}es")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod shown_tests {
    #[test]
    fn bidirectional_overrides_are_escaped() {
        let name = std::path::Path::new("bidi\u{202e}gpj.exe");
        assert_eq!(super::shown(name), "bidi\\u{202e}gpj.exe");
    }

    #[test]
    fn counts_say_one_file_and_two_files() {
        assert_eq!(super::counted(1, "file"), "1 file");
        assert_eq!(super::counted(0, "file"), "0 files");
        assert_eq!(super::counted(2, "GPU"), "2 GPUs");
        assert_eq!(super::counted(3, "process"), "3 processes");
    }

    #[test]
    fn control_characters_and_raw_bytes_are_escaped() {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"a\x1b]0;pwned\x07\nb\xe9.pth");
        assert_eq!(
            super::shown(std::path::Path::new(name)),
            "a\\u{1b}]0;pwned\\u{7}\\nb\\xe9.pth"
        );
        assert_eq!(
            super::shown(std::path::Path::new("ckpt/ép.pth")),
            "ckpt/ép.pth"
        );
    }
}
