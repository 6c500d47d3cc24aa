//! Stand-ins for the NVIDIA driver on machines without one: the NVML library built from
//! tests/fixtures/fake-nvml, `nvidia-smi` beside it, and device nodes like `/dev/nvidiaN`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A directory holding the stand-in `libnvidia-ml.so.1`, compiled from its source.
pub fn stand_in_library() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-nvml/fake_nvml.c");
    let built = Command::new("cc")
        .args(["-Wall", "-Werror", "-shared", "-fPIC", "-o"])
        .arg(dir.path().join("libnvidia-ml.so.1"))
        .arg(source)
        .status()
        .expect("cc (the C compiler Rust links with) builds the NVML stand-in");
    assert!(built.success());
    dir
}

/// The directory holding the `nvidia-smi` stand-in that describes the same machine as the
/// library (put it first on PATH).
pub fn nvidia_smi_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-nvml")
}

/// A character device node like the driver's `/dev/nvidiaN` (major 195), made in `dir`.
pub fn nvidia_node(dir: &Path, name: &str, minor: u64) -> PathBuf {
    let node = dir.join(name);
    let made = Command::new("mknod")
        .arg(&node)
        .args(["c", "195", &minor.to_string()])
        .status()
        .unwrap();
    assert!(made.success(), "mknod {}", node.display());
    node
}
