//! Each check's passing and failing case, from facts alone.

use super::*;
use crate::protect::{Encryption, Keep};
use crate::sources::{Retention, Snapshot};
use chrono::TimeZone;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
}

fn snap(id: &str, hours_ago: i64) -> Snapshot {
    Snapshot {
        id: id.into(),
        source: "btrfs".into(),
        name: format!("snap {id}"),
        created: Some(now() - Duration::hours(hours_ago)),
        status: SnapshotStatus::Completed,
        read_only: true,
        path: id.into(),
        layout: "snapper".into(),
        description: None,
        retention: Retention::default(),
        cloud: None,
        pre_run: false,
    }
}

fn pre_run(mut s: Snapshot) -> Snapshot {
    s.pre_run = true;
    s
}

fn policy(every_h: i64, keep: Keep) -> Policy {
    Policy {
        name: "policy p".into(),
        every: Some(Duration::hours(every_h)),
        keep,
        disabled: None,
    }
}

fn facts() -> ProtectionFacts {
    ProtectionFacts {
        source: "btrfs".into(),
        target: "btrfs subvolume data".into(),
        snapshots: vec![snap("2", 3), pre_run(snap("1", 30))],
        policies: Fact::Known(vec![policy(12, Keep::For(Duration::days(3)))]),
        on_system_disk: Fact::Known(false),
        encryption: Fact::Known(Encryption {
            disk: true,
            by_default: Some(true),
        }),
        cross_region_copy: Fact::Known(Some("cn-shanghai".into())),
    }
}

fn by_id(f: &ProtectionFacts, id: &str) -> Check {
    audit(f, "/data/run 1", now())
        .into_iter()
        .find(|c| c.id == id)
        .unwrap()
}

#[test]
fn a_well_protected_disk_passes_every_check_in_the_stable_order() {
    let checks = audit(&facts(), "/data", now());
    let ids: Vec<_> = checks.iter().map(|c| c.id).collect();
    assert_eq!(ids, IDS);
    for c in &checks {
        assert!(
            matches!(c.status, CheckStatus::Ok | CheckStatus::Info),
            "{c:?}"
        );
        assert!(c.ran && c.fix.is_none(), "{c:?}");
    }
}

#[test]
fn no_snapshot_fails_and_an_old_one_warns_against_the_policy_period() {
    let mut f = facts();
    f.snapshots.clear();
    let c = by_id(&f, "snapshot-recent");
    assert_eq!(c.status, CheckStatus::Fail);
    assert_eq!(
        c.fix.as_deref(),
        Some("snaprescue snapshot '/data/run 1' --name pre-run --wait")
    );
    let mut f = facts();
    f.snapshots = vec![snap("1", 13)];
    let c = by_id(&f, "snapshot-recent");
    assert_eq!(c.status, CheckStatus::Warn, "{c:?}");
    assert!(c.message.contains("more than 12 h"), "{c:?}");
    // Without a policy the period is a day.
    f.policies = Fact::Known(vec![]);
    assert_eq!(by_id(&f, "snapshot-recent").status, CheckStatus::Ok);
}

#[test]
fn no_policy_or_a_disabled_one_fails_with_the_apply_fix() {
    let mut f = facts();
    f.policies = Fact::Known(vec![]);
    let c = by_id(&f, "auto-policy");
    assert_eq!(c.status, CheckStatus::Fail);
    assert_eq!(
        c.fix.as_deref(),
        Some("snaprescue protect '/data/run 1' --apply")
    );
    let mut off = policy(12, Keep::Newest(10));
    off.disabled = Some("its timer is disabled".into());
    f.policies = Fact::Known(vec![off]);
    let c = by_id(&f, "auto-policy");
    assert_eq!(c.status, CheckStatus::Fail);
    assert!(c.message.contains("its timer is disabled"), "{c:?}");
    assert_eq!(by_id(&f, "policy-schedule").status, CheckStatus::Fail);
}

