//! The mount table and private read-only mounts: which filesystem holds a path, and a
//! mount that is always undone when its guard is dropped.

use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum MountError {
    #[error("cannot read the mount table (/proc/self/mountinfo): {0}")]
    Table(String),
    #[error("no mount holds {0}")]
    NoMount(PathBuf),
    #[error("mounting {source_dev} on {target} failed: {errno}; run as root")]
    Mount {
        source_dev: String,
        target: PathBuf,
        errno: nix::Error,
    },
    #[error(
        "remounting {target} read-only failed: {errno}{}",
        if *errno == nix::errno::Errno::EBUSY {
            " — files are still open for writing there; freeze and end the writers first"
        } else {
            ""
        }
    )]
    Remount { target: PathBuf, errno: nix::Error },
    #[error(
        "unmounting {target} failed: {errno}{}",
        if *errno == nix::errno::Errno::EBUSY {
            " — a process still uses it (a shell's cwd, an open file): leave it and retry"
        } else {
            ""
        }
    )]
    Unmount { target: PathBuf, errno: nix::Error },
    #[error("cannot create a private mount point: {0}")]
    MountPoint(std::io::Error),
}

/// One line of mountinfo, reduced to what snaprescue needs.
#[derive(Debug, Clone, PartialEq)]
pub struct MountEntry {
    /// The path inside the filesystem that is shown at `mount_point` (for btrfs this includes
    /// the subvolume path, relative to the top-level subvolume).
    pub root: PathBuf,
    pub mount_point: PathBuf,
    pub fs_type: String,
    pub source: String,
    /// `major:minor` of the superblock: equal for every mount of one filesystem.
    pub majmin: String,
    pub read_only: bool,
    /// For overlay mounts (containers): the writable layer, which lives on another fs.
    pub upper_dir: Option<PathBuf>,
    /// Per-mount options as mountinfo lists them (`rw`, `nosuid`, `noatime`…).
    pub options: Vec<String>,
    /// The btrfs subvolume shown at the mount point (`subvol=` of the superblock options).
    pub subvol: Option<String>,
}

impl MountEntry {
    /// How it is mounted, to mount a copy of the filesystem the same way.
    pub fn spec(&self) -> MountSpec {
        MountSpec {
            fs_type: self.fs_type.clone(),
            options: self.options.clone(),
            subvol: self.subvol.clone(),
        }
    }
}

/// The parts of a mount that another mount of a copy of the filesystem must repeat: the
/// per-mount flags (ro, nosuid, noatime…) and, for btrfs, the subvolume shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MountSpec {
    pub fs_type: String,
    pub options: Vec<String>,
    pub subvol: Option<String>,
}

impl MountSpec {
    pub fn flags(&self) -> nix::mount::MsFlags {
        use nix::mount::MsFlags;
        self.options
            .iter()
            .fold(MsFlags::empty(), |flags, o| match o.as_str() {
                "ro" => flags | MsFlags::MS_RDONLY,
                "nosuid" => flags | MsFlags::MS_NOSUID,
                "nodev" => flags | MsFlags::MS_NODEV,
                "noexec" => flags | MsFlags::MS_NOEXEC,
                "sync" => flags | MsFlags::MS_SYNCHRONOUS,
                "dirsync" => flags | MsFlags::MS_DIRSYNC,
                "noatime" => flags | MsFlags::MS_NOATIME,
                "nodiratime" => flags | MsFlags::MS_NODIRATIME,
                "relatime" => flags | MsFlags::MS_RELATIME,
                "strictatime" => flags | MsFlags::MS_STRICTATIME,
                "lazytime" => flags | MsFlags::MS_LAZYTIME,
                _ => flags,
            })
    }

    /// Filesystem data options: the btrfs subvolume, which decides what the mount shows.
    pub fn data(&self) -> Option<String> {
        self.subvol
            .as_ref()
            .filter(|s| self.fs_type == "btrfs" && s.as_str() != "/")
            .map(|s| format!("subvol={s}"))
    }
}

