//! Writes the man page and shell completions into `assets/` (run by `scripts/assets`).

fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    for (name, bytes) in snaprescue::cli::assets::render_all() {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().expect("under assets/"))?;
        std::fs::write(&path, bytes)?;
        println!("{}", path.display());
    }
    Ok(())
}