#[test]
fn a_policy_that_could_not_be_read_is_a_check_that_did_not_run() {
    let mut f = facts();
    f.policies = Fact::Unknown("Forbidden.RAM: not allowed".into());
    for id in ["auto-policy", "policy-schedule"] {
        let c = by_id(&f, id);
        assert_eq!((c.status, c.ran), (CheckStatus::Fail, false), "{c:?}");
        assert!(c.message.contains("Forbidden.RAM"), "{c:?}");
    }
}

#[test]
fn the_schedule_is_held_against_the_seeds_table_for_data_and_system_disks() {
    let mut f = facts();
    // Kept by count: 6 snapshots 12 h apart is 3 days.
    f.policies = Fact::Known(vec![policy(12, Keep::Newest(6))]);
    assert_eq!(by_id(&f, "policy-schedule").status, CheckStatus::Ok);
    f.policies = Fact::Known(vec![policy(24, Keep::For(Duration::days(3)))]);
    let c = by_id(&f, "policy-schedule");
    assert_eq!(c.status, CheckStatus::Fail);
    assert!(
        c.message.contains("needs at least every 12 h, kept 3 d"),
        "{c:?}"
    );
    // A system disk: daily kept 7 days is enough, kept 3 days is not.
    f.on_system_disk = Fact::Known(true);
    f.policies = Fact::Known(vec![policy(24, Keep::For(Duration::days(7)))]);
    assert_eq!(by_id(&f, "policy-schedule").status, CheckStatus::Ok);
    f.policies = Fact::Known(vec![policy(24, Keep::For(Duration::days(3)))]);
    assert_eq!(by_id(&f, "policy-schedule").status, CheckStatus::Fail);
    assert_eq!(by_id(&f, "data-on-system-disk").status, CheckStatus::Warn);
}

#[test]
fn checks_that_mean_nothing_on_a_source_say_so_as_info() {
    let mut f = facts();
    f.encryption = Fact::NotApplicable("btrfs has no encryption of its own".into());
    f.cross_region_copy = Fact::NotApplicable("a local disk has no regions".into());
    for id in ["encryption", "cross-region-copy"] {
        let c = by_id(&f, id);
        assert_eq!(c.status, CheckStatus::Info, "{c:?}");
        assert!(c.message.starts_with("not applicable here: "), "{c:?}");
    }
}

#[test]
fn encryption_and_copies_warn_when_missing() {
    let mut f = facts();
    f.encryption = Fact::Known(Encryption {
        disk: false,
        by_default: None,
    });
    assert_eq!(by_id(&f, "encryption").status, CheckStatus::Warn);
    f.encryption = Fact::Known(Encryption {
        disk: true,
        by_default: Some(false),
    });
    assert!(by_id(&f, "encryption").message.contains("by default"));
    f.cross_region_copy = Fact::Known(None);
    assert_eq!(by_id(&f, "cross-region-copy").status, CheckStatus::Warn);
}

#[test]
fn the_pre_run_snapshot_is_found_by_id_and_missing_one_warns_with_the_command() {
    let f = facts();
    let c = by_id(&f, "pre-run-snapshot");
    assert_eq!(c.status, CheckStatus::Ok);
    assert!(
        c.message.contains("snap 1") && c.message.contains("30 h ago"),
        "{c:?}"
    );
    let mut f = facts();
    f.snapshots[1].pre_run = false;
    let c = by_id(&f, "pre-run-snapshot");
    assert_eq!(c.status, CheckStatus::Warn);
    assert!(c.fix.unwrap().starts_with("snaprescue snapshot"));
}

#[test]
fn expiry_says_when_the_oldest_snapshot_goes() {
    let mut f = facts();
    f.snapshots[1].retention.expires = Some(now() + Duration::hours(5));
    let c = by_id(&f, "expiry");
    assert_eq!(c.status, CheckStatus::Info);
    assert!(
        c.message.contains("snap 1") && c.message.contains("in 5 h"),
        "{c:?}"
    );
    f.snapshots[1].retention = Retention {
        expiry_rule: Some("snapper timeline cleanup".into()),
        ..Default::default()
    };
    assert!(
        by_id(&f, "expiry")
            .message
            .contains("snapper timeline cleanup")
    );
    f.snapshots[1].retention.pinned = true;
    assert!(by_id(&f, "expiry").message.contains("pinned"));
}
