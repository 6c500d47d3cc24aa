//! Thin entry point: all behaviour lives in the library so tests can reach it.

fn main() {
    std::process::exit(snaprescue::cli::main());
}