/// Mounts `device` on `target` as `spec` says (read-write unless it says ro).
pub fn mount_as(device: &Path, spec: &MountSpec, target: &Path) -> Result<(), MountError> {
    let data = spec.data();
    nix::mount::mount(
        Some(device),
        target,
        Some(spec.fs_type.as_str()),
        spec.flags(),
        data.as_deref(),
    )
    .map_err(|errno| MountError::Mount {
        source_dev: format!(
            "{} ({}, {})",
            device.display(),
            spec.fs_type,
            data.as_deref().unwrap_or("-")
        ),
        target: target.to_path_buf(),
        errno,
    })
}

/// A snapshot of /proc/self/mountinfo.
#[derive(Debug, Clone)]
pub struct MountTable {
    pub entries: Vec<MountEntry>,
}

impl MountTable {
    pub fn read() -> Result<Self, MountError> {
        let infos = procfs::process::Process::myself()
            .and_then(|p| p.mountinfo())
            .map_err(|e| MountError::Table(e.to_string()))?;
        let entries = infos
            .into_iter()
            .map(|m| MountEntry {
                root: PathBuf::from(&m.root),
                upper_dir: m
                    .super_options
                    .get("upperdir")
                    .cloned()
                    .flatten()
                    .map(PathBuf::from),
                read_only: m.mount_options.contains_key("ro"),
                options: m.mount_options.keys().cloned().collect(),
                subvol: m.super_options.get("subvol").cloned().flatten(),
                mount_point: m.mount_point,
                fs_type: m.fs_type,
                source: m.mount_source.unwrap_or_default(),
                majmin: m.majmin,
            })
            .collect();
        Ok(Self { entries })
    }

    /// The mount whose mount point is the longest prefix of `canonical` (the last mounted
    /// wins when several share a mount point, as the kernel shows only the top one).
    pub fn holding(&self, canonical: &Path) -> Result<&MountEntry, MountError> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| canonical.starts_with(&e.mount_point))
            .max_by_key(|(i, e)| (e.mount_point.components().count(), *i))
            .map(|(_, e)| e)
            .ok_or_else(|| MountError::NoMount(canonical.to_path_buf()))
    }

    /// Every mount of the filesystem identified by `majmin`.
    pub fn of_filesystem<'a>(&'a self, majmin: &'a str) -> impl Iterator<Item = &'a MountEntry> {
        self.entries.iter().filter(move |e| e.majmin == majmin)
    }
}

/// A mount on a private temporary directory under `/run/snaprescue`, recorded before it is
/// made (see [`super::mount_record`]), unmounted and removed on drop.
#[derive(Debug)]
pub struct TempMount {
    dir: tempfile::TempDir,
    mounted: bool,
    // Dropped after `dir`: the record goes once the mount and its directory are gone.
    _record: super::mount_record::Recorded,
}

impl TempMount {
    /// Mounts `device` (with filesystem `fs_type` and extra `data` options) read-only,
    /// nosuid, nodev, noexec on a fresh private directory.
    pub fn read_only(device: &str, fs_type: &str, data: &str) -> Result<Self, MountError> {
        Self::new(|dir| mount_read_only(Path::new(device), fs_type, data, dir))
    }

    /// Mounts `device` read-write (nosuid, nodev, noexec) on a fresh private directory: a
    /// view of the btrfs top level in which subvolumes can be renamed.
    pub fn read_write(device: &str, fs_type: &str, data: &str) -> Result<Self, MountError> {
        use nix::mount::MsFlags;
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        Self::new(|dir| mount_private(Path::new(device), fs_type, flags, data, dir))
    }

