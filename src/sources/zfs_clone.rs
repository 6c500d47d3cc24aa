//! A read-only clone of a ZFS snapshot, for reading it where `.zfs/snapshot` does not exist
//! (zfs-fuse). Making it writes a little metadata to the (damaged) pool, which the screen
//! says; it is journaled before and after it is made and destroyed on drop, or by
//! `snaprescue cleanup` after a crash.

use super::SourceError;
use super::zfs_cli;
use crate::rescue::journal::{Journal, RunHeader};
use serde_json::json;
use std::path::PathBuf;

/// The journal kind of a clone rescue.
pub const KIND: &str = "rescue-zfs";

const CAVEAT: &str = "read through a read-only clone of the snapshot, which adds a little \
     metadata to the damaged pool; it is destroyed when you are done";

/// A mounted read-only clone, destroyed (and its journal finished) on drop.
pub struct ZfsClone {
    pub name: String,
    pub mount_point: PathBuf,
    journal: Option<Journal>,
}

impl ZfsClone {
    /// Clones `snapshot` (`dataset@snap`) read-only as `<pool>/snaprescue-<run>`, mounted
    /// under the run directory (`/run/snaprescue`).
    pub fn create(dataset: &str, snapshot: &str) -> Result<Self, SourceError> {
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
        zfs_cli::clone_read_only(snapshot, &clone.name, &clone.mount_point.to_string_lossy())?;
        if let Some(journal) = &clone.journal {
            journal.record("clone", "done", json!({"clone": clone.name}))?;
        }
        if !clone.mount_point.is_dir() {
            let error = SourceError::Refused(format!(
                "the clone {} of {snapshot} was not mounted at {}",
                clone.name,
                clone.mount_point.display()
            ));
            clone.destroy();
            return Err(error);
        }
        Ok(clone)
    }

    /// Why this copy is not free.
    pub fn caveat(&self) -> &'static str {
        CAVEAT
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

impl std::fmt::Debug for ZfsClone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZfsClone")
            .field("name", &self.name)
            .field("mount_point", &self.mount_point)
            .finish()
    }
}

impl Drop for ZfsClone {
    fn drop(&mut self) {
        self.destroy();
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
    zfs_cli::destroy(name)?;
    let _ = std::fs::remove_dir(mount_point);
    Ok(())
}
