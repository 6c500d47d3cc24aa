//! The man page and the shell completions, generated from the clap definitions so they can
//! never describe another CLI than the one built: `scripts/assets` writes them into
//! `assets/`, a test fails when the committed ones are stale, and the wheel installs them.

use clap::CommandFactory;
use clap_complete::Shell;

/// Where the generated files live under `assets/`: laid out as the wheel's data scheme, so
/// pip installs them under its prefix where man and the shells look
/// (`share/man/man1`, `share/bash-completion/completions`, …).
pub const INSTALL_ROOT: &str = "install/data/share";

/// Every generated file: (path under `assets/`, its bytes).
pub fn render_all() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![(format!("{INSTALL_ROOT}/man/man1/snaprescue.1"), man_page())];
    for (shell, name) in [
        (Shell::Bash, "bash-completion/completions/snaprescue"),
        (Shell::Zsh, "zsh/site-functions/_snaprescue"),
        (Shell::Fish, "fish/vendor_completions.d/snaprescue.fish"),
    ] {
        let name = format!("{INSTALL_ROOT}/{name}");
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut super::Cli::command(), "snaprescue", &mut out);
        files.push((name, out));
    }
    files
}

fn man_page() -> Vec<u8> {
    // The version line carries no commit: the page must not change with every commit.
    let command = super::Cli::command().version(env!("CARGO_PKG_VERSION"));
    let mut out = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut out)
        .expect("rendering into memory cannot fail");
    out
}
