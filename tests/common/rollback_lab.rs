//! A btrfs volume for rollback tests: subvolume `data` with snapper's `.snapshots` nested
//! in it, one snapshot (`run/a.txt` = "version 1"), then newer writes ("version 2",
//! `run/new.txt`); returns the volume and the snapshot's id.

use super::*;
use std::fs;

pub fn volume() -> (LoopFs, String) {
    let fs = btrfs_with_data_subvolume();
    let data = fs.path("data");
    fs::create_dir_all(data.join("run")).unwrap();
    fs::write(data.join("run/a.txt"), "version 1").unwrap();
    snapshot(&data, &fs.path("data/.snapshots/1/snapshot"));
    next_second();
    fs::write(data.join("run/a.txt"), "version 2").unwrap();
    fs::write(data.join("run/new.txt"), "written after").unwrap();
    let state = tempfile::tempdir().unwrap();
    let (_, doc, err) = json(state.path(), args!["snapshots", data.join("run")]);
    let id = doc["snapshots"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{err}"))
        .to_string();
    (fs, id)
}
