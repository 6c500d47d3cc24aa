//! What filesystem a block device holds, read from its superblock (no blkid needed), and
//! the read-only mount options that keep a rescue mount from writing to it (DESIGN rule 4):
//! `noload` for ext2/3/4, `norecovery,nouuid` for XFS; a btrfs clone whose fsid is already
//! mounted here needs the kernel's temp-fsid support, or it is refused.

use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A filesystem recognised by its magic number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsKind {
    /// ext2/3/4; `needs_recovery` when its journal was not replayed (a crash-consistent copy).
    Ext {
        needs_recovery: bool,
    },
    Xfs {
        uuid: String,
    },
    Btrfs {
        fsid: String,
        /// A log tree holds fsynced writes newer than the last commit (not replayed here).
        log_tree: bool,
    },
}

impl FsKind {
    /// The kernel's name for it.
    pub fn fs_type(&self) -> &'static str {
        match self {
            FsKind::Ext { .. } => "ext4",
            FsKind::Xfs { .. } => "xfs",
            FsKind::Btrfs { .. } => "btrfs",
        }
    }

    /// What a read-only rescue mount of this filesystem cannot show: the writes in its
    /// journal or log, which replaying would need a write to the disk (DESIGN rule 4).
    pub fn unreplayed_writes(&self) -> Option<String> {
        let consequence = "files written in the last seconds before the snapshot may be missing \
             or older here; a writable disk made from the same snapshot and mounted normally \
             (on another machine) replays them";
        match self {
            FsKind::Ext {
                needs_recovery: true,
            } => Some(format!(
                "the snapshot's ext4 journal was not replayed (mounted with noload): {consequence}"
            )),
            FsKind::Ext { .. } => None,
            // XFS keeps no clean flag in its superblock: only replaying the log would tell.
            FsKind::Xfs { .. } => Some(format!(
                "XFS log recovery is off on a rescue mount (norecovery), so if the snapshot was \
                 taken while files were being written, {consequence}"
            )),
            FsKind::Btrfs { log_tree: true, .. } => Some(format!(
                "the snapshot's btrfs log tree was not replayed (nologreplay): {consequence}"
            )),
            FsKind::Btrfs { .. } => None,
        }
    }
}

