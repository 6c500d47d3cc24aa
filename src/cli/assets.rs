//! The man page and the shell completions, generated from the clap definitions so they can
//! never describe another CLI than the one built: `scripts/assets` writes them into
//! `assets/`, a test fails when the committed ones are stale, and the wheel installs them.

use clap::CommandFactory;
use clap_complete::Shell;

/// Every generated file: (path under `assets/`, its bytes).
pub fn render_all() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![("man/snaprescue.1".to_string(), man_page())];
    for (shell, name) in [
        (Shell::Bash, "completions/snaprescue.bash"),
        (Shell::Zsh, "completions/_snaprescue"),
        (Shell::Fish, "completions/snaprescue.fish"),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut super::Cli::command(), "snaprescue", &mut out);
        files.push((name.to_string(), out));
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
