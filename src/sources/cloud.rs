//! The snapshot source of every cloud, written once over the provider contract: the disk
//! behind PATH (by serial, `--disk`, or the instance's only disk), its snapshots, a rescue
//! disk to read one, and the rollback plan its provider chooses.

use super::cloud_disk::DiskPlace;
use super::{
    CloudOptions, OpenedSnapshot, PinDone, PinPrior, RollbackOutcome, Snapshot, SnapshotSource,
    SourceError, Unpinned,
};
use crate::providers::{CloudProvider, ProviderEntry};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct CloudSource {
    provider: Arc<dyn CloudProvider>,
    pub place: DiskPlace,
}

impl CloudSource {
    /// `Ok(None)` when `entry`'s cloud is neither this machine's (DMI) nor asked for.
    pub fn detect(
        entry: &ProviderEntry,
        path: &Path,
        options: &CloudOptions,
    ) -> Result<Option<Self>, SourceError> {
        let asked = options.source.as_deref() == Some(entry.name);
        if !asked && crate::providers::dmi::this_machine() != Some(entry.dmi) {
            return Ok(None);
        }
        let provider = (entry.connect)(options)?;
        let place = DiskPlace::find(provider.as_ref(), path, options)?;
        Ok(Some(Self { provider, place }))
    }

    pub fn provider(&self) -> &dyn CloudProvider {
        self.provider.as_ref()
    }
}

impl SnapshotSource for CloudSource {
    fn name(&self) -> &'static str {
        self.provider.name()
    }

    fn describe(&self) -> String {
        self.place.describe(self.provider.as_ref())
    }

    fn rollback_target(&self) -> String {
        self.place.disk.id.clone()
    }

    fn rollback_words(&self) -> super::RollbackWords {
        // Said by the flow that would run; the provider's general words when none can be
        // chosen now (the refusal is shown when the rollback is asked for).
        let (kept, how_kept) = match self.provider.rollback_flow(&self.place) {
            Ok(flow) => flow.words(),
            Err(_) => self.provider.rollback_words(&self.place.disk.id),
        };
        super::RollbackWords {
            noun: self.provider.noun().into(),
            kept,
            how_kept,
        }
    }

    fn live_root(&self) -> Option<PathBuf> {
        self.place.live_root()
    }

    fn list(&self) -> Result<Vec<Snapshot>, SourceError> {
        Ok(self.provider.list_snapshots(&self.place.disk.id)?)
    }

    fn open(
        &self,
        snapshot: &Snapshot,
        watch: &crate::rescue::Watch,
    ) -> Result<OpenedSnapshot, SourceError> {
        self.place.open(self.provider.clone(), snapshot, watch)
    }

    fn rollback_plan(
        &self,
        snapshot: &Snapshot,
        keep_guard: bool,
    ) -> Result<Vec<String>, SourceError> {
        let flow = self.provider.rollback_flow(&self.place)?;
        Ok(flow.plan(&snapshot.id, keep_guard)?)
    }

    fn rollback(
        &self,
        snapshot: &Snapshot,
        confirm: &str,
        keep_guard: bool,
        watch: &crate::rescue::Watch,
    ) -> Result<RollbackOutcome, SourceError> {
        super::check_confirmation(confirm, &self.place.disk.id, self.provider.noun())?;
        let flow = self.provider.rollback_flow(&self.place)?;
        Ok(flow.run(&snapshot.id, keep_guard, watch)?)
    }

    fn pin_prior(&self, snapshot: &Snapshot, days: u32) -> Result<PinPrior, SourceError> {
        Ok(self.provider.pin_prior(snapshot, days)?)
    }

    fn pin(
        &self,
        snapshot: &Snapshot,
        days: u32,
        prior: &PinPrior,
    ) -> Result<PinDone, SourceError> {
        Ok(self.provider.pin(snapshot, days, prior)?)
    }

    fn unpin(
        &self,
        snapshot: &Snapshot,
        prior: &PinPrior,
        done: &PinDone,
    ) -> Result<Unpinned, SourceError> {
        Ok(self.provider.unpin(snapshot, prior, done)?)
    }
    fn protection(
        &self,
        snapshots: Vec<Snapshot>,
    ) -> Result<crate::protect::ProtectionFacts, SourceError> {
        super::cloud_protect::facts(self, snapshots)
    }

    fn take_snapshot(
        &self,
        request: &crate::protect::SnapshotRequest,
        watch: &crate::rescue::Watch,
    ) -> Result<crate::protect::TakenSnapshot, SourceError> {
        super::cloud_protect::take(self, request, watch)
    }

    fn apply_policy(
        &self,
        schedule: &crate::protect::Schedule,
    ) -> Result<crate::protect::PolicyApplied, SourceError> {
        Ok(self.provider.apply_policy(&self.place.disk.id, schedule)?)
    }
}