    fn new(mount: impl FnOnce(&Path) -> Result<(), MountError>) -> Result<Self, MountError> {
        super::mount_record::sweep();
        let base = super::mount_record::run_dir();
        std::fs::create_dir_all(&base).map_err(MountError::MountPoint)?;
        let dir = tempfile::Builder::new()
            .prefix("mnt-")
            .tempdir_in(&base)
            .map_err(MountError::MountPoint)?;
        let record = super::mount_record::record(dir.path()).map_err(MountError::MountPoint)?;
        mount(dir.path())?;
        Ok(Self {
            dir,
            mounted: true,
            _record: record,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TempMount {
    fn drop(&mut self) {
        if self.mounted {
            if let Err(e) = nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH) {
                tracing::warn!(error = %e, dir = %self.dir.path().display(), "unmount failed");
            }
            self.mounted = false;
        }
    }
}

/// Mounts `device` (filesystem `fs_type`, extra `data` options) on `dir` read-only, nosuid,
/// nodev, noexec, and makes the mount private (not propagated to other namespaces).
pub fn mount_read_only(
    device: &Path,
    fs_type: &str,
    data: &str,
    dir: &Path,
) -> Result<(), MountError> {
    use nix::mount::MsFlags;
    let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount_private(device, fs_type, flags, data, dir)?;
    tracing::info!(device = %device.display(), dir = %dir.display(), data, "read-only mount");
    Ok(())
}

/// Mounts `device` on `dir` with `flags` and makes the mount private (not propagated to
/// other namespaces).
fn mount_private(
    device: &Path,
    fs_type: &str,
    flags: nix::mount::MsFlags,
    data: &str,
    dir: &Path,
) -> Result<(), MountError> {
    use nix::mount::{MsFlags, mount};
    let how = if flags.contains(MsFlags::MS_RDONLY) {
        " read-only"
    } else {
        ""
    };
    mount(Some(device), dir, Some(fs_type), flags, Some(data)).map_err(|errno| {
        MountError::Mount {
            source_dev: format!("{}{how} ({fs_type}, {data})", device.display()),
            target: dir.to_path_buf(),
            errno,
        }
    })?;
    let _ = mount(
        None::<&str>,
        dir,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    );
    Ok(())
}

/// Unmounts whatever is mounted on `dir` (nothing mounted there is success).
pub fn unmount(dir: &Path) -> Result<(), MountError> {
    let table = MountTable::read()?;
    if !table.entries.iter().any(|e| e.mount_point == dir) {
        return Ok(());
    }
    nix::mount::umount2(dir, nix::mount::MntFlags::empty()).map_err(|errno| MountError::Unmount {
        target: dir.to_path_buf(),
        errno,
    })
}

/// The mount holding `path`, which may no longer exist (its nearest surviving ancestor
/// decides), and where `path` lies below that mount point.
pub fn mount_of(path: &Path) -> Result<(MountEntry, PathBuf), MountError> {
    let (anchor, tail) = crate::ports::fs_meta::surviving_ancestor(path)
        .map_err(|_| MountError::NoMount(path.to_path_buf()))?;
    let table = MountTable::read()?;
    let mount = table.holding(&anchor)?.clone();
    let below = anchor
        .strip_prefix(&mount.mount_point)
        .unwrap_or(Path::new(""))
        .join(tail);
    Ok((mount, below))
}

/// Remounts the filesystem holding `path` read-only; returns its mount point.
pub fn remount_read_only_holding(path: &Path) -> Result<PathBuf, MountError> {
    let (mount, _) = mount_of(path)?;
    remount_read_only(&mount.mount_point)?;
    Ok(mount.mount_point)
}

/// Remounts the filesystem at `mount_point` read-only. The kernel refuses (EBUSY) while
/// files are open for writing; the error says so.
pub fn remount_read_only(mount_point: &Path) -> Result<(), MountError> {
    use nix::mount::{MsFlags, mount};
    mount(
        None::<&str>,
        mount_point,
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .map_err(|errno| MountError::Remount {
        target: mount_point.to_path_buf(),
        errno,
    })
}
