//! The fstab that decides what the next boot mounts: `SNAPRESCUE_FSTAB` (tests), else
//! `/etc/fstab`, and its octal escapes in paths. One reader for every check that asks it.

use std::path::PathBuf;

/// The text of the fstab (empty when there is none).
pub fn text() -> String {
    let path = std::env::var_os("SNAPRESCUE_FSTAB").unwrap_or_else(|| "/etc/fstab".into());
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A path field of an fstab line: spaces, tabs and backslashes are escaped as octal
/// (`\040`, `\011`, `\134`).
pub fn path_field(field: &str) -> PathBuf {
    PathBuf::from(
        field
            .replace("\\040", " ")
            .replace("\\011", "\t")
            .replace("\\134", "\\"),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaped_paths_are_read_back() {
        assert_eq!(
            super::path_field("/mnt/my\\040data\\011x"),
            std::path::PathBuf::from("/mnt/my data\tx")
        );
    }
}
