//! A btrfs volume with one snapshot of what `build` wrote, for the restore tests: subvolume
//! `data`, read-only snapshot `snaps/s1`; and the restore and listing calls they share.

use super::*;
use std::path::Path;

/// `build` writes into subvolume `data`; then it is snapshotted. Returns the volume and the
/// snapshot's id.
pub fn volume(build: impl Fn(&Path)) -> (LoopFs, String) {
    volume_of(300, build)
}

/// [`volume`] on a volume of `mib` MiB.
pub fn volume_of(mib: u64, build: impl Fn(&Path)) -> (LoopFs, String) {
    let fs = LoopFs::new("btrfs", mib);
    let data = fs.path("data");
    btrfs(&["subvolume", "create", data.to_str().unwrap()]);
    build(&data);
    snapshot(&data, &fs.path("snaps/s1"));
    let state = tempfile::tempdir().unwrap();
    let (_, doc, err) = json(state.path(), args!["snapshots", data]);
    let id = doc["snapshots"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{err}"))
        .to_string();
    (fs, id)
}

/// `restore PATH --snapshot ID EXTRA… --json`.
pub fn restore(
    state: &Path,
    path: &Path,
    id: &str,
    extra: &[&str],
) -> (i32, serde_json::Value, String) {
    let mut all: Vec<&std::ffi::OsStr> = vec![
        "restore".as_ref(),
        path.as_os_str(),
        "--snapshot".as_ref(),
        id.as_ref(),
    ];
    all.extend(extra.iter().map(std::ffi::OsStr::new));
    json(state, &all)
}

/// Every entry below `dir`, as sorted names (links not followed).
pub fn all_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            e.unwrap()
                .path()
                .strip_prefix(dir)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    names.sort();
    names
}
