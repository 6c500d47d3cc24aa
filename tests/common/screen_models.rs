//! Wizard models as the screens see them, and rendering them on a TestBackend.

use chrono::{TimeZone, Utc};
use ratatui::{Terminal, backend::TestBackend};
use snaprescue::engine::diff::{DiffEntry, EntryKind, EntryStatus, LostCounts, TreeDiff};
use snaprescue::ports::gpu::{DriverPids, GpuDevice, GpuProcess, GpuStatus};
use snaprescue::ports::processes::{DeletedOpen, ProcessUse, Usage};
use snaprescue::sources::{Snapshot, SnapshotStatus};
use snaprescue::wizard::picker::Picker;
use snaprescue::wizard::*;

/// The screen at 80x24 (a plain SSH session) as text.
pub fn render(model: &Model) -> String {
    render_at(model, 80, 24)
}

/// The screen at `width` x `height` as text.
pub fn render_at(model: &Model, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| snaprescue::ui::draw(f, model)).unwrap();
    terminal.backend().to_string()
}

/// A training job writing to the disk, holding a deleted checkpoint, using the GPU.
pub fn trainer() -> ProcessUse {
    ProcessUse {
        pid: 4242,
        start_time: 1,
        uid: 0,
        command: "python train.py --epochs 90".into(),
        state: 'S',
        exe: Some("/usr/bin/python3".into()),
        usages: vec![
            Usage::Cwd,
            Usage::Open {
                path: "/data/run/logs/train.log".into(),
                writing: true,
            },
        ],
        deleted_open: vec![DeletedOpen {
            path: "/data/run/ckpt/epoch_30.pth".into(),
            handle: "/proc/4242/fd/7".into(),
            size: 3 << 20,
        }],
        write_bytes: Some(10 << 20),
        ppid: 1,
        cgroup: Some("/system.slice/train.service".into()),
        container: None,
        python_env: vec![("CONDA_PREFIX".into(), "/opt/conda/envs/train".into())],
        gpu_files: vec!["/dev/nvidia0".into()],
        python: Some("/opt/conda/envs/train/bin/python".into()),
        other_root: false,
        launcher: false,
    }
}

/// A wizard that has seen writers, the GPU and two btrfs snapshots.
pub fn model() -> Model {
    let mut m = Model::new("/data/run/ckpt".into());
    let mut shell = trainer();
    shell.pid = 977;
    shell.command = "-bash".into();
    shell.usages = vec![Usage::Cwd];
    shell.deleted_open.clear();
    shell.gpu_files.clear();
    m.writers.loaded = true;
    m.writers.processes = vec![trainer(), shell];
    m.writers.rates.insert(4242, 1_500_000.0);
    m.gpu = Some(GpuStatus::Available {
        driver: "550.54.15".into(),
        via: "NVML".into(),
        pids: DriverPids::Ours,
        devices: vec![GpuDevice {
            index: 0,
            name: "NVIDIA H200".into(),
            uuid: "GPU-1".into(),
            memory_used: 40 << 30,
            memory_total: 141 << 30,
            utilization_percent: Some(97),
            temperature_c: Some(61),
            power_watts: Some(512.0),
            processes: vec![GpuProcess {
                pid: 4242,
                used_memory: Some(39012 << 20),
                kind: "compute",
                mig_instance: None,
            }],
            error: None,
        }],
    });
    let snap = |id: &str, h: u32, name: &str| Snapshot {
        id: id.into(),
        source: "btrfs".into(),
        name: name.into(),
        created: Some(Utc.with_ymd_and_hms(2026, 11, 28, h, 0, 0).unwrap()),
        status: SnapshotStatus::Completed,
        read_only: true,
        path: format!("data/.snapshots/{id}/snapshot").into(),
        layout: "snapper".into(),
        description: None,
        retention: Default::default(),
        cloud: None,
        pre_run: false,
    };
    m.snapshots.listing = Some(SnapshotListing {
        source: "btrfs subvolume data (id 256) on /dev/loop3".into(),
        rollback_targets: vec![("btrfs".into(), "data".into())],
        rollback_words: vec![],
        snapshots: vec![
            snap("259", 9, "snapper #2: daily-backup"),
            snap("258", 2, "snapper #1: timeline"),
        ],
        deleted_at: Some(Utc.with_ymd_and_hms(2026, 11, 28, 11, 30, 0).unwrap()),
        recommended: Some(0),
        recommend_reason: "newest completed snapshot before the deletion estimate".into(),
    });
    m.snapshots.lost.insert(
        "259".into(),
        Ok(LostCounts {
            entries: 4,
            bytes: 3 << 20,
        }),
    );
    m.snapshots.chosen = Some("259".into());
    m
}

