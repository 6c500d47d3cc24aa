//! A real ZFS pool for the ZFS tests: zfs-fuse (ZFS in userspace, through FUSE) with a pool
//! on a sparse file in a private temp dir, under a unique name, never in the pool cache.
//! The daemon is started here when none answers (one per test binary, shared by its tests,
//! ended by its pid when the last lab goes); each pool is destroyed on drop, also when an
//! assertion fails. Without /dev/fuse or zfs-fuse the tests skip, unless
//! `SNAPRESCUE_REQUIRE_PRIVILEGED` is set.

use super::sh;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The daemon this binary started (None: one was already running, not ours to end) and how
/// many labs use it.
static DAEMON: Mutex<(usize, Option<Child>)> = Mutex::new((0, None));

fn daemon_answers() -> bool {
    Command::new("zpool")
        .arg("list")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Why ZFS cannot run here, if it cannot.
fn missing() -> Option<String> {
    if !Path::new("/dev/fuse").exists() {
        return Some("no /dev/fuse (FUSE is needed by zfs-fuse)".into());
    }
    for program in ["zfs-fuse", "zfs", "zpool"] {
        if !snaprescue::ports::command::exists(program) {
            return Some(format!(
                "`{program}` is not installed (apt-get install zfs-fuse)"
            ));
        }
    }
    None
}

/// One use of the daemon; the last one dropped ends a daemon this binary started.
struct DaemonLease;

impl DaemonLease {
    fn take() -> Self {
        let mut daemon = DAEMON.lock().unwrap_or_else(|e| e.into_inner());
        if daemon.0 == 0 && !daemon_answers() {
            let child = Command::new("zfs-fuse")
                .args(["--no-daemon", "--no-kstat-mount"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("zfs-fuse starts");
            daemon.1 = Some(child);
            let started = Instant::now();
            while !daemon_answers() {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "zfs-fuse did not answer within 30 s"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        daemon.0 += 1;
        DaemonLease
    }
}

impl Drop for DaemonLease {
    fn drop(&mut self) {
        let mut daemon = DAEMON.lock().unwrap_or_else(|e| e.into_inner());
        daemon.0 -= 1;
        if daemon.0 > 0 {
            return;
        }
        if let Some(mut child) = daemon.1.take() {
            // SIGTERM lets it unmount; by its pid only.
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(20) {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A pool of its own with dataset `<pool>/data` (and its child `<pool>/data/child`).
pub struct ZfsLab {
    pub pool: String,
    pub dir: tempfile::TempDir,
    /// Where `<pool>/data` is mounted.
    pub data: PathBuf,
    // Dropped after the pool is destroyed (see Drop), the turn last.
    _daemon: DaemonLease,
    _turn: std::sync::MutexGuard<'static, ()>,
}

/// One pool at a time in a test binary: zfs-fuse hung (every request, `zpool list` too)
/// with two roll-forward tests' pools busy at once.
static TURN: Mutex<()> = Mutex::new(());

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl ZfsLab {
    /// None when the test must skip (said on stderr); panics instead where skipping is not
    /// allowed.
    pub fn new() -> Option<Self> {
        if !super::privileged() {
            return None;
        }
        if let Some(why) = missing() {
            if std::env::var_os("SNAPRESCUE_REQUIRE_PRIVILEGED").is_some() {
                panic!("ZFS test cannot run: {why}, but SNAPRESCUE_REQUIRE_PRIVILEGED is set");
            }
            eprintln!("skipped: {why}");
            return None;
        }
        let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let daemon = DaemonLease::take();
        let dir = tempfile::Builder::new()
            .prefix("snaprescue-zfs-")
            .tempdir()
            .unwrap();
        let image = dir.path().join("pool.img");
        std::fs::File::create(&image)
            .unwrap()
            .set_len(256 << 20)
            .unwrap();
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pool = format!("srtest{}x{n}", std::process::id());
        let mount = dir.path().join("mnt");
        let lab = ZfsLab {
            pool: pool.clone(),
            data: mount.join("data"),
            dir,
            _daemon: daemon,
            _turn: turn,
        };
        sh(
            "zpool",
            &[
                "create",
                "-o",
                "cachefile=none",
                "-m",
                mount.to_str().unwrap(),
                &pool,
                image.to_str().unwrap(),
            ],
        );
        lab.zfs(&["create", &lab.dataset()]);
        lab.zfs(&["create", &format!("{}/child", lab.dataset())]);
        Some(lab)
    }

    /// `<pool>/data`.
    pub fn dataset(&self) -> String {
        format!("{}/data", self.pool)
    }

    pub fn zfs(&self, args: &[&str]) -> String {
        sh("zfs", args)
    }

    /// Takes `<pool>/data@name` (a second later than the previous one: creation times are
    /// whole seconds).
    pub fn snapshot(&self, name: &str) {
        std::thread::sleep(Duration::from_millis(1100));
        self.zfs(&["snapshot", &format!("{}@{name}", self.dataset())]);
    }

    /// One property of a dataset or snapshot.
    pub fn get(&self, name: &str, property: &str) -> String {
        self.zfs(&["get", "-H", "-o", "value", property, name])
            .trim_end()
            .to_string()
    }

    /// Every dataset and snapshot of the pool, by name, in one listing (a clone the wizard
    /// destroys meanwhile must not fail a second `zfs list` naming it).
    pub fn names(&self) -> Vec<String> {
        self.zfs(&[
            "list",
            "-H",
            "-o",
            "name",
            "-t",
            "filesystem,snapshot",
            "-r",
            &self.pool,
        ])
        .lines()
        .map(str::to_string)
        .collect()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.data.join(rel)
    }
}

impl Drop for ZfsLab {
    fn drop(&mut self) {
        // Our pool only, by its unique name; held snapshots and clones go with it.
        for attempt in 0..10 {
            let destroyed = Command::new("zpool")
                .args(["destroy", "-f", &self.pool])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if destroyed {
                break;
            }
            std::thread::sleep(Duration::from_millis(200 * (attempt + 1)));
        }
    }
}

/// A project with every kind of entry under `dir/proj`: a checkpoint, names with spaces,
/// a tab, a newline and a control character, a mode, an owner, an xattr and an old mtime, a
/// symlink pointing outside (to /etc/passwd), an empty directory.
pub fn fill_project(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("proj");
    std::fs::create_dir_all(p.join("ckpt/nested")).unwrap();
    std::fs::create_dir_all(p.join("empty dir")).unwrap();
    std::fs::write(p.join("keep.txt"), "keep").unwrap();
    let weights: Vec<u8> = (0..3_000_123u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(p.join("ckpt/e1.pth"), &weights).unwrap();
    std::fs::write(p.join("ckpt/nested/x.bin"), b"deep").unwrap();
    std::fs::write(p.join(odd_name()), b"odd").unwrap();
    let mode = p.join("mode.txt");
    std::fs::write(&mode, "mode").unwrap();
    std::fs::set_permissions(&mode, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(&mode, Some(1234), Some(2345)).unwrap();
    // zfs-fuse has no xattrs through FUSE (ENOTSUP); OpenZFS has.
    let _ = xattr::set(&mode, "user.origin", b"test");
    let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_836_800);
    std::fs::File::options()
        .write(true)
        .open(&mode)
        .unwrap()
        .set_modified(old)
        .unwrap();
    std::os::unix::fs::symlink("/etc/passwd", p.join("outside")).unwrap();
}

/// A file name with a space, a tab, a newline and a control character.
pub fn odd_name() -> &'static str {
    "a name\twith tab\nnewline \u{1}.bin"
}

/// Every entry under `root` (not crossing into another filesystem) with what makes it what
/// it is: kind, content or link target, mode, owner, and mtime for files.
pub fn manifest(root: &Path) -> std::collections::BTreeMap<PathBuf, String> {
    use std::os::unix::fs::MetadataExt;
    let device = std::fs::symlink_metadata(root).unwrap().dev();
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(root.join(&rel)).unwrap() {
            let entry = entry.unwrap();
            let rel = rel.join(entry.file_name());
            let path = root.join(&rel);
            let m = std::fs::symlink_metadata(&path).unwrap();
            let what = if m.dev() != device {
                "another filesystem".to_string()
            } else if m.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(&path).unwrap())
            } else if m.is_dir() {
                stack.push(rel.clone());
                format!("dir {:o} {}:{}", m.mode(), m.uid(), m.gid())
            } else {
                format!(
                    "file {:o} {}:{} {} {} {:?} {}",
                    m.mode(),
                    m.uid(),
                    m.gid(),
                    m.mtime(),
                    m.mtime_nsec(),
                    xattr::get(&path, "user.origin").ok().flatten(),
                    blake3::hash(&std::fs::read(&path).unwrap())
                )
            };
            out.insert(rel, what);
        }
    }
    out
}
