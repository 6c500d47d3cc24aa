//! A read-only clone of a ZFS snapshot, for reading it where `.zfs/snapshot` does not exist
//! (zfs-fuse). Making it writes a little metadata to the (damaged) pool, which the screen
//! says; it is journaled before and after it is made and destroyed when its last user lets
//! go, or by `snaprescue cleanup` after a crash. One process shares one clone per snapshot
//! (the wizard opens the same snapshot again for each comparison): fewer writes to the
//! damaged pool, and zfs-fuse once served a second clone of a snapshot, made right after
//! another was destroyed, as empty directories.

use super::SourceError;
use super::zfs_cli;
use crate::rescue::journal::{Journal, RunHeader};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

/// The journal kind of a clone rescue.
pub const KIND: &str = "rescue-zfs";

const CAVEAT: &str = "read through a read-only clone of the snapshot, which adds a little \
     metadata to the damaged pool; it is destroyed when you are done";

/// A user of a mounted read-only clone; the clone is destroyed (and its journal finished)
/// when the last user is dropped.
#[derive(Debug, Clone)]
pub struct ZfsClone(Arc<MadeClone>);

/// Clones of this process by snapshot, while someone uses them.
static SHARED: Mutex<BTreeMap<String, Weak<MadeClone>>> = Mutex::new(BTreeMap::new());

impl ZfsClone {
    /// A read-only clone of `snapshot` (`dataset@snap`): the one this process has already,
    /// else a new one.
    pub fn open(dataset: &str, snapshot: &str) -> Result<Self, SourceError> {
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(made) = shared.get(snapshot).and_then(Weak::upgrade) {
            return Ok(Self(made));
        }
        let made = Arc::new(MadeClone::create(dataset, snapshot)?);
        shared.retain(|_, w| w.strong_count() > 0);
        shared.insert(snapshot.to_string(), Arc::downgrade(&made));
        Ok(Self(made))
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn mount_point(&self) -> &std::path::Path {
        &self.0.mount_point
    }

    /// Why this copy is not free.
    pub fn caveat(&self) -> &'static str {
        CAVEAT
    }
}

/// A clone this process made.
pub struct MadeClone {
    name: String,
    mount_point: PathBuf,
    journal: Option<Journal>,
}

impl MadeClone {
    /// Clones `snapshot` read-only as `<pool>/snaprescue-<run>`, mounted under the run
    /// directory (`/run/snaprescue`).
    fn create(dataset: &str, snapshot: &str) -> Result<Self, SourceError> {
        let pool = dataset.split('/').next().unwrap_or(dataset);
        let header = RunHeader::local(KIND, "zfs", snapshot, dataset);
        let name = format!("{pool}/snaprescue-{}", header.run);
        let mount_point = crate::ports::mount_record::run_dir().join(format!("zfs-{}", header.run));
        let journal = Journal::begin(header)?;
        journal.record(
            "clone",
            "start",
            json!({"clone": name, "mount_point": mount_point}),
        )?;
        let mut clone = Self {
            name,
            mount_point,
            journal: Some(journal),
        };
        let lock = serialized()?;
        zfs_cli::clone_read_only(snapshot, &clone.name, &clone.mount_point.to_string_lossy())?;
        if let Some(journal) = &clone.journal {
            journal.record("clone", "done", json!({"clone": clone.name}))?;
        }
        if !mounted(&clone.name, &clone.mount_point) {
            let error = SourceError::Refused(format!(
                "the clone {} of {snapshot} was not mounted at {}",
                clone.name,
                clone.mount_point.display()
            ));
            drop(lock);
            clone.destroy();
            return Err(error);
        }
        Ok(clone)
    }

    fn destroy(&mut self) {
        let Some(journal) = self.journal.take() else {
            return;
        };
        let _ = journal.record("destroy", "start", json!({"clone": self.name}));
        match destroy_clone(&self.name, &self.mount_point) {
            Ok(()) => {
                let _ = journal.record("destroy", "done", json!({}));
                let _ = journal.finish("done");
            }
            Err(e) => {
                tracing::warn!(clone = %self.name, error = %e, "clone left for `snaprescue cleanup`")
            }
        }
    }
}

impl std::fmt::Debug for MadeClone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MadeClone")
            .field("name", &self.name)
            .field("mount_point", &self.mount_point)
            .finish()
    }
}

impl Drop for MadeClone {
    fn drop(&mut self) {
        self.destroy();
    }
}

/// Waits (up to 10 s) until `clone` shows in the mount table at `mount_point`: zfs-fuse
/// answers `zfs clone` before its mount is there, and an empty directory read meanwhile
/// would look like a snapshot without the lost files.
fn mounted(clone: &str, mount_point: &std::path::Path) -> bool {
    let started = std::time::Instant::now();
    loop {
        let there = crate::ports::mounts::MountTable::read().is_ok_and(|t| {
            t.entries
                .iter()
                .any(|m| m.source == clone && m.mount_point == mount_point)
        });
        if there || started.elapsed() > std::time::Duration::from_secs(10) {
            return there;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Destroys the clone (gone already counts as done) and removes its empty mount point.
pub fn destroy_clone(name: &str, mount_point: &std::path::Path) -> Result<(), SourceError> {
    // Only a clone snaprescue named: never anything else in the pool.
    if !name
        .rsplit('/')
        .next()
        .is_some_and(|n| n.starts_with("snaprescue-sr-"))
    {
        return Err(SourceError::Refused(format!(
            "{name} is not a clone snaprescue made; left alone"
        )));
    }
    let _lock = serialized()?;
    zfs_cli::destroy(name)?;
    let _ = std::fs::remove_dir(mount_point);
    Ok(())
}

/// Clones are made and destroyed one at a time on this machine (a lock file in the run
/// directory, held until the mount shows or the clone is gone): zfs-fuse stopped answering
/// every FUSE request when four processes made clones at once.
fn serialized() -> Result<nix::fcntl::Flock<std::fs::File>, SourceError> {
    let dir = crate::ports::mount_record::run_dir();
    std::fs::create_dir_all(&dir)
        .map_err(SourceError::io(format!("cannot create {}", dir.display())))?;
    let path = dir.join("zfs-clone.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(SourceError::io(format!("cannot open {}", path.display())))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| SourceError::io(format!("cannot lock {}", path.display()))(e.into()))
}