/// [`model`] at step 5 with a small snapshot tree, one directory selected.
pub fn picker_model() -> Model {
    let mut m = model();
    m.step = Step::Restore;
    let e = |p: &str, kind, size, status| DiffEntry {
        path: p.into(),
        kind,
        size,
        mtime: 0,
        status,
    };
    let tree = TreeDiff {
        entries: vec![
            e(
                "epoch_10.pth",
                EntryKind::File,
                1 << 20,
                EntryStatus::Deleted,
            ),
            e(
                "epoch_20.pth",
                EntryKind::File,
                1 << 20,
                EntryStatus::Deleted,
            ),
            e("old", EntryKind::Dir, 0, EntryStatus::Deleted),
            e(
                "old/epoch_5.pth",
                EntryKind::File,
                512 << 10,
                EntryStatus::Deleted,
            ),
            e("notes.txt", EntryKind::File, 12, EntryStatus::Changed),
        ],
        unreadable: vec![],
    };
    let mut p = Picker::new("259".into(), tree, "/data/run/ckpt".into(), 400 << 20);
    p.move_cursor(2);
    p.set_expanded(true);
    p.toggle_selected();
    m.picker = Some(p);
    m
}

/// What pinning snapshot `id` (snapper's) answered.
pub fn pinned(id: &str) -> snaprescue::pinning::PinOutcome {
    snaprescue::pinning::PinOutcome {
        snapshot: id.into(),
        source: "btrfs".into(),
        changed: true,
        said: "cleared the cleanup algorithm (timeline) of snapper #2 (info.xml): no snapper \
               cleanup removes it"
            .into(),
        until: None,
        unpin: Some(format!("snaprescue unpin /data/run/ckpt --snapshot {id}")),
    }
}

/// [`model`] at step 3 with one snapshot snapper's timeline cleanup may delete and a cloud
/// snapshot its policy deletes in a little over 5 hours.
pub fn at_risk_model() -> Model {
    let mut m = model();
    m.step = Step::Snapshots;
    let listing = m.snapshots.listing.as_mut().unwrap();
    listing.snapshots[1].retention.expiry_rule = Some("snapper timeline cleanup".into());
    let mut ebs = listing.snapshots[0].clone();
    ebs.id = "snap-0a1b2c3d4e5f60718".into();
    ebs.source = "aws".into();
    ebs.name = "nightly".into();
    ebs.created = Some(Utc.with_ymd_and_hms(2026, 11, 28, 6, 0, 0).unwrap());
    ebs.retention.expires = Some(Utc::now() + chrono::Duration::minutes(5 * 60 + 30));
    ebs.retention.expiry_rule = Some("DLM policy policy-0abc".into());
    ebs.cloud = Some(snaprescue::sources::CloudDetails {
        disk_id: "vol-0123456789abcdef0".into(),
        size_gib: 500,
        progress: "100%".into(),
        ..Default::default()
    });
    listing.snapshots.insert(1, ebs);
    m
}

/// The audit of an unprotected btrfs subvolume, as `protect` makes it (real checks).
pub fn unprotected_audit() -> snaprescue::protect::run::SourceAudit {
    use snaprescue::protect::*;
    let facts = ProtectionFacts {
        source: "btrfs".into(),
        target: "btrfs subvolume data (id 256) on /dev/vdb".into(),
        snapshots: model().snapshots.listing.unwrap().snapshots,
        policies: Fact::Known(vec![]),
        on_system_disk: Fact::Known(false),
        encryption: Fact::NotApplicable("btrfs has no encryption of its own".into()),
        cross_region_copy: Fact::NotApplicable("a local filesystem has no regions".into()),
    };
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    snaprescue::protect::run::SourceAudit {
        source: "btrfs".into(),
        target: facts.target.clone(),
        confirm: "data".into(),
        checks: audit(&facts, "/data/run/ckpt", now),
    }
}
