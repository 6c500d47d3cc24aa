//! The provider contract answered by AWS against moto's EC2 server (signatures checked):
//! the guard snapshot a rollback takes is tagged with the run and reported complete through
//! the contract, a volume is found back from its NVMe serial, and a reset in place — which
//! EBS cannot do — is refused with what happens instead.

mod common;

use common::moto::{access_key, between, call, python, start_moto};
use snaprescue::providers::aws::AwsProvider;
use snaprescue::providers::aws::ec2::Ec2Client;
use snaprescue::providers::{CloudError, CloudProvider, GuardRequest, Identity};
use snaprescue::sources::SnapshotStatus;

#[test]
fn aws_guard_snapshots_serials_and_the_refused_reset_go_through_the_contract() {
    let Some(python) = python() else { return };
    let moto = start_moto(&python);
    let key = access_key(&moto);
    let (status, body) = call(
        &moto,
        &key,
        "ec2",
        &[
            ("Action", "CreateVolume"),
            ("Version", "2016-11-15"),
            ("AvailabilityZone", "us-east-1a"),
            ("Size", "8"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let volume = between(&body, "volumeId").to_string();
    let aws = AwsProvider {
        ec2: Ec2Client::new("us-east-1", key)
            .unwrap()
            .with_endpoint(&moto.url),
        identity: Identity::default(),
    };
    let provider: &dyn CloudProvider = &aws;

    let guard = provider
        .create_snapshot(&GuardRequest {
            disk: &volume,
            run: "sr-test-run-1",
            before_rollback_to: "snap-0123",
        })
        .unwrap();
    assert_eq!(
        provider.snapshot_status(&guard).unwrap(),
        Some(SnapshotStatus::Completed)
    );
    assert_eq!(
        provider.snapshot_status("snap-00000000deadbeef").unwrap(),
        None
    );
    let listed = provider.list_snapshots(&volume).unwrap();
    let taken = listed.iter().find(|s| s.id == guard).expect("guard listed");
    let tags = &taken.cloud.as_ref().unwrap().tags;
    assert!(tags.contains(&("snaprescue-run".into(), "sr-test-run-1".into())));
    assert!(tags.contains(&("snaprescue-guard".into(), "true".into())));
    assert_eq!(taken.layout, "ebs");
    assert_eq!(taken.source, "aws");

    let serial = &provider.serials(&volume)[0];
    assert_eq!(
        provider.disk_from_serial(serial, None).as_deref(),
        Some(volume.as_str())
    );
    match provider.reset_disk(&volume, &guard) {
        Err(e @ CloudError::Unsupported { .. }) => {
            assert!(e.to_string().contains("swaps it in"), "{e}")
        }
        other => panic!("EBS cannot reset in place: {other:?}"),
    }
}
