//! What the drill needs on the machine, and getting it: on a fresh Debian/Ubuntu machine
//! btrfs-progs is usually missing, so with apt there and a person at the terminal the drill
//! asks once (y/N) and installs it; without a terminal it says the one command to run.

use crate::ports::command;
use anyhow::bail;
use std::io::{BufRead, IsTerminal, Write};

const INSTALL: [&str; 3] = ["install", "-y", "btrfs-progs"];

/// Root, util-linux's losetup, and btrfs-progs (installed on request).
pub fn ensure() -> anyhow::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!(
            "the drill needs root (it creates a loop device and mounts it): run `sudo snaprescue drill`"
        );
    }
    if !command::exists("losetup") {
        bail!("the drill needs `losetup`: install util-linux (apt-get install util-linux)");
    }
    if ["mkfs.btrfs", "btrfs"].iter().all(|p| command::exists(p)) {
        return Ok(());
    }
    let command_line = format!("apt-get {}", INSTALL.join(" "));
    if !command::exists("apt-get") {
        bail!(
            "the drill needs btrfs-progs (mkfs.btrfs, btrfs): install it with this system's \
             package manager, then run the drill again"
        );
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "the drill needs btrfs-progs (mkfs.btrfs, btrfs): run `sudo {command_line}`, then \
             `sudo snaprescue drill` again"
        );
    }
    eprint!(
        "The drill needs btrfs-progs (mkfs.btrfs, btrfs), which is not installed.\n\
         Install it now with `{command_line}`? [y/N] "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("btrfs-progs not installed; `sudo {command_line}` installs it");
    }
    // Fresh images often have empty package lists: read them once if the install fails.
    let installed = apt(&INSTALL)? || (apt(&["update"])? && apt(&INSTALL)?);
    if !installed {
        bail!("`{command_line}` failed (its output is above)");
    }
    if !["mkfs.btrfs", "btrfs"].iter().all(|p| command::exists(p)) {
        bail!("`{command_line}` ran, yet mkfs.btrfs or btrfs is still not on PATH");
    }
    Ok(())
}

fn apt(args: &[&str]) -> anyhow::Result<bool> {
    Ok(std::process::Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()?
        .success())
}
