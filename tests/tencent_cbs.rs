//! Tencent Cloud CBS through the real binary against the stand-in (tests/servers/
//! tencent_cbs.py: every TC3 signature checked by the official signer, real response shapes,
//! disks walking through their states), with the disk harness presenting attached disks as
//! loop devices by virtio serial: listing over pages through throttling and lost answers,
//! times read as UTC+8, the CVM role's keys, a rescue restore byte-identical with its disk
//! terminated (also after crashes), and a system-disk snapshot refused with the image route.

mod common;

use common::cbs_lab::*;
use common::privileged;
use serde_json::json;

#[test]
fn lists_every_page_in_china_standard_time_through_throttling_and_lost_answers() {
    if !privileged() {
        return;
    }
    let Some(cbs) = start(json!({"faults": ["throttle", "lost", "internal"]})) else {
        return;
    };
    let mut args = vec!["snapshots", cbs.live.to_str().unwrap(), "--json"];
    args.extend(cloud_args());
    let (code, doc, stderr) = cbs.run(&args, &[("SNAPRESCUE_TENCENT_PAGE_SIZE", "3")]);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    let listed = doc["snapshots"].as_array().unwrap();
    let mut ids: Vec<&str> = listed.iter().map(|s| s["id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(
        ids,
        [SNAPSHOT, "snap-data0002", "snap-data0003", "snap-data0004"],
        "all pages of 3, and not the system disk's snapshot"
    );
    let newest = listed.iter().find(|s| s["id"] == SNAPSHOT).unwrap();
    assert_eq!(newest["source"], "tencent");
    assert_eq!(newest["layout"], "cbs");
    assert_eq!(newest["status"], "completed");
    assert_eq!(newest["progress"], "100%");
    assert_eq!(
        newest["created"], "2026-11-27T02:00:00+00:00",
        "10:00 UTC+8"
    );
    assert_eq!(
        newest["expires"], "2026-12-27T02:00:00Z",
        "DeadlineTime, UTC+8"
    );
    assert_eq!(newest["recommended"], true, "{doc}");
    let permanent = listed.iter().find(|s| s["id"] == "snap-data0002").unwrap();
    assert_eq!(permanent["expires"], serde_json::Value::Null);
    let pages = cbs.calls("DescribeSnapshots");
    assert!(pages.iter().any(|p| p["Offset"] == 3), "paged: {pages:?}");
    assert!(pages.iter().all(|p| p["Filters"][0]["Values"][0] == DISK));
}

#[test]
fn a_wrong_secret_is_refused_with_advice_and_the_cvm_role_keys_work() {
    if !privileged() {
        return;
    }
    let role = json!({"role": {"name": "gpu-rescue", "id": "AKIDtmpRole01", "key": "tmp-key", "token": "tmp-token-1"}});
    let Some(cbs) = start(role) else { return };
    let mut args = vec!["snapshots", cbs.live.to_str().unwrap(), "--json"];
    args.extend(cloud_args());
    let (code, doc, _) = cbs.run(&args, &[("TENCENTCLOUD_SECRET_KEY", "wrong")]);
    assert_eq!(code, Some(1));
    let error = doc["error"].as_str().unwrap();
    assert!(
        error.contains("AuthFailure.SignatureFailure") && error.contains("SecretKey"),
        "{error}"
    );
    // No keys anywhere: the CVM role's temporary keys (and token) from the metadata service.
    let (code, doc, stderr) = cbs.run_here(
        &args,
        &[
            ("TENCENTCLOUD_SECRET_ID", ""),
            ("TENCENTCLOUD_SECRET_KEY", ""),
        ],
    );
    assert_eq!(code, Some(0), "{doc} {stderr}");
    assert_eq!(doc["snapshots"].as_array().unwrap().len(), 4);
    // The SDK's credentials file, readable by others: used, and warned about.
    let file = cbs.home.path().join(".tencentcloud/credentials");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        format!("[default]\nsecret_id = {SECRET_ID}\nsecret_key = {SECRET_KEY}\n"),
    )
    .unwrap();
    let (code, doc, stderr) = cbs.run(
        &args,
        &[
            ("TENCENTCLOUD_SECRET_ID", ""),
            ("TENCENTCLOUD_SECRET_KEY", ""),
        ],
    );
    assert_eq!(code, Some(0), "{doc} {stderr}");
    assert!(stderr.contains("readable by group or others"), "{stderr}");
    assert!(!stderr.contains(SECRET_KEY) && !doc.to_string().contains(SECRET_KEY));
}

