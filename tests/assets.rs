//! The committed man page and completions are what the CLI generates now: a changed flag or
//! subcommand without `scripts/assets` fails here.

#[test]
fn the_man_page_and_completions_are_not_stale() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    for (name, bytes) in snaprescue::cli::assets::render_all() {
        let committed = std::fs::read(root.join(&name)).unwrap_or_default();
        assert!(
            committed == bytes,
            "assets/{name} is stale (or missing): run scripts/assets and commit it"
        );
    }
}

#[test]
fn the_completions_know_every_subcommand() {
    let files = snaprescue::cli::assets::render_all();
    let bash = &files
        .iter()
        .find(|f| f.0.contains("bash-completion"))
        .unwrap()
        .1;
    let bash = String::from_utf8_lossy(bash);
    for sub in [
        "snapshots",
        "deleted",
        "restore",
        "rollback",
        "verify",
        "writers",
        "drill",
    ] {
        assert!(bash.contains(sub), "{sub} missing from the bash completion");
    }
}
