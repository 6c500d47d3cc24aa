//! The harvest folder, held so that nobody else can steer root's writes: it is created
//! 0700 when missing, and refused when it is a link, belongs to another user, or others may
//! write in it (its default lives in world-writable /dev/shm, where anyone could have made
//! it first and planted links inside). Everything in it is then created relative to its
//! descriptor without following links.

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, fstat, fstatat, mkdirat};
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

const DIR: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// Opens (creating it 0700 if needed) the harvest folder `dir`; Err says why it is unsafe.
pub fn open(dir: &Path) -> Result<OwnedFd, String> {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return Err("not a folder name".into());
    };
    std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    let parent = nix::fcntl::open(parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty())
        .map_err(|e| e.to_string())?;
    match mkdirat(parent.as_fd(), name, Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e.to_string()),
    }
    let fd = openat(parent.as_fd(), name, DIR, Mode::empty()).map_err(|e| match e {
        Errno::ELOOP | Errno::ENOTDIR => {
            "it is a link or not a folder (someone may have planted it): remove it or choose \
             another folder"
                .to_string()
        }
        e => e.to_string(),
    })?;
    trusted(fd)
}

/// The folder `dir` if it exists and passes the same checks (nothing is created).
pub fn open_existing(dir: &Path) -> Option<OwnedFd> {
    let fd = nix::fcntl::open(dir, DIR, Mode::empty()).ok()?;
    trusted(fd).ok()
}

/// `fd` when it is ours and others may not write in it.
fn trusted(fd: OwnedFd) -> Result<OwnedFd, String> {
    let st = fstat(fd.as_fd()).map_err(|e| e.to_string())?;
    let me = nix::unistd::geteuid().as_raw();
    if st.st_uid != me {
        return Err(format!(
            "it belongs to user {} (not to snaprescue's user {me}): links they plant in it \
             would redirect what is saved; remove it or choose a folder only you can write",
            st.st_uid
        ));
    }
    if st.st_mode & 0o022 != 0 {
        return Err(format!(
            "others may write in it (mode {:o}): links planted in it would redirect what is \
             saved; `chmod go-w` it or choose another folder",
            st.st_mode & 0o7777
        ));
    }
    Ok(fd)
}

/// The subfolder `name` of `dir` (created 0700 if missing), opened without following links.
pub fn subdir(dir: BorrowedFd<'_>, name: &str) -> Result<OwnedFd, String> {
    match mkdirat(dir, name, Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e.to_string()),
    }
    let fd = openat(dir, name, DIR, Mode::empty()).map_err(|e| match e {
        Errno::ELOOP | Errno::ENOTDIR => {
            format!("a link or a file was planted at {name} in the harvest folder: remove it")
        }
        e => format!("{name}: {e}"),
    })?;
    trusted(fd).map_err(|why| format!("{name} in the harvest folder: {why}"))
}

/// `name` if nothing has it in `dir`, else `name.harvested-N` for the first free N.
pub fn free_name(dir: BorrowedFd<'_>, name: &OsStr) -> OsString {
    let taken = |n: &OsStr| fstatat(dir, n, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok();
    let mut candidate = name.to_os_string();
    let mut n = 1;
    while taken(&candidate) {
        candidate = name.to_os_string();
        candidate.push(format!(".harvested-{n}"));
        n += 1;
    }
    candidate
}

/// Writes a new file `name` in `dir` (never over anything, never through a link).
pub fn write_new(dir: BorrowedFd<'_>, name: &str, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let fd = openat(
        dir,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| e.to_string())?;
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes).map_err(|e| e.to_string())?;
    file.sync_all().map_err(|e| e.to_string())
}

/// A regular file `name` in `dir` that only we could have written: opened without following
/// a link and without blocking (a fifo planted there must not hang the start), ours, not
/// writable by others.
fn own_file(dir: BorrowedFd<'_>, name: &OsStr) -> Option<(OwnedFd, u64)> {
    let fd = openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let st = fstat(fd.as_fd()).ok()?;
    let regular = st.st_mode & libc::S_IFMT == libc::S_IFREG;
    let ours = st.st_uid == nix::unistd::geteuid().as_raw() && st.st_mode & 0o022 == 0;
    (regular && ours).then_some((fd, st.st_size as u64))
}

/// Whether `saved_to` is a copy saved in the folder `dir` (opened as `root`) as
/// `pid-N/NAME`, reached without a link, ours, of `size` bytes.
pub fn holds_copy(root: BorrowedFd<'_>, dir: &Path, saved_to: &Path, size: u64) -> bool {
    use std::path::Component;
    let Ok(rel) = saved_to.strip_prefix(dir) else {
        return false;
    };
    let parts: Vec<Component> = rel.components().collect();
    let [Component::Normal(pid_dir), Component::Normal(name)] = parts[..] else {
        return false;
    };
    if !pid_dir.to_string_lossy().starts_with("pid-") {
        return false;
    }
    let Ok(sub) = openat(root, pid_dir, DIR, Mode::empty()) else {
        return false;
    };
    let Ok(sub) = trusted(sub) else {
        return false;
    };
    own_file(sub.as_fd(), name).is_some_and(|(_, len)| len == size)
}

/// The contents of the file `name` in `dir` when only we could have written it (see
/// [`own_file`]).
pub fn read(dir: BorrowedFd<'_>, name: &OsStr) -> Option<Vec<u8>> {
    use std::io::Read;
    let (fd, _) = own_file(dir, name)?;
    let mut bytes = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}
