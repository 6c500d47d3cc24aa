//! Prevention on every cloud, written once over the provider contract: the audit's facts
//! (the disk's snapshots, the automatic policies that cover it, encryption, copies in other
//! regions, whether PATH is on this machine's system disk) and the pre-run snapshot
//! (created with its tags, waited for on request, kept `--keep-days` through the
//! provider's pin: a lock, a retention, a deadline).

use super::cloud::CloudSource;
use super::{Snapshot, SnapshotStatus, SourceError};
use crate::protect::{Fact, ProtectionFacts, SnapshotRequest, TakenSnapshot};
use crate::providers::CloudError;
use crate::rescue::{Watch, cloud_wait, wait_until};

fn fact<T>(answer: Result<T, CloudError>) -> Fact<T> {
    match answer {
        Ok(v) => Fact::Known(v),
        Err(e) => Fact::Unknown(e.to_string()),
    }
}

/// The snapshots a copy elsewhere is looked for: the newest five completed ones.
fn recent(snapshots: &[Snapshot]) -> Vec<Snapshot> {
    let mut done: Vec<Snapshot> = snapshots
        .iter()
        .filter(|s| s.status == SnapshotStatus::Completed)
        .cloned()
        .collect();
    done.sort_by_key(|s| std::cmp::Reverse(s.created));
    done.truncate(5);
    done
}

pub fn facts(
    source: &CloudSource,
    snapshots: Vec<Snapshot>,
) -> Result<ProtectionFacts, SourceError> {
    let place = &source.place;
    let here = place
        .this_instance
        .as_ref()
        .is_some_and(|i| place.disk.attached_to.contains(i));
    let mut facts = disk_facts(
        source.provider(),
        &place.disk,
        here.then_some(place.path.as_path()),
        snapshots,
    );
    facts.target = crate::sources::SnapshotSource::describe(source);
    Ok(facts)
}

/// The facts of `disk` (any disk of the account; `path` where it is mounted on this
/// machine, when it is) over its `snapshots`.
pub fn disk_facts(
    provider: &dyn crate::providers::CloudProvider,
    disk: &super::cloud_disk::CloudDisk,
    path: Option<&std::path::Path>,
    snapshots: Vec<Snapshot>,
) -> ProtectionFacts {
    let id = &disk.id;
    let on_system_disk = match (provider.is_system_disk(id), path) {
        (Ok(Some(system)), _) => Fact::Known(system),
        (_, Some(path)) => super::btrfs_protect::on_system_disk(path),
        (Err(e), None) => Fact::Unknown(e.to_string()),
        (Ok(None), None) => Fact::Unknown(format!(
            "{id} is not attached to the machine this runs on: run `protect` there"
        )),
    };
    ProtectionFacts {
        source: provider.name().into(),
        target: format!("{} {id}", provider.noun()),
        policies: fact(provider.auto_policies(id)),
        encryption: fact(provider.encryption(id)),
        cross_region_copy: fact(provider.cross_region_copy(id, &recent(&snapshots))),
        on_system_disk,
        snapshots,
    }
}

pub fn take(
    source: &CloudSource,
    request: &SnapshotRequest,
    watch: &Watch,
) -> Result<TakenSnapshot, SourceError> {
    request.validate().map_err(SourceError::Refused)?;
    let provider = source.provider();
    let disk = &source.place.disk.id;
    let tags = request.all_tags();
    watch.say(&format!("taking snapshot {} of {disk}", request.name));
    let (id, retained) =
        provider.create_named_snapshot(disk, &request.name, &tags, request.keep_days)?;
    // Without a retention of its own it is locked once it exists whole.
    let lock_days = request.keep_days.filter(|_| retained.is_none());
    let mut status = SnapshotStatus::InProgress;
    if request.wait || lock_days.is_some() {
        wait_until(
            &format!("snapshot {id} to complete"),
            cloud_wait(3600),
            &format!("it goes on in the cloud: `snaprescue snapshots` shows {id} when done"),
            watch,
            || match provider.snapshot_status(&id)? {
                Some(SnapshotStatus::Completed) => Ok(Some(())),
                Some(SnapshotStatus::Failed) => Err(crate::rescue::RescueError::Refused(format!(
                    "snapshot {id} failed in the cloud"
                ))),
                _ => Ok(None),
            },
        )?;
        status = SnapshotStatus::Completed;
    } else if let Some(now) = provider.snapshot_status(&id)? {
        status = now;
    }
    let mut kept = retained;
    if let Some(days) = lock_days {
        let listed = provider.list_snapshots(disk)?;
        let snapshot = listed.iter().find(|s| s.id == id).ok_or_else(|| {
            SourceError::Refused(format!(
                "snapshot {id} was made but is not listed for {disk}"
            ))
        })?;
        let prior = provider.pin_prior(snapshot, days)?;
        kept = Some(match &prior.not_needed {
            Some(why) => why.clone(),
            None => format!(
                "{} ({} snapshots have no retention of their own)",
                provider.pin(snapshot, days, &prior)?.did,
                provider.noun()
            ),
        });
    }
    Ok(TakenSnapshot {
        id,
        source: provider.name().into(),
        name: request.name.clone(),
        tags: tags.into_iter().collect(),
        status,
        kept,
        notes: vec![],
    })
}
