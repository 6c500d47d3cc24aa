//! The EBS rollback plans behind the contract's one interface: a data volume is swapped for
//! a new volume made from the snapshot, a root volume is replaced by EC2's own task; in both
//! the old volume is kept, so EBS needs no guard snapshot. `cleanup` finishes either from
//! its journal kind.

use super::provider::AwsProvider;
use super::rollback::{self, Target};
use crate::providers::RollbackFlow;
use crate::rescue::journal::{Journal, RunRecord};
use crate::rescue::{RescueError, Watch};
use crate::sources::RollbackOutcome;
use crate::sources::cloud_disk::DiskPlace;
use std::path::PathBuf;

/// The journal kind of a data-volume swap.
pub const DATA_SWAP: &str = "rollback-aws-data";
/// The journal kind of a root-volume replacement.
pub const ROOT_REPLACE: &str = "rollback-aws-root";

struct EbsRollback<'a> {
    aws: &'a AwsProvider,
    target: Target,
}

/// The plan for the volume at `place`: how it is attached decides which.
pub fn choose<'a>(
    aws: &'a AwsProvider,
    place: &'a DiskPlace,
) -> Result<Box<dyn RollbackFlow + 'a>, RescueError> {
    let target = rollback::target(aws, &place.disk.id, &place.path)?;
    Ok(Box::new(EbsRollback { aws, target }))
}

impl RollbackFlow for EbsRollback<'_> {
    fn words(&self) -> (String, String) {
        crate::providers::CloudProvider::rollback_words(self.aws, &self.target.volume)
    }

    fn plan(&self, snapshot: &str, _keep_guard: bool) -> Result<Vec<String>, RescueError> {
        Ok(rollback::plan(&self.target, snapshot))
    }

    /// The old volume is always kept: EBS rollback never deletes it.
    fn run(
        &self,
        snapshot: &str,
        _keep_guard: bool,
        watch: &Watch,
    ) -> Result<RollbackOutcome, RescueError> {
        let t = &self.target;
        if t.root {
            let task = rollback::root_volume(self.aws, t, snapshot, watch)?;
            return Ok(RollbackOutcome {
                replaced: PathBuf::from(&t.volume),
                snapshot: snapshot.to_string(),
                guard: Some(PathBuf::from(&t.volume)),
                undo: format!(
                    "root volume of {} replaced by task {task}; the old root {} is kept: replace the \
                     root volume again from a snapshot of it to go back",
                    t.instance, t.volume
                ),
                notes: Vec::new(),
            });
        }
        let new = rollback::data_volume(self.aws, t, snapshot, watch)?;
        Ok(RollbackOutcome {
            replaced: t
                .mount_point
                .clone()
                .unwrap_or_else(|| PathBuf::from(&t.volume)),
            snapshot: snapshot.to_string(),
            guard: Some(PathBuf::from(&t.volume)),
            undo: format!(
                "unmount, detach {new}, attach the kept volume {} at {} on {}, mount it again",
                t.volume, t.device, t.instance
            ),
            notes: Vec::new(),
        })
    }
}

/// Finishes an interrupted EBS rollback of either kind.
pub fn finish(
    aws: &AwsProvider,
    run: &RunRecord,
    journal: &Journal,
    watch: &Watch,
) -> Result<String, RescueError> {
    match run.header.kind.as_str() {
        DATA_SWAP => super::rollback_finish::finish_data(aws, run, journal, watch),
        ROOT_REPLACE => super::rollback_finish::finish_root(aws, journal, watch),
        other => Err(RescueError::Refused(format!(
            "journal {} has a kind of run AWS does not know: `{other}`",
            run.path.display()
        ))),
    }
}