fn uuid(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Reads the superblock of `device`; `Ok(None)` when no known filesystem is there.
pub fn probe(device: &Path) -> std::io::Result<Option<FsKind>> {
    let file = std::fs::File::open(device)?;
    let mut head = vec![0u8; 0x10000 + 0x1000];
    let mut read = 0;
    // A short device (or a short read) leaves the rest zero: no magic matches there.
    while read < head.len() {
        match file.read_at(&mut head[read..], read as u64)? {
            0 => break,
            n => read += n,
        }
    }
    Ok(classify(&head))
}

/// The filesystem whose magic is in `head` (the first 68 KiB of a device).
pub fn classify(head: &[u8]) -> Option<FsKind> {
    let at = |offset: usize, len: usize| head.get(offset..offset + len);
    if at(0x10040, 8) == Some(b"_BHRfS_M") {
        return Some(FsKind::Btrfs {
            fsid: uuid(at(0x10020, 16)?),
            log_tree: at(0x10060, 8)? != [0u8; 8],
        });
    }
    if at(0, 4) == Some(b"XFSB") {
        return Some(FsKind::Xfs {
            uuid: uuid(at(32, 16)?),
        });
    }
    if at(1024 + 0x38, 2) == Some(&[0x53, 0xEF]) {
        let incompat = u32::from_le_bytes(at(1024 + 0x60, 4)?.try_into().ok()?);
        return Some(FsKind::Ext {
            needs_recovery: incompat & 0x4 != 0,
        });
    }
    None
}

/// Why a clone cannot be mounted here, with the alternatives.
pub fn btrfs_clone_refusal(fsid: &str, sys: &Path) -> Option<String> {
    let mounted = sys.join("fs/btrfs").join(fsid).exists();
    let temp_fsid = sys.join("fs/btrfs/features/temp_fsid").exists();
    (mounted && !temp_fsid).then(|| {
        format!(
            "the rescue disk is a btrfs clone with fsid {fsid}, which is already mounted on this machine, \
             and this kernel cannot mount a second copy (no temp-fsid support, Linux < 6.7). Attach the \
             disk to another instance and restore from there (snaprescue restore … --attach-to INSTANCE), \
             or run on a kernel with temp-fsid"
        )
    })
}

/// Mount data options for a read-only rescue mount of `kind` (beside ro,nosuid,nodev,noexec).
pub fn rescue_options(kind: &FsKind, sys: &Path) -> String {
    match kind {
        FsKind::Ext { .. } => "noload".into(),
        FsKind::Xfs { .. } => "norecovery,nouuid".into(),
        FsKind::Btrfs { .. } => {
            // The top level, so that PATH's subvolume path applies; no log replay (a write).
            let mut rescue = String::new();
            if let Ok(mut f) =
                std::fs::File::open(sys.join("fs/btrfs/features/supported_rescue_options"))
            {
                let _ = f.read_to_string(&mut rescue);
            }
            if rescue.split_whitespace().any(|o| o == "nologreplay") {
                "subvolid=5,rescue=nologreplay".into()
            } else {
                "subvolid=5".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers_and_flags() {
        let mut head = vec![0u8; 0x11000];
        assert_eq!(classify(&head), None);
        head[1024 + 0x38] = 0x53;
        head[1024 + 0x39] = 0xEF;
        assert_eq!(
            classify(&head),
            Some(FsKind::Ext {
                needs_recovery: false
            })
        );
        assert_eq!(classify(&head).unwrap().unreplayed_writes(), None);
        head[1024 + 0x60] = 0x4 | 0x40;
        assert_eq!(
            classify(&head),
            Some(FsKind::Ext {
                needs_recovery: true
            })
        );
        let journal = classify(&head).unwrap().unreplayed_writes().unwrap();
        assert!(journal.contains("noload") && journal.contains("replays them"));
        head[0..4].copy_from_slice(b"XFSB");
        head[32..48].copy_from_slice(&[0xab; 16]);
        assert_eq!(
            classify(&head),
            Some(FsKind::Xfs {
                uuid: "abababab-abab-abab-abab-abababababab".into()
            })
        );
        assert!(classify(&head).unwrap().unreplayed_writes().is_some());
        head[0x10040..0x10048].copy_from_slice(b"_BHRfS_M");
        let clean = classify(&head).unwrap();
        assert!(matches!(
            clean,
            FsKind::Btrfs {
                log_tree: false,
                ..
            }
        ));
        assert_eq!(clean.unreplayed_writes(), None);
        head[0x10060] = 0x30;
        let logged = classify(&head).unwrap();
        assert!(matches!(logged, FsKind::Btrfs { log_tree: true, .. }));
        assert!(logged.unreplayed_writes().unwrap().contains("log tree"));
    }

    #[test]
    fn a_mounted_btrfs_fsid_is_refused_without_temp_fsid() {
        let sys = tempfile::tempdir().unwrap();
        let fsid = "0f0f0f0f-0000-0000-0000-000000000001";
        assert_eq!(btrfs_clone_refusal(fsid, sys.path()), None, "not mounted");
        std::fs::create_dir_all(sys.path().join("fs/btrfs").join(fsid)).unwrap();
        let refusal = btrfs_clone_refusal(fsid, sys.path()).unwrap();
        assert!(refusal.contains("another instance") && refusal.contains("temp-fsid"));
        std::fs::create_dir_all(sys.path().join("fs/btrfs/features")).unwrap();
        std::fs::write(sys.path().join("fs/btrfs/features/temp_fsid"), "0\n").unwrap();
        assert_eq!(
            btrfs_clone_refusal(fsid, sys.path()),
            None,
            "temp-fsid mounts it"
        );
    }
}