#[test]
fn restores_through_a_rescue_disk_even_when_answers_are_lost_and_terminates_it() {
    if !privileged() {
        return;
    }
    let lost = json!({"lose_once": {"CreateDisks": true, "AttachDisks": true}});
    let Some(cbs) = start(lost) else { return };
    let path = cbs.path("ckpt");
    let mut args = vec![
        "restore",
        path.to_str().unwrap(),
        "--snapshot",
        SNAPSHOT,
        "--json",
    ];
    args.extend(cloud_args());
    args.extend(["--attach-to", INSTANCE]);
    let (code, doc, stderr) = cbs.run(&args, &[]);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    assert_eq!(
        std::fs::read(cbs.path("ckpt/model.safetensors")).unwrap(),
        cbs.checkpoint
    );
    assert_eq!(doc["rescue"]["removed"], true, "{doc}");
    let creates = cbs.calls("CreateDisks");
    assert_eq!(creates.len(), 2, "the lost answer was asked again");
    assert_eq!(creates[0]["ClientToken"], creates[1]["ClientToken"]);
    let create = &creates[0];
    assert_eq!(create["DiskChargeType"], "POSTPAID_BY_HOUR");
    assert_eq!(
        create["DiskType"], "CLOUD_PREMIUM",
        "the source disk's type"
    );
    assert_eq!(create["Placement"]["Zone"], ZONE);
    assert!(create["Tags"].to_string().contains("snaprescue-run"));
    let actions = cbs.actions();
    let order: Vec<&str> = actions
        .iter()
        .map(String::as_str)
        .filter(|a| {
            [
                "CreateDisks",
                "AttachDisks",
                "DetachDisks",
                "TerminateDisks",
            ]
            .contains(a)
        })
        .collect();
    assert_eq!(
        order,
        [
            "CreateDisks",
            "CreateDisks",
            "AttachDisks",
            "AttachDisks",
            "DetachDisks",
            "TerminateDisks"
        ]
    );
    cbs.assert_only_the_live_disk_left("restore");
}

#[test]
fn a_system_disk_snapshot_is_refused_with_the_image_route() {
    if !privileged() {
        return;
    }
    let Some(cbs) = start(json!({})) else { return };
    let path = cbs.path("ckpt");
    let args = [
        "restore",
        path.to_str().unwrap(),
        "--snapshot",
        SYSTEM_SNAPSHOT,
        "--json",
        "--source",
        "tencent",
        "--region",
        "ap-guangzhou",
        "--disk",
        SYSTEM_DISK,
        "--attach-to",
        INSTANCE,
    ];
    let (code, doc, _) = cbs.run(&args, &[]);
    assert_eq!(code, Some(1));
    let error = doc["error"].as_str().unwrap();
    assert!(
        error.contains("system-disk snapshot") && error.contains("custom image"),
        "{error}"
    );
    assert!(!cbs.actions().contains(&"CreateDisks".to_string()));
    cbs.assert_only_the_live_disk_left("refused");
}

#[test]
fn every_crash_point_of_a_rescue_is_cleaned_up() {
    if !privileged() {
        return;
    }
    for point in [
        "create:start",
        "create:done",
        "attach:done",
        "device:done",
        "mount:done",
    ] {
        let Some(cbs) = start(json!({})) else { return };
        let path = cbs.path("ckpt");
        let mut args = vec![
            "restore",
            path.to_str().unwrap(),
            "--snapshot",
            SNAPSHOT,
            "--json",
        ];
        args.extend(cloud_args());
        args.extend(["--attach-to", INSTANCE]);
        let (code, _, _) = cbs.run(&args, &[("SNAPRESCUE_CRASH_AT", point)]);
        assert_eq!(code, None, "{point}: killed");
        let (code, doc, stderr) = cbs.run(&["cleanup", "--json"], &[]);
        assert_eq!(code, Some(0), "{point}: {doc} {stderr}");
        assert_eq!(doc["runs"][0]["ok"], true, "{point}: {doc}");
        cbs.assert_only_the_live_disk_left(point);
        let (_, again, _) = cbs.run(&["cleanup", "--json"], &[]);
        assert_eq!(
            again["runs"],
            json!([]),
            "{point}: a second cleanup has nothing to do"
        );
    }
}

#[test]
fn deleted_names_what_the_snapshot_holds_and_the_live_disk_lost() {
    if !privileged() {
        return;
    }
    let Some(cbs) = start(json!({})) else { return };
    let mut args = vec![
        "deleted",
        cbs.live.to_str().unwrap(),
        "--snapshot",
        SNAPSHOT,
        "--json",
    ];
    args.extend(cloud_args());
    args.extend(["--attach-to", INSTANCE]);
    let (code, doc, stderr) = cbs.run(&args, &[]);
    assert_eq!(code, Some(0), "{doc} {stderr}");
    let deleted = doc["deleted"].to_string();
    assert!(deleted.contains("ckpt/model.safetensors"), "{doc}");
    assert!(doc["changed"].to_string().contains("note.txt"), "{doc}");
    assert_eq!(doc["rescue"]["removed"], true, "{doc}");
    cbs.assert_only_the_live_disk_left("deleted");
}
